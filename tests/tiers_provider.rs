//! The layered provider (ORIGIN_BEHAVIOUR §3.4): fresh cache → API → stale cache →
//! built-in, with the origin's messages, against a real 127.0.0.1 server; and
//! `resolve_for_run` for every `TierSource`.

mod tiers_common;

use std::time::Duration;

use gridsweep::tiers::builtin::builtin_tiers;
use gridsweep::tiers::config::CacheConfig;
use gridsweep::tiers::note::Note;
use gridsweep::tiers::parse::parse_risk_limit_tiers;
use gridsweep::tiers::rest::BybitClient;
use gridsweep::tiers::source::resolve;
use gridsweep::tiers::{
    resolve_for_run, RiskLimitProvider, Tier, TierError, TierLayer, TierSource,
};
use serde_json::json;
use tiers_common::*;

const NO_CLIENT: &str =
    "No rest_client configured — calculations may use stale or hardcoded tier data. \
                         Provide a BybitRestClient for live data.";

fn config(dir: &TempDir) -> CacheConfig {
    CacheConfig {
        cache_path: dir.conf().join("risk_limits_cache.json"),
        allowed_root: Some(dir.path().join("conf")),
        ttl: Duration::from_secs(3600),
        max_size: 10_000_000,
    }
}

fn provider(dir: &TempDir, client: Option<BybitClient>) -> RiskLimitProvider {
    RiskLimitProvider::new(&config(dir), client).unwrap()
}

fn tiers(mmr: &str) -> Vec<Tier> {
    parse_risk_limit_tiers(&json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02"},
        {"riskLimitValue": "1000000", "maintenanceMargin": mmr, "initialMargin": "0.05", "mmDeduction": "3000"}
    ]))
    .unwrap()
}

fn messages(notes: &[Note]) -> Vec<String> {
    notes.iter().map(|n| n.message.clone()).collect()
}

fn levels(notes: &[Note]) -> Vec<log::Level> {
    notes.iter().map(|n| n.level).collect()
}

fn hardcoded(s: &str) -> String {
    match gridsweep::tiers::snapshot::default_tiers(s).2 {
        None => format!(
            "No cached or fetched risk limits for {s}; using the shipped Bybit snapshot. Run \
             `gridsweep tiers refresh {s}` for the current table."
        ),
        Some(w) => format!("No cached or fetched risk limits for {s}. {w}"),
    }
}

fn stale(s: &str, at: &str) -> String {
    format!(
        "API unavailable for {s}, using potentially stale cached risk limits (cached_at={at}). \
         Margin calculations may be inaccurate."
    )
}

/// Writes an entry with a chosen `cached_at` straight into the cache file.
fn put_entry(dir: &TempDir, symbol: &str, mmr: &str, cached_at: &str) {
    let tiers = gridsweep::tiers::cache_format::tiers_to_dict(&tiers(mmr));
    let path = config(dir).cache_path;
    let mut root = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .unwrap_or(json!({}));
    root[symbol] = json!({"tiers": tiers, "cached_at": cached_at});
    write_mode(&path, &root.to_string(), 0o600);
}

#[test]
fn no_client_no_cache_gives_builtin_and_warns_once() {
    let dir = TempDir::new("builtin");
    let p = provider(&dir, None);
    let r = p.get("BTCUSDT");
    assert_eq!(r.layer, TierLayer::Snapshot);
    assert_eq!(r.table, gridsweep::tiers::snapshot::snapshot_tiers("BTCUSDT").unwrap().0);
    assert_eq!(messages(&r.notes), vec![NO_CLIENT.to_string(), hardcoded("BTCUSDT")]);
    assert_eq!(levels(&r.notes), vec![log::Level::Warn, log::Level::Warn]);
    // The no-client warning is given once per provider.
    let r = p.get("XYZUSDT");
    assert_eq!(messages(&r.notes), vec![hardcoded("XYZUSDT")]);
    assert_eq!(r.table.tiers(), builtin_tiers("XYZUSDT").tiers());
    assert_eq!(r.table.symbol(), "XYZUSDT");
    // A new provider warns again.
    assert_eq!(provider(&dir, None).get("X").notes[0].message, NO_CLIENT);
}

#[test]
fn fresh_cache_is_used_without_any_request() {
    let dir = TempDir::new("fresh");
    let srv = TestServer::script(vec![Reply::status(500, "must not be called")]);
    let p = provider(&dir, Some(srv.client()));
    p.cache().save("LTCUSDT", &tiers("0.025")).unwrap();
    let r = p.get("LTCUSDT");
    assert_eq!(r.layer, TierLayer::FreshCache);
    assert_eq!(r.table.tiers(), &tiers("0.025")[..]);
    assert_eq!(messages(&r.notes), vec!["Using cached risk limit tiers for LTCUSDT"]);
    assert_eq!(levels(&r.notes), vec![log::Level::Debug]);
    assert!(r.cached_at.is_some());
    assert!(srv.requests().is_empty());
}

#[test]
fn stale_cache_without_client_is_used_with_warnings() {
    let dir = TempDir::new("stale");
    put_entry(&dir, "LTCUSDT", "0.025", "2026-01-01T00:00:00+00:00");
    let r = provider(&dir, None).get("LTCUSDT");
    assert_eq!(r.layer, TierLayer::StaleCache);
    assert_eq!(r.table.tiers(), &tiers("0.025")[..]);
    assert_eq!(
        messages(&r.notes),
        vec![
            "Risk limit cache stale for LTCUSDT, refreshing...".to_string(),
            NO_CLIENT.to_string(),
            stale("LTCUSDT", "2026-01-01T00:00:00+00:00"),
        ]
    );
}

#[test]
fn stale_cache_is_refreshed_from_the_api_and_saved() {
    let dir = TempDir::new("refresh");
    put_entry(&dir, "BTCUSDT", "0.025", "2026-01-01T00:00:00+00:00");
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER))]);
    let p = provider(&dir, Some(srv.client()));
    let r = p.get("BTCUSDT");
    assert_eq!(r.layer, TierLayer::Api);
    assert_eq!(r.table.tiers()[1].deduction.to_string(), "1200");
    assert_eq!(
        messages(&r.notes),
        vec![
            "Risk limit cache stale for BTCUSDT, refreshing...",
            "Fetched 2 risk limit tiers for BTCUSDT",
            "Cached risk limit tiers for BTCUSDT",
        ]
    );
    // Now fresh, from the cache, with the API's tiers.
    let r2 = p.get("BTCUSDT");
    assert_eq!(r2.layer, TierLayer::FreshCache);
    assert_eq!(r2.table, r.table);
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn force_fetch_skips_a_fresh_cache() {
    let dir = TempDir::new("force");
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER))]);
    let p = provider(&dir, Some(srv.client()));
    p.cache().save("BTCUSDT", &tiers("0.025")).unwrap();
    let r = p.get_with("BTCUSDT", true);
    assert_eq!(r.layer, TierLayer::Api);
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn force_fetch_with_api_down_falls_back_to_the_cache() {
    let dir = TempDir::new("forcedown");
    let srv = TestServer::script(vec![Reply::status(503, "maintenance")]);
    let p = provider(&dir, Some(srv.client()));
    p.cache().save("BTCUSDT", &tiers("0.025")).unwrap();
    let r = p.get_with("BTCUSDT", true);
    assert_eq!(r.layer, TierLayer::StaleCache);
    let m = messages(&r.notes);
    assert!(m[0].starts_with("Error fetching risk limit tiers for BTCUSDT: HTTP 503"), "{m:?}");
    assert!(m[1].starts_with(
        "API unavailable for BTCUSDT, using potentially stale cached risk limits (cached_at=20"
    ));
    assert_eq!(srv.requests().len(), 4, "retried");
}

#[test]
fn network_error_warning() {
    let dir = TempDir::new("net");
    let base = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let p = provider(&dir, Some(BybitClient::new(fast_config(&base))));
    let r = p.get("BTCUSDT");
    assert_eq!(r.layer, TierLayer::Snapshot);
    let m = messages(&r.notes);
    assert!(
        m[0].starts_with(
            "Network error fetching risk limit tiers for BTCUSDT: network error requesting"
        ),
        "{m:?}"
    );
    assert_eq!(m[1], hardcoded("BTCUSDT"));
}

#[test]
fn timeout_is_a_network_error() {
    let dir = TempDir::new("timeout");
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER)).slow(Duration::from_secs(2))]);
    let client = BybitClient::new(gridsweep::tiers::rest::RestConfig {
        timeout: Duration::from_millis(200),
        ..fast_config(&srv.base_url)
    });
    let r = provider(&dir, Some(client)).get("BTCUSDT");
    assert_eq!(r.layer, TierLayer::Snapshot);
    assert!(r.notes[0]
        .message
        .starts_with("Network error fetching risk limit tiers for BTCUSDT: timed out after 200ms"));
}

#[test]
fn invalid_api_data_and_empty_list_warnings() {
    let dir = TempDir::new("invalid");
    let bad = envelope(&json!([{"riskLimitValue": "100", "maintenanceMargin": "1.5"}]), "");
    let srv = TestServer::script(vec![Reply::ok(bad), Reply::ok(envelope(&json!([]), ""))]);
    let p = provider(&dir, Some(srv.client()));
    let r = p.get("BTCUSDT");
    assert_eq!(
        r.notes[0].message,
        "Data validation error parsing risk limit tiers for BTCUSDT: MMR rate 1.5 outside valid range [0, 1]"
    );
    assert_eq!(r.layer, TierLayer::Snapshot);
    let r = p.get("BTCUSDT");
    assert_eq!(r.notes[0].message, "No risk limit tiers returned for BTCUSDT");
    assert!(!p.cache().path().exists(), "nothing cached on failure");
}

#[test]
fn unreadable_cache_entries_fall_through_with_the_origin_messages() {
    let dir = TempDir::new("badcache");
    let cfg = config(&dir);
    write_mode(&cfg.cache_path, "{oops", 0o600);
    let r = provider(&dir, None).get("BTCUSDT");
    assert!(r.notes[0]
        .message
        .starts_with(&format!("Corrupted cache file {}: ", cfg.cache_path.display())));
    assert_eq!(r.layer, TierLayer::Snapshot);

    write_mode(&cfg.cache_path, r#"{"BTCUSDT": {"tiers": [{"max_value": "1"}]}}"#, 0o600);
    let r = provider(&dir, None).get("BTCUSDT");
    assert_eq!(
        r.notes[0].message,
        "Invalid cache data for BTCUSDT: Missing required tier keys: {'mmr_rate', 'deduction'}"
    );

    write_mode(&cfg.cache_path, "[]", 0o600);
    let r = provider(&dir, None).get("BTCUSDT");
    assert_eq!(
        r.notes[0].message,
        format!(
            "Invalid cache data for BTCUSDT: Cache root must be a JSON object: {}",
            cfg.cache_path.display()
        )
    );
}

#[test]
fn failed_cache_write_is_a_warning_not_an_error() {
    let dir = TempDir::new("writefail");
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER))]);
    let p = provider(&dir, Some(srv.client()));
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "").unwrap();
    std::os::unix::fs::symlink(&victim, p.cache().lock_path()).unwrap();
    let r = p.get("BTCUSDT");
    assert_eq!(r.layer, TierLayer::Api);
    let last = &r.notes.last().unwrap().message;
    assert_eq!(
        last,
        &format!(
            "Failed to write cache file {}: Cache lock path must not be a symlink: {}",
            p.cache().path().display(),
            p.cache().lock_path().display()
        )
    );
}

#[test]
fn construction_errors() {
    let dir = TempDir::new("ctor");
    let mut cfg = config(&dir);
    cfg.ttl = Duration::ZERO;
    assert!(matches!(RiskLimitProvider::new(&cfg, None), Err(TierError::TtlNotPositive)));
    let mut cfg = config(&dir);
    cfg.cache_path = dir.path().join("conf/../elsewhere.json");
    let e = RiskLimitProvider::new(&cfg, None).unwrap_err().to_string();
    assert!(e.contains("is outside allowed directory"), "{e}");
}

#[test]
fn resolve_for_run_builtin_and_explicit_files() {
    let (t, layer) = resolve_for_run(&TierSource::Builtin, "ETHUSDT").unwrap();
    assert_eq!((&*t, layer), (&builtin_tiers("ETHUSDT"), TierLayer::Origin));
    let (t, layer) = resolve_for_run(&TierSource::ExplicitJson(data(TWO_TIER)), "BTCUSDT").unwrap();
    assert_eq!(layer, TierLayer::ExplicitFile);
    assert_eq!(t.tiers().len(), 2);
    let (t, _) = resolve_for_run(&TierSource::ExplicitJson(data(ORIGIN_CACHE)), "LTCUSDT").unwrap();
    assert_eq!(t.tiers().len(), 30);
    // An explicit file that does not hold the symbol is an error naming the path.
    let e = resolve_for_run(&TierSource::ExplicitJson(data(ORIGIN_CACHE)), "ETHUSDT")
        .unwrap_err()
        .to_string();
    assert!(e.contains(ORIGIN_CACHE) && e.contains("no tiers for ETHUSDT"), "{e}");
    let e =
        resolve_for_run(&TierSource::ExplicitJson("/nonexistent/t.json".into()), "X").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/t.json"), "{e}");
    // tiers_to_json output reads back as an explicit file.
    let dir = TempDir::new("explicit");
    let f = dir.path().join("meta.json");
    std::fs::write(&f, gridsweep::tiers::cache_format::tiers_to_json(&t).to_string()).unwrap();
    let (back, _) = resolve_for_run(&TierSource::ExplicitJson(f), "LTCUSDT").unwrap();
    assert_eq!(back, t);
}

#[test]
fn resolve_for_run_cache_file_outside_conf_is_refused() {
    // CacheFile paths must lie under <cwd>/conf (the product's allowed root).
    let dir = TempDir::new("cachesrc");
    let e =
        resolve_for_run(&TierSource::CacheFile(dir.path().join("c.json")), "BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::OutsideRoot { .. }), "{e}");
}

#[test]
fn resolve_for_run_cache_file_in_a_child_process() {
    // The allowed root is relative to the current directory, which a test thread must not
    // change: run the check in a child process started in a temp dir.
    if let Ok(dir) = std::env::var("TIERS_RESOLVE_CHILD") {
        std::env::set_current_dir(dir).unwrap();
        let r = resolve(&TierSource::CacheFile("conf/risk_limits_cache.json".into()), "LTCUSDT")
            .unwrap();
        assert_eq!(r.layer, TierLayer::StaleCache);
        assert_eq!(r.table.tiers().len(), 30);
        assert_eq!(r.notes[0].message, "Risk limit cache stale for LTCUSDT, refreshing...");
        let r = resolve(&TierSource::CacheFile("conf/risk_limits_cache.json".into()), "DOGEUSDT")
            .unwrap();
        assert_eq!(r.layer, TierLayer::GenericDefault);
        return;
    }
    let dir = TempDir::new("child");
    write_mode(&dir.conf().join("risk_limits_cache.json"), &data_text(ORIGIN_CACHE), 0o600);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "resolve_for_run_cache_file_in_a_child_process", "--nocapture"])
        .env("TIERS_RESOLVE_CHILD", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("1 passed"), "{text}");
}
