//! `gridsweep tiers show|refresh|diff` run as the real binary: exit codes, messages and the
//! cache they leave, against a 127.0.0.1 server. (The CLI is private to the binary; more
//! binary-level tests live in `tiers_cli_bin.rs`.)

mod tiers_common;

use std::process::Command;

use gridsweep::tiers::cache::CacheFile;
use gridsweep::tiers::config::CacheConfig;
use gridsweep::tiers::parse::parse_risk_limit_tiers;
use serde_json::json;
use tiers_common::*;

/// Runs `gridsweep tiers <args>`: `Ok(code)` for exit codes 0 and 1, `Err(stderr)` for an
/// error (exit 2, `Error: ...` on stderr).
fn tiers(args: &[&str]) -> Result<i32, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .arg("tiers")
        .args(args)
        .env_remove("GRIDSWEEP_LOG")
        .env_remove("GRIDBOT_RISK_CACHE_MAX_SIZE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    match o.status.code() {
        Some(2) => Err(err),
        Some(c) => Ok(c),
        None => panic!("killed by a signal: {err}"),
    }
}

/// `--cache <tmp>/conf/c.json --cache-root <tmp>/conf` plus fast network options.
fn with_cache(dir: &TempDir, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend([
        "--cache".into(),
        dir.conf().join("c.json").display().to_string(),
        "--cache-root".into(),
        dir.path().join("conf").display().to_string(),
    ]);
    v
}

fn net(mut v: Vec<String>, base: &str) -> Vec<String> {
    v.extend([
        "--base-url".into(),
        base.into(),
        "--retries".into(),
        "1".into(),
        "--backoff-ms".into(),
        "1".into(),
    ]);
    v
}

fn run_args(v: &[String]) -> Result<i32, String> {
    tiers(&v.iter().map(String::as_str).collect::<Vec<_>>())
}

fn cache(dir: &TempDir) -> CacheFile {
    CacheFile::new(&CacheConfig {
        cache_path: dir.path().join("conf/c.json"),
        allowed_root: Some(dir.path().join("conf")),
        ..CacheConfig::default()
    })
    .unwrap()
}

fn tier(symbol: &str, rlv: &str, mmr: &str) -> serde_json::Value {
    json!({"symbol": symbol, "riskLimitValue": rlv, "maintenanceMargin": mmr, "initialMargin": "0.02"})
}

#[test]
fn refresh_argument_rules() {
    let e = tiers(&["refresh"]).unwrap_err();
    assert!(e.contains("required"), "symbols or --all required: {e}");
    let e = tiers(&["refresh", "BTCUSDT", "--all"]).unwrap_err();
    assert!(e.contains("cannot be used with"), "{e}");
    let e = tiers(&["refresh", "--all", "--testnet", "--base-url", "x"]).unwrap_err();
    assert!(e.contains("cannot be used with"), "{e}");
}

#[test]
fn show_builtin_cache_and_file() {
    let dir = TempDir::new("cli-show");
    assert_eq!(run_args(&with_cache(&dir, &["show", "BTCUSDT"])).unwrap(), 0);
    assert_eq!(run_args(&with_cache(&dir, &["show", "BTCUSDT", "--json"])).unwrap(), 0);
    let file = data(TWO_TIER).display().to_string();
    assert_eq!(run_args(&with_cache(&dir, &["show", "BTCUSDT", "--file", &file])).unwrap(), 0);
    let e = run_args(&with_cache(&dir, &["show", "BTCUSDT", "--file", "/nonexistent.json"]))
        .unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent.json"));
    // No network without --base-url, and nothing written.
    assert!(!dir.path().join("conf/c.json").exists());
}

#[test]
fn show_rejects_a_cache_outside_its_root() {
    let dir = TempDir::new("cli-root");
    let e = run_args(&[
        "show".into(),
        "BTCUSDT".into(),
        "--cache".into(),
        dir.path().join("conf/../x.json").display().to_string(),
        "--cache-root".into(),
        dir.path().join("conf").display().to_string(),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("is outside allowed directory"), "{e}");
}

#[test]
fn refresh_symbols_writes_the_cache() {
    let dir = TempDir::new("cli-refresh");
    let srv = TestServer::start(|target, _| {
        let sym = if target.contains("symbol=ETHUSDT") { "ETHUSDT" } else { "BTCUSDT" };
        Reply::ok(envelope(&json!([tier(sym, "100", "0.01"), tier(sym, "200", "0.02")]), ""))
    });
    let code = run_args(&net(with_cache(&dir, &["refresh", "BTCUSDT", "ETHUSDT"]), &srv.base_url))
        .unwrap();
    assert_eq!(code, 0);
    let c = cache(&dir);
    assert_eq!(c.read_entry("BTCUSDT").unwrap().unwrap().tiers.len(), 2);
    assert_eq!(c.read_entry("ETHUSDT").unwrap().unwrap().tiers.len(), 2);
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn refresh_with_a_failing_symbol_exits_1_and_keeps_the_good_one() {
    let dir = TempDir::new("cli-partial");
    let good = data_text(TWO_TIER);
    let srv = TestServer::start(move |target, _| {
        if target.contains("symbol=BAD") {
            Reply::ok(r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{}}"#)
        } else {
            Reply::ok(good.clone())
        }
    });
    let code =
        run_args(&net(with_cache(&dir, &["refresh", "BAD", "BTCUSDT"]), &srv.base_url)).unwrap();
    assert_eq!(code, 1);
    assert!(cache(&dir).read_entry("BTCUSDT").unwrap().is_some());
    assert!(cache(&dir).read_entry("BAD").unwrap().is_none());
}

#[test]
fn refresh_all_follows_pages() {
    let dir = TempDir::new("cli-all");
    let srv = TestServer::script(vec![
        Reply::ok(envelope(
            &json!([tier("AUSDT", "100", "0.01"), tier("BUSDT", "100", "0.01")]),
            "p2",
        )),
        Reply::ok(envelope(&json!([tier("CUSDT", "100", "0.01")]), "")),
    ]);
    assert_eq!(run_args(&net(with_cache(&dir, &["refresh", "--all"]), &srv.base_url)).unwrap(), 0);
    let c = cache(&dir);
    for s in ["AUSDT", "BUSDT", "CUSDT"] {
        assert!(c.read_entry(s).unwrap().is_some(), "{s}");
    }
}

#[test]
fn refresh_with_the_api_down_is_an_error() {
    let dir = TempDir::new("cli-down");
    let srv = TestServer::script(vec![Reply::status(503, "down")]);
    assert_eq!(
        run_args(&net(with_cache(&dir, &["refresh", "BTCUSDT"]), &srv.base_url)).unwrap(),
        1
    );
    let e = run_args(&net(with_cache(&dir, &["refresh", "--all"]), &srv.base_url)).unwrap_err();
    assert!(format!("{e:#}").contains("HTTP 503"), "{e:#}");
}

#[test]
fn diff_exit_codes() {
    let dir = TempDir::new("cli-diff");
    // Nothing cached and no URL: nothing to compare.
    let e = run_args(&with_cache(&dir, &["diff", "BTCUSDT"])).unwrap_err();
    assert!(e.to_string().contains("no cached or fetched tiers for BTCUSDT"), "{e}");
    assert!(
        run_args(&with_cache(&dir, &["diff", "BTCUSDT", "--fetch"])).is_err(),
        "--fetch needs a URL"
    );
    // A cache equal to the built-in table (scale differences do not count): exit 0.
    let builtin = gridsweep::tiers::snapshot::default_tiers("BTCUSDT").0;
    cache(&dir).save("BTCUSDT", builtin.tiers()).unwrap();
    assert_eq!(run_args(&with_cache(&dir, &["diff", "BTCUSDT"])).unwrap(), 0);
    // Fetched live tiers that differ: exit 1, and the cache is updated.
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER))]);
    let code =
        run_args(&net(with_cache(&dir, &["diff", "BTCUSDT", "--fetch"]), &srv.base_url)).unwrap();
    assert_eq!(code, 1);
    assert_eq!(cache(&dir).read_entry("BTCUSDT").unwrap().unwrap().tiers.len(), 2);
    // Scale-only differences are not drift: the shipped table written as Bybit's API would
    // (trailing zeros on every number, the last cap a large number instead of Infinity).
    let shipped = gridsweep::tiers::snapshot::default_tiers("BTCUSDT").0;
    let n = shipped.tiers().len();
    let list: Vec<serde_json::Value> = shipped
        .tiers()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let cap = if i + 1 == n { "99999999999".to_string() } else { format!("{}.0", t.cap) };
            json!({"riskLimitValue": cap, "maintenanceMargin": format!("{}0", t.mmr),
                   "mmDeduction": format!("{}.00", t.deduction), "initialMargin": format!("{}0", t.imr)})
        })
        .collect();
    let scaled = parse_risk_limit_tiers(&serde_json::Value::Array(list)).unwrap();
    cache(&dir).save("BTCUSDT", &scaled).unwrap();
    assert_eq!(run_args(&with_cache(&dir, &["diff", "BTCUSDT"])).unwrap(), 0);
}
