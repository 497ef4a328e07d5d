//! Issue 12 item 4: sweeps across symbols (`[symbols.NAME]`). Each symbol's rows equal a
//! one-symbol sweep of that symbol column for column (its own candles and its own tier
//! table: tier isolation), rows carry `symbol` and `sweep`, the cross-symbol ranking is the
//! worst-then-median order computed here from the rows, and the file is byte-identical
//! whatever the thread count, after a kill and resume, and when shards are merged.

mod sweep_common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sweep_common::{bin, json, read, run_ok as run, tmpdir};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name).display().to_string()
}

/// `v` as the JSON text on stdout reads back (serde_json parses floats to within an ulp).
fn via_text(v: &Value) -> Value {
    serde_json::from_str(&v.to_string()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// LTCUSDT capped at 8× leverage by a two-tier table of its own.
const LTC_TIERS: &str = r#"{"LTCUSDT": {"tiers": [
  {"max_value": "200000", "mmr_rate": "0.01", "deduction": "0", "max_leverage": "8"},
  {"max_value": "Infinity", "mmr_rate": "0.02", "deduction": "2000", "max_leverage": "4"}
]}}"#;

const PARAMS_AXES: &str = "[params]\nmodel = \"bybit\"\ngrid_count = 30\namount = \"x0.03\"\n\
    wind_down_mode = \"close_all\"\n[axes]\ngrid_step = [0.3, 0.6, 1.0]\nleverage = [5, 20]\n";

/// The two-symbol sweep (LTCUSDT with its own tier file, NEARUSDT with the built-in
/// tiers) and the two one-symbol sweeps it must equal.
fn files(d: &Path, window: &str) -> (PathBuf, PathBuf, PathBuf) {
    let tiers = write(d, "ltc-tiers.json", LTC_TIERS);
    let tiers = format!("{{ file = {:?} }}", tiers.display().to_string());
    let (ltc, near) = (data("LTCUSDT-1m-2026-02.parquet"), data("NEARUSDT-1m-2026-02.parquet"));
    let both = write(
        d,
        "both.toml",
        &format!(
            "name = \"both\"\n{window}tiers = \"builtin\"\n\
             [symbols.LTCUSDT]\ncandles = {ltc:?}\ntiers = {tiers}\n\
             [symbols.NEARUSDT]\ncandles = {near:?}\n{PARAMS_AXES}"
        ),
    );
    let one_ltc = write(
        d,
        "ltc.toml",
        &format!(
            "name = \"ltc\"\nsymbol = \"LTCUSDT\"\ncandles = {ltc:?}\n{window}tiers = {tiers}\n\
             {PARAMS_AXES}"
        ),
    );
    let one_near = write(
        d,
        "near.toml",
        &format!(
            "name = \"near\"\nsymbol = \"NEARUSDT\"\ncandles = {near:?}\n{window}\
             tiers = \"builtin\"\n{PARAMS_AXES}"
        ),
    );
    (both, one_ltc, one_near)
}

const WINDOW: &str = "start = \"2026-02-03\"\nend = \"2026-02-10\"\n";
const COMBOS: usize = 6;

fn rows(path: &Path) -> Vec<BTreeMap<String, Value>> {
    let mut out = Vec::new();
    for batch in &read(path) {
        for r in 0..batch.num_rows() {
            let row = batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| {
                    (f.name().clone(), gridsweep::sweep::report::cell_json(c.as_ref(), r))
                })
                .collect();
            out.push(row);
        }
    }
    out
}

fn kv(path: &Path, key: &str) -> String {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let kvs = b.metadata().file_metadata().key_value_metadata().unwrap();
    kvs.iter().find(|k| k.key == key).and_then(|k| k.value.clone()).unwrap()
}

/// Each symbol's rows equal its own one-symbol sweep's (every column but `run_id` and
/// `sweep`): the runs of LTCUSDT used its 8×-capped file table (leverage 20 fails there),
/// those of NEARUSDT the built-in generic table (leverage 20 runs).
#[test]
fn test_each_symbol_runs_on_its_own_candles_and_tier_table() {
    let d = tmpdir("isolation");
    let (both, ltc, near) = files(&d, WINDOW);
    let out = |n: &str| d.join(format!("{n}.parquet"));
    let j = json(&run(&[
        "sweep",
        both.to_str().unwrap(),
        "--json",
        "-o",
        out("both").to_str().unwrap(),
    ]));
    for (f, n) in [(&ltc, "ltc"), (&near, "near")] {
        run(&["sweep", f.to_str().unwrap(), "--json", "-o", out(n).to_str().unwrap()]);
    }
    assert_eq!(j["total_runs"], 2 * COMBOS);
    assert_eq!(j["symbols"][0]["symbol"], "LTCUSDT");
    assert_eq!(j["symbols"][0]["tier_layer"], "explicit_file");
    assert_eq!(j["symbols"][0]["max_leverage"], 8.0);
    assert_eq!(j["symbols"][1]["tier_layer"], "generic_default");
    assert_eq!(j["symbols"][1]["run_ids"], serde_json::json!([COMBOS, 2 * COMBOS]));
    let all = rows(&out("both"));
    assert_eq!(all.len(), 2 * COMBOS);
    for (i, one) in [rows(&out("ltc")), rows(&out("near"))].iter().enumerate() {
        assert_eq!(one.len(), COMBOS);
        for (c, want) in one.iter().enumerate() {
            let got = &all[i * COMBOS + c];
            assert_eq!(got["run_id"], (i * COMBOS + c) as u64);
            assert_eq!(got["sweep"], "both");
            for (k, v) in want {
                if k != "run_id" && k != "sweep" {
                    assert_eq!(&got[k], v, "symbol {i}, combination {c}, column {k}");
                }
            }
        }
    }
    // Tier isolation, stated directly: 20× is above LTCUSDT's table and not NEARUSDT's.
    for r in &all {
        let over = r["symbol"] == "LTCUSDT" && r["leverage"] == 20.0;
        assert_eq!(r["status"] == "error", over, "{:?} {:?}", r["symbol"], r["leverage"]);
        if over {
            let e = r["error"].as_str().unwrap();
            assert!(e.contains("leverage"), "{e}");
        }
    }
    // Both tables are recorded, keyed by symbol.
    let tiers: Value = serde_json::from_str(&kv(&out("both"), "gridsweep.tiers_json")).unwrap();
    assert_eq!(tiers["LTCUSDT"]["tiers"].as_array().unwrap().len(), 2);
    assert!(tiers["NEARUSDT"]["tiers"].as_array().unwrap().len() > 2);
    // `show` re-runs a NEARUSDT row on NEARUSDT's data and matches it.
    let s = json(&run(&["show", out("both").to_str().unwrap(), "9", "--json"]));
    assert_eq!(s["symbol"], "NEARUSDT");
    assert_eq!(s["matches_row"], true);
    // The tier file changes after the sweep: `show` re-runs LTCUSDT's row on the table the
    // sweep recorded for LTCUSDT (not the new file, not NEARUSDT's) and still matches it.
    let file = d.join("ltc-tiers.json");
    std::fs::write(&file, LTC_TIERS.replace("\"8\"", "\"15\"").replace("0.01", "0.03")).unwrap();
    let s = json(&run(&["show", out("both").to_str().unwrap(), "2", "--json"]));
    assert_eq!((s["symbol"].as_str(), s["matches_row"].as_bool()), (Some("LTCUSDT"), Some(true)));
}

/// A sampled space over two symbols: the same drawn combinations run on each symbol.
#[test]
fn test_sampled_combinations_are_the_same_on_every_symbol() {
    let d = tmpdir("sampled");
    let (ltc, near) = (data("LTCUSDT-1m-2026-02.parquet"), data("NEARUSDT-1m-2026-02.parquet"));
    let f = write(
        &d,
        "s.toml",
        &format!(
            "name = \"s\"\n{WINDOW}[symbols.LTCUSDT]\ncandles = {ltc:?}\n[symbols.NEARUSDT]\n\
             candles = {near:?}\n[params]\nmodel = \"bybit\"\n[axes]\n\
             grid_step = {{ dist = \"uniform\", low = 0.2, high = 1.0 }}\n\
             leverage = {{ dist = \"log_uniform\", low = 2, high = 20 }}\n\
             [search]\nmethod = \"random\"\nsamples = 7\nseed = 4\n"
        ),
    );
    let out = d.join("s.parquet");
    let j = json(&run(&["sweep", f.to_str().unwrap(), "--json", "-o", out.to_str().unwrap()]));
    assert_eq!(j["total_runs"], 14);
    let r = rows(&out);
    for c in 0..7 {
        for k in ["grid_step", "leverage", "param_hash"] {
            assert_eq!(r[c][k], r[7 + c][k], "sample {c}: {k}");
        }
        assert_eq!(
            (r[c]["symbol"].as_str(), r[7 + c]["symbol"].as_str()),
            (Some("LTCUSDT"), Some("NEARUSDT"))
        );
    }
}

/// The cross-symbol ranking: for every combination with a value on both symbols, worst
/// (the lower Calmar) first, then the median (their mean), then the lowest combination;
/// combinations with a failed run are not ranked.
#[test]
fn test_cross_symbol_ranking_is_worst_then_median_over_the_rows() {
    let d = tmpdir("across");
    let (both, _, _) = files(&d, WINDOW);
    let out = d.join("both.parquet");
    let j = json(&run(&[
        "sweep",
        both.to_str().unwrap(),
        "--json",
        "--top",
        "20",
        "-o",
        out.to_str().unwrap(),
    ]));
    let all = rows(&out);
    let mut want: Vec<(u64, f64, f64)> = Vec::new();
    let mut unranked = 0;
    for c in 0..COMBOS {
        let (a, b) = (&all[c], &all[COMBOS + c]);
        match (a["calmar_ratio"].as_f64(), b["calmar_ratio"].as_f64()) {
            (Some(x), Some(y)) if a["status"] == "ok" && b["status"] == "ok" => {
                want.push((c as u64, x.min(y), (x + y) / 2.0));
            }
            _ => unranked += 1,
        }
    }
    want.sort_by(|p, q| q.1.total_cmp(&p.1).then(q.2.total_cmp(&p.2)).then(p.0.cmp(&q.0)));
    let a = &j["across_symbols"];
    assert_eq!(a["objective"], "calmar_ratio");
    assert_eq!(a["symbols"], serde_json::json!(["LTCUSDT", "NEARUSDT"]));
    assert_eq!(a["unranked_combos"], unranked);
    assert_eq!(unranked, 3, "the three 20× combinations fail on LTCUSDT");
    let top = a["top"].as_array().unwrap();
    assert_eq!(top.len(), want.len());
    for (t, (c, worst, median)) in top.iter().zip(&want) {
        assert_eq!(t["combo"], *c);
        assert_eq!(t["worst"], via_text(&serde_json::json!(worst)));
        assert_eq!(t["median"], via_text(&serde_json::json!(median)));
        assert_eq!(t["params"]["leverage"], all[*c as usize]["leverage"]);
        let near = &all[COMBOS + *c as usize]["calmar_ratio"];
        assert_eq!(t["per_symbol"]["NEARUSDT"], via_text(near));
    }
    // The human table says the same.
    let o = run(&["sweep", both.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("across 2 symbols: top 3 combinations by the worst"), "{text}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 of 6 combinations not ranked"));
}

/// Byte-identical whatever the thread count, after a kill and resume, and when shards are
/// merged (a shard boundary inside each symbol's runs and one between them).
#[test]
fn test_symbols_sweep_is_deterministic_resumable_and_shardable() {
    let d = tmpdir("determinism");
    let (both, _, _) = files(&d, "start = \"2026-02-02\"\nend = \"2026-02-26\"\n");
    let f = both.to_str().unwrap();
    let reference = d.join("t1.parquet");
    run(&["sweep", f, "--threads", "1", "--block-runs", "2", "-o", reference.to_str().unwrap()]);
    let t2 = d.join("t2.parquet");
    run(&["sweep", f, "--threads", "2", "--block-runs", "2", "-o", t2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&t2).unwrap(), std::fs::read(&reference).unwrap());
    let killed = d.join("killed.parquet");
    let args = ["sweep", f, "--threads", "1", "--block-runs", "2", "-o", killed.to_str().unwrap()];
    sweep_common::kill_after_blocks(&args, &d.join("killed.parquet.parts"), 2);
    assert!(!killed.exists(), "the sweep finished before it could be killed");
    let j = json(&run(&[&args[..], &["--json"]].concat()));
    assert!(j["resumed_runs"].as_u64().unwrap() > 0 && j["computed_runs"].as_u64().unwrap() > 0);
    assert_eq!(std::fs::read(&killed).unwrap(), std::fs::read(&reference).unwrap());
    let mut parts = Vec::new();
    for k in 1..=4 {
        let p = d.join(format!("part{k}.parquet"));
        let shard = format!("{k}/4");
        let args = ["sweep", f, "--block-runs", "2", "--shard", &shard, "-o", p.to_str().unwrap()];
        run(&args);
        parts.push(p.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.parquet");
    let mut args = vec!["merge", "--json", "-o", merged.to_str().unwrap()];
    args.extend(parts.iter().map(String::as_str));
    let m = json(&run(&args));
    assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&reference).unwrap());
    let whole =
        json(&run(&["sweep", f, "--json", "--block-runs", "2", "-o", reference.to_str().unwrap()]));
    assert_eq!(whole["already_complete"], true);
    assert_eq!(m["across_symbols"], whole["across_symbols"], "merge ranks as the whole sweep");
}

/// What a sweep over several symbols refuses, each naming the field.
#[test]
fn test_symbols_refusals_name_the_field() {
    let d = tmpdir("refusals");
    let near = data("NEARUSDT-1m-2026-02.parquet");
    let base = format!(
        "[symbols.NEARUSDT]\ncandles = {near:?}\n[symbols.LTCUSDT]\ncandles = {:?}\n",
        data("LTCUSDT-1m-2026-02.parquet")
    );
    let axes = "[axes]\nleverage = [2, 5]\n";
    for (extra, field, words) in [
        (format!("candles = {near:?}\n"), "candles", "belongs to each symbol"),
        ("symbol = \"BTCUSDT\"\n".to_string(), "symbol", "belongs to each symbol"),
        (
            "[walk_forward]\ntrain = \"7d\"\ntest = \"7d\"\n".to_string(),
            "walk_forward",
            "run one sweep per symbol",
        ),
    ] {
        // Top-level keys first, then the tables.
        let (top, tables) =
            if extra.starts_with('[') { (String::new(), extra) } else { (extra, String::new()) };
        let p = write(&d, "bad.toml", &format!("{top}{base}{axes}{tables}"));
        let o = bin()
            .args(["sweep", p.to_str().unwrap(), "-o", d.join("x.parquet").to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("  {field}: ")) && err.contains(words), "{field}: {err}");
        assert!(!d.join("x.parquet").exists());
    }
    // A symbol's own problem names its table.
    let p = write(&d, "bad.toml", &format!("[symbols.NEARUSDT]\ntick_size = \"x\"\n{axes}"));
    let o = bin().args(["sweep", p.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("symbols.NEARUSDT.tick_size: must be a decimal"), "{err}");
    assert!(err.contains("symbols.NEARUSDT.candles: is required"), "{err}");
}

/// The shipped two-coin sweep runs on the shipped data.
#[test]
fn test_shipped_symbols_sweep_runs() {
    let d = tmpdir("shipped");
    let out = d.join("symbols.parquet");
    let j = json(&run(&[
        "sweep",
        "sweeps/symbols.toml",
        "--json",
        "--report",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert_eq!(j["total_runs"], 40);
    assert_eq!(j["ok_runs"].as_u64().unwrap() + j["failed_runs"].as_u64().unwrap(), 40);
    assert_eq!(j["across_symbols"]["symbols"], serde_json::json!(["LTCUSDT", "NEARUSDT"]));
    let r = rows(&out);
    assert_eq!(r.iter().filter(|r| r["symbol"] == "NEARUSDT").count(), 20);
    assert!(r.iter().all(|r| r["sweep"] == "symbols"));
    // The report has the cross-symbol table and each symbol's data in its header.
    let html = std::fs::read_to_string(d.join("symbols.html")).unwrap();
    assert!(html.contains("Across symbols: top 10 combinations by the worst"), "no across table");
    assert!(html.contains("LTCUSDT, NEARUSDT"), "symbols missing from the header");
    assert!(html.contains("NEARUSDT: 2026-02-01T00:00:00"), "NEARUSDT window missing");
}

/// Halving over two symbols ranks combinations, not runs: at each rung the combinations go
/// on or stop with all their runs, ranked by their worst objective over the symbols (a
/// combination whose run failed or was pruned ranks last). Every full-window row equals the
/// exhaustive two-symbol sweep's; the result is the same with 1 and 2 threads and after a
/// kill.
#[test]
fn test_halving_over_symbols_moves_whole_combinations() {
    let d = tmpdir("halving");
    let window = "start = \"2026-02-02\"\nend = \"2026-02-20\"\n";
    let ltc = data("LTCUSDT-1m-2026-02.parquet");
    let near = data("NEARUSDT-1m-2026-02.parquet");
    let axes = "[params]\nmodel = \"bybit\"\ngrid_count = 30\nwind_down_mode = \"close_all\"\n\
        [axes]\ngrid_step = [0.3, 0.5, 0.7, 0.9, 1.1]\nleverage = [3, 10]\n\
        amount = [\"x0.01\", \"x0.03\", \"x0.06\", \"x0.1\"]\n";
    let body = format!(
        "{window}tiers = \"builtin\"\n[symbols.LTCUSDT]\ncandles = {ltc:?}\n\
         [symbols.NEARUSDT]\ncandles = {near:?}\n{axes}"
    );
    let grid = write(&d, "grid.toml", &format!("name = \"g\"\n{body}"));
    let search = "[search]\nmethod = \"halving\"\neta = 3\nmin_window = \"2d\"\n\
        objective = \"return_pct\"\nprobes = 0.05\nseed = 3\nmin_spearman = -1\n";
    let half = write(&d, "half.toml", &format!("name = \"g\"\n{body}{search}"));
    let (go, h1, h2) = (d.join("grid.parquet"), d.join("h1.parquet"), d.join("h2.parquet"));
    run(&["sweep", grid.to_str().unwrap(), "-o", go.to_str().unwrap()]);
    let j = json(&run(&[
        "sweep",
        half.to_str().unwrap(),
        "--json",
        "--threads",
        "1",
        "-o",
        h1.to_str().unwrap(),
    ]));
    run(&["sweep", half.to_str().unwrap(), "--threads", "2", "-o", h2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&h1).unwrap(), std::fs::read(&h2).unwrap(), "threads");
    const C: usize = 40;
    let (g, h) = (rows(&go), rows(&h1));
    assert_eq!(h.len(), 2 * C);
    // Probes: max(32, ⌈0.05 · 40⌉) = 32 combinations, each on both symbols.
    assert_eq!(j["halving"]["probes"], 64);
    for c in 0..C {
        let (a, b) = (&h[c], &h[C + c]);
        // A combination's runs reach the same rung unless one ended early (pruned/failed).
        let ended = |r: &BTreeMap<String, Value>| r["status"] == "pruned" || r["status"] == "error";
        if !ended(a) && !ended(b) {
            assert_eq!(a["rung"], b["rung"], "combination {c}: {} / {}", a["status"], b["status"]);
            assert_eq!(a["status"], b["status"], "combination {c}");
        }
        for (row, full) in [(a, &g[c]), (b, &g[C + c])] {
            if row["status"] == "ok" {
                for (k, v) in full {
                    if !["rung", "window_end_ms"].contains(&k.as_str()) {
                        assert_eq!(&row[k], v, "run {}: {k}", row["run_id"]);
                    }
                }
            }
        }
    }
    // Rung 0 (the first 2 days): of the 8 non-probe combinations ⌈8/3⌉ = 3 go on with both
    // runs (the gate is off), the 3 with the best worst-of-two return over those 2 days, as a
    // grid sweep of those 2 days gives it.
    let r0 = &j["halving"]["rungs"][0];
    assert_eq!((r0["runs"].as_u64(), r0["kept"].as_u64()), (Some(16), Some(6)), "{r0}");
    let probes = gridsweep::sweep::halving::probe_set(&(0..C as u64).collect::<Vec<_>>(), 0.05, 3);
    let rest: Vec<usize> = (0..C).filter(|c| probes.binary_search(&(*c as u64)).is_err()).collect();
    assert_eq!(rest.len(), 8);
    let short = write(
        &d,
        "short.toml",
        &format!("name = \"g\"\n{}", body.replace("2026-02-20", "2026-02-04")),
    );
    let so = d.join("short.parquet");
    run(&["sweep", short.to_str().unwrap(), "-o", so.to_str().unwrap()]);
    let sh = rows(&so);
    let ret = |r: &BTreeMap<String, Value>| r["return_pct"].as_f64().unwrap_or(f64::NEG_INFINITY);
    let mut ranked: Vec<(f64, usize)> =
        rest.iter().map(|&c| (ret(&sh[c]).min(ret(&sh[C + c])), c)).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let want: Vec<usize> = ranked[..3].iter().map(|p| p.1).collect();
    let mut went_on: Vec<usize> =
        rest.iter().copied().filter(|&c| h[c]["rung"].as_u64() > Some(0)).collect();
    went_on.sort_unstable();
    let mut want_sorted = want.clone();
    want_sorted.sort_unstable();
    assert_eq!(went_on, want_sorted);
    for &c in &rest {
        if !want.contains(&c) {
            for row in [&h[c], &h[C + c]] {
                assert_eq!(row["status"], "eliminated", "{c}");
                assert_eq!(row["rung"], 0);
            }
        }
    }
    // A kill after rung 0 resumes to the same bytes.
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args = ["sweep", half.to_str().unwrap(), "--threads", "1", "-o", out.to_str().unwrap()];
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !parts.join("rung-000.json").exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "the search finished before it could be killed");
    run(&args);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&h1).unwrap(), "after a kill");
}

/// `[record]` over two symbols sharing the window: one periods file for every run, and
/// `validate` takes every (symbol, combination) run as a trial, with plateau scores over each
/// run's own symbol's grid. Different windows are refused, naming both.
#[test]
fn test_record_over_symbols_validates_every_run() {
    let d = tmpdir("record");
    let (ltc, near) = (data("LTCUSDT-1m-2026-02.parquet"), data("NEARUSDT-1m-2026-02.parquet"));
    let body = |near_start: &str| {
        format!(
            "name = \"r\"\nstart = \"2026-02-03\"\nend = \"2026-02-11\"\n\
             [symbols.LTCUSDT]\ncandles = {ltc:?}\n[symbols.NEARUSDT]\ncandles = {near:?}\n\
             {near_start}[record]\nperiod = \"1d\"\n{PARAMS_AXES}"
        )
    };
    let f = write(&d, "r.toml", &body(""));
    let out = d.join("r.parquet");
    run(&["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let periods = read(&d.join("r.periods.parquet"));
    // 12 runs × 8 daily period ends.
    assert_eq!(periods.iter().map(|b| b.num_rows()).sum::<usize>(), 2 * COMBOS * 8);
    let v = json(&run(&["validate", out.to_str().unwrap(), "--json", "--splits", "4"]));
    let ok = rows(&out).iter().filter(|r| r["status"] == "ok").count();
    assert_eq!(v["n_trials"], ok as u64);
    assert_eq!(v["plateau"], true);
    let sel = rows(&d.join("r.selection.parquet"));
    assert_eq!(sel.len(), 2 * COMBOS);
    // NEARUSDT's plateau scores are those of a one-symbol NEARUSDT sweep: its neighbours are
    // its own symbol's runs.
    let one = write(
        &d,
        "near.toml",
        &format!(
            "name = \"n\"\nsymbol = \"NEARUSDT\"\ncandles = {near:?}\nstart = \"2026-02-03\"\n\
             end = \"2026-02-11\"\n[record]\nperiod = \"1d\"\n{PARAMS_AXES}"
        ),
    );
    let no = d.join("n.parquet");
    run(&["sweep", one.to_str().unwrap(), "-o", no.to_str().unwrap()]);
    run(&["validate", no.to_str().unwrap(), "--json", "--splits", "4"]);
    let alone = rows(&d.join("n.selection.parquet"));
    assert!(alone.iter().all(|r| r["plateau_min"].is_number()), "every NEARUSDT run has a score");
    for c in 0..COMBOS {
        for k in ["plateau_min", "plateau_median"] {
            assert_eq!(sel[COMBOS + c][k], alone[c][k], "combination {c}: {k}");
        }
    }
    // NEARUSDT's own start moves its window: refused before any run.
    let f = write(&d, "bad.toml", &body("start = \"2026-02-04\"\n"));
    let o = bin()
        .args(["sweep", f.to_str().unwrap(), "-o", d.join("bad.parquet").to_str().unwrap()])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("same period ends") && e.contains("NEARUSDT") && e.contains("LTCUSDT"),
        "{e}"
    );
}
