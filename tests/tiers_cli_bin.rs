//! The real `gridsweep tiers …` binary, run in a temp directory so the default
//! `conf/risk_limits_cache.json` lands there, against a 127.0.0.1 server.

mod tiers_common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use tiers_common::*;

fn gridsweep(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .args(args)
        .current_dir(cwd)
        .env_remove("GRIDSWEEP_LOG")
        .env_remove("GRIDBOT_RISK_CACHE_MAX_SIZE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn show_refresh_show_diff_in_a_fresh_directory() {
    let dir = TempDir::new("bin");
    let cwd = dir.path();

    let o = gridsweep(cwd, &["tiers", "show", "BTCUSDT"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("BTCUSDT: 35 tiers from snapshot\n"), "{out}");
    assert!(out.contains("Infinity"), "{out}");
    assert!(
        err.contains(
            "warning: No rest_client configured — calculations may use stale or hardcoded tier data."
        ),
        "{err}"
    );
    assert!(
        err.contains("warning: No cached or fetched risk limits for BTCUSDT; using the shipped"),
        "{err}"
    );
    assert_eq!(err.matches("No cached or fetched").count(), 1, "printed once: {err}");
    assert!(!cwd.join("conf").exists(), "show writes nothing");

    let srv = TestServer::start(|_, _| Reply::ok(data_text(TWO_TIER)));
    let o = gridsweep(cwd, &["tiers", "refresh", "BTCUSDT", "--base-url", &srv.base_url]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("BTCUSDT: 2 tiers (written)"), "{out}");
    assert!(err.contains("info: Cached risk limit tiers for BTCUSDT"), "{err}");
    let cache = cwd.join("conf/risk_limits_cache.json");
    assert_eq!(mode_of(&cache), 0o600);

    let o = gridsweep(cwd, &["tiers", "refresh", "BTCUSDT", "--base-url", &srv.base_url]);
    assert!(text(&o).0.contains("BTCUSDT: 2 tiers (unchanged)"));

    let o = gridsweep(cwd, &["tiers", "show", "BTCUSDT"]);
    let (out, _) = text(&o);
    assert!(out.starts_with("BTCUSDT: 2 tiers from fresh_cache, cached_at 20"), "{out}");

    let o = gridsweep(cwd, &["tiers", "show", "BTCUSDT", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["layer"], "fresh_cache");
    assert_eq!(v["tiers"][1]["max_value"], "Infinity");

    let o = gridsweep(cwd, &["tiers", "diff", "BTCUSDT"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "drift: {out}{err}");
    assert!(out.contains("differs from the built-in table"), "{out}");
    assert!(out.contains("- ") && out.contains("+ "), "{out}");

    let o = gridsweep(cwd, &["tiers", "diff", "ETHUSDT"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("no cached or fetched tiers for ETHUSDT"), "{err}");
}

#[test]
fn refresh_all_pages_and_partial_failures() {
    let dir = TempDir::new("bin-all");
    let t =
        |s: &str, v: &str| json!({"symbol": s, "riskLimitValue": v, "maintenanceMargin": "0.01"});
    let srv = TestServer::script(vec![
        Reply::ok(envelope(&json!([t("AUSDT", "100"), t("BUSDT", "100")]), "p2")),
        Reply::ok(envelope(&json!([t("CUSDT", "100"), t("CUSDT", "100")]), "")),
    ]);
    let o = gridsweep(dir.path(), &["tiers", "refresh", "--all", "--base-url", &srv.base_url]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "CUSDT is invalid: {out}{err}");
    assert!(
        out.contains("AUSDT: 1 tiers (written)") && out.contains("BUSDT: 1 tiers (written)"),
        "{out}"
    );
    assert!(
        err.contains("error: CUSDT: Duplicate tier boundary detected: 100 appears multiple times"),
        "{err}"
    );
}

#[test]
fn cache_outside_conf_is_refused() {
    let dir = TempDir::new("bin-trav");
    let o = gridsweep(dir.path(), &["tiers", "show", "BTCUSDT", "--cache", "conf/../x.json"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("is outside allowed directory"), "{err}");
}

#[test]
fn suspicious_tier_files_are_refused_or_warned_about_on_stderr() {
    // Issue 14 item 11, through the real binary at the default log level.
    let dir = TempDir::new("bin-check");
    let cwd = dir.path();
    let huge = cwd.join("huge.json");
    std::fs::write(
        &huge,
        json!([
            {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02"},
            {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "1e30", "initialMargin": "0.05"}
        ])
        .to_string(),
    )
    .unwrap();
    let o = gridsweep(cwd, &["tiers", "show", "LTCUSDT", "--file", "huge.json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("huge.json: mmDeduction 1000000000000000000000000000000 of tier 2"),
        "{err}"
    );
    assert!(err.contains("makes the maintenance margin negative"), "{err}");
    // The origin's v1 cache format: no imr_rate anywhere.
    let v1 = cwd.join("v1.json");
    std::fs::write(
        &v1,
        json!({"BTCUSDT": {"tiers": [
            {"max_value": "2000000", "mmr_rate": "0.005", "deduction": "0"},
            {"max_value": "Infinity", "mmr_rate": "0.01", "deduction": "10000"}
        ]}})
        .to_string(),
    )
    .unwrap();
    let o = gridsweep(cwd, &["tiers", "show", "BTCUSDT", "--file", "v1.json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("BTCUSDT: 2 tiers from explicit_file"), "{out}");
    assert!(err.contains("initial margin rate of 0 in every tier"), "{err}");
    assert!(err.contains("order rejection uses only the run's leverage"), "{err}");
}
