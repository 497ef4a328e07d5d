//! The HTML report of a 100,000-run sweep: aggregation, charts and page for 4 axes
//! (10 × 10 × 20 × 50; 6 pairs × 2 heatmaps, the liquidation maps, the scatter) and the
//! equity and underwater charts of 10 runs of 161,280 ticks each (a month of candles).
//! Synthetic rows, built outside the timed closure; the page size is printed once.
//!
//! `cargo bench --bench report`

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};
use gridsweep::config::fields::{ParamKind, ParamValue};
use gridsweep::report::build::{sweep_page, RunTrace, SweepReport};
use gridsweep::report::rows::SweepRows;
use gridsweep::sweep::space::{Axis, AxisForm};

fn axis(name: &'static str, n: usize) -> Axis {
    let values = (0..n).map(|i| ParamValue::Float(0.1 * (i + 1) as f64)).collect();
    Axis { name, kind: ParamKind::Float, form: AxisForm::List, values }
}

/// A deterministic pseudo-random number in [0, 1) from `i` (splitmix64).
fn unit(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn bench(c: &mut Criterion) {
    let axes = vec![
        axis("grid_step", 10),
        axis("leverage", 10),
        axis("amount", 20),
        axis("grid_count", 50),
    ];
    let n = 100_000u64;
    let mut rows = SweepRows::default();
    for i in 0..n {
        let liquidated = unit(i * 7 + 1) < 0.2;
        rows.run_id.push(i);
        rows.ok.push(unit(i * 7 + 2) > 0.01);
        rows.liquidated.push(liquidated);
        rows.objective.push(unit(i * 7 + 3) * 30.0 - 5.0);
        rows.return_pct.push(if liquidated { -100.0 } else { unit(i * 7 + 4) * 120.0 - 20.0 });
        rows.max_drawdown_pct.push(unit(i * 7 + 5) * 100.0);
        rows.min_liq_distance_pct.push(unit(i * 7 + 6) * 60.0);
    }
    rows.tier_layers.push("snapshot".into());
    rows.models.push("bybit".into());
    let runs: Vec<RunTrace> = (0..10)
        .map(|r| RunTrace {
            run_id: Some(r),
            label: format!("run {r}"),
            equity: (0..161_280i64)
                .map(|t| {
                    (
                        1_769_904_000_000 + t * 15_000,
                        10_000.0 + (t as f64 / 900.0).sin() * 500.0 + t as f64 * 0.01,
                    )
                })
                .collect(),
            fills: Vec::new(),
        })
        .collect();
    let header: Vec<String> = ["run_id", "grid_step", "return %"].map(String::from).to_vec();
    let top: Vec<Vec<String>> =
        (0..10).map(|r| vec![r.to_string(), "0.4".into(), "57.83".into()]).collect();
    let report = SweepReport {
        title: "bench".into(),
        provenance: vec![("sweep".into(), "bench".into())],
        axes: &axes,
        rows: &rows,
        objective: ("calmar_ratio", false),
        top: (header, top),
        runs,
        pareto_rank: Some((0..n).map(|i| Some((i % 50) as u32)).collect()),
        validation: None,
        folds: None,
        pairs: None,
        coords: None,
        across: None,
    };
    let page = sweep_page(&report).unwrap();
    eprintln!("report of {n} runs: {} bytes", page.len());
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("sweep_page_100k_runs", |b| {
        b.iter(|| sweep_page(std::hint::black_box(&report)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
