//! Parity with the origin: replays the origin's tick streams (`tests/fixtures/oracle/`, a copy
//! of `../shared/oracle/`; see its README) through `model = "origin"` and compares fills,
//! money totals, the equity curve and the step-by-step trace.
//!
//! The fixture is ground truth: a mismatch here is a bug in the engine. A missing fixture
//! file is a failure, never a skip.
// Expected values are the origin's 28-digit decimals, copied verbatim.
#![allow(clippy::excessive_precision)]

use std::path::PathBuf;

use gridsweep::decimal::Dec;
use gridsweep::engine::{
    Amount, Direction, Engine, FillRecord, Model, Recorder, RunContext, RunParams, Side, Tick,
};
use gridsweep::instrument::Instrument;
use gridsweep::tickfile::read_ticks_csv;
use gridsweep::tiers::builtin::builtin_tiers;
use gridsweep::time::{format_iso, parse_iso};
use serde_json::Value;

/// The fixture directory; panics (fails the test) when it or one of its files is missing.
fn oracle_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle");
    for f in ["ticks.csv", "result_default.json", "result_norisk.json", "trace_small.txt"] {
        assert!(
            d.join(f).is_file(),
            "parity fixture {} is missing; restore tests/fixtures/oracle/ from git",
            d.join(f).display()
        );
    }
    d
}

#[derive(Default)]
struct Trace {
    fills: Vec<FillRecord>,
    equity: Vec<(i64, f64)>,
    events: Vec<(i64, String)>,
}

impl Recorder for Trace {
    fn on_fill(&mut self, f: &FillRecord) {
        self.fills.push(*f);
        self.events.push((
            f.ts_ms,
            format!(
                "FILL {} {} {}@{:?}",
                f.direction.as_str(),
                f.side.as_str(),
                fmt_qty(f.qty),
                f.price
            ),
        ));
    }
    fn on_equity(&mut self, ts: i64, e: f64) {
        self.equity.push((ts, e));
    }
    fn on_place(&mut self, ts: i64, d: Direction, s: Side, price: f64, qty: f64) {
        self.events.push((
            ts,
            format!("PLACE {} {} @{:?} qty={}", d.as_str(), s.as_str(), price, fmt_qty(qty)),
        ));
    }
    fn on_cancel(&mut self, ts: i64, _d: Direction, s: Side, price: f64, reason: &'static str) {
        self.events.push((ts, format!("CANCEL {} @{:?} reason={}", s.as_str(), price, reason)));
    }
}

fn fmt_qty(q: f64) -> String {
    let s = format!("{q:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.as_f64().unwrap(),
        _ => panic!("not a number: {v}"),
    }
}

fn oracle_params(risk: bool) -> RunParams {
    let mut p = RunParams::default();
    p.account.model = Model::Origin;
    p.account.initial_balance = 10_000.0;
    p.account.commission_rate = 0.0002;
    p.account.enable_funding = true;
    p.account.funding_rate = 0.0001;
    p.account.leverage = 10.0;
    p.grid.grid_count = 50;
    p.grid.grid_step = 0.2;
    p.grid.amount = Amount::parse("x0.001").unwrap();
    p.grid.enable_risk_multipliers = risk;
    p
}

fn btc(tick: &str) -> Instrument {
    Instrument::resolve(
        "BTCUSDT",
        Some(Dec::parse(tick).unwrap()),
        Some(Dec::parse("0.001").unwrap()),
    )
    .unwrap()
}

fn check_oracle_run(file: &str, risk: bool) {
    let dir = oracle_dir();
    let ticks = read_ticks_csv(&dir.join("ticks.csv")).unwrap();
    assert_eq!(ticks.len(), 2000);
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    let inst = btc("0.1");
    let tiers = builtin_tiers("BTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut rec = Trace::default();
    let m = Engine::new().run(ticks.iter().copied(), &oracle_params(risk), &ctx, &mut rec).unwrap();

    // Fills: same list, same order.
    let want = oracle["trades"].as_array().unwrap();
    let n = want.len().min(rec.fills.len());
    for (i, (w, got)) in want.iter().zip(&rec.fills).enumerate().take(n) {
        let ts = parse_iso(w["ts"].as_str().unwrap()).unwrap();
        let same = ts == got.ts_ms
            && w["side"].as_str().unwrap() == got.side.as_str()
            && w["dir"].as_str().unwrap() == got.direction.as_str()
            && num(&w["price"]) == got.price
            && close(num(&w["qty"]), got.qty, 1e-12);
        assert!(
            same,
            "fill #{i} differs: origin {} {} {} {}@{}, engine {} {} {} {}@{}",
            w["ts"],
            w["side"],
            w["dir"],
            w["qty"],
            w["price"],
            format_iso(got.ts_ms),
            got.side.as_str(),
            got.direction.as_str(),
            got.qty,
            got.price
        );
        assert!(close(num(&w["commission"]), got.commission, 1e-9), "fee of fill #{i}");
        assert!(
            close(num(&w["realized_pnl"]), got.realized_pnl, 1e-9)
                || (num(&w["realized_pnl"]) - got.realized_pnl).abs() < 1e-9,
            "realised of fill #{i}"
        );
    }
    assert_eq!(want.len(), rec.fills.len(), "number of fills");

    // Money totals within 1e-9 relative.
    let om = &oracle["metrics"];
    for (name, got) in [
        ("total_realized_pnl", m.total_realized_pnl),
        ("total_unrealized_pnl", m.total_unrealized_pnl),
        ("total_commission", m.total_commission),
        ("total_funding", m.total_funding),
        ("final_balance", m.final_balance),
        ("net_pnl", m.net_pnl),
        ("max_drawdown", m.max_drawdown),
        ("total_volume", m.total_volume),
        ("long_pnl", m.long_pnl),
        ("short_pnl", m.short_pnl),
        ("peak_im", m.peak_im),
        ("peak_mm", m.peak_mm),
        ("peak_imr_pct", m.peak_imr_pct),
        ("peak_mmr_pct", m.peak_mmr_pct),
        ("return_pct", m.return_pct),
        ("sharpe_ratio", m.sharpe_ratio),
    ] {
        let want = num(&om[name]);
        assert!(close(want, got, 1e-9), "{name}: origin {want}, engine {got}");
    }
    for (name, got) in [
        ("total_trades", m.total_trades),
        ("winning_trades", m.winning_trades),
        ("losing_trades", m.losing_trades),
        ("long_trades", m.long_trades),
        ("short_trades", m.short_trades),
        ("max_drawdown_duration", m.max_drawdown_duration),
    ] {
        assert_eq!(om[name].as_u64().unwrap(), got, "{name}");
    }
    // Final positions.
    for (key, size, entry) in [
        ("final_long", m.final_long_size, m.final_long_entry),
        ("final_short", m.final_short_size, m.final_short_entry),
    ] {
        assert!(close(num(&oracle[key]["size"]), size, 1e-12), "{key} size");
        assert!(close(num(&oracle[key]["avg_entry_price"]), entry, 1e-9), "{key} entry");
    }
    // Equity curve, tick by tick.
    let curve = oracle["equity_curve"].as_array().unwrap();
    assert_eq!(curve.len(), rec.equity.len());
    for (i, (w, (ts, e))) in curve.iter().zip(&rec.equity).enumerate() {
        assert_eq!(parse_iso(w[0].as_str().unwrap()).unwrap(), *ts, "equity point {i} time");
        assert!(close(num(&w[1]), *e, 1e-9), "equity point {i}: origin {}, engine {e}", w[1]);
    }
}

#[test]
fn oracle_2000_ticks_with_risk_multipliers() {
    check_oracle_run("result_default.json", true);
}

#[test]
fn oracle_2000_ticks_without_risk_multipliers() {
    check_oracle_run("result_norisk.json", false);
}

#[test]
fn first_oracle_trade_is_short_sell_at_100200() {
    let dir = oracle_dir();
    let ticks = read_ticks_csv(&dir.join("ticks.csv")).unwrap();
    let inst = btc("0.1");
    let tiers = builtin_tiers("BTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut rec = Trace::default();
    Engine::new().run(ticks.iter().copied(), &oracle_params(true), &ctx, &mut rec).unwrap();
    let f = rec.fills[0];
    assert_eq!(format_iso(f.ts_ms), "2025-01-01T00:29:00");
    assert_eq!((f.side, f.direction, f.price), (Side::Sell, Direction::Short, 100200.0));
    assert!(close(f.qty, 0.001, 1e-12) && close(f.commission, 0.02004, 1e-12));
}

/// The 11-tick trace of ORIGIN_BEHAVIOUR §4.2 item 6 (`trace_small.txt`).
#[test]
fn trace_small_step_by_step() {
    let dir = oracle_dir();
    let text = std::fs::read_to_string(dir.join("trace_small.txt")).unwrap();
    let prices = [100.00, 100.00, 98.90, 98.90, 97.50, 99.20, 100.50, 101.20, 101.20, 99.80, 98.00];
    let t0 = parse_iso("2025-01-01T01:00:00").unwrap();
    let ticks: Vec<Tick> = prices
        .iter()
        .enumerate()
        .map(|(i, &p)| Tick { ts_ms: t0 + i as i64 * 60_000, price: p })
        .collect();
    let mut p = RunParams::default();
    p.account.model = Model::Origin;
    p.account.enable_funding = false;
    p.account.commission_rate = 0.0002;
    p.grid.grid_count = 10;
    p.grid.grid_step = 1.0;
    p.grid.amount = Amount::parse("100").unwrap();
    p.grid.enable_risk_multipliers = true;
    let inst = btc("0.01");
    let tiers = builtin_tiers("BTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut rec = Trace::default();
    let m = Engine::new().run(ticks.iter().copied(), &p, &ctx, &mut rec).unwrap();

    // Expected per-tick equity and events from the trace file.
    let mut tick = 0usize;
    let mut want_events: Vec<(usize, String)> = Vec::new();
    let mut want_equity = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("--- tick ") {
            tick = rest.split_whitespace().next().unwrap().parse().unwrap();
            let e = l.split("equity_after_fills=").nth(1).unwrap();
            want_equity.push(e.parse::<f64>().unwrap());
        } else if l.starts_with("FILL") {
            let w: Vec<&str> = l.split_whitespace().collect();
            want_events.push((tick, format!("FILL {} {} {}", w[1], w[2], w[3])));
        } else if l.starts_with("PLACE") {
            let w: Vec<&str> = l.split_whitespace().collect();
            want_events.push((tick, format!("PLACE {} {} {} {}", w[1], w[2], w[3], w[5])));
        } else if l.starts_with("CANCEL") {
            let w: Vec<&str> = l.split_whitespace().collect();
            want_events.push((tick, format!("CANCEL {} {} {}", w[1], w[2], w[3])));
        }
    }
    let got_events: Vec<(usize, String)> =
        rec.events.iter().map(|(ts, e)| (((ts - t0) / 60_000) as usize, e.clone())).collect();
    assert_eq!(got_events, want_events);
    assert_eq!(want_equity.len(), rec.equity.len());
    for (i, (w, (_, e))) in want_equity.iter().zip(&rec.equity).enumerate() {
        assert!(close(*w, *e, 1e-9), "tick {i}: trace equity {w}, engine {e}");
    }
    // Final figures of the trace.
    assert_eq!(m.total_trades, 12);
    assert_eq!((m.winning_trades, m.losing_trades), (3, 1));
    assert!(close(m.total_realized_pnl, 3.975469184447900874482628390, 1e-9));
    assert!(close(m.total_unrealized_pnl, -3.060889184447900874482628408, 1e-9));
    assert!(close(m.total_commission, 0.260152684, 1e-9));
    assert!(close(m.net_pnl, 0.654427316, 1e-9));
    assert!(close(m.max_drawdown, 2.142659242, 1e-9));
    assert_eq!(m.max_drawdown_duration, 3);
    assert!(close(m.total_volume, 1300.76342, 1e-9));
    assert!(close(m.peak_im, 5.022056846541347762908717024, 1e-9));
    assert!(close(m.peak_mm, 2.511028423270673881454358512, 1e-9));
    assert!(close(m.long_pnl, 2.977866919291338582677165356, 1e-9));
    assert!(close(m.short_pnl, 0.997602265156562291805463034, 1e-9));
    assert!(
        close(m.final_long_size, 4.062, 1e-12)
            && close(m.final_long_entry, 99.23985399293238271360836174, 1e-9)
    );
    assert!(
        close(m.final_short_size, 0.991, 1e-12)
            && close(m.final_short_entry, 99.99333777481678880746169221, 1e-9)
    );
    assert_eq!(m.sharpe_ratio, 0.0);
}
