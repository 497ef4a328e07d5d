//! End-to-end tests of `[constraints]` and `[search] method = "halving"` on the shipped
//! LTCUSDT month: exact pruning against the unconstrained sweep, halving rows and
//! determinism (threads, a real kill, shards), and the refusals.

mod sweep_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sweep_common::{bin, block_files, json, read, run, sweep_file, tmpdir};

const AXES: &str = "[params]\nmodel = \"bybit\"\nwind_down_mode = \"close_all\"\n[axes]\n\
    grid_step = { start = 0.2, stop = 1.2, step = 0.2 }\nleverage = [3, 10, 25, 50]\n\
    amount = [\"x0.005\", \"x0.02\", \"x0.05\"]\ngrid_count = [20, 40]\n";

/// Every row of a result file as `column → JSON value`, by `run_id`, without the `sweep`
/// column (the sweeps compared here differ in name only).
fn rows(path: &Path) -> Vec<BTreeMap<String, Value>> {
    let mut out = Vec::new();
    for batch in &read(path) {
        for r in 0..batch.num_rows() {
            let mut row = BTreeMap::new();
            for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
                if f.name() != "sweep" {
                    let v = gridsweep::sweep::report::cell_json(c.as_ref(), r);
                    row.insert(f.name().clone(), v);
                }
            }
            out.push(row);
        }
    }
    out
}

fn f(row: &BTreeMap<String, Value>, k: &str) -> f64 {
    row[k].as_f64().unwrap_or(f64::NAN)
}

/// Constraint pruning is exact: the pruned runs are those whose unconstrained final metrics
/// break a constraint (the expected set computed here from the unconstrained file), each
/// with its reason and a stop time inside the window, and every other row equals the
/// unconstrained row column for column; shards of the constrained sweep (mixed statuses)
/// merge into the unsharded file byte for byte.
#[test]
fn test_constraints_prune_exactly_what_the_full_runs_break() {
    let d = tmpdir("constraints");
    let plain = sweep_file(&d, "plain", 6, AXES);
    let limits = "[constraints]\nliquidated = false\nmax_drawdown_pct = { max = 4 }\n\
                  min_liq_distance_pct = { min = 15 }\norders_rejected = { max = 20 }\n";
    let cons = sweep_file(&d, "cons", 6, &format!("{AXES}{limits}"));
    let (po, co) = (d.join("plain.parquet"), d.join("cons.parquet"));
    json(&run(&["sweep", plain.to_str().unwrap(), "--json", "-o", po.to_str().unwrap()]));
    let j = json(&run(&["sweep", cons.to_str().unwrap(), "--json", "-o", co.to_str().unwrap()]));
    let (p, c) = (rows(&po), rows(&co));
    assert_eq!(p.len(), 144);
    assert_eq!(c.len(), 144);
    let (start, end) = (1_770_076_800_000i64, 1_770_076_800_000i64 + 6 * 86_400_000);
    let mut pruned = 0;
    for (a, b) in p.iter().zip(&c) {
        let breaks = a["liquidated"] == Value::Bool(true)
            || f(a, "max_drawdown_pct") > 4.0
            || a["min_liq_distance_pct"].as_f64().is_some_and(|x| x < 15.0)
            || a["orders_rejected"].as_u64().unwrap() > 20;
        assert_eq!(b["status"] == "pruned", breaks, "run {}: {b:?}", a["run_id"]);
        if breaks {
            pruned += 1;
            let reason = b["pruned_reason"].as_str().unwrap();
            assert!(
                ["liquidated", "max_drawdown_pct ", "min_liq_distance_pct ", "orders_rejected "]
                    .iter()
                    .any(|w| reason.starts_with(w)),
                "{reason}"
            );
            let at = b["pruned_ts_ms"].as_i64().unwrap();
            assert!((start..end).contains(&at), "{at}");
            assert_eq!(b["last_ts_ms"].as_i64(), Some(at), "metrics up to the stopping tick");
            assert!(b["ticks"].as_u64() <= a["ticks"].as_u64());
        } else {
            assert_eq!(a, b, "an unpruned row equals the unconstrained one");
        }
    }
    assert!(pruned > 10 && pruned < 134, "{pruned} pruned: the limits should split the runs");
    assert_eq!(j["pruned_runs"], pruned);
    // Shards with mixed statuses merge into the unsharded file.
    let mut parts = Vec::new();
    for k in 1..=3 {
        let o = d.join(format!("cons-{k}.parquet"));
        let s = format!("{k}/3");
        json(&run(&[
            "sweep",
            cons.to_str().unwrap(),
            "--json",
            "--block-runs",
            "16",
            "--shard",
            &s,
            "-o",
            o.to_str().unwrap(),
        ]));
        parts.push(o.to_str().unwrap().to_string());
    }
    let whole = d.join("cons16.parquet");
    json(&run(&[
        "sweep",
        cons.to_str().unwrap(),
        "--json",
        "--block-runs",
        "16",
        "-o",
        whole.to_str().unwrap(),
    ]));
    let merged = d.join("merged.parquet");
    let mut args = vec!["merge", "-o", merged.to_str().unwrap()];
    args.extend(parts.iter().map(String::as_str));
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&whole).unwrap());
}

/// A constraint on a metric that can improve is refused, naming the field and listing the
/// accepted ones; so is a bound in the direction that cannot stop a run.
#[test]
fn test_non_monotone_constraints_are_refused() {
    let d = tmpdir("refuse");
    let s = sweep_file(
        &d,
        "bad",
        2,
        &format!("{AXES}[constraints]\nreturn_pct = {{ min = 0 }}\nmax_drawdown = {{ min = 1 }}\n"),
    );
    let o = run(&["sweep", s.to_str().unwrap(), "-o", d.join("x.parquet").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("constraints.return_pct") && e.contains("cannot stop a run exactly"), "{e}");
    assert!(e.contains("accepted: liquidated = false, max_drawdown_pct = { max = … }"), "{e}");
    assert!(e.contains("constraints.max_drawdown.min"), "{e}");
}

const HALVING: &str = "[search]\nmethod = \"halving\"\neta = 3\nmin_window = \"1d\"\n\
    objective = \"return_pct\"\nprobes = 0.05\nseed = 7\n";

/// Halving over 9 days with η = 3 from 1 day: rungs end after 1, 3 and 9 days. Every run
/// has a row; the survivors of each rung are ⌈n/3⌉ of the non-probe runs (the rung report
/// says so), the eliminated ones carry their rung and window end, the full-window rows
/// equal the exhaustive sweep's rows; the candle·runs evaluated are the sum over rungs of
/// runs × rung candles. Byte-identical with 1 and 2 threads.
#[test]
fn test_halving_rows_rungs_and_thread_determinism() {
    let d = tmpdir("halving");
    let grid = sweep_file(&d, "grid", 9, AXES);
    let half = sweep_file(&d, "half", 9, &format!("{AXES}{HALVING}"));
    let (go, h1, h2) = (d.join("grid.parquet"), d.join("h1.parquet"), d.join("h2.parquet"));
    json(&run(&["sweep", grid.to_str().unwrap(), "--json", "-o", go.to_str().unwrap()]));
    let hs = half.to_str().unwrap();
    let j = json(&run(&["sweep", hs, "--json", "--threads", "1", "-o", h1.to_str().unwrap()]));
    json(&run(&["sweep", hs, "--json", "--threads", "2", "-o", h2.to_str().unwrap()]));
    assert_eq!(std::fs::read(&h1).unwrap(), std::fs::read(&h2).unwrap());
    let (g, h) = (rows(&go), rows(&h1));
    assert_eq!(h.len(), 144);
    let day = 86_400_000i64;
    let t0 = 1_770_076_800_000i64;
    let ends = [t0 + day, t0 + 3 * day, t0 + 9 * day];
    let rungs = j["halving"]["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 3);
    // 144 runs, 8 probes (5 % is 7.2 → 8, raised to the floor of 32).
    assert_eq!(j["halving"]["probes"], 32);
    let mut n = 144 - 32;
    for (r, rung) in rungs.iter().enumerate() {
        assert_eq!(rung["window_end_ms"], ends[r]);
        assert_eq!(rung["runs"], n);
        if r < 2 {
            let widened = rung["widened"] == Value::Bool(true);
            let k = (n - rung["pruned"].as_u64().unwrap() as usize).div_ceil(3);
            let k = if widened { (2 * k).min(n) } else { k };
            assert_eq!(rung["kept"], k, "rung {r}");
            n = k;
        }
    }
    let mut candle_runs = 32 * 9 * 1440;
    let mut count = [0usize; 3];
    for (r, rung) in rungs.iter().enumerate() {
        let days = [1, 2, 6][r];
        candle_runs += rung["runs"].as_u64().unwrap() * days * 1440;
    }
    assert_eq!(j["candle_runs_evaluated"], candle_runs);
    assert_eq!(j["candle_runs_exhaustive"], 144 * 9 * 1440);
    for (a, b) in g.iter().zip(&h) {
        let rung = b["rung"].as_u64().unwrap() as usize;
        assert_eq!(b["window_end_ms"], ends[rung]);
        match b["status"].as_str().unwrap() {
            "ok" => {
                count[2] += 1;
                assert_eq!(rung, 2);
                let mut b = b.clone();
                b.remove("rung");
                b.remove("window_end_ms");
                let mut a = a.clone();
                a.remove("rung");
                a.remove("window_end_ms");
                assert_eq!(&a, &b, "a full-window row equals the exhaustive one");
            }
            "eliminated" => {
                count[rung] += 1;
                assert!(rung < 2);
                assert!(b["last_ts_ms"].as_i64().unwrap() < ends[rung]);
            }
            other => panic!("status {other}"),
        }
    }
    assert_eq!(
        count[0] as u64,
        rungs[0]["runs"].as_u64().unwrap() - rungs[0]["kept"].as_u64().unwrap()
    );
    assert_eq!(count[2] as u64, 32 + rungs[2]["kept"].as_u64().unwrap());
    // The survivors of rung 0 are the best by return_pct at its end: every eliminated run
    // ranks below (or ties after) every survivor at that window, checked on the rows.
    assert_eq!(j["eliminated_runs"], count[0] + count[1]);
}

/// A halving sweep killed while it runs starts again and writes the same file; a second
/// invocation finds it complete; shards halve their own runs and merge into one file with
/// a row for every run.
#[test]
fn test_halving_after_a_kill_and_in_shards() {
    let d = tmpdir("halving-kill");
    let half = sweep_file(&d, "half", 20, &format!("{AXES}{HALVING}"));
    let hs = half.to_str().unwrap();
    let reference = d.join("reference.parquet");
    json(&run(&["sweep", hs, "--json", "-o", reference.to_str().unwrap()]));
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args = ["sweep", hs, "--json", "--threads", "1", "-o", out.to_str().unwrap()];
    let mut child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while !parts.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "the sweep finished before it could be killed; make it longer");
    let j = json(&run(&args));
    assert_eq!(j["already_complete"], false);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&reference).unwrap());
    assert!(!parts.exists());
    let again = json(&run(&args));
    assert_eq!(again["already_complete"], true);
    assert_eq!(again["candle_runs_evaluated"], j["candle_runs_evaluated"]);

    let mut names = Vec::new();
    for k in 1..=2 {
        let o = d.join(format!("half-{k}.parquet"));
        let s = format!("{k}/2");
        let js = json(&run(&[
            "sweep",
            hs,
            "--json",
            "--block-runs",
            "16",
            "--shard",
            &s,
            "-o",
            o.to_str().unwrap(),
        ]));
        assert_eq!(js["halving"]["probes"], 32, "each shard has its own probes");
        names.push(o.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.parquet");
    let mut margs = vec!["merge", "-o", merged.to_str().unwrap()];
    margs.extend(names.iter().map(String::as_str));
    let o = run(&margs);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = rows(&merged);
    assert_eq!(m.len(), 144);
    assert!(m.iter().enumerate().all(|(i, r)| r["run_id"] == i));
}

/// Bad halving settings are refused: η below 2, a window not longer than one rung, and
/// halving together with [walk_forward].
#[test]
fn test_halving_refusals() {
    let d = tmpdir("halving-refuse");
    let eta = sweep_file(&d, "eta", 3, &format!("{AXES}{}", HALVING.replace("eta = 3", "eta = 1")));
    let o = run(&["sweep", eta.to_str().unwrap(), "-o", d.join("a.parquet").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("search.eta") && e.contains("from 2 to 100"), "{e}");
    let short =
        sweep_file(&d, "short", 3, &format!("{AXES}{}", HALVING.replace("\"1d\"", "\"3d\"")));
    let o = run(&["sweep", short.to_str().unwrap(), "-o", d.join("b.parquet").to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("min_window") && e.contains("not shorter than the data window"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    let wf = sweep_file(&d, "wf", 3, &format!("{AXES}{HALVING}[walk_forward]\n"));
    let o = run(&["sweep", wf.to_str().unwrap(), "-o", d.join("c.parquet").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("walk_forward"), "{e}");
}

/// A constrained sweep killed after some blocks resumes into the file an uninterrupted run
/// writes, byte for byte (pruned and ok rows mixed in the kept blocks).
#[test]
fn test_constrained_sweep_resumes_after_a_kill() {
    let d = tmpdir("constraints-resume");
    let limits = "[constraints]\nliquidated = false\nmax_drawdown_pct = { max = 4 }\n";
    let f = sweep_file(&d, "cres", 12, &format!("{AXES}{limits}"));
    let fs = f.to_str().unwrap();
    let reference = d.join("reference.parquet");
    let rj = json(&run(&[
        "sweep",
        fs,
        "--json",
        "--block-runs",
        "2",
        "-o",
        reference.to_str().unwrap(),
    ]));
    assert!(rj["pruned_runs"].as_u64().unwrap() > 0 && rj["ok_runs"].as_u64().unwrap() > 0);
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args =
        ["sweep", fs, "--json", "--threads", "1", "--block-runs", "2", "-o", out.to_str().unwrap()];
    let mut child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while block_files(&parts) < 3 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "the sweep finished before it could be killed; make it longer");
    let j = json(&run(&args));
    assert!(j["resumed_runs"].as_u64().unwrap() >= 6);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&reference).unwrap());
    assert_eq!(j["pruned_runs"], rj["pruned_runs"]);
}

/// A halving search shows progress in candle·runs (a batch log gets plain lines), and never
/// counts more than it evaluates.
#[test]
fn test_halving_progress_lines_count_candle_runs() {
    let d = tmpdir("halving-progress");
    let f = sweep_file(&d, "hp", 9, &format!("{AXES}{HALVING}"));
    let o = bin()
        .args(["sweep", f.to_str().unwrap(), "--threads", "1", "-o"])
        .arg(d.join("hp.parquet"))
        .env("GRIDSWEEP_PROGRESS_SECS", "0.02")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{e}");
    let num = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
    // "halving: 1,234 candle·runs evaluated of 5,678 exhaustive …"
    let summary = e.lines().find(|l| l.starts_with("halving: ")).expect("a halving line");
    let evaluated = num(summary.split_whitespace().nth(1).unwrap());
    let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("progress: ")).collect();
    assert!(!lines.is_empty(), "no progress line in a captured stderr: {e}");
    for l in &lines {
        assert!(l.contains(" candle·runs (") && l.contains(" candle·runs/s, ETA "), "{l}");
        let (done, total) =
            l["progress: ".len()..].split_once(' ').unwrap().0.split_once('/').unwrap();
        assert!(num(done) <= evaluated, "{l}: more than the {evaluated} evaluated");
        assert!(num(done) <= num(total), "{l}");
    }
}

/// A halving search killed after its first rung resumes there: the probes' and rung 0's
/// rows come from the checkpoint (`resumed_runs`), the survivors are brought back to the
/// rung's end, and the file and the candle·runs equal an uninterrupted search's.
#[test]
fn test_halving_resumes_after_the_last_saved_rung() {
    resume_after("rung-000.json", 32 + 74);
}

/// Killed once the probes are saved (before any rung): the probes' 32 rows are loaded and
/// every other run starts from the first rung.
#[test]
fn test_halving_resumes_after_the_saved_probes() {
    resume_after("probes.json", 32);
}

fn resume_after(saved_file: &str, at_least: u64) {
    let d = tmpdir(&format!("halving-resume-{saved_file}"));
    let half = sweep_file(&d, "half", 20, &format!("{AXES}{HALVING}"));
    let hs = half.to_str().unwrap();
    let reference = d.join("reference.parquet");
    let r = json(&run(&["sweep", hs, "--json", "-o", reference.to_str().unwrap()]));
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args = ["sweep", hs, "--json", "--threads", "1", "-o", out.to_str().unwrap()];
    let mut child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    let saved = parts.join(saved_file);
    while !saved.exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(saved.exists(), "{saved_file} was never written");
    assert!(!out.exists(), "the sweep finished before it could be killed; make it longer");
    let j = json(&run(&args));
    // Rung 0 ends 1 day in: of the 112 non-probe runs ⌈112/3⌉ = 38 go on (the rung is not
    // widened), so at least the 32 probes and the 74 runs that ended at rung 0 come from the
    // checkpoint.
    assert_eq!(r["halving"]["rungs"][0]["widened"], false);
    assert_eq!(r["halving"]["rungs"][0]["kept"], 38);
    assert!(j["resumed_runs"].as_u64().unwrap() >= at_least, "{j}");
    assert_eq!(j["computed_runs"].as_u64().unwrap() + j["resumed_runs"].as_u64().unwrap(), 144);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&reference).unwrap());
    assert_eq!(j["candle_runs_evaluated"], r["candle_runs_evaluated"]);
    assert_eq!(j["halving"], r["halving"]);
    assert!(!parts.exists());
}
