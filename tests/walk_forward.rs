//! Issue 11 item 4: `[walk_forward]` sweeps. The folds tile the window as the arithmetic says;
//! each fold's choice is the in-sample best of the walk record; the redeployed and train
//! figures equal `gridsweep backtest` of the chosen parameters on those windows bit for bit;
//! the continuous figure is the test-window part of one run from the train start; and the
//! walk record and folds file are byte-identical across threads, after a kill and resume, and
//! when shards are merged.

mod sweep_common;

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use sweep_common::{bin, data, read, run_ok, tmpdir};

const DAY: i64 = 86_400_000;
/// 2026-02-02T00:00:00Z.
const FEB2: i64 = 1_769_990_400_000;

/// Fixed parameters shared by the sweep and the backtests that check it.
const FIXED: &str = "grid_count = 20\ninitial_balance = 5000\nwind_down_mode = \"close_all\"\n";

/// 2026-02-02 .. 2026-02-16 (14 days), 12 combinations, walk-forward 4 d / 3 d.
fn sweep_file(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "name = \"wf\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-02\"\n\
         end = \"2026-02-16\"\n[params]\n{FIXED}[axes]\ngrid_step = [0.3, 0.5, 0.8]\n\
         leverage = [5, 20]\namount = [\"x0.02\", \"x0.1\"]\n[walk_forward]\ntrain = \"4d\"\n\
         test = \"3d\"\n{extra}",
        data().display().to_string()
    );
    let p = dir.join("wf.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn beside(out: &Path, kind: &str) -> PathBuf {
    out.with_file_name(format!("{}.{kind}.parquet", out.file_stem().unwrap().to_string_lossy()))
}

/// The one record batch of the Parquet file `path`.
fn read_one(path: &Path) -> RecordBatch {
    let mut batches = read(path);
    assert_eq!(batches.len(), 1, "{} is read in one batch here", path.display());
    batches.remove(0)
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    let c = b.column_by_name(name).unwrap().as_primitive::<Float64Type>();
    (0..c.len()).map(|i| if c.is_null(i) { f64::NAN } else { c.value(i) }).collect()
}

/// `gridsweep backtest --json` of `params` (a JSON object of axis values) on `[start, end)`.
fn backtest(dir: &Path, params: &serde_json::Value, start: i64, end: i64) -> serde_json::Value {
    let iso = |ms: i64| gridsweep::time::format_iso(ms);
    let mut text = format!(
        "symbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"{}\"\nend = \"{}\"\n{FIXED}",
        data().display().to_string(),
        iso(start),
        iso(end)
    );
    for (k, v) in params.as_object().unwrap() {
        text.push_str(&format!("{k} = {v}\n"));
    }
    let cfg = dir.join("bt.toml");
    std::fs::write(&cfg, text).unwrap();
    let o = bin().args(["backtest", "--json", "--config"]).arg(&cfg).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn folds_choose_the_in_sample_best_and_redeploy_it_exactly_as_a_backtest() {
    let d = tmpdir("exact");
    let f = sweep_file(&d, "");
    let out = d.join("r.parquet");
    let o = run_ok(&["sweep", f.to_str().unwrap(), "--json", "-o", out.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();

    // Folds by hand: 14 days, train 4, test 3, step 3 (the default): trains start on days
    // 0, 3, 6; the fourth fold would test days 13..16, past the end (day 14): dropped, and
    // day 13 is not tested.
    let folds = read_one(&beside(&out, "folds"));
    assert_eq!(folds.num_rows(), 3);
    let col =
        |n: &str| folds.column_by_name(n).unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(col("train_start_ms"), vec![FEB2, FEB2 + 3 * DAY, FEB2 + 6 * DAY]);
    assert_eq!(col("train_end_ms"), vec![FEB2 + 4 * DAY, FEB2 + 7 * DAY, FEB2 + 10 * DAY]);
    assert_eq!(col("test_start_ms"), col("train_end_ms"));
    assert_eq!(col("test_end_ms"), vec![FEB2 + 7 * DAY, FEB2 + 10 * DAY, FEB2 + 13 * DAY]);
    let wf = &doc["walk_forward"];
    assert_eq!(wf["windows"]["untested_tail_ms"], DAY);
    assert_eq!(wf["windows"]["dropped"]["test"]["end_ms"], FEB2 + 16 * DAY);

    // The walk record: 12 runs × 3 folds, run_id then fold order.
    let walk = read_one(&beside(&out, "walk"));
    assert_eq!(walk.num_rows(), 36);
    let ids = walk.column_by_name("run_id").unwrap().as_primitive::<UInt64Type>();
    let fold = walk.column_by_name("fold").unwrap().as_primitive::<UInt32Type>();
    for r in 0..36 {
        assert_eq!((ids.value(r), fold.value(r)), ((r / 3) as u64, (r % 3) as u32));
    }
    let train = f64s(&walk, "train_value");
    let test = f64s(&walk, "test_value");
    let chosen = folds.column_by_name("run_id").unwrap().as_primitive::<UInt64Type>();
    let params = folds.column_by_name("params").unwrap().as_string::<i32>();
    let ranks = f64s(&folds, "oos_rank");
    for k in 0..3 {
        // The choice: the highest in-sample Calmar (ties: lowest run_id), computed here.
        let vals: Vec<f64> = (0..12).map(|r| train[r * 3 + k]).collect();
        let mut best = None::<usize>;
        for (r, &v) in vals.iter().enumerate() {
            if !v.is_nan() && best.is_none_or(|b| v > vals[b]) {
                best = Some(r);
            }
        }
        let c = chosen.value(k) as usize;
        assert_eq!(Some(c), best, "fold {k}");
        // Its out-of-sample rank among the 12 redeployed values (1 = best), counted here.
        let tv: Vec<f64> = (0..12).map(|r| test[r * 3 + k]).filter(|v| !v.is_nan()).collect();
        let mine = test[c * 3 + k];
        let above = tv.iter().filter(|&&v| v > mine).count() as f64;
        let equal = tv.iter().filter(|&&v| v == mine).count() as f64;
        assert_eq!(ranks[k], above + (equal + 1.0) / 2.0, "fold {k}");

        // Train and redeployed figures equal backtests of those windows, bit for bit.
        let p: serde_json::Value = serde_json::from_str(params.value(k)).unwrap();
        let (ts, te) = (col("train_start_ms")[k], col("train_end_ms")[k]);
        let (ss, se) = (col("test_start_ms")[k], col("test_end_ms")[k]);
        let bt_train = backtest(&d, &p, ts, te);
        let bt_test = backtest(&d, &p, ss, se);
        let row = c * 3 + k;
        let bits = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN).to_bits();
        assert_eq!(bits(&bt_train["calmar_ratio"]), train[row].to_bits(), "fold {k} train");
        assert_eq!(bits(&bt_train["return_pct"]), f64s(&walk, "train_return_pct")[row].to_bits());
        assert_eq!(bits(&bt_test["calmar_ratio"]), test[row].to_bits(), "fold {k} redeployed");
        assert_eq!(bits(&bt_test["return_pct"]), f64s(&walk, "test_return_pct")[row].to_bits());

        // Continuous: one backtest from the train start to the test end; its equity over the
        // test window, from the last mark before it, gives the continuous return.
        let bt_cfg = d.join("bt.toml");
        let text = std::fs::read_to_string(&bt_cfg).unwrap().replace(
            &format!("start = \"{}\"", gridsweep::time::format_iso(ss)),
            &format!("start = \"{}\"", gridsweep::time::format_iso(ts)),
        );
        std::fs::write(&bt_cfg, text).unwrap();
        let eq_file = d.join("eq.csv");
        let _ = std::fs::remove_file(&eq_file);
        let o = bin()
            .args(["backtest", "--config"])
            .arg(&bt_cfg)
            .arg("--equity")
            .arg(&eq_file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let marks: Vec<(i64, f64)> = std::fs::read_to_string(&eq_file)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut it = l.split(',');
                let ts = gridsweep::time::parse_iso(it.next().unwrap()).unwrap();
                (ts, it.next().unwrap().parse().unwrap())
            })
            .collect();
        let before = marks.iter().rev().find(|m| m.0 < ss).unwrap().1;
        let last = marks.last().unwrap().1;
        let want = (last - before) / before * 100.0;
        let got = f64s(&walk, "continuous_return_pct")[row];
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "fold {k}: {got} vs {want}");
    }
    // The JSON carries both methods, the configured one first.
    assert_eq!(wf["methods"][0]["select"], "best");
    assert_eq!(wf["methods"][1]["select"], "plateau");
    assert_eq!(wf["methods"][0]["folds"].as_array().unwrap().len(), 3);
}

#[test]
fn walk_forward_files_are_identical_across_threads_resume_and_shards() {
    let d = tmpdir("determinism");
    let f = sweep_file(&d, "anchored = true\nselect = \"plateau\"\nstep = \"2d\"\n");
    let fs = f.to_str().unwrap();
    let reference = d.join("reference.parquet");
    let o = run_ok(&[
        "sweep",
        fs,
        "--threads",
        "1",
        "--block-runs",
        "2",
        "-o",
        reference.to_str().unwrap(),
    ]);
    // Anchored with step 2d < test 3d: the test windows overlap, and the sweep says so.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: walk_forward.step (2d) is shorter than test (3d)"), "{err}");
    let same = |a: &Path, what: &str| {
        for kind in ["walk", "folds"] {
            assert_eq!(
                std::fs::read(beside(a, kind)).unwrap(),
                std::fs::read(beside(&reference, kind)).unwrap(),
                "{what}: {kind} file differs"
            );
        }
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(&reference).unwrap(), "{what}");
    };
    let two = d.join("two.parquet");
    run_ok(&["sweep", fs, "--threads", "2", "--block-runs", "2", "-o", two.to_str().unwrap()]);
    same(&two, "2 threads");

    // Killed after three blocks, then resumed.
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args = ["sweep", fs, "--threads", "1", "--block-runs", "2", "-o", out.to_str().unwrap()];
    sweep_common::kill_after_blocks(&args, &parts, 3);
    assert!(!out.exists(), "the sweep finished before it could be killed");
    let walk_segments = std::fs::read_dir(&parts)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("walk-"))
        .count();
    assert!(walk_segments >= 3, "walk segments are written with their blocks");
    run_ok(&args);
    same(&out, "resumed");

    // Three shards: each writes its walk record and no folds file; merge derives the folds.
    let mut names = Vec::new();
    for k in 1..=3 {
        let p = d.join(format!("part{k}.parquet"));
        let o = run_ok(&[
            "sweep",
            fs,
            "--block-runs",
            "2",
            "--shard",
            &format!("{k}/3"),
            "-o",
            p.to_str().unwrap(),
        ]);
        assert!(beside(&p, "walk").exists() && !beside(&p, "folds").exists());
        assert!(String::from_utf8_lossy(&o.stderr).contains("when `gridsweep merge` joins"));
        names.push(p.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.parquet");
    run_ok(&["merge", &names[2], &names[0], &names[1], "-o", merged.to_str().unwrap()]);
    same(&merged, "merged");
}

#[test]
fn wrong_walk_forward_lengths_are_refused_with_the_fix() {
    let d = tmpdir("refusals");
    let cases: [(&str, &str); 4] = [
        ("train = \"4x\"\ntest = \"3d\"\n", "walk_forward.train"),
        (
            "train = \"12d\"\ntest = \"3d\"\n",
            "train + test (12d + 3d) is longer than the data (14d)",
        ),
        ("train = \"4d\"\ntest = \"3d\"\nobjective = \"total_trades\"\n", "walk_forward.objective"),
        ("train = \"4d\"\ntest = \"3d\"\nselect = \"worst\"\n", "walk_forward.select"),
    ];
    for (section, needle) in cases {
        let text = format!(
            "name = \"bad\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-02\"\n\
             end = \"2026-02-16\"\n[axes]\nleverage = [5, 20]\n[walk_forward]\n{section}",
            data().display().to_string()
        );
        let f = d.join("bad.toml");
        std::fs::write(&f, text).unwrap();
        let o = bin().args(["sweep"]).arg(&f).arg("-o").arg(d.join("o.parquet")).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{section}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
    // A window start off the folds' UTC boundary.
    let text = format!(
        "name = \"bad\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-02T06:00\"\n\
         end = \"2026-02-16\"\n[axes]\nleverage = [5, 20]\n[walk_forward]\ntrain = \"4d\"\ntest = \"3d\"\n",
        data().display().to_string()
    );
    let f = d.join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let o = bin().args(["sweep"]).arg(&f).arg("-o").arg(d.join("o.parquet")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("not on a UTC 1d boundary; start it at 2026-02-03T00:00:00"), "{e}");
}
