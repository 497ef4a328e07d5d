//! `gridsweep report` (and `sweep --report`): one self-contained HTML file of a sweep's
//! results (docs/report.md). This edge reads the files and re-runs the top runs; the
//! charts and the page come from the pure `gridsweep::report`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use gridsweep::engine::VecRecorder;
use gridsweep::output::guard::{self, Input, Kind, Output};
use gridsweep::report::build::{
    parse_pairs, sweep_page, Folds, RunTrace, SweepReport, Validation, FOLD_COLUMNS,
};
use gridsweep::report::rows::{f64_column, SweepRows};
use gridsweep::selection::{Objective, ReturnsMatrix};
use gridsweep::sweep::periods::companion_path;
use gridsweep::sweep::report::{RankBy, Report};
use gridsweep::sweep::rerun::Recorded;
use gridsweep::sweep::selection_input::SelectionInput;
use gridsweep::sweep::spec::fmt_count;
use gridsweep::sweep::writer::open_results;
use gridsweep::time::format_iso;

/// Arguments of `gridsweep report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A sweep result file (its candle files must still be where the sweep read them).
    #[arg(value_name = "RESULTS.parquet")]
    pub results: PathBuf,
    /// The HTML file [default: the result file's name with .html].
    #[arg(long, short = 'o', value_name = "FILE.html")]
    pub out: Option<PathBuf>,
    /// Runs in the top table, each re-run for its equity and underwater charts.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Objective of the table and the heatmaps: a numeric metric, optionally `:asc`/`:desc`.
    #[arg(long, value_name = "METRIC", default_value = "calmar_ratio")]
    pub objective: RankBy,
    /// Heatmap pairs `AXIS:AXIS,…` (x axis first) [default: every pair of axes].
    #[arg(long, value_name = "A:B,…")]
    pub pairs: Option<String>,
    /// Replace an existing --out file that is not a gridsweep report.
    #[arg(long)]
    pub force: bool,
}

/// `<results without .parquet>.html`.
pub fn default_html(results: &Path) -> PathBuf {
    let name = results.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    results.with_file_name(format!("{stem}.html"))
}

/// Runs `gridsweep report`.
///
/// # Errors
/// Not a result file, data that moved or changed (named with its recorded fingerprint),
/// an output that would replace an input or another kind of file.
pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    if args.top == 0 {
        anyhow::bail!("--top must be at least 1 (the rows of the top table)");
    }
    let out = args.out.clone().unwrap_or_else(|| default_html(&args.results));
    let started = Instant::now();
    let bytes = write_report(
        &args.results,
        &out,
        args.top,
        args.objective,
        args.pairs.as_deref(),
        args.force,
    )?;
    errln!(
        "wrote {} ({} bytes) in {:.1} s",
        out.display(),
        fmt_count(bytes as u64),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Writes the report of `results` to `out`; returns its size in bytes.
///
/// # Errors
/// As [`run`].
pub fn write_report(
    results: &Path,
    out: &Path,
    top: usize,
    rank: RankBy,
    pairs: Option<&str>,
    force: bool,
) -> anyhow::Result<usize> {
    let inputs = [Input { role: "the result file", path: results }];
    guard::check(&inputs, &[Output { flag: "--out", path: out, kind: Kind::Report }], force)?;
    let recorded = Recorded::open(results)?;
    let mut rows = SweepRows::default();
    let mut report = Report::new(rank, top).across_symbols(&recorded.setup.spec);
    for batch in open_results(results, 1 << 16)? {
        let batch = batch.with_context(|| format!("cannot read {}", results.display()))?;
        rows.observe(&batch, rank.metric)
            .map_err(|e| anyhow::anyhow!("{}: {e}", results.display()))?;
        report.observe(&batch);
    }
    let setup = &recorded.setup;
    let axes = setup.spec.space.axes();
    // A sampled space has no grid: its heatmaps bin each axis's drawn values
    // (docs/report.md, "Sampled sweeps").
    let sampled = setup.spec.space.is_sampled();
    let (binned, coords) = if sampled {
        let (a, c) = gridsweep::report::bins::sampled_axes(&setup.spec.space, &rows.run_id);
        (a, Some(c))
    } else {
        (Vec::new(), None)
    };
    let heat_axes: &[gridsweep::sweep::Axis] = if sampled { &binned } else { axes };
    let pairs = pairs.map(|p| parse_pairs(p, axes)).transpose().map_err(anyhow::Error::msg)?;
    let axis_names = setup.spec.shown_axes();
    let mut runs = Vec::new();
    for t in &report.top {
        let mut rec = VecRecorder { keep_equity: true, ..Default::default() };
        recorded
            .run(t.run_id, None, &mut rec)
            .map_err(|e| anyhow::anyhow!("cannot re-run run {}: {e}", t.run_id))?;
        let label = axis_names
            .iter()
            .map(|n| format!("{n} {}", t.row.get(*n).map_or("?".into(), json_text)))
            .collect::<Vec<_>>()
            .join(", ");
        runs.push(RunTrace {
            run_id: Some(t.run_id),
            label,
            equity: rec.equity,
            fills: Vec::new(),
        });
    }
    let pareto_rank = read_pareto(results, &rows.run_id)?;
    let validation = read_validation(results);
    let folds = read_folds(results);
    let title = format!("gridsweep report — sweep {}", recorded.identity.name);
    let sweep = SweepReport {
        title,
        provenance: provenance(&recorded, &rows, &report),
        axes: heat_axes,
        rows: &rows,
        objective: (rank.metric, rank.ascending),
        top: report.table_cells(&axis_names),
        runs,
        pareto_rank,
        validation,
        folds,
        pairs,
        coords,
        across: report.across_cells(&setup.spec.space).map(|(h, rows, ranking)| {
            let note = format!(
                "Every combination ran on each of {} symbols; a combination that held up on \
                 every coin ranks before one that was lucky on one. {} of {} combinations are \
                 not ranked (a failed or pruned run, or no value, on some symbol).",
                setup.spec.symbols.len(),
                fmt_count(ranking.unranked),
                fmt_count(ranking.ranked + ranking.unranked)
            );
            (h, rows, note)
        }),
    };
    let html = sweep_page(&sweep).map_err(anyhow::Error::msg)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, &html).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(html.len())
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The provenance header: what was swept, on which data, with which tiers and model.
fn provenance(r: &Recorded, rows: &SweepRows, report: &Report) -> Vec<(String, String)> {
    let s = &r.setup;
    let id = &r.identity;
    let symbols: Vec<String> = s.spec.symbol_names();
    let data_window = |i: usize| {
        let w = s.window(i);
        let files: Vec<String> =
            s.spec.symbols[i].candles.iter().map(|p| p.display().to_string()).collect();
        format!(
            "{} .. {} UTC ({} candles of {})",
            format_iso(w.ts_ms[0]),
            format_iso(w.ts_ms[w.len() - 1]),
            fmt_count(w.len() as u64),
            files.join(", ")
        )
    };
    let tiers = |i: usize| {
        let t = &s.symbols[i].tiers;
        format!("table of {} tiers, max leverage {}", t.tiers().len(), t.max_leverage())
    };
    let several = symbols.len() > 1;
    let each = |f: &dyn Fn(usize) -> String| -> String {
        if several {
            (0..symbols.len())
                .map(|i| format!("{}: {}", symbols[i], f(i)))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            f(0)
        }
    };
    let mut p: Vec<(String, String)> = vec![
        (
            "sweep".into(),
            match &s.spec.description {
                Some(d) => format!("{} — {d}", id.name),
                None => id.name.clone(),
            },
        ),
        (if several { "symbols" } else { "symbol" }.into(), symbols.join(", ")),
        ("data window".into(), each(&data_window)),
        ("data fingerprint".into(), id.data_fingerprint.clone()),
        (
            "tiers".into(),
            format!(
                "layer {}; {} (sha256 {}…)",
                rows.tier_layers.join(", "),
                each(&tiers),
                &gridsweep::sweep::spec::sha256_hex(id.tiers_json.as_bytes())[..12]
            ),
        ),
        (
            "model".into(),
            format!("{} (liquidation on the {} price)", rows.models.join(", "), id.price_source),
        ),
        (
            "gridsweep".into(),
            format!("sweep written by {}, report by {}", id.version, env!("CARGO_PKG_VERSION")),
        ),
    ];
    let in_file = rows.len() as u64;
    let pruned = id.total_runs.saturating_sub(in_file);
    p.push((
        "runs".into(),
        format!(
            "{} in the sweep, {} in this file: {} ok, {} failed, {} pruned or in other shards, {} liquidated",
            fmt_count(id.total_runs),
            fmt_count(in_file),
            fmt_count(report.ok),
            fmt_count(report.failed),
            fmt_count(pruned),
            fmt_count(report.liquidated)
        ),
    ));
    p
}

/// `pareto_rank` per row from the selection file beside `results`, when it exists.
fn read_pareto(results: &Path, run_ids: &[u64]) -> anyhow::Result<Option<Vec<Option<u32>>>> {
    let path = companion_path(results, "selection");
    if !path.exists() {
        return Ok(None);
    }
    let mut by_id: HashMap<u64, u32> = HashMap::new();
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .with_context(|| format!("cannot read {}", path.display()))?;
    for batch in reader {
        let batch = batch.with_context(|| format!("cannot read {}", path.display()))?;
        let ids =
            f64_column(&batch, "run_id").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let ranks = f64_column(&batch, "pareto_rank")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (id, r) in ids.iter().zip(ranks) {
            if r.is_finite() {
                by_id.insert(*id as u64, r as u32);
            }
        }
    }
    Ok(Some(run_ids.iter().map(|id| by_id.get(id).copied()).collect()))
}

/// PBO's logits and in-/out-of-sample pairs from the periods file, when it exists (Sharpe,
/// up to 16 splits); `None` with a warning when it cannot be computed.
fn read_validation(results: &Path) -> Option<Validation> {
    if !gridsweep::sweep::periods::periods_path(results).exists() {
        return None;
    }
    let compute = || -> anyhow::Result<Validation> {
        let input = SelectionInput::read(results, &[])?;
        let (n, t) = (input.ok_run_ids.len(), input.n_periods());
        let m = ReturnsMatrix::from_equity(&input.equity, n, t, &input.initial_balance)?
            .with_run_ids(input.ok_run_ids.clone())?;
        let splits = (t.min(16) / 2) * 2;
        let p = gridsweep::selection::pbo::pbo(&m, splits, Objective::Sharpe)?;
        Ok(Validation {
            objective: "Sharpe".into(),
            pbo: p.pbo,
            logits: p.logits.clone(),
            is_oos: p.outcomes.iter().map(|o| (o.is_metric, o.oos_metric)).collect(),
        })
    };
    match compute() {
        Ok(v) => Some(v),
        Err(e) => {
            errln!("warning: no validation panels in the report: {}", super::error_text(&e));
            None
        }
    }
}

/// The walk-forward folds file beside `results`, when it exists.
fn read_folds(results: &Path) -> Option<Folds> {
    let path = companion_path(results, "folds");
    if !path.exists() {
        return None;
    }
    let read = || -> Result<Vec<[f64; 12]>, String> {
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            let cols: Vec<Vec<f64>> =
                FOLD_COLUMNS.iter().map(|c| f64_column(&batch, c)).collect::<Result<_, _>>()?;
            rows.extend((0..batch.num_rows()).map(|i| std::array::from_fn(|k| cols[k][i])));
        }
        Ok(rows)
    };
    Some(match read() {
        Ok(rows) => Folds::Rows(rows),
        Err(e) => Folds::Skipped(format!(
            "{} is there but cannot be drawn ({e}); the fold panel expects numeric columns {}",
            path.display(),
            FOLD_COLUMNS.join(", ")
        )),
    })
}
