//! `gridsweep import` end to end: exit codes, summary, error text, atomic output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-tc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn import(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsweep")).arg("import").args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn csv(start_ms: i64, n: usize) -> String {
    let mut s = String::from("open_time,open,high,low,close,volume,close_time,q,c,tb,tq,ignore\n");
    for i in 0..n {
        let t = start_ms + i as i64 * 60_000;
        s += &format!("{t},10.0,10.5,9.5,10.25,3,{},0,0,0,0,0\n", t + 59_999);
    }
    s
}

#[test]
fn test_import_success_prints_summary() {
    let d = tmpdir("ok");
    let a = d.join("LTCUSDT-1m-2026-01.csv");
    let b = d.join("LTCUSDT-1m-2026-02.csv");
    std::fs::write(&a, csv(1_767_225_600_000, 3)).unwrap();
    // Second file starts two minutes after the first ends: one gap of one candle.
    std::fs::write(&b, csv(1_767_225_600_000 + 4 * 60_000, 2)).unwrap();
    let out = d.join("out.parquet");
    let o = import(&["--out".as_ref(), out.as_os_str(), b.as_os_str(), a.as_os_str()]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("imported 5 candles (1m) of LTCUSDT from 2 file(s)"), "{stdout}");
    assert!(stdout.contains("first        2026-01-01T00:00:00 UTC"), "{stdout}");
    assert!(stdout.contains("last         2026-01-01T00:05:00 UTC"), "{stdout}");
    assert!(stdout.contains("gaps         1 gap(s), 1 candle(s) missing"), "{stdout}");
    assert!(stderr.contains("warning: 1 gap(s)"), "{stderr}");
    let c = gridsweep::candles::parquet_io::read_parquet(&out).unwrap();
    assert_eq!(c.len(), 5);
    assert_eq!(c.symbol(), Some("LTCUSDT"));
}

#[test]
fn test_import_bad_input_fails_cleanly_and_writes_nothing() {
    let d = tmpdir("bad");
    let bad = d.join("X-1m.csv");
    std::fs::write(&bad, csv(0, 5).replace("10.0,10.5,9.5", "10.0,9.0,9.5")).unwrap();
    let out = d.join("out.parquet");
    let o = import(&["--out".as_ref(), out.as_os_str(), bad.as_os_str()]);
    let (stdout, stderr) = text(&o);
    assert_ne!(o.status.code(), Some(0), "{stdout}");
    assert!(o.status.code().is_some(), "killed by a signal");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("X-1m.csv, line 2: high 9 is below max(open 10, close 10.25)"),
        "{stderr}"
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn test_import_usage_and_io_errors_exit_nonzero() {
    let d = tmpdir("usage");
    let out = d.join("o.parquet");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (vec!["--out".as_ref(), out.as_os_str()], "INPUT"),
        (vec!["--out".as_ref(), out.as_os_str(), "missing.csv".as_ref()], "missing.csv"),
        (
            vec![
                "--format".as_ref(),
                "xml".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
                "a".as_ref(),
            ],
            "xml",
        ),
    ];
    for (args, want) in cases {
        let o = import(&args);
        let (_, stderr) = text(&o);
        assert!(matches!(o.status.code(), Some(c) if c != 0), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Output directory that does not exist.
    let input = d.join("Y.csv");
    std::fs::write(&input, csv(0, 2)).unwrap();
    let o =
        import(&["--out".as_ref(), d.join("no/such/dir/o.parquet").as_os_str(), input.as_os_str()]);
    let (_, stderr) = text(&o);
    assert!(matches!(o.status.code(), Some(c) if c != 0), "{stderr}");
    assert!(stderr.contains("o.parquet"), "{stderr}");
    // Output equal to an input is refused before anything is read or written.
    let o = import(&["--out".as_ref(), input.as_os_str(), input.as_os_str()]);
    let (_, stderr) = text(&o);
    assert!(matches!(o.status.code(), Some(c) if c != 0), "{stderr}");
    assert!(stderr.contains("is also an input"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), csv(0, 2));
}

#[test]
fn test_import_bybit_json_format_flag() {
    let d = tmpdir("bybit");
    let j = d.join("klines.txt");
    std::fs::write(
        &j,
        r#"{"retCode":0,"result":{"symbol":"BTCUSDT","list":[["120000","2","3","1","2.5","7","1"],["60000","1","2","1","2","5","1"]]}}"#,
    )
    .unwrap();
    let out = d.join("b.parquet");
    let o = import(&[
        "--format".as_ref(),
        "bybit-json".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        j.as_os_str(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("imported 2 candles (1m) of BTCUSDT"), "{stdout}");
    let o = import(&[
        "--symbol".as_ref(),
        "ETHUSDT".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        j.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let c = gridsweep::candles::parquet_io::read_parquet(Path::new(&out)).unwrap();
    assert_eq!(c.symbol(), Some("ETHUSDT"));
}
