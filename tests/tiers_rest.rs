//! The Bybit REST client against a real HTTP server on 127.0.0.1 started by each test:
//! saved payloads, pagination, malformed answers, rate limits, retries, timeouts.

mod tiers_common;

use std::time::{Duration, Instant};

use gridsweep::tiers::rest::{BybitClient, RestConfig};
use gridsweep::tiers::{Cap, TierError};
use serde_json::{json, Value};
use tiers_common::*;

fn list_of(name: &str) -> Value {
    let v: Value = serde_json::from_str(&data_text(name)).unwrap();
    v.get("result").unwrap_or(&v)["list"].clone()
}

fn tier(symbol: &str, rlv: &str, mmr: &str) -> Value {
    json!({"symbol": symbol, "riskLimitValue": rlv, "maintenanceMargin": mmr,
           "initialMargin": "0.02", "mmDeduction": "", "maxLeverage": "50.00"})
}

#[test]
fn serves_saved_two_tier_payload_verbatim() {
    let body = data_text(TWO_TIER);
    let srv = TestServer::start(move |_, _| Reply::ok(body.clone()));
    let tiers = srv.client().get_risk_limit("BTCUSDT").unwrap();
    assert_eq!(tiers.len(), 2);
    assert_eq!(tiers[1].cap, Cap::Infinity);
    assert_eq!(tiers[1].deduction.to_string(), "1200");
    assert_eq!(srv.requests(), vec!["/v5/market/risk-limit?category=linear&symbol=BTCUSDT"]);
}

#[test]
fn serves_testnet_and_150x_payloads() {
    for (name, n) in [(TESTNET, 2), (X150, 3)] {
        let body = envelope(&list_of(name), "");
        let srv = TestServer::start(move |_, _| Reply::ok(body.clone()));
        let tiers = srv.client().get_risk_limit("BTCUSDT").unwrap();
        assert_eq!(tiers.len(), n, "{name}");
        assert_eq!(tiers[0].cap.to_string(), "300000", "{name}");
    }
}

#[test]
fn all_symbols_follow_cursor_and_group_by_symbol() {
    let pages = vec![
        Reply::ok(envelope(
            &json!([tier("AUSDT", "100", "0.01"), tier("BUSDT", "100", "0.01")]),
            "c1",
        )),
        Reply::ok(envelope(
            &json!([tier("BUSDT", "200", "0.02"), tier("CUSDT", "50", "0.01")]),
            "c2",
        )),
        Reply::ok(envelope(&json!([tier("AUSDT", "300", "0.03")]), "")),
    ];
    let srv = TestServer::script(pages);
    let all = srv.client().get_all_risk_limits().unwrap();
    assert_eq!(all.keys().cloned().collect::<Vec<_>>(), ["AUSDT", "BUSDT", "CUSDT"]);
    let a = all["AUSDT"].as_ref().unwrap();
    assert_eq!(a.iter().map(|t| t.cap.to_string()).collect::<Vec<_>>(), ["100", "Infinity"]);
    assert_eq!(a[1].mmr.to_string(), "0.03");
    assert_eq!(all["BUSDT"].as_ref().unwrap().len(), 2);
    assert_eq!(all["CUSDT"].as_ref().unwrap().len(), 1);
    assert_eq!(
        srv.requests(),
        vec![
            "/v5/market/risk-limit?category=linear",
            "/v5/market/risk-limit?category=linear&cursor=c1",
            "/v5/market/risk-limit?category=linear&cursor=c2",
        ]
    );
}

#[test]
fn one_symbol_split_over_pages_is_merged() {
    let srv = TestServer::script(vec![
        Reply::ok(envelope(&json!([tier("BTCUSDT", "2000000", "0.005")]), "next=1&x")),
        Reply::ok(envelope(&json!([tier("BTCUSDT", "2600000", "0.0056")]), "")),
    ]);
    let tiers = srv.client().get_risk_limit("BTCUSDT").unwrap();
    assert_eq!(tiers.len(), 2);
    let r = srv.requests();
    assert_eq!(r.len(), 2);
    // The cursor is URL-encoded.
    assert_eq!(r[1], "/v5/market/risk-limit?category=linear&symbol=BTCUSDT&cursor=next%3D1%26x");
}

#[test]
fn one_bad_symbol_does_not_hide_the_others() {
    let srv = TestServer::script(vec![Reply::ok(envelope(
        &json!([tier("AUSDT", "100", "0.01"), tier("BUSDT", "100", "1.5")]),
        "",
    ))]);
    let all = srv.client().get_all_risk_limits().unwrap();
    assert!(all["AUSDT"].is_ok());
    assert_eq!(
        all["BUSDT"].as_ref().unwrap_err().to_string(),
        "MMR rate 1.5 outside valid range [0, 1]"
    );
}

#[test]
fn repeated_cursor_is_an_error() {
    let srv = TestServer::script(vec![Reply::ok(envelope(
        &json!([tier("AUSDT", "100", "0.01")]),
        "same",
    ))]);
    let e = srv.client().get_all_risk_limits().unwrap_err().to_string();
    assert!(e.contains("nextPageCursor \"same\" repeated"), "{e}");
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn http_429_then_ok_is_retried() {
    let srv = TestServer::script(vec![Reply::status(429, "{}"), Reply::ok(data_text(TWO_TIER))]);
    assert_eq!(srv.client().get_risk_limit("BTCUSDT").unwrap().len(), 2);
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn ret_code_10006_then_ok_is_retried() {
    let srv = TestServer::script(vec![
        Reply::ok(
            r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#,
        ),
        Reply::ok(
            r#"{"retCode":10016,"retMsg":"Server error","result":{},"retExtInfo":{},"time":1}"#,
        ),
        Reply::ok(data_text(TWO_TIER)),
    ]);
    assert_eq!(srv.client().get_risk_limit("BTCUSDT").unwrap().len(), 2);
    assert_eq!(srv.requests().len(), 3);
}

#[test]
fn http_403_and_5xx_are_retried_then_surface() {
    let srv = TestServer::script(vec![
        Reply::status(403, "access too frequent"),
        Reply::status(503, "down"),
    ]);
    let e = srv.client().get_risk_limit("BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::HttpStatus { status: 503, .. }), "{e}");
    assert!(e.to_string().contains("HTTP 503") && e.to_string().contains("down"), "{e}");
    assert_eq!(srv.requests().len(), 4, "1 attempt + 3 retries");
}

#[test]
fn backoff_doubles_and_is_capped() {
    let c = fast_config("http://x");
    assert_eq!(c.backoff(0), Duration::from_millis(5));
    assert_eq!(c.backoff(1), Duration::from_millis(10));
    assert_eq!(c.backoff(2), Duration::from_millis(20));
    assert_eq!(c.backoff(40), Duration::from_millis(20));
}

#[test]
fn other_ret_codes_fail_at_once_with_ret_msg() {
    let srv = TestServer::script(vec![Reply::ok(
        r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{}}"#,
    )]);
    let e = srv.client().get_risk_limit("NOPE").unwrap_err();
    assert!(matches!(e, TierError::Api { code: 10001, .. }));
    assert!(e.to_string().contains("retCode=10001 (params error: symbol invalid)"), "{e}");
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn http_404_is_not_retried() {
    let srv = TestServer::script(vec![Reply::status(404, "not found")]);
    let e = srv.client().get_risk_limit("BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::HttpStatus { status: 404, .. }));
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn malformed_payloads_are_clear_errors() {
    let cases = [
        ("{not json", "invalid JSON"),
        (r#"{"retMsg":"OK"}"#, "no numeric retCode"),
        (r#"{"retCode":0,"retMsg":"OK"}"#, "no result object"),
        (r#"{"retCode":0,"result":{"list":{}}}"#, "result.list is missing or not an array"),
    ];
    for (body, want) in cases {
        let srv = TestServer::script(vec![Reply::ok(body)]);
        let e = srv.client().get_risk_limit("BTCUSDT").unwrap_err();
        assert!(matches!(e, TierError::Malformed { .. }), "{body}: {e}");
        assert!(e.to_string().contains(want) && e.to_string().contains(&srv.base_url), "{e}");
    }
    // The docs sample verbatim (with its `....` line) is not JSON.
    let srv = TestServer::script(vec![Reply::ok(data_text(DOCS))]);
    assert!(srv
        .client()
        .get_risk_limit("BTCUSD")
        .unwrap_err()
        .to_string()
        .contains("invalid JSON"));
}

#[test]
fn invalid_tiers_go_through_the_validating_parser() {
    let srv = TestServer::script(vec![Reply::ok(envelope(
        &json!([tier("BTCUSDT", "100", "0.01"), tier("BTCUSDT", "100", "0.02")]),
        "",
    ))]);
    let e = srv.client().get_risk_limit("BTCUSDT").unwrap_err();
    assert_eq!(e.to_string(), "Duplicate tier boundary detected: 100 appears multiple times");
    let srv = TestServer::script(vec![Reply::ok(envelope(&json!([]), ""))]);
    let e = srv.client().get_risk_limit("BTCUSDT").unwrap_err();
    assert_eq!(e.to_string(), "No risk limit tiers returned for BTCUSDT");
}

#[test]
fn slow_answer_past_the_timeout_fails_fast() {
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER)).slow(Duration::from_secs(3))]);
    let client = BybitClient::new(RestConfig {
        timeout: Duration::from_millis(300),
        ..fast_config(&srv.base_url)
    });
    let t0 = Instant::now();
    let e = client.get_risk_limit("BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::Timeout { .. }), "{e}");
    assert!(e.is_network());
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    assert!(e.to_string().contains("timed out after 300ms"), "{e}");
}

#[test]
fn connection_refused_is_a_network_error() {
    let base = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = BybitClient::new(fast_config(&base)).get_risk_limit("BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::Network { .. }), "{e}");
    assert!(e.to_string().contains(&base), "{e}");
}

#[test]
fn base_url_trailing_slash_is_ignored() {
    let srv = TestServer::script(vec![Reply::ok(data_text(TWO_TIER))]);
    let c = BybitClient::new(fast_config(&format!("{}/", srv.base_url)));
    c.get_risk_limit("BTCUSDT").unwrap();
    assert!(srv.requests()[0].starts_with("/v5/market/risk-limit?"));
}
