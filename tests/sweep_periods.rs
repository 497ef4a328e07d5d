//! Issue 11 item 1: `[record] period` makes a sweep write `<out>.periods.parquet` (run_id,
//! period_end_ms, equity; run_id then time order), byte-identical whatever the thread
//! count, after a kill and resume, and when shards are merged.

mod sweep_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::Array;
use sweep_common::{bin, data, read, run_ok, tmpdir};

const DAY: i64 = 86_400_000;
/// 2026-02-03T00:00:00Z.
const FEB3: i64 = 1_770_076_800_000;

/// A sweep over `days` days from 2026-02-03 recording daily periods; 48 runs.
fn sweep_file(dir: &Path, days: i64) -> PathBuf {
    let text = format!(
        "name = \"periods\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
         end = \"2026-02-{:02}\"\n[record]\nperiod = \"1d\"\n[params]\ngrid_count = 20\n\
         [axes]\ngrid_step = {{ start = 0.2, stop = 0.9, step = 0.1 }}\nleverage = [5, 50]\n\
         amount = [\"x0.01\", \"x0.1\", \"x0.3\"]\n",
        data().display().to_string(),
        3 + days
    );
    let p = dir.join("periods.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn periods_of(out: &Path) -> PathBuf {
    out.with_file_name(format!("{}.periods.parquet", out.file_stem().unwrap().to_string_lossy()))
}

#[test]
fn periods_are_one_row_per_run_and_day_and_identical_across_threads() {
    let d = tmpdir("threads");
    let f = sweep_file(&d, 4);
    let (a, b) = (d.join("a.parquet"), d.join("b.parquet"));
    run_ok(&[
        "sweep",
        f.to_str().unwrap(),
        "--threads",
        "1",
        "--block-runs",
        "5",
        "-o",
        a.to_str().unwrap(),
    ]);
    run_ok(&[
        "sweep",
        f.to_str().unwrap(),
        "--threads",
        "2",
        "--block-runs",
        "5",
        "-o",
        b.to_str().unwrap(),
    ]);
    let (pa, pb) = (periods_of(&a), periods_of(&b));
    assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    // 48 runs × 4 days, run_id then time order, each day's end at 00:00 UTC.
    let batches = read(&pa);
    let mut rows: Vec<(u64, i64, f64)> = Vec::new();
    for bt in &batches {
        let ids = bt.column(0).as_primitive::<UInt64Type>();
        let ts = bt.column(1).as_primitive::<Int64Type>();
        let eq = bt.column(2).as_primitive::<Float64Type>();
        for i in 0..bt.num_rows() {
            assert!(eq.is_valid(i));
            rows.push((ids.value(i), ts.value(i), eq.value(i)));
        }
    }
    assert_eq!(rows.len(), 48 * 4);
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r.0, (k / 4) as u64);
        assert_eq!(r.1, FEB3 + DAY * (k % 4 + 1) as i64);
    }
    // The last day's equity is each run's final balance (the results file's column).
    let results = read(&a);
    let mut finals = Vec::new();
    for bt in &results {
        let c = bt.column_by_name("final_balance").unwrap().as_primitive::<Float64Type>();
        finals.extend((0..c.len()).map(|i| c.value(i)));
    }
    assert_eq!(finals.len(), 48);
    for (id, fin) in finals.iter().enumerate() {
        let last = rows[id * 4 + 3].2;
        assert!((last - fin).abs() <= 1e-9 * fin.abs().max(1.0), "run {id}: {last} vs {fin}");
    }
    // A liquidated run keeps its final equity from its liquidation on.
    let mut liquidated = 0;
    for bt in &results {
        let ids = bt.column_by_name("run_id").unwrap().as_primitive::<UInt64Type>();
        let at = bt.column_by_name("liquidation_ts_ms").unwrap().as_primitive::<Int64Type>();
        for i in 0..bt.num_rows() {
            if at.is_valid(i) {
                liquidated += 1;
                let id = ids.value(i) as usize;
                for r in &rows[id * 4..id * 4 + 4] {
                    if r.1 >= at.value(i) {
                        assert_eq!(r.2, finals[id], "run {id} after its liquidation");
                    }
                }
            }
        }
    }
    assert!(liquidated > 0, "the sweep has liquidated runs");
}

#[test]
fn periods_survive_a_kill_and_merge_from_shards_byte_for_byte() {
    let d = tmpdir("resume");
    let f = sweep_file(&d, 6);
    let fs = f.to_str().unwrap();
    let reference = d.join("reference.parquet");
    run_ok(&["sweep", fs, "--block-runs", "2", "-o", reference.to_str().unwrap()]);
    let out = d.join("killed.parquet");
    let parts = d.join("killed.parquet.parts");
    let args = ["sweep", fs, "--threads", "1", "--block-runs", "2", "-o", out.to_str().unwrap()];
    sweep_common::kill_after_blocks(&args, &parts, 3);
    assert!(!out.exists(), "the sweep finished before it could be killed");
    run_ok(&args);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&reference).unwrap());
    assert_eq!(
        std::fs::read(periods_of(&out)).unwrap(),
        std::fs::read(periods_of(&reference)).unwrap(),
        "resumed periods file differs"
    );
    // Shards, merged.
    let mut names = Vec::new();
    for k in 1..=3 {
        let p = d.join(format!("part{k}.parquet"));
        run_ok(&[
            "sweep",
            fs,
            "--block-runs",
            "2",
            "--shard",
            &format!("{k}/3"),
            "-o",
            p.to_str().unwrap(),
        ]);
        names.push(p.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.parquet");
    run_ok(&["merge", &names[1], &names[0], &names[2], "-o", merged.to_str().unwrap()]);
    assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&reference).unwrap());
    assert_eq!(
        std::fs::read(periods_of(&merged)).unwrap(),
        std::fs::read(periods_of(&reference)).unwrap(),
        "merged periods file differs"
    );
    // A part without its periods file cannot be merged.
    std::fs::remove_file(periods_of(Path::new(&names[2]))).unwrap();
    let o = bin()
        .args(["merge", &names[0], &names[1], &names[2], "-o"])
        .arg(d.join("m2.parquet"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("part3.periods.parquet is missing"), "{e}");
}

#[test]
fn a_bad_record_period_is_refused_with_the_choices() {
    let d = tmpdir("bad");
    let f = sweep_file(&d, 2);
    let text = std::fs::read_to_string(&f).unwrap().replace("period = \"1d\"", "period = \"2d\"");
    std::fs::write(&f, text).unwrap();
    let o = bin().args(["sweep", f.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(
            "record.period: \"2d\" is not a period; use one of \"1h\", \"4h\", \"1d\", \"7d\""
        ),
        "{e}"
    );
}

#[test]
fn validate_reads_results_and_periods_and_selects_the_best_sharpe() {
    let d = tmpdir("validate");
    let f = sweep_file(&d, 20);
    let out = d.join("v.parquet");
    run_ok(&["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let o = run_ok(&["validate", out.to_str().unwrap(), "--json", "--splits", "4"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The selected run, recomputed here from the periods file: the highest mean/std
    // (ddof 1) of r_t = e_t / e_(t-1) − 1, the first against the 10,000 initial balance.
    let (results, periods) = (read(&out), read(&periods_of(&out)));
    let mut ok = Vec::new();
    for bt in &results {
        let s = bt.column_by_name("status").unwrap().as_string::<i32>();
        ok.extend((0..bt.num_rows()).map(|i| s.value(i) == "ok"));
    }
    let mut equity: Vec<Vec<f64>> = vec![Vec::new(); ok.len()];
    for bt in &periods {
        let ids = bt.column(0).as_primitive::<UInt64Type>();
        let eq = bt.column(2).as_primitive::<Float64Type>();
        for i in 0..bt.num_rows() {
            equity[ids.value(i) as usize].push(eq.value(i));
        }
    }
    let sharpe = |e: &[f64]| {
        let mut prev = 10_000.0;
        let r: Vec<f64> = e
            .iter()
            .map(|&x| {
                let q = x / prev - 1.0;
                prev = x;
                q
            })
            .collect();
        let n = r.len() as f64;
        let mean = r.iter().sum::<f64>() / n;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        if var > 0.0 {
            mean / var.sqrt()
        } else {
            0.0
        }
    };
    let mut best = (f64::NEG_INFINITY, 0usize);
    for (id, e) in equity.iter().enumerate() {
        if ok[id] && sharpe(e) > best.0 {
            best = (sharpe(e), id);
        }
    }
    assert_eq!(v["selected_run_id"], best.1 as u64);
    assert!((v["sharpe_selected"].as_f64().unwrap() - best.0).abs() < 1e-12);
    assert_eq!(v["n_trials"], ok.iter().filter(|o| **o).count() as u64);
    assert_eq!(v["splits"], 4);
    assert_eq!(v["logits"].as_array().unwrap().len(), 6, "C(4, 2) splits");
    let pbo = v["pbo"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&pbo));
    // The selection file: a row per run, the Pareto front non-empty.
    let sel = read(&d.join("v.selection.parquet"));
    let rows: usize = sel.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 48);
    // A result file without periods is refused with the fix.
    let g = d.join("plain.toml");
    std::fs::write(
        &g,
        std::fs::read_to_string(&f).unwrap().replace("[record]\nperiod = \"1d\"\n", ""),
    )
    .unwrap();
    let plain = d.join("plain.parquet");
    run_ok(&["sweep", g.to_str().unwrap(), "-o", plain.to_str().unwrap()]);
    let o = bin().args(["validate", plain.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no periods file") && e.contains("[record]"), "{e}");
}

#[test]
#[ignore = "needs python3 with pyarrow (run with --ignored, as .ci/run does; fails without it)"]
fn the_periods_file_is_read_by_pyarrow_with_its_types() {
    let d = tmpdir("pyarrow");
    let f = sweep_file(&d, 3);
    let out = d.join("p.parquet");
    run_ok(&["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let script = "import sys, pyarrow.parquet as pq\n\
                  t = pq.read_table(sys.argv[1])\n\
                  assert t.num_rows == 48 * 3, t.num_rows\n\
                  print(','.join(f'{f.name}:{f.type}' for f in t.schema))\n\
                  ids = t.column('run_id').to_pylist()\n\
                  assert ids == sorted(ids)\n";
    let o =
        Command::new("python3").args(["-c", script]).arg(periods_of(&out)).output().unwrap_or_else(
            |e| panic!("cannot run python3 ({e}): this test needs python3 with pyarrow"),
        );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "pyarrow could not read the periods file: {err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "run_id:uint64,period_end_ms:int64,equity:double"
    );
}

#[test]
#[ignore = "needs python3 with duckdb and polars (run with --ignored, as .ci/run does; fails without them)"]
fn the_periods_file_is_read_by_duckdb_and_polars() {
    let d = tmpdir("duckdb");
    let f = sweep_file(&d, 3);
    let out = d.join("p.parquet");
    run_ok(&["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    // DuckDB: the types, and a join of the periods with the results on run_id (48 runs × 3
    // days): each run's last period equity is its equity at its last mark, which is its final
    // balance (balance + unrealised; the sweep leaves positions open at the end).
    let script = "import sys, duckdb, polars as pl\n\
        res, per = sys.argv[1], sys.argv[2]\n\
        con = duckdb.connect()\n\
        q = lambda sql: con.execute(sql).fetchall()\n\
        types = q(f\"DESCRIBE SELECT * FROM '{per}'\")\n\
        print(','.join(f'{r[0]}:{r[1]}' for r in types))\n\
        n, runs = q(f\"SELECT count(*), count(DISTINCT run_id) FROM '{per}'\")[0]\n\
        assert (n, runs) == (144, 48), (n, runs)\n\
        bad = q(f\"SELECT count(*) FROM '{res}' r JOIN (SELECT run_id, arg_max(equity, period_end_ms) AS e FROM '{per}' GROUP BY run_id) p USING (run_id) WHERE r.status = 'ok' AND abs(p.e - r.final_balance) > 1e-6 * abs(r.final_balance)\")[0][0]\n\
        assert bad == 0, bad\n\
        df = pl.read_parquet(per)\n\
        print(','.join(f'{k}:{v}' for k, v in df.schema.items()))\n\
        assert df.height == 144 and df['run_id'].is_sorted()\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&out)
        .arg(periods_of(&out))
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): this test needs duckdb and polars"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "duckdb/polars could not read the files: {err}");
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("run_id:UBIGINT,period_end_ms:BIGINT,equity:DOUBLE"));
    assert_eq!(lines.next(), Some("run_id:UInt64,period_end_ms:Int64,equity:Float64"));
}
