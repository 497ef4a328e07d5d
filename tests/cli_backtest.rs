//! End-to-end tests of `gridsweep backtest`: the real binary, real files, exit codes.
#![allow(clippy::excessive_precision)] // the origin's decimals, verbatim

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridsweep"))
}

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
            repo().join("data/LTCUSDT-1m-2026-02.parquet").display()
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
    assert_eq!(lines.next(), Some("ts,side,direction,price,qty,realized_pnl,commission"));
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
    // The tier table used is recorded (built-in LTCUSDT = DEFAULT: 5 tiers, first cap 1000000).
    assert_eq!(v["tier_layer"], "builtin");
    let tiers = v["tier_table"]["tiers"].as_array().unwrap();
    assert_eq!(tiers.len(), 5);
    assert_eq!(tiers[0]["max_value"], "1000000");
    assert_eq!(tiers[4]["max_value"], "Infinity");
    let rows = trades.lines().count() as u64 - 1;
    assert_eq!(v["total_trades"].as_u64().unwrap(), rows);
    let fees: f64 =
        trades.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap()).sum();
    assert!((fees - v["total_commission"].as_f64().unwrap()).abs() < 1e-9);
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
        &format!(
            "symbol = \"LTCUSDT\"\nleverage = 100\ncandles = \"{}\"\n",
            repo().join("data/LTCUSDT-1m-2026-02.parquet").display()
        ),
    );
    let out = bin().args(["backtest", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leverage"));
}
