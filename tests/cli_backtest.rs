//! End-to-end tests of `gridsweep backtest`: the real binary, real files, exit codes.
#![allow(clippy::excessive_precision)] // the origin's decimals, verbatim

mod mark_common;
mod sweep_common;

use std::path::{Path, PathBuf};

use sweep_common::{bin, data};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-cli-bt-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn backtest_on_sample_prints_summary_and_writes_outputs() {
    let d = tmp("ok");
    let cfg = write(
        &d,
        "bt.toml",
        &format!(
            "symbol = \"LTCUSDT\"\ngrid_count = 40\ngrid_step = 0.4\namount = \"x0.005\"\nleverage = 10\nend = \"2026-02-04\"\ncandles = \"{}\"\n",
            data().display()
        ),
    );
    let out = bin()
        .args(["backtest", "--config"])
        .arg(&cfg)
        .arg("--trades")
        .arg(d.join("trades.csv"))
        .arg("--equity")
        .arg(d.join("equity.parquet"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("4320 candles"), "{stdout}");
    assert!(stdout.contains("final balance"));
    let trades = std::fs::read_to_string(d.join("trades.csv")).unwrap();
    let mut lines = trades.lines();
    assert_eq!(lines.next(), Some("ts,side,direction,price,qty,realized_pnl,commission,kind"));
    assert!(lines.count() > 10);
    assert!(std::fs::metadata(d.join("equity.parquet")).unwrap().len() > 1000);

    // --json: the origin's metric names, numbers that agree with the trades file.
    let out = bin().args(["backtest", "--json", "--config"]).arg(&cfg).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "total_trades",
        "total_realized_pnl",
        "total_commission",
        "final_balance",
        "max_drawdown",
        "peak_im",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    // The tier table used is recorded (the shipped LTCUSDT snapshot: 30 tiers, first cap
    // 200,000 as Bybit's API gave it on 2026-05-18).
    assert_eq!(v["tier_layer"], "snapshot");
    let tiers = v["tier_table"]["tiers"].as_array().unwrap();
    assert_eq!(tiers.len(), 30);
    assert_eq!(tiers[0]["max_value"], "200000");
    assert_eq!(tiers[29]["max_value"], "Infinity");
    let rows = trades.lines().count() as u64 - 1;
    assert_eq!(v["total_trades"].as_u64().unwrap(), rows);
    let fees: f64 =
        trades.lines().skip(1).map(|l| l.rsplit(',').nth(1).unwrap().parse::<f64>().unwrap()).sum();
    // CSV money is rounded to 10 decimals, so the sum agrees within the rows' rounding.
    assert!((fees - v["total_commission"].as_f64().unwrap()).abs() < 1e-10 * rows as f64 + 1e-9);
    assert!(trades.lines().skip(1).all(|l| l.ends_with(",grid") || l.ends_with(",wind_down")));
    // The same metrics when an equity curve is kept (every mark computed, no still
    // stretches) as without one.
    let out = bin()
        .args(["backtest", "--json", "--config"])
        .arg(&cfg)
        .arg("--equity")
        .arg(d.join("equity2.parquet"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let with_curve: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(with_curve, v);
}

#[test]
fn backtest_replays_the_oracle_ticks() {
    // The origin's tick stream, in the repository (tests/fixtures/oracle/README.md).
    let ticks = repo().join("tests/fixtures/oracle/ticks.csv");
    assert!(ticks.is_file(), "fixture {} is missing", ticks.display());
    let d = tmp("ticks");
    let cfg = write(
        &d,
        "o.toml",
        "symbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nqty_step = \"0.001\"\nmodel = \"origin\"\ngrid_count = 50\ngrid_step = 0.2\namount = \"x0.001\"\ncommission_rate = 0.0002\ninitial_balance = 10000\nenable_funding = true\nfunding_rate = 0.0001\n",
    );
    let out = bin()
        .args(["backtest", "--json", "--config"])
        .arg(&cfg)
        .arg("--ticks")
        .arg(&ticks)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_trades"], 782);
    let fb = v["final_balance"].as_f64().unwrap();
    assert!((fb - 9839.690640609999999999999985).abs() < 1e-9 * fb);
}

#[test]
fn bad_config_names_fields_and_exits_2() {
    let d = tmp("bad");
    let cfg = write(
        &d,
        "bad.toml",
        "symbol = \"LTCUSDT\"\ngrid_count = 2\ngrid_stepp = 0.2\nmodel = \"fancy\"\n",
    );
    let out = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["bad.toml", "grid_count", "grid_stepp", "model"] {
        assert!(err.contains(needle), "{needle} not in: {err}");
    }
    assert!(!err.contains("panicked"));
}

#[test]
fn missing_or_broken_inputs_exit_2_without_panic() {
    let d = tmp("inputs");
    let cfg = write(&d, "c.toml", "symbol = \"LTCUSDT\"\ncandles = \"nope.parquet\"\n");
    let out = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.parquet"));
    let bad_ticks = write(
        &d,
        "t.csv",
        "exchange_ts,last_price\n2025-01-01T00:00:00,100\n2025-01-01T00:01:00,-5\n",
    );
    let out = bin()
        .args(["backtest", "--config"])
        .arg(&cfg)
        .arg("--ticks")
        .arg(&bad_ticks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t.csv:3") && err.contains("price"), "{err}");
    let out = bin().args(["backtest", "--config"]).arg(d.join("absent.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.toml"));
    // Leverage above the tier table's maximum is refused before any run.
    let cfg = write(
        &d,
        "lev.toml",
        &format!("symbol = \"LTCUSDT\"\nleverage = 100\ncandles = \"{}\"\n", data().display()),
    );
    let out = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leverage"));
}

/// Runs `backtest --config CFG [extra…]`; returns (exit code, stdout, stderr).
fn backtest(cfg: &Path, extra: &[&Path]) -> (Option<i32>, String, String) {
    let mut cmd = bin();
    cmd.args(["backtest", "--config"]).arg(cfg);
    if let Some(t) = extra.first() {
        cmd.arg("--ticks").arg(t);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sample() -> String {
    data().display().to_string()
}

#[test]
fn candles_of_another_symbol_are_refused() {
    // Regression: symbol = "BTCUSDT" on the LTCUSDT sample ran (exit 0) with BTC's steps
    // and tiers on LTC prices.
    let d = tmp("symbol");
    let cfg = write(&d, "s.toml", &format!("symbol = \"BTCUSDT\"\ncandles = \"{}\"\n", sample()));
    let (code, stdout, err) = backtest(&cfg, &[]);
    assert_eq!(code, Some(2), "{stdout}{err}");
    assert!(
        err.contains("are LTCUSDT, but the config's symbol is BTCUSDT")
            && err.contains("LTCUSDT-1m-2026-02.parquet"),
        "{err}"
    );
    assert!(stdout.is_empty(), "no summary of a refused run: {stdout}");
}

#[test]
fn huge_initial_balance_is_refused() {
    // Regression: 1e300 ran (exit 0) and printed net PnL 0.0000.
    let d = tmp("balance");
    let cfg = write(
        &d,
        "b.toml",
        &format!("symbol = \"LTCUSDT\"\ninitial_balance = 1e300\ncandles = \"{}\"\n", sample()),
    );
    let (code, _, err) = backtest(&cfg, &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("b.toml: initial_balance: must be at most 1e12 USDT (was 1e300)"),
        "{err}"
    );
}

#[test]
fn nonexistent_end_date_is_refused() {
    // Regression: end = "2026-02-30" ran (exit 0) as if it were 2026-03-02.
    let d = tmp("date");
    let cfg = write(
        &d,
        "d.toml",
        &format!("symbol = \"LTCUSDT\"\nend = \"2026-02-30\"\ncandles = \"{}\"\n", sample()),
    );
    let (code, _, err) = backtest(&cfg, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("d.toml: end: \"2026-02-30\" is not a date: day 30"), "{err}");
}

#[test]
fn amount_below_the_order_floor_warns_on_stderr() {
    // Regression: amount = "0.01" (meant as "x0.01") silently became 5-USDT orders.
    let d = tmp("amount");
    let cfg = write(
        &d,
        "a.toml",
        &format!(
            "symbol = \"LTCUSDT\"\namount = \"0.01\"\nend = \"2026-02-02\"\ncandles = \"{}\"\n",
            sample()
        ),
    );
    let (code, _, err) = backtest(&cfg, &[]);
    assert_eq!(code, Some(0), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("warning: ") && first.contains("a.toml: amount = \"0.01\""), "{err}");
    assert!(first.contains("amount = \"x0.01\""), "{err}");
}

#[test]
fn epoch_seconds_and_empty_tick_files_are_refused() {
    let d = tmp("tickfiles");
    let cfg = write(&d, "t.toml", "symbol = \"BTCUSDT\"\n");
    // Regression: epoch seconds were read as milliseconds (a run in January 1970, exit 0).
    let secs =
        write(&d, "secs.csv", "exchange_ts,last_price\n1735689600,100000\n1735689660,100100\n");
    let (code, stdout, err) = backtest(&cfg, &[&secs]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(err.contains("secs.csv:2") && err.contains("looks like epoch seconds"), "{err}");
    // With the column named for seconds, the same numbers are 2025-01-01T00:00 and 00:01.
    let named =
        write(&d, "named.csv", "exchange_ts_s,last_price\n1735689600,100000\n1735689660,100100\n");
    let (code, stdout, err) = backtest(&cfg, &[&named]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("2 ticks from"), "{stdout}");
    // Regression: a header-only file was a successful backtest of 0 ticks.
    let empty = write(&d, "empty.csv", "exchange_ts,last_price\n");
    let (code, stdout, err) = backtest(&cfg, &[&empty]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(err.contains("no ticks in") && err.contains("empty.csv"), "{err}");
}

/// Writes the shipped month's candles from `from_ms` on with their wicks halved (a
/// synthetic mark path) to `path`.
fn write_mark_file(path: &Path, from_ms: i64) {
    use gridsweep::candles::parquet_io::{write_parquet, WriteMeta};
    use gridsweep::candles::Candles;
    let c = Candles::open_parquet(&[data()]).unwrap();
    let m = mark_common::halved_wick_mark(&c, from_ms);
    let mark = Candles::try_new(m, Some("LTCUSDT".into()), path).unwrap();
    let meta = WriteMeta { symbol: Some("LTCUSDT".into()), source: "test mark".into(), zstd: true };
    write_parquet(path, &mark, &meta).unwrap();
}

#[test]
fn mark_candles_move_liquidation_to_the_mark_path_and_gaps_are_named() {
    let d = tmp("mark");
    let mark = d.join("mark.parquet");
    write_mark_file(&mark, 0);
    let base = format!(
        "symbol = \"LTCUSDT\"\ngrid_count = 20\ngrid_step = 0.3\namount = \"x0.01\"\nleverage = 10\nstart = \"2026-02-02\"\nend = \"2026-02-04\"\ncandles = \"{}\"\n",
        data().display()
    );
    let run =
        |cfg: &Path| bin().args(["backtest", "--json", "--config"]).arg(cfg).output().unwrap();
    let plain = run(&write(&d, "plain.toml", &base));
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(v["liquidation_price_source"], "last");
    let cfg = write(&d, "mark.toml", &format!("{base}mark_candles = \"{}\"\n", mark.display()));
    let marked = run(&cfg);
    assert!(marked.status.success(), "{}", String::from_utf8_lossy(&marked.stderr));
    let v: serde_json::Value = serde_json::from_slice(&marked.stdout).unwrap();
    assert_eq!(v["liquidation_price_source"], "mark");
    let text = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("(liquidation on the mark price)"));
    // Mark candles starting at 2026-02-03 leave the window's first day without marks.
    let late = d.join("late.parquet");
    write_mark_file(&late, 1_770_076_800_000);
    let cfg = write(&d, "late.toml", &format!("{base}mark_candles = \"{}\"\n", late.display()));
    let out = run(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "mark_candles: {}: no mark-price candle at 2026-02-02T00:00:00 (ts_ms 1769990400000), the first of 1440 of the window's 2880 candles without one",
            late.display()
        )),
        "{err}"
    );
}

#[test]
fn a_mark_price_file_given_as_candles_is_warned_about() {
    use gridsweep::candles::parquet_io::{write_parquet_with, WriteMeta, META_PRICE};
    use gridsweep::candles::Candles;
    let d = tmp("mark-as-candles");
    let c = Candles::open_parquet(&[data()]).unwrap();
    let w = c.window(None, Some(1_769_990_400_000));
    let mut cols = gridsweep::candles::Columns::default();
    for i in 0..w.len() {
        cols.push(w.ts_ms[i], w.open[i], w.high[i], w.low[i], w.close[i], 0.0);
    }
    let path = d.join("mark.parquet");
    let mark = Candles::try_new(cols, Some("LTCUSDT".into()), &path).unwrap();
    let meta = WriteMeta { symbol: Some("LTCUSDT".into()), source: "test".into(), zstd: false };
    write_parquet_with(&path, &mark, &meta, &[(META_PRICE.into(), "mark".into())]).unwrap();
    let cfg = write(
        &d,
        "c.toml",
        &format!("symbol = \"LTCUSDT\"\ngrid_count = 10\ngrid_step = 0.5\namount = \"x0.01\"\ncandles = \"{}\"\n", path.display()),
    );
    let out = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: {} holds mark prices (fetched with --price mark), given as `candles`",
            path.display()
        )),
        "{err}"
    );
}
