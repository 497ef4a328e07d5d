//! Parsing Bybit tier lists and the cache format: ORIGIN_BEHAVIOUR §4.1 items 6, 9, 10,
//! every §3.3 message, and every saved payload in `tests/tiers_data/`.

mod tiers_common;

use gridsweep::decimal::Dec;
use gridsweep::tiers::cache_format::{tiers_from_dict, tiers_to_dict, tiers_to_json};
use gridsweep::tiers::parse::{check_table, parse_risk_limit_tiers, parse_tier_table};
use gridsweep::tiers::source::{read_tier_file, table_from_value};
use gridsweep::tiers::{Cap, Tier, TierError};
use serde_json::{json, Value};
use tiers_common::*;

fn d(s: &str) -> Dec {
    Dec::parse(s).unwrap()
}

/// `(cap, mmr, deduction, imr)` as strings, `"Infinity"` for the last cap.
fn rows(tiers: &[Tier]) -> Vec<(String, String, String, String)> {
    tiers
        .iter()
        .map(|t| (t.cap.to_string(), t.mmr.to_string(), t.deduction.to_string(), t.imr.to_string()))
        .collect()
}

fn row(c: &str, m: &str, ded: &str, i: &str) -> (String, String, String, String) {
    (c.into(), m.into(), ded.into(), i.into())
}

fn err(v: Value) -> String {
    parse_risk_limit_tiers(&v).unwrap_err().to_string()
}

fn tier(rlv: &str, mmr: &str) -> Value {
    json!({"riskLimitValue": rlv, "maintenanceMargin": mmr, "mmDeduction": "0", "initialMargin": "0.01"})
}

#[test]
fn item6_custom_tiers_lookup() {
    // §4.1 item 6: [(200000,0.01,0,0.02),(1000000,0.025,3000,0.05),(Inf,0.05,28000,0.1)].
    let list = json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "mmDeduction": "0", "initialMargin": "0.02"},
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "3000", "initialMargin": "0.05"},
        {"riskLimitValue": "5000000", "maintenanceMargin": "0.05", "mmDeduction": "28000", "initialMargin": "0.1"}
    ]);
    let t = parse_tier_table("XUSDT", &list).unwrap();
    assert_eq!(t.tiers()[2].cap, Cap::Infinity);
    assert_eq!(t.maintenance_margin(100_000.0), (1000.0, 0.01));
    assert_eq!(t.maintenance_margin(500_000.0), (9500.0, 0.025));
    assert_eq!(t.tier_index(200_000.0), 0);
    assert_eq!(t.tier_index(200_001.0), 1);
    assert_eq!(t.tier_index(1_000_000.0), 1);
    assert_eq!(t.tier_index(1_000_001.0), 2);
}

#[test]
fn item9_unsorted_input_empty_fields_become_zero() {
    let list = json!([
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "3000", "initialMargin": "0.05"},
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "mmDeduction": "", "initialMargin": ""}
    ]);
    let tiers = parse_risk_limit_tiers(&list).unwrap();
    assert_eq!(
        rows(&tiers),
        vec![row("200000", "0.01", "0", "0"), row("Infinity", "0.025", "3000", "0.05")]
    );
}

#[test]
fn item9_missing_deduction_and_imr_become_zero() {
    let list = json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.005"},
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.01"}
    ]);
    let tiers = parse_risk_limit_tiers(&list).unwrap();
    assert_eq!(
        rows(&tiers),
        vec![row("200000", "0.005", "0", "0"), row("Infinity", "0.01", "0", "0")]
    );
}

#[test]
fn item10_every_message_verbatim() {
    assert_eq!(err(json!("not a list")), "api_tiers must be a list");
    assert_eq!(err(json!({"riskLimitValue": "1"})), "api_tiers must be a list");
    assert_eq!(err(json!([])), "api_tiers must not be empty");
    assert_eq!(err(json!([123])), "api_tiers must contain dict objects");
    assert_eq!(err(json!([tier("100", "0.01"), "x"])), "api_tiers must contain dict objects");
    assert_eq!(err(json!([tier("100", "1.5")])), "MMR rate 1.5 outside valid range [0, 1]");
    assert_eq!(
        err(
            json!([{"riskLimitValue": "100", "maintenanceMargin": "0.01", "initialMargin": "2.0"}])
        ),
        "IMR rate 2.0 outside valid range [0, 1]"
    );
    assert_eq!(err(json!([tier("-100", "0.01")])), "Invalid riskLimitValue: -100");
    assert_eq!(err(json!([tier("0", "0.01")])), "Invalid riskLimitValue: 0");
    assert_eq!(err(json!([tier("NaN", "0.01")])), "Invalid riskLimitValue: NaN");
    assert_eq!(err(json!([tier("-Infinity", "0.01")])), "Invalid riskLimitValue: -Infinity");
    assert_eq!(err(json!([tier("abc", "0.01")])), "Invalid riskLimitValue format: abc");
    assert_eq!(
        err(json!([{"riskLimitValue": "100", "maintenanceMargin": "0.01", "mmDeduction": "-1"}])),
        "Negative mmDeduction not allowed: -1"
    );
    assert_eq!(
        err(json!([tier("100", "0.01"), tier("100", "0.02")])),
        "Duplicate tier boundary detected: 100 appears multiple times"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": "100"}])),
        "Missing required field: maintenanceMargin"
    );
    assert_eq!(
        err(json!([{"maintenanceMargin": "0.01"}])),
        "Missing required field: riskLimitValue"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": null, "maintenanceMargin": "0.01"}])),
        "Missing required field: riskLimitValue"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": "100", "maintenanceMargin": "x"}])),
        "Invalid maintenanceMargin format: x"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": "100", "maintenanceMargin": "0.01", "mmDeduction": "y"}])),
        "Invalid mmDeduction format: y"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": "100", "maintenanceMargin": "0.01", "initialMargin": "z"}])),
        "Invalid initialMargin format: z"
    );
    assert_eq!(err(json!([tier("100", "-0.1")])), "MMR rate -0.1 outside valid range [0, 1]");
}

#[test]
fn errors_are_typed() {
    let e = parse_risk_limit_tiers(&json!([])).unwrap_err();
    assert!(matches!(e, TierError::EmptyList) && e.is_validation());
    let e = parse_risk_limit_tiers(&json!([tier("100", "1.5")])).unwrap_err();
    assert!(matches!(e, TierError::MmrOutOfRange(ref r) if r == "1.5"));
}

#[test]
fn sort_and_boundary_rules() {
    // Format errors of every cap come before the boundary check.
    assert_eq!(
        err(json!([tier("100", "0.01"), tier("100", "0.01"), tier("abc", "0.01")])),
        "Invalid riskLimitValue format: abc"
    );
    // A NaN among several caps cannot be ordered.
    assert_eq!(
        err(json!([tier("100", "0.01"), tier("NaN", "0.01")])),
        "Invalid riskLimitValue: NaN"
    );
    // Duplicates are found after sorting, and reported with the earlier value.
    assert_eq!(
        err(json!([tier("300", "0.01"), tier("100", "0.02"), tier("300", "0.03")])),
        "Duplicate tier boundary detected: 300 appears multiple times"
    );
    // Two Infinity caps are accepted; the last cap becomes Infinity anyway.
    let t = parse_risk_limit_tiers(&json!([
        tier("Infinity", "0.02"),
        tier("100", "0.01"),
        tier("Infinity", "0.03")
    ]))
    .unwrap();
    assert_eq!(
        rows(&t).iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ["100", "Infinity", "Infinity"]
    );
    // "inf" is accepted (it is not "Infinity" literally, but it is positive).
    let t = parse_risk_limit_tiers(&json!([tier("100", "0.01"), tier("inf", "0.02")])).unwrap();
    assert_eq!(t[1].cap, Cap::Infinity);
    // A stable sort keeps equal... there are none left after the duplicate check; order is by value.
    let t = parse_risk_limit_tiers(&json!([
        tier("1000", "0.03"),
        tier("20", "0.01"),
        tier("300", "0.02")
    ]))
    .unwrap();
    assert_eq!(rows(&t).iter().map(|r| r.1.clone()).collect::<Vec<_>>(), ["0.01", "0.02", "0.03"]);
    // Numerically, not as strings: "9" < "10".
    let t = parse_risk_limit_tiers(&json!([tier("10", "0.02"), tier("9", "0.01")])).unwrap();
    assert_eq!(t[0].cap, Cap::Value(d("9")));
}

#[test]
fn json_numbers_are_accepted() {
    let list = json!([
        {"riskLimitValue": 200000, "maintenanceMargin": 0.01, "mmDeduction": 0, "initialMargin": 0.02},
        {"riskLimitValue": 1000000.0, "maintenanceMargin": 0.025, "mmDeduction": 3000, "initialMargin": 0.05}
    ]);
    let t = parse_risk_limit_tiers(&list).unwrap();
    assert_eq!(
        rows(&t),
        vec![row("200000", "0.01", "0", "0.02"), row("Infinity", "0.025", "3000", "0.05")]
    );
    assert_eq!(
        err(json!([{"riskLimitValue": 100, "maintenanceMargin": 1.5}])),
        "MMR rate 1.5 outside valid range [0, 1]"
    );
    assert_eq!(
        err(json!([{"riskLimitValue": true, "maintenanceMargin": 0.1}])),
        "Invalid riskLimitValue format: true"
    );
}

#[test]
fn scale_is_kept_and_max_leverage_read() {
    let list = json!([{"riskLimitValue": "2000000", "maintenanceMargin": "0.0050", "initialMargin": "0.010",
                      "maxLeverage": "100.00", "mmDeduction": ""}]);
    let t = parse_risk_limit_tiers(&list).unwrap();
    assert_eq!(t[0].mmr.to_string(), "0.0050");
    assert_eq!(t[0].imr.to_string(), "0.010");
    assert_eq!(t[0].max_leverage.map(|l| l.to_string()), Some("100.00".into()));
}

#[test]
fn real_payload_two_tier_fixture() {
    let v: Value = serde_json::from_str(&data_text(TWO_TIER)).unwrap();
    let t = parse_tier_table("BTCUSDT", &v["result"]["list"]).unwrap();
    assert_eq!(
        rows(t.tiers()),
        vec![row("2000000", "0.005", "0", "0.01"), row("Infinity", "0.0056", "1200", "0.0111")]
    );
    assert_eq!(t.max_leverage(), 100.0);
    assert_eq!(t.tiers()[1].max_leverage, Some(d("90.00")));
    // The same file read as an explicit tier file (full envelope).
    assert_eq!(read_tier_file(&data(TWO_TIER), "BTCUSDT").unwrap(), t);
}

#[test]
fn real_payload_testnet_unordered_without_deduction() {
    let v: Value = serde_json::from_str(&data_text(TESTNET)).unwrap();
    let t = parse_tier_table("BTCUSDT", &v["list"]).unwrap();
    // id 2 comes first in the file; sorted numerically by riskLimitValue.
    assert_eq!(
        rows(t.tiers()),
        vec![row("300000", "0.0033", "0", "0.0066"), row("Infinity", "0.005", "0", "0.01")]
    );
    assert_eq!(t.max_leverage(), 150.0);
    assert_eq!(read_tier_file(&data(TESTNET), "BTCUSDT").unwrap(), t);
}

#[test]
fn real_payload_150x_fixture() {
    let t = read_tier_file(&data(X150), "BTCUSDT").unwrap();
    assert_eq!(
        rows(t.tiers()),
        vec![
            row("300000", "0.0033", "0", "0.0066"),
            row("2000000", "0.005", "510", "0.01"),
            row("Infinity", "0.0056", "1710", "0.0111"),
        ]
    );
}

#[test]
fn docs_sample_is_not_json_and_says_so() {
    // The verbatim docs example has a `....` placeholder and a trailing comma.
    let e = read_tier_file(&data(DOCS), "BTCUSD").unwrap_err().to_string();
    assert!(e.contains(DOCS) && e.contains("invalid JSON"), "{e}");
    // Its one complete tier object is valid: extract and parse it.
    let text = data_text(DOCS);
    let start = text.find("\"list\": [").unwrap() + "\"list\": [".len();
    let end = start + text[start..].find('}').unwrap() + 1;
    let obj: Value = serde_json::from_str(&text[start..end]).unwrap();
    let t = parse_risk_limit_tiers(&json!([obj])).unwrap();
    assert_eq!(rows(&t), vec![row("Infinity", "0.5", "0", "1")]);
    assert_eq!(t[0].max_leverage, Some(d("100.00")));
}

#[test]
fn origin_cache_file_reads_both_formats() {
    let v: Value = serde_json::from_str(&data_text(ORIGIN_CACHE)).unwrap();
    let btc = tiers_from_dict(&v["BTCUSDT"]["tiers"]).unwrap();
    assert_eq!(btc.len(), 35);
    assert_eq!(rows(&btc[..1]), vec![row("2000000", "0.005", "0", "0")]);
    assert_eq!(rows(&btc[34..]), vec![row("Infinity", "0.6", "226382000", "0")]);
    let ltc = tiers_from_dict(&v["LTCUSDT"]["tiers"]).unwrap();
    assert_eq!(ltc.len(), 30);
    assert_eq!(rows(&ltc[..1]), vec![row("200000", "0.01", "0", "0.02")]);
    assert_eq!(rows(&ltc[29..]), vec![row("Infinity", "0.4002", "2670780", "0.667")]);
    // v1 entry round-trips with imr_rate "0" added; v2 entry round-trips exactly.
    assert_eq!(tiers_to_dict(&ltc), v["LTCUSDT"]["tiers"]);
    let btc_back = tiers_to_dict(&btc);
    assert_eq!(
        btc_back[0],
        json!({"max_value": "2000000", "mmr_rate": "0.005", "deduction": "0", "imr_rate": "0"})
    );
    // §4.2 item 5: BTC on the v1 tiers at pv 5000 gives MM (25, 0.005) and IM (0, 0).
    let t = read_tier_file(&data(ORIGIN_CACHE), "BTCUSDT").unwrap();
    assert_eq!(t.maintenance_margin(5000.0), (25.0, 0.005));
    assert_eq!(t.initial_margin(5000.0), (0.0, 0.0));
    assert_eq!(read_tier_file(&data(ORIGIN_CACHE), "LTCUSDT").unwrap().tiers().len(), 30);
}

#[test]
fn cache_format_messages() {
    assert_eq!(
        tiers_from_dict(&json!([{"max_value": "1"}])).unwrap_err().to_string(),
        "Missing required tier keys: {'mmr_rate', 'deduction'}"
    );
    assert_eq!(
        tiers_from_dict(&json!([{"mmr_rate": "0.1"}])).unwrap_err().to_string(),
        "Missing required tier keys: {'max_value', 'deduction'}"
    );
    let e = tiers_from_dict(
        &json!([{"max_value": "Infinity", "mmr_rate": "0.1", "deduction": "0", "imr_rate": "7"}]),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Invalid cache tier 0: imr_rate: IMR rate 7 outside valid range [0, 1]"
    );
    let e = tiers_from_dict(&json!([{"max_value": "x", "mmr_rate": "0.1", "deduction": "0"}]));
    assert_eq!(e.unwrap_err().to_string(), "Invalid cache tier 0: max_value is not a decimal: x");
    let e = tiers_from_dict(&json!([
        {"max_value": "10", "mmr_rate": "0.1", "deduction": "0"},
        {"max_value": "5", "mmr_rate": "0.1", "deduction": "0"}
    ]));
    assert!(e.unwrap_err().to_string().contains("does not exceed"));
    let e = tiers_from_dict(&json!([{"max_value": "10", "mmr_rate": "0.1", "deduction": "0"}]));
    assert!(e.unwrap_err().to_string().contains("must be \"Infinity\""));
    assert!(tiers_from_dict(&json!([7])).unwrap_err().to_string().contains("not a JSON object"));
}

#[test]
fn table_json_round_trips_through_explicit_reader() {
    let v: Value = serde_json::from_str(&data_text(X150)).unwrap();
    let t = parse_tier_table("BTCUSDT", &v["result"]["list"]).unwrap();
    let j = tiers_to_json(&t);
    assert_eq!(j["symbol"], "BTCUSDT");
    assert_eq!(j["tiers"][2]["max_value"], "Infinity");
    assert_eq!(j["tiers"][1]["max_leverage"], "100.00");
    assert_eq!(table_from_value(&j, "BTCUSDT").unwrap(), t);
    let e = table_from_value(&j, "ETHUSDT").unwrap_err().to_string();
    assert_eq!(e, "the file holds tiers for BTCUSDT, not ETHUSDT");
    // An error envelope is surfaced with its retMsg.
    let e = table_from_value(&json!({"retCode": 10001, "retMsg": "params error"}), "BTCUSDT")
        .unwrap_err();
    assert!(e.to_string().contains("retCode=10001 (params error)"), "{e}");
    let e = table_from_value(&json!({"foo": 1}), "BTCUSDT").unwrap_err().to_string();
    assert!(e.starts_with("no tiers for BTCUSDT"), "{e}");
}

/// Issue 14 item 11: tier data that would make margins silently wrong.
#[test]
fn a_deduction_that_makes_maintenance_margin_negative_is_refused() {
    // Tier 2 starts at 200,000 with MMR 0.025: MM = pv × 0.025 − D ≥ 0 needs D ≤ 5,000.
    // A deduction of 1e30 meant MM 0 at every size — no liquidation ever.
    let e = parse_risk_limit_tiers(&json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "mmDeduction": "", "initialMargin": "0.02"},
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "1e30", "initialMargin": "0.05"}
    ]))
    .unwrap_err();
    assert!(matches!(e, TierError::DeductionTooLarge { tier: 2, .. }), "{e:?}");
    assert!(e.is_validation());
    let m = e.to_string();
    assert!(m.starts_with("mmDeduction 1000000000000000000000000000000 of tier 2 (riskLimitValue=1000000) makes the maintenance margin negative"), "{m}");
    assert!(m.contains("can be at most 200000 × MMR 0.025"), "{m}");
    // 5,000 exactly is the largest allowed (MM 0 at the boundary), 5,001 is not.
    let two = |ded: &str| {
        json!([
            {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02"},
            {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": ded, "initialMargin": "0.05"}
        ])
    };
    assert!(parse_risk_limit_tiers(&two("5000")).is_ok());
    assert!(matches!(
        parse_risk_limit_tiers(&two("5001")).unwrap_err(),
        TierError::DeductionTooLarge { tier: 2, .. }
    ));
    // The first tier starts at 0: any deduction there makes MM negative for small positions.
    let e = parse_risk_limit_tiers(
        &json!([{"riskLimitValue": "100", "maintenanceMargin": "0.01", "mmDeduction": "1"}]),
    )
    .unwrap_err();
    assert!(matches!(e, TierError::DeductionTooLarge { tier: 1, .. }), "{e:?}");
    // The cache format and tier files are checked the same way, naming the file.
    let e = tiers_from_dict(&json!([
        {"max_value": "200000", "mmr_rate": "0.01", "deduction": "0", "imr_rate": "0.02"},
        {"max_value": "Infinity", "mmr_rate": "0.025", "deduction": "1e30", "imr_rate": "0.05"}
    ]))
    .unwrap_err();
    assert!(matches!(e, TierError::DeductionTooLarge { tier: 2, .. }), "{e:?}");
    let dir = TempDir::new("ded");
    let f = dir.path().join("t.json");
    std::fs::write(&f, json!({"retCode": 0, "result": {"list": two("1e30")}}).to_string()).unwrap();
    let m = read_tier_file(&f, "BTCUSDT").unwrap_err().to_string();
    assert!(
        m.starts_with(&format!(
            "{}: mmDeduction 1000000000000000000000000000000 of tier 2",
            f.display()
        )),
        "{m}"
    );
}

#[test]
fn a_deduction_off_bybits_rule_is_a_warning() {
    // D2 = 200,000 × (0.02 − 0.01) + 0 = 2,000; 3,000 is accepted (MM stays ≥ 0) but named.
    let mut t = parse_risk_limit_tiers(&json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02"},
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.02", "mmDeduction": "3000", "initialMargin": "0.05"}
    ]))
    .unwrap();
    let w = check_table(&mut t).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("tier 2 (riskLimitValue=Infinity): mmDeduction 3000 differs from 2000"),
        "{}",
        w[0]
    );
    assert!(w[0].contains("steps by -1000 at 200000"), "{}", w[0]);
    // Every shipped real table follows the rule: no warning.
    for (file, sym) in [(TWO_TIER, "BTCUSDT"), (X150, "BTCUSDT"), (ORIGIN_CACHE, "LTCUSDT")] {
        let mut t = read_tier_file(&data(file), sym).unwrap().tiers().to_vec();
        assert_eq!(check_table(&mut t).unwrap(), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn an_invalid_max_leverage_is_an_error_naming_the_tier() {
    for (raw, shown) in [
        (json!("abc"), "abc"),
        (json!("0"), "0"),
        (json!("-5"), "-5"),
        (json!("0.5"), "0.5"),
        (json!("Infinity"), "Infinity"),
    ] {
        let e = parse_risk_limit_tiers(&json!([
            {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02", "maxLeverage": "50"},
            {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "3000", "initialMargin": "0.05", "maxLeverage": raw}
        ]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Invalid maxLeverage {shown} in tier 2 (riskLimitValue=1000000): it must be a number ≥ 1 like \"100.00\", or absent")
        );
    }
    let e = tiers_from_dict(&json!([
        {"max_value": "Infinity", "mmr_rate": "0.01", "deduction": "0", "imr_rate": "0.02", "max_leverage": "x"}
    ]))
    .unwrap_err();
    assert!(matches!(e, TierError::BadMaxLeverage { tier: 1, .. }), "{e:?}");
    // Absent or "" stays unknown.
    let t = parse_risk_limit_tiers(
        &json!([{"riskLimitValue": "1", "maintenanceMargin": "0.01", "maxLeverage": ""}]),
    )
    .unwrap();
    assert_eq!(t[0].max_leverage, None);
}

#[test]
fn an_imr_of_zero_in_every_tier_is_filled_from_max_leverage_or_warned_about() {
    // With maxLeverage in every tier: IMR = 1/maxLeverage (1/50 = 0.02, 1/20 = 0.05).
    let t = parse_risk_limit_tiers(&json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "maxLeverage": "50.00"},
        {"riskLimitValue": "1000000", "maintenanceMargin": "0.025", "mmDeduction": "3000", "maxLeverage": "20.00"}
    ]))
    .unwrap();
    assert_eq!((t[0].imr, t[1].imr), (d("0.02"), d("0.05")));
    // Without it (the origin's v1 cache format), a warning a trader sees.
    let mut v1 = tiers_from_dict(&json!([
        {"max_value": "2000000", "mmr_rate": "0.005", "deduction": "0"},
        {"max_value": "Infinity", "mmr_rate": "0.01", "deduction": "10000"}
    ]))
    .unwrap();
    assert!(v1.iter().all(|t| t.imr.is_zero()));
    let w = check_table(&mut v1).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("initial margin rate of 0 in every tier"), "{}", w[0]);
    assert!(w[0].contains("order rejection uses only the run's leverage"), "{}", w[0]);
    // One tier with an IMR: nothing to fill, nothing to say.
    let mut t = tiers_from_dict(&json!([
        {"max_value": "2000000", "mmr_rate": "0.005", "deduction": "0", "imr_rate": "0.01"},
        {"max_value": "Infinity", "mmr_rate": "0.01", "deduction": "10000"}
    ]))
    .unwrap();
    assert!(check_table(&mut t).unwrap().is_empty());
}

mod property_tests {
    use super::*;
    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            "[-+]?[0-9]{0,6}(\\.[0-9]{0,6})?(e[-+]?[0-9]{1,3})?".prop_map(Value::String),
            "(?i)[-+]?(inf|infinity|nan|snan)[0-9]?".prop_map(Value::String),
            ".{0,8}".prop_map(Value::String),
        ]
    }

    fn tier_obj() -> impl Strategy<Value = Value> {
        (field(), field(), field(), field()).prop_map(|(a, b, c, d)| {
            json!({"riskLimitValue": a, "maintenanceMargin": b, "mmDeduction": c, "initialMargin": d})
        })
    }

    /// The checks every successful parse must pass: ends in Infinity, no negative rate or
    /// deduction, finite caps strictly ascending, the cache format round trip.
    fn check_success(tiers: Vec<Tier>) -> Result<(), TestCaseError> {
        prop_assert_eq!(tiers.last().map(|t| t.cap), Some(Cap::Infinity));
        for t in &tiers {
            prop_assert!(
                !t.mmr.is_negative() && !t.imr.is_negative() && !t.deduction.is_negative()
            );
        }
        let caps: Vec<Cap> = tiers.iter().map(|t| t.cap).collect();
        let finite: Vec<Dec> = caps
            .iter()
            .filter_map(|c| match c {
                Cap::Value(v) => Some(*v),
                _ => None,
            })
            .collect();
        prop_assert!(finite.windows(2).all(|w| w[0] < w[1]));
        // Two Infinity caps are accepted by the parser but refused by the stricter
        // cache reader; everything else round-trips.
        if caps.iter().filter(|c| **c == Cap::Infinity).count() == 1 {
            prop_assert_eq!(tiers_from_dict(&tiers_to_dict(&tiers)).unwrap(), tiers);
        }
        Ok(())
    }

    /// A tier as Bybit could send it: a positive integer cap (sometimes from a small range, so
    /// that two tiers share one), an MMR in (0, 0.1), no deduction, an IMR in (0, 1).
    fn near_valid_tier() -> impl Strategy<Value = (u64, Value)> {
        (
            prop_oneof![1u64..20, 1u64..100_000_000],
            "0\\.0[1-9][0-9]{0,2}",
            prop_oneof![Just(json!("0")), Just(Value::Null), Just(json!(""))],
            "0\\.[1-9][0-9]{0,2}",
        )
            .prop_map(|(cap, mmr, ded, imr)| {
                let t = json!({"riskLimitValue": cap.to_string(), "maintenanceMargin": mmr, "mmDeduction": ded, "initialMargin": imr});
                (cap, t)
            })
    }

    proptest! {
        /// Arbitrary field values never panic; a success passes [`check_success`]. (Almost
        /// every such table is refused, so the success checks get their cases from the
        /// near-valid tables below.)
        #[test]
        fn prop_parser_never_panics_and_round_trips(list in proptest::collection::vec(tier_obj(), 0..6)) {
            if let Ok(tiers) = parse_risk_limit_tiers(&Value::Array(list)) {
                check_success(tiers)?;
            }
        }

        /// Near-valid tables, in any order, parse exactly when their caps are distinct: sorted
        /// by cap, the largest becoming Infinity, and pass [`check_success`]; otherwise the
        /// error names the duplicate boundary.
        #[test]
        fn prop_near_valid_tables_parse_when_caps_are_distinct(list in proptest::collection::vec(near_valid_tier(), 1..8)) {
            let mut caps: Vec<u64> = list.iter().map(|t| t.0).collect();
            caps.sort_unstable();
            let distinct = caps.windows(2).all(|w| w[0] < w[1]);
            match parse_risk_limit_tiers(&Value::Array(list.into_iter().map(|t| t.1).collect())) {
                Ok(tiers) => {
                    prop_assert!(distinct, "caps {:?} accepted with a duplicate", caps);
                    prop_assert_eq!(tiers.len(), caps.len());
                    for (t, c) in tiers.iter().zip(&caps[..caps.len() - 1]) {
                        prop_assert_eq!(t.cap.to_f64(), *c as f64);
                    }
                    check_success(tiers)?;
                }
                Err(e) => prop_assert!(
                    !distinct && matches!(e, TierError::DuplicateBoundary(_)),
                    "caps {:?}: {}", caps, e
                ),
            }
        }
    }
}
