//! End-to-end tests of `gridsweep show` and `gridsweep report` on the shipped LTCUSDT month:
//! a re-run row equals the sweep's row bit for bit (whole, sharded and merged), moved or
//! changed data fails naming the file and the recorded fingerprint, and the report holds
//! every panel with no external resource.

mod sweep_common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sweep_common::{bin, data, run_ok, tmpdir};

/// A 12-run sweep over 4 days of `candles` (3 axes), optionally recording daily periods.
fn sweep_file(dir: &Path, candles: &Path, record: bool) -> PathBuf {
    let text = format!(
        "name = \"rep\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
         end = \"2026-02-07\"\n{}[params]\ngrid_count = 20\nwind_down_mode = \"close_all\"\n\
         [axes]\ngrid_step = [0.3, 0.6]\nleverage = [5, 50]\namount = [\"x0.01\", \"x0.1\", \"x0.4\"]\n",
        candles.display().to_string(),
        if record { "[record]\nperiod = \"4h\"\n" } else { "" }
    );
    let p = dir.join("rep.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn read(path: &Path) -> (Vec<RecordBatch>, Vec<(String, String)>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone().unwrap_or_default())).collect())
        .unwrap_or_default();
    (b.build().unwrap().map(Result::unwrap).collect(), kv)
}

/// Every metric column of the row of `run_id` in `results` equals `show --json`'s value bit
/// for bit (floats compared by their bits, counts exactly, nulls as JSON null).
fn assert_show_matches_rows(results: &Path, run_ids: &[u64]) {
    let (batches, _) = read(results);
    let metrics: Vec<String> = {
        let s = batches[0].schema();
        let all: Vec<String> = s.fields().iter().map(|f| f.name().clone()).collect();
        let first = all.iter().position(|n| n == "total_trades").unwrap();
        let last = all.iter().position(|n| n == "status").unwrap();
        all[first..last].to_vec()
    };
    assert!(metrics.len() > 40, "{metrics:?}");
    for &id in run_ids {
        let o = run_ok(&["show", results.to_str().unwrap(), &id.to_string(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["matches_row"], true);
        let (b, i) = batches
            .iter()
            .find_map(|b| {
                let ids = b.column_by_name("run_id").unwrap().as_primitive::<UInt64Type>();
                (0..b.num_rows()).find(|&i| ids.value(i) == id).map(|i| (b, i))
            })
            .unwrap();
        for m in &metrics {
            let col = b.column_by_name(m).unwrap();
            let got = &v[m.as_str()];
            if col.is_null(i) {
                assert!(got.is_null(), "run {id} {m}: row null, show {got}");
                continue;
            }
            match col.data_type() {
                DataType::Float64 => {
                    let want = col.as_primitive::<Float64Type>().value(i);
                    // serde_json's own float parser may be off by one ulp: parse the printed
                    // (shortest round-trip) text with the standard library's exact parser.
                    let text = String::from_utf8_lossy(&o.stdout);
                    let at = text.find(&format!("\"{m}\":")).unwrap() + m.len() + 3;
                    let token: String =
                        text[at..].chars().take_while(|c| !matches!(c, ',' | '}')).collect();
                    let got: f64 =
                        token.parse().unwrap_or_else(|_| panic!("run {id} {m}: {token}"));
                    assert_eq!(got.to_bits(), want.to_bits(), "run {id} {m}: {got} vs {want}");
                }
                DataType::UInt64 => {
                    let want = col.as_primitive::<UInt64Type>().value(i);
                    assert_eq!(got.as_u64(), Some(want), "run {id} {m}");
                }
                DataType::Int64 => {
                    let want = col.as_primitive::<arrow_array::types::Int64Type>().value(i);
                    assert_eq!(got.as_i64(), Some(want), "run {id} {m}");
                }
                DataType::Boolean => {
                    assert_eq!(got.as_bool(), Some(col.as_boolean().value(i)), "run {id} {m}")
                }
                DataType::Utf8 => {
                    assert_eq!(got.as_str(), Some(col.as_string::<i32>().value(i)), "run {id} {m}")
                }
                other => panic!("{m}: {other}"),
            }
        }
    }
}

#[test]
fn show_reproduces_every_row_bit_for_bit_whole_sharded_and_merged() {
    let dir = tmpdir("show");
    let sweep = sweep_file(&dir, &data(), false);
    let whole = dir.join("whole.parquet");
    let s = sweep.to_str().unwrap();
    run_ok(&["sweep", s, "-o", whole.to_str().unwrap(), "--json"]);
    let ids: Vec<u64> = (0..12).collect();
    assert_show_matches_rows(&whole, &ids);
    // Shards 1/3 … 3/3 with blocks of 2 runs, merged.
    let mut parts = Vec::new();
    for k in 1..=3 {
        let p = dir.join(format!("part{k}.parquet"));
        let shard = format!("{k}/3");
        run_ok(&[
            "sweep",
            s,
            "-o",
            p.to_str().unwrap(),
            "--shard",
            &shard,
            "--block-runs",
            "2",
            "--json",
        ]);
        parts.push(p);
    }
    // A shard file re-runs its own rows (shard 2/3 holds blocks 2-3: runs 4..8).
    assert_show_matches_rows(&parts[1], &[4, 7]);
    let merged = dir.join("merged.parquet");
    let mut args = vec!["merge".to_string()];
    args.extend(parts.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), merged.display().to_string(), "--json".into()]);
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_show_matches_rows(&merged, &ids);
    // A run id outside the shard, and outside the sweep.
    let o = bin().args(["show", parts[0].to_str().unwrap(), "9"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no row for run 9"));
    let o = bin().args(["show", whole.to_str().unwrap(), "12"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("run 12") && e.contains("0 to 11"), "{e}");
    // The human summary and the trades of a row: one trades line per fill.
    let trades = dir.join("t.csv");
    let o = run_ok(&["show", whole.to_str().unwrap(), "5", "--trades", trades.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("metrics equal the result row bit for bit"), "{text}");
    let (b, _) = read(&whole);
    let total: u64 =
        b[0].column_by_name("total_trades").unwrap().as_primitive::<UInt64Type>().value(5);
    let lines = std::fs::read_to_string(&trades).unwrap().lines().count() as u64;
    assert_eq!(lines, total + 1, "header + one line per trade");
}

#[test]
fn moved_or_changed_data_fails_naming_the_file_and_the_recorded_fingerprint() {
    let dir = tmpdir("moved");
    let copy = dir.join("LTCUSDT-1m-2026-02.parquet");
    std::fs::copy(data(), &copy).unwrap();
    let sweep = sweep_file(&dir, &copy, false);
    let out = dir.join("r.parquet");
    run_ok(&["sweep", sweep.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    let (_, kv) = read(&out);
    let fp = kv.iter().find(|(k, _)| k == "gridsweep.data_fingerprint").unwrap().1.clone();
    std::fs::remove_file(&copy).unwrap();
    for args in [vec!["show", out.to_str().unwrap(), "0"], vec!["report", out.to_str().unwrap()]] {
        let o = bin().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains(copy.to_str().unwrap()) && e.contains("is missing") && e.contains(&fp),
            "{e}"
        );
    }
    // Other candles at the same path: a different fingerprint.
    let csv = dir.join("LTCUSDT-1m-2026-02.csv");
    let mut text = String::new();
    for i in 0..(6 * 1440) {
        let t = 1_769_990_400_000i64 + i * 60_000; // 2026-02-02
        let p = 50.0 + (i % 7) as f64 * 0.01;
        text.push_str(&format!(
            "{t},{p},{},{},{p},10,{},0,0,0,0,0\n",
            p + 0.02,
            p - 0.02,
            t + 59_999
        ));
    }
    std::fs::write(&csv, text).unwrap();
    run_ok(&["import", "--out", copy.to_str().unwrap(), csv.to_str().unwrap()]);
    let o = bin().args(["show", out.to_str().unwrap(), "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("the data changed") && e.contains(copy.to_str().unwrap()) && e.contains(&fp),
        "{e}"
    );
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// Writes a folds file with `columns` (every value `fold * 10 + column`, times in Feb 2026).
fn folds_file(path: &Path, columns: &[&str]) {
    let fields: Vec<Field> =
        columns.iter().map(|c| Field::new(*c, DataType::Float64, false)).collect();
    let cols: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let v: Vec<f64> = (0..3)
                .map(|f| {
                    if c.ends_with("_ms") {
                        1_770_076_800_000.0 + (f * 86_400_000) as f64
                    } else {
                        (f * 10 + k) as f64
                    }
                })
                .collect();
            Arc::new(arrow_array::Float64Array::from(v)) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn the_report_holds_every_panel_and_no_external_resource() {
    let dir = tmpdir("report");
    let sweep = sweep_file(&dir, &data(), true);
    let out = dir.join("rep.parquet");
    // The sweep writes the report itself with --report (top 4).
    let o = run_ok(&[
        "sweep",
        sweep.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--report",
        "--top",
        "4",
    ]);
    let html_path = dir.join("rep.html");
    assert!(String::from_utf8_lossy(&o.stderr).contains("rep.html"));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // 3 axes with 2+ values: 3 pairs × (max, median) heatmaps.
    assert_eq!(count(&html, "data-chart=\"heatmap\""), 6);
    assert_eq!(count(&html, "data-chart=\"liquidation\""), 2);
    assert_eq!(count(&html, "data-chart=\"pareto\""), 1);
    assert_eq!(count(&html, "data-chart=\"equity\""), 4);
    assert_eq!(count(&html, "data-chart=\"underwater\""), 4);
    // No validation panels before validate… the periods file exists, so PBO is drawn.
    assert_eq!(count(&html, "data-chart=\"pbo\""), 1);
    assert_eq!(count(&html, "<figure class=\"chart\" id=\"fig-"), 19);
    assert_eq!(count(&html, "<svg"), 19);
    assert_eq!(count(&html, "<a href=\"#run-"), 4);
    assert_eq!(count(&html, "<section id=\"run-"), 4);
    for banned in
        ["<script", "<link", "<img", "<iframe", "url(", "@import", "src=", "href=\"http", "//cdn"]
    {
        assert!(!html.contains(banned), "{banned}");
    }
    // The only absolute URL is the SVG namespace (an identifier, never fetched).
    let urls = html.matches("http").count();
    assert_eq!(
        urls,
        html.matches("http://www.w3.org/2000/svg").count() + html.matches("http-equiv").count()
    );
    // Provenance.
    let (_, kv) = read(&out);
    let fp = &kv.iter().find(|(k, _)| k == "gridsweep.data_fingerprint").unwrap().1;
    assert!(
        html.contains(fp.as_str()) && html.contains("LTCUSDT") && html.contains("12 in the sweep")
    );

    // After validate: the Pareto front is ringed; with a folds file: the fold panel.
    run_ok(&["validate", out.to_str().unwrap(), "--splits", "8", "--json"]);
    folds_file(&dir.join("rep.folds.parquet"), &gridsweep::report::build::FOLD_COLUMNS);
    let html2 = dir.join("again.html");
    run_ok(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        html2.to_str().unwrap(),
        "--top",
        "2",
        "--objective",
        "return_pct",
    ]);
    let h = std::fs::read_to_string(&html2).unwrap();
    assert!(h.contains("Pareto front (validate)"));
    assert_eq!(count(&h, "data-chart=\"folds\""), 1);
    assert_eq!(count(&h, "data-chart=\"equity\""), 2);
    assert!(h.contains("Top 2 runs by return_pct"));
    // Chosen pairs only: grid_step × leverage, max and median.
    let o = bin()
        .args([
            "report",
            out.to_str().unwrap(),
            "--out",
            html2.to_str().unwrap(),
            "--pairs",
            "grid_step:leverage",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count(&std::fs::read_to_string(&html2).unwrap(), "data-chart=\"heatmap\""), 2);
    let o = bin()
        .args(["report", out.to_str().unwrap(), "--pairs", "grid_step:spacing"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`spacing` is not an axis"));
    // A folds file of other columns: a note, no panel.
    folds_file(&dir.join("rep.folds.parquet"), &["fold", "something_else"]);
    run_ok(&["report", out.to_str().unwrap(), "--out", html2.to_str().unwrap(), "--top", "1"]);
    let h = std::fs::read_to_string(&html2).unwrap();
    assert_eq!(count(&h, "data-chart=\"folds\""), 0);
    assert!(h.contains("cannot be drawn") && h.contains("train_start_ms"));
    // The report never replaces its input or a file of another kind.
    let o = bin()
        .args(["report", out.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin()
        .args(["report", out.to_str().unwrap(), "--out", sweep.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("<!DOCTYPE html>"));
}

#[test]
fn backtest_report_draws_equity_underwater_positions_and_fills() {
    let dir = tmpdir("backtest");
    let cfg = dir.join("bt.toml");
    std::fs::write(
        &cfg,
        format!(
            "symbol = \"LTCUSDT\"\ncandles = [{:?}]\nstart = \"2026-02-03\"\nend = \"2026-02-05\"\n\
             grid_count = 20\ngrid_step = 0.3\namount = \"x0.05\"\nleverage = 5\n",
            data().display().to_string()
        ),
    )
    .unwrap();
    let html = dir.join("bt.html");
    run_ok(&["backtest", "--config", cfg.to_str().unwrap(), "--report", html.to_str().unwrap()]);
    let h = std::fs::read_to_string(&html).unwrap();
    for kind in ["equity", "underwater", "positions", "fills"] {
        assert_eq!(count(&h, &format!("data-chart=\"{kind}\"")), 1, "{kind}");
    }
    assert!(!h.contains("<script") && !h.contains("src="));
}

#[test]
fn show_reproduces_pruned_and_eliminated_rows_bit_for_bit() {
    let d = tmpdir("search");
    // 60 runs over the month: a drawdown constraint prunes some; halving (probes: 32) leaves
    // the rest to be eliminated at 3 and 9 days.
    let text = format!(
        "name = \"srch\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\n[params]\ngrid_count = 40\n\
         [axes]\ngrid_step = {{ start = 0.2, stop = 1.1, step = 0.1 }}\nleverage = [5, 50]\n\
         amount = [\"x0.02\", \"x0.05\", \"x0.1\"]\n[constraints]\nmax_drawdown_pct = {{ max = 40 }}\n\
         [search]\nmethod = \"halving\"\neta = 3\nmin_window = \"3d\"\n",
        data().display().to_string()
    );
    let f = d.join("srch.toml");
    std::fs::write(&f, text).unwrap();
    let out = d.join("srch.parquet");
    run_ok(&["sweep", f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let (batches, _) = read(&out);
    let mut by_status: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for b in &batches {
        let ids = b.column_by_name("run_id").unwrap().as_primitive::<UInt64Type>();
        let st = b.column_by_name("status").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            by_status.entry(st.value(i).to_string()).or_default().push(ids.value(i));
        }
    }
    for status in ["ok", "pruned", "eliminated"] {
        let ids = by_status.get(status).unwrap_or_else(|| panic!("no {status} row: {by_status:?}"));
        assert_show_matches_rows(&out, &ids[..ids.len().min(3)]);
    }
}
