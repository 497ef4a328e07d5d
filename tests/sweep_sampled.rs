//! `[search] method = "random"` and halving with `sampler = "random"`: sample determinism
//! (seed, threads, shards), every distribution inside its bounds, and the refusals.

mod sweep_common;

use std::path::Path;
use std::process::Output;

use arrow_array::cast::AsArray;
use gridsweep::config::fields::ParamValue;
use gridsweep::sweep::{SizeLimit, SweepSpec};
use sweep_common::{bin, data, read, tmpdir};

fn text(days: u32, body: &str) -> String {
    format!(
        "name = \"s\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
         end = \"2026-02-{:02}\"\ntiers = \"builtin\"\n[params]\nmodel = \"bybit\"\n{body}",
        data().display().to_string(),
        3 + days
    )
}

const AXES: &str = "[axes]\ngrid_step = { dist = \"uniform\", low = 0.2, high = 1.2 }\n\
    leverage = { dist = \"log_uniform\", low = 2, high = 50 }\n\
    grid_count = { dist = \"int_uniform\", low = 10, high = 13 }\n\
    amount = [\"x0.005\", \"x0.02\"]\n";

fn random(samples: u64, seed: u64) -> String {
    format!("{AXES}[search]\nmethod = \"random\"\nsamples = {samples}\nseed = {seed}\n")
}

fn parse(body: &str) -> Result<SweepSpec, String> {
    SweepSpec::parse(&text(3, body), Path::new("s.toml"), SizeLimit::default())
        .map_err(|e| e.to_string())
}

/// `(grid_step, leverage, grid_count, amount)` of every run, floats as bits.
fn points(spec: &SweepSpec) -> Vec<(u64, u64, u32, String)> {
    (0..spec.space.len())
        .map(|k| {
            let p = spec.space.params(k).unwrap();
            let amount = gridsweep::config::fields::get_param(&p, "amount").unwrap();
            (
                p.grid.grid_step.to_bits(),
                p.account.leverage.to_bits(),
                p.grid.grid_count,
                amount.to_string(),
            )
        })
        .collect()
}

#[test]
fn test_same_seed_same_points_other_seed_other_points_all_in_bounds() {
    let a = parse(&random(4000, 5)).unwrap();
    assert_eq!(a.space.len(), 4000);
    let b = parse(&random(4000, 5)).unwrap();
    let c = parse(&random(4000, 6)).unwrap();
    let (pa, pb, pc) = (points(&a), points(&b), points(&c));
    assert_eq!(pa, pb, "same seed: the same points bit for bit");
    // Different seed: the continuous draws differ on (almost) every run.
    let same = pa.iter().zip(&pc).filter(|(x, y)| x.0 == y.0).count();
    assert!(same < 5, "{same} equal grid_step draws under another seed");
    // A prefix of a larger draw is the smaller draw (run k depends on k only).
    let small = parse(&random(10, 5)).unwrap();
    assert_eq!(points(&small)[..], pa[..10]);
    let mut ends = [false; 4];
    let mut amounts = [0usize; 2];
    for (gs, lev, gc, amount) in &pa {
        let (gs, lev) = (f64::from_bits(*gs), f64::from_bits(*lev));
        assert!((0.2..=1.2).contains(&gs), "grid_step {gs}");
        assert!((2.0..=50.0).contains(&lev), "leverage {lev}");
        assert!((10..=13).contains(gc), "grid_count {gc}");
        ends[(*gc - 10) as usize] = true;
        amounts[usize::from(amount.contains("0.02"))] += 1;
    }
    assert_eq!(ends, [true; 4], "int_uniform hits every value, both ends included");
    // Uniform choice: each of two values near 2000 of 4000 (5 sigma is ±158).
    assert!(amounts.iter().all(|&n| (1842..=2158).contains(&n)), "{amounts:?}");
    // log_uniform: the median is the geometric mean √(2·50) = 10 (±5 % of the draws).
    let below = pa.iter().filter(|p| f64::from_bits(p.1) < 10.0).count();
    assert!((1800..=2200).contains(&below), "{below} of 4000 below the geometric mean");
}

#[test]
fn test_refusals_name_the_axis_and_the_fix() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[axes]\nleverage = { dist = \"normal\", low = 2, high = 5 }\n[search]\nmethod = \"random\"\nsamples = 5\n",
            &["axes.leverage.dist", "uniform"],
        ),
        (
            "[axes]\nleverage = { dist = \"uniform\", low = 5, high = 5 }\n[search]\nmethod = \"random\"\nsamples = 5\n",
            &["axes.leverage", "below high"],
        ),
        (
            "[axes]\ngrid_step = { dist = \"log_uniform\", low = 0, high = 1 }\n[search]\nmethod = \"random\"\nsamples = 5\n",
            &["axes.grid_step.low", "above 0"],
        ),
        ("[axes]\nleverage = { dist = \"uniform\", low = 2, high = 5 }\n", &["axes.leverage", "method = \"random\""]),
        (
            "[axes]\nleverage = [2, 5]\n[search]\nmethod = \"random\"\nsamples = 0\n",
            &["search.samples", "≥ 1"],
        ),
        (
            "[axes]\ngrid_count = { dist = \"uniform\", low = 2, high = 5 }\n[search]\nmethod = \"random\"\nsamples = 5\n",
            &["axes.grid_count.dist", "int_uniform"],
        ),
        (
            "[axes]\nleverage = [2, 5]\n[search]\nmethod = \"random\"\nsamples = 2000000\n",
            &["runs, more than the limit"],
        ),
    ];
    for (body, want) in cases {
        let e = parse(body).expect_err(body);
        for w in *want {
            assert!(e.contains(w), "{body}: {e} lacks {w}");
        }
    }
}

/// Every row of a result file as JSON cells, in file order.
fn rows(path: &Path) -> Vec<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for batch in read(path) {
        for r in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| gridsweep::sweep::report::cell_json(c.as_ref(), r))
                    .collect(),
            );
        }
    }
    out
}

fn run(args: &[&str]) -> Output {
    let o = bin().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn test_random_sweep_threads_and_shards_give_the_same_file() {
    let d = tmpdir("cli");
    let f = d.join("s.toml");
    std::fs::write(&f, text(3, &random(24, 3))).unwrap();
    let fs = f.to_str().unwrap();
    let (o1, o2) = (d.join("t1.parquet"), d.join("t2.parquet"));
    run(&["sweep", fs, "--threads", "1", "--block-runs", "4", "-o", o1.to_str().unwrap()]);
    run(&["sweep", fs, "--threads", "2", "--block-runs", "4", "-o", o2.to_str().unwrap()]);
    let whole = std::fs::read(&o1).unwrap();
    assert_eq!(whole, std::fs::read(&o2).unwrap());
    let mut names = Vec::new();
    for k in 1..=2 {
        let o = d.join(format!("p{k}.parquet"));
        run(&[
            "sweep",
            fs,
            "--block-runs",
            "4",
            "--shard",
            &format!("{k}/2"),
            "-o",
            o.to_str().unwrap(),
        ]);
        names.push(o.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.parquet");
    let mut margs = vec!["merge", "-o", merged.to_str().unwrap()];
    margs.extend(names.iter().map(String::as_str));
    run(&margs);
    assert_eq!(rows(&merged), rows(&o1), "shards merged = the whole sweep, row for row");
    // With the same --block-runs (it is part of the file's identity and row-group layout), the
    // merged file is the whole sweep's, byte for byte.
    assert_eq!(std::fs::read(&merged).unwrap(), whole, "merged shards differ from the whole file");
    // The report bins the sampled axes for its heatmaps: grid_step uniform on [0.2, 1.2] in 8
    // bins of 0.125 (the first 0.200–0.325), leverage log-uniform on [2, 50].
    let html = d.join("r.html");
    run(&["report", o1.to_str().unwrap(), "-o", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-chart=\"heatmap\""), "no heatmap");
    assert!(page.contains("0.200–0.325") && page.contains("each axis is cut into bins"));
    let html = d.join("p.html");
    let p = html.to_str().unwrap();
    run(&["report", o1.to_str().unwrap(), "--pairs", "grid_step:leverage", "-o", p]);
    assert!(std::fs::read_to_string(&html).unwrap().contains("data-chart=\"heatmap\""));
}

#[test]
fn test_halving_over_sampled_runs_is_deterministic() {
    let d = tmpdir("halving");
    let f = d.join("h.toml");
    let body = format!(
        "{AXES}[search]\nmethod = \"halving\"\nsampler = \"random\"\nsamples = 40\nseed = 9\n\
         eta = 3\nmin_window = \"1d\"\nobjective = \"return_pct\"\nprobes = 0\n"
    );
    std::fs::write(&f, text(9, &body)).unwrap();
    let spec =
        SweepSpec::parse(&text(9, &body), Path::new("h.toml"), SizeLimit::default()).unwrap();
    assert!(spec.search.is_some() && spec.space.is_sampled());
    assert_eq!(spec.space.len(), 40);
    let fs = f.to_str().unwrap();
    let (o1, o2) = (d.join("h1.parquet"), d.join("h2.parquet"));
    let j = run(&["sweep", fs, "--json", "--threads", "1", "-o", o1.to_str().unwrap()]);
    run(&["sweep", fs, "--json", "--threads", "2", "-o", o2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&o1).unwrap(), std::fs::read(&o2).unwrap());
    let j: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(j["candle_runs_exhaustive"], 40 * 9 * 1440);
    assert!(j["candle_runs_evaluated"].as_u64().unwrap() < 40 * 9 * 1440);
    let _ = ParamValue::Int(0);
}

/// `validate` on a sampled sweep with a per-period record: PBO, the deflated Sharpe ratio and
/// Pareto ranks are computed over the sampled runs, plateau scores are not (a sample has no
/// grid neighbours), and the selection file has a row per run with null plateau columns.
#[test]
fn test_validate_on_a_sampled_sweep_has_no_plateau() {
    let d = tmpdir("validate");
    let f = d.join("s.toml");
    std::fs::write(&f, text(8, &format!("{}[record]\nperiod = \"1d\"\n", random(30, 2)))).unwrap();
    let out = d.join("s.parquet");
    let o =
        bin().args(["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&o.stderr));
    let ok: usize = read(&out)
        .iter()
        .map(|b| {
            let s = b.column_by_name("status").unwrap().as_string::<i32>();
            (0..b.num_rows()).filter(|&i| s.value(i) == "ok").count()
        })
        .sum();
    let o = bin()
        .args(["validate", out.to_str().unwrap(), "--json", "--splits", "4"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plateau"], false);
    assert_eq!(v["n_trials"], ok as u64);
    assert!((0.0..=1.0).contains(&v["pbo"].as_f64().unwrap()));
    assert!(v["pareto"]["front_size"].as_u64().unwrap() >= 1);
    let sel = read(&d.join("s.selection.parquet"));
    assert_eq!(sel.iter().map(|b| b.num_rows()).sum::<usize>(), 30);
    for b in &sel {
        assert_eq!(b.column_by_name("plateau_min").unwrap().null_count(), b.num_rows());
    }
    let o = bin().args(["validate", out.to_str().unwrap(), "--splits", "4"]).output().unwrap();
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("a sampled sweep has no grid neighbours"), "{human}");
}
