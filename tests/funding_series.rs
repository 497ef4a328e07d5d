//! Issue 10 item 2: a funding series (`funding = { file = … }`) is paid at its own times on
//! the position value at the mark price, the constant rate follows the instrument's funding
//! interval, and a series that does not cover the window, or changed under a sweep, is
//! refused. Expected values are equivalences derived from the funding rule: a series equal
//! to the constant clock gives the same run bit for bit; doubling every rate doubles every
//! payment exactly (a power of two scales without rounding) while fixed-size orders fill
//! the same.

mod sweep_common;

use std::path::{Path, PathBuf};

use gridsweep::candles::Candles;
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
use gridsweep::funding::{write_funding_parquet, FundingSeries};
use gridsweep::instrument::Instrument;
use gridsweep::metrics::Metrics;
use gridsweep::tiers::snapshot::snapshot_tiers;
use sweep_common::{bin, data};

const H: i64 = 3_600_000;
/// 2026-02-02T00:00:00Z.
const FEB2: i64 = 1_769_990_400_000;

fn params() -> RunParams {
    let mut p = RunParams::default();
    p.account.model = Model::Bybit;
    p.account.leverage = 5.0;
    p.account.funding_rate = 0.0001;
    p.grid.grid_count = 20;
    p.grid.grid_step = 0.3;
    p.grid.amount = Amount::parse("100").unwrap();
    p.grid.enable_risk_multipliers = false;
    p
}

/// Every multiple of `every` in `[from, to)` with `rate`.
fn clock(from: i64, to: i64, every: i64, rate: f64) -> Vec<(i64, f64)> {
    (from.div_euclid(every)..)
        .map(|k| k * every)
        .filter(|t| *t >= from)
        .take_while(|t| *t < to)
        .map(|t| (t, rate))
        .collect()
}

fn run(inst: &Instrument, series: Option<&[(i64, f64)]>) -> Metrics {
    let c = Candles::open_parquet(&[data()]).unwrap();
    let w = c.window(Some(FEB2), Some(FEB2 + 72 * H));
    let tiers = snapshot_tiers("LTCUSDT").unwrap().0;
    let ctx = RunContext { instrument: inst, tiers: &tiers, funding_series: series };
    Engine::new().run_candles(w, &params(), &ctx, &mut NoRecorder).unwrap()
}

fn fields(m: &Metrics) -> String {
    format!("{:?}", m.fields())
}

#[test]
fn a_series_on_the_constant_clock_equals_the_constant_rate_and_doubling_doubles_funding() {
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let constant = run(&inst, None);
    assert!(constant.total_funding != 0.0, "positions are held over funding times");
    let same = clock(FEB2, FEB2 + 72 * H, 8 * H, 0.0001);
    assert_eq!(same.len(), 9);
    assert_eq!(fields(&run(&inst, Some(&same))), fields(&constant));
    let doubled: Vec<(i64, f64)> = same.iter().map(|&(t, r)| (t, 2.0 * r)).collect();
    let m = run(&inst, Some(&doubled));
    assert_eq!(m.total_funding, 2.0 * constant.total_funding);
    assert_eq!(m.total_trades, constant.total_trades);
    assert_eq!(m.total_realized_pnl, constant.total_realized_pnl);
}

#[test]
fn the_constant_rate_follows_the_instruments_funding_interval() {
    let mut inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    inst.funding_interval_min = Some(240);
    let four_hourly = clock(FEB2, FEB2 + 72 * H, 4 * H, 0.0001);
    assert_eq!(four_hourly.len(), 18);
    let plain = Instrument::resolve("LTCUSDT", None, None).unwrap();
    assert_eq!(fields(&run(&inst, None)), fields(&run(&plain, Some(&four_hourly))));
    // An interval that does not divide a day falls back to 8 h.
    inst.funding_interval_min = Some(500);
    assert_eq!(fields(&run(&inst, None)), fields(&run(&plain, None)));
}

fn write_series(path: &Path, events: Vec<(i64, f64)>) {
    let s = FundingSeries { events, source: "test".into() };
    write_funding_parquet(path, &s, &[]).unwrap();
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("funding-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn backtest_and_sweep_read_a_funding_file_and_refuse_one_that_does_not_fit() {
    let d = tmp("cli");
    let f = d.join("funding.parquet");
    write_series(&f, clock(FEB2 - 24 * H, FEB2 + 96 * H, 8 * H, 0.0001));
    let base = format!(
        "symbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-02\"\nend = \"2026-02-05\"\nleverage = 5\ngrid_count = 20\ngrid_step = 0.3\namount = \"100\"\nenable_risk_multipliers = false\nfunding_rate = 0.0001\n",
        data().display().to_string()
    );
    let bt = |name: &str, extra: &str| {
        let cfg = d.join(name);
        std::fs::write(&cfg, format!("{base}{extra}")).unwrap();
        bin().args(["backtest", "--json", "--config"]).arg(&cfg).output().unwrap()
    };
    let constant = bt("c.toml", "");
    let series = bt("s.toml", &format!("funding = {{ file = {:?} }}\n", f.display().to_string()));
    assert!(series.status.success(), "{}", String::from_utf8_lossy(&series.stderr));
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&constant.stdout).unwrap(),
        serde_json::from_slice(&series.stdout).unwrap(),
    );
    assert_eq!(a["total_funding"], b["total_funding"], "the same clock and rate");
    assert_eq!(a["final_balance"], b["final_balance"]);
    // A series that ends a day before the window's end is refused, naming both spans.
    let short = d.join("short.parquet");
    write_series(&short, clock(FEB2, FEB2 + 48 * H, 8 * H, 0.0001));
    let out =
        bt("short.toml", &format!("funding = {{ file = {:?} }}\n", short.display().to_string()));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the funding series covers 2026-02-02T00:00:00 .. 2026-02-03T16:00:00, not the whole candle window 2026-02-02T00:00:00 .. 2026-02-04T23:59:00"), "{err}");

    // A sweep with the series; the same sweep after the series changed is other results.
    let sweep = d.join("sw.toml");
    std::fs::write(
        &sweep,
        format!(
            "symbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-02\"\nend = \"2026-02-05\"\nfunding = {{ file = {:?} }}\n[axes]\ngrid_step = [0.3, 0.6]\n",
            data().display().to_string(),
            f.display().to_string()
        ),
    )
    .unwrap();
    let out_file = d.join("sw.parquet");
    let sw = || bin().arg("sweep").arg(&sweep).arg("--out").arg(&out_file).output().unwrap();
    let first = sw();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    write_series(&f, clock(FEB2 - 24 * H, FEB2 + 96 * H, 8 * H, 0.0002));
    let again = sw();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("holds other results") && err.contains("data"), "{err}");
}
