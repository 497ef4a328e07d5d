//! Issue 14 item 19: `backtest` configs and sweep files parse the shared keys (symbol,
//! tick_size, qty_step, candles, start, end, tiers and the parameters) with the same code,
//! so the same mistake gives the same message in both; and both load their data through
//! the same loader.

use std::path::{Path, PathBuf};

use gridsweep::config::backtest::BacktestConfig;
use gridsweep::config::common::{funding_in_window, FundingChoice};
use gridsweep::sweep::{SizeLimit, SweepSetup, SweepSpec};

/// The backtest config `data` + `params` (flat), parsed; the error lines.
fn backtest_lines(data: &str, params: &str) -> Vec<String> {
    let text = format!("{data}\n{params}\n");
    match BacktestConfig::parse(&text, Path::new("c.toml")) {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(String::from).collect(),
    }
}

/// The sweep file `data` (+ a candle file unless given) + `[params]` + one axis, parsed;
/// the problems as `path: message`.
fn sweep_lines(data: &str, params: &str) -> Vec<String> {
    let candles = if data.contains("candles") { "" } else { "candles = \"x.parquet\"\n" };
    let text = format!("{data}\n{candles}[params]\n{params}\n[axes]\ngrid_step = [0.1, 0.2]\n");
    match SweepSpec::parse(&text, Path::new("s.toml"), SizeLimit::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems
            .iter()
            .map(|p| match p.path.as_str() {
                "" => p.message.clone(),
                path => format!("{path}: {}", p.message),
            })
            .collect(),
    }
}

const SYMBOL: &str = "symbol = \"BTCUSDT\"";

#[test]
fn the_same_bad_data_key_gives_the_same_message_in_backtest_and_sweep() {
    // (data lines, the expected `field: message`), each message written out by hand.
    let cases: &[(&str, &str)] = &[
        ("tick_size = \"0.1\"", "symbol: is required, e.g. symbol = \"BTCUSDT\""),
        ("symbol = 5", "symbol: must be a non-empty string like \"BTCUSDT\""),
        ("symbol = \"\"", "symbol: must be a non-empty string like \"BTCUSDT\""),
        (
            "symbol = \"BTCUSDT\"\ntick_size = true",
            "tick_size: must be a decimal number like \"0.1\"",
        ),
        (
            "symbol = \"BTCUSDT\"\nqty_step = \"abc\"",
            "qty_step: must be a decimal number like \"0.001\"",
        ),
        ("symbol = \"BTCUSDT\"\ncandles = 3", "candles: must be a path or a list of paths"),
        (
            "symbol = \"BTCUSDT\"\ncandles = [\"a.parquet\", 1]",
            "candles: must be a path or a list of paths",
        ),
        (
            "symbol = \"BTCUSDT\"\nstart = \"yesterday\"",
            "start: \"yesterday\" is not a UTC time like \"2026-02-01\" or \
             \"2026-02-01T12:00:00Z\"",
        ),
        (
            "symbol = \"BTCUSDT\"\nend = \"2026-02-30\"",
            "end: \"2026-02-30\" is not a date: day 30 does not exist in 2026-02, which has \
             28 days",
        ),
        (
            "symbol = \"BTCUSDT\"\nstart = 5",
            "start: must be a UTC time like \"2026-02-01\" or \"2026-02-01T12:00:00Z\"",
        ),
        (
            "symbol = \"BTCUSDT\"\nstart = \"2026-02-02\"\nend = \"2026-02-01\"",
            "end: must be later than start (the window is [start, end))",
        ),
        (
            "symbol = \"BTCUSDT\"\ntiers = \"bybit\"",
            "tiers: must be \"builtin\" (shipped Bybit snapshots), \"origin\" (the origin's \
             hard-coded tables), { cache = \"conf/risk_limits_cache.json\" } or \
             { file = \"tiers.json\" }",
        ),
        (
            "symbol = \"BTCUSDT\"\ntiers = { path = \"t.json\" }",
            "tiers: must be \"builtin\" (shipped Bybit snapshots), \"origin\" (the origin's \
             hard-coded tables), { cache = \"conf/risk_limits_cache.json\" } or \
             { file = \"tiers.json\" }",
        ),
        (
            "symbol = \"BTCUSDT\"\nmark_candles = 7",
            "mark_candles: must be a path or a list of paths",
        ),
        (
            "symbol = \"BTCUSDT\"\nfunding = \"bybit\"",
            "funding: must be \"constant\" (the funding_rate parameter) or a funding series, \
             funding = { file = \"FUNDING.parquet\" } (from `gridsweep fetch funding` or \
             `gridsweep import`)",
        ),
        (
            "symbol = \"BTCUSDT\"\nfunding = { path = \"f.parquet\" }",
            "funding: unknown key `path`; must be \"constant\" (the funding_rate parameter) \
             or a funding series, funding = { file = \"FUNDING.parquet\" } (from `gridsweep \
             fetch funding` or `gridsweep import`)",
        ),
    ];
    for (data, want) in cases {
        let b = backtest_lines(data, "");
        let s = sweep_lines(data, "");
        assert!(b.contains(&format!("c.toml: {want}")), "backtest, {data:?}: {want} not in {b:#?}");
        assert!(s.contains(&want.to_string()), "sweep, {data:?}: {want} not in {s:#?}");
    }
}

#[test]
fn the_same_bad_parameter_gives_the_same_message_in_backtest_and_sweep() {
    // (parameter line, the expected message); the backtest names the field `grid_count`,
    // the sweep `params.grid_count`.
    let known = "model, grid_count, grid_step, amount, leverage, initial_balance";
    let cases: &[(&str, &str, String)] = &[
        ("grid_count", "grid_count = 2", "must be ≥ 4 (was 2)".into()),
        ("grid_count", "grid_count = 2.5", "must be a whole number (was 2.5)".into()),
        ("leverage", "leverage = [1, 2]", "must be a single number".into()),
        ("model", "model = 1", "must be a string (was 1)".into()),
        ("model", "model = \"x\"", "must be \"origin\" or \"bybit\" (was \"x\")".into()),
        (
            "long_koef",
            "long_koef = 1.0",
            "was renamed to early_imbalance_multiplier; rename it".into(),
        ),
        (
            "initial_balance",
            "initial_balance = 1e300",
            "must be at most 1e12 USDT (was 1e300): money figures of larger accounts are not \
             computed reliably; use a balance up to 1000000000000"
                .into(),
        ),
        (
            "gird_step",
            "gird_step = 0.5",
            format!("unknown parameter; valid parameters are: {known}"),
        ),
    ];
    for (field, line, want) in cases {
        let b = backtest_lines(SYMBOL, line);
        let s = sweep_lines(SYMBOL, line);
        let bw = format!("c.toml: {field}: {want}");
        let sw = format!("params.{field}: {want}");
        assert!(b.iter().any(|l| l.starts_with(&bw)), "backtest, {line:?}: {bw} not in {b:#?}");
        assert!(s.iter().any(|l| l.starts_with(&sw)), "sweep, {line:?}: {sw} not in {s:#?}");
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn backtest_and_sweep_load_their_data_through_the_same_loader() {
    let ltc = repo().join("data/LTCUSDT-1m-2026-02.parquet");
    assert!(ltc.is_file(), "fixture {} is missing", ltc.display());
    let ltc = ltc.display().to_string();
    let load_backtest = |data: &str| {
        let cfg = BacktestConfig::parse(data, Path::new("c.toml")).unwrap();
        cfg.data.load(None, "config").map(|_| ()).unwrap_err()
    };
    let load_sweep = |data: &str| {
        let text = format!("{data}\n[axes]\ngrid_step = [0.1, 0.2]\n");
        let spec = SweepSpec::parse(&text, Path::new("s.toml"), SizeLimit::default()).unwrap();
        SweepSetup::resolve(spec).map(|_| ()).unwrap_err().to_string()
    };
    // Candles of another symbol.
    let data = format!("symbol = \"BTCUSDT\"\ncandles = {ltc:?}");
    let want = |whose: &str| {
        format!(
            "the candles in {ltc} are LTCUSDT, but the {whose}'s symbol is BTCUSDT; fix \
             `symbol` or `candles` in the {whose} file"
        )
    };
    assert_eq!(load_backtest(&data), want("config"));
    assert!(load_sweep(&data).contains(&want("sweep")), "{}", load_sweep(&data));
    // A window outside the data (the shipped file is February 2026).
    let data = format!(
        "symbol = \"LTCUSDT\"\ncandles = {ltc:?}\nstart = \"2025-01-01\"\nend = \"2025-01-02\""
    );
    let want = |whose: &str| {
        format!(
            "no candles between start and end in {ltc}; the data covers 2026-02-01T00:00:00 \
             .. 2026-02-28T23:59:00: fix `start`/`end` in the {whose} file"
        )
    };
    assert_eq!(load_backtest(&data), want("config"));
    assert!(load_sweep(&data).contains(&want("sweep")), "{}", load_sweep(&data));
    // A missing candle file.
    let data = "symbol = \"LTCUSDT\"\ncandles = \"/nonexistent/x.parquet\"";
    let b = load_backtest(data);
    assert!(b.starts_with("cannot open candles /nonexistent/x.parquet: "), "{b}");
    assert!(load_sweep(data).contains(&b), "{b} not in {}", load_sweep(data));
}

#[test]
fn mark_candles_and_a_funding_file_parse_alike_in_backtest_and_sweep() {
    let data = "symbol = \"LTCUSDT\"\ncandles = \"c.parquet\"\nmark_candles = [\"m1.parquet\", \"m2.parquet\"]\nfunding = { file = \"f.parquet\" }";
    let b = BacktestConfig::parse(&format!("{data}\n"), Path::new("c.toml")).unwrap();
    let text = format!("{data}\n[axes]\ngrid_step = [0.1, 0.2]\n");
    let s = SweepSpec::parse(&text, Path::new("s.toml"), SizeLimit::default()).unwrap();
    for d in [&b.data, &s.symbols[0]] {
        assert_eq!(d.mark_candles, [PathBuf::from("m1.parquet"), PathBuf::from("m2.parquet")]);
        assert_eq!(d.funding, FundingChoice::File(PathBuf::from("f.parquet")));
        let roles: Vec<&str> = d.input_files(None).iter().map(|(r, _)| *r).collect();
        assert_eq!(
            roles,
            ["a candle file", "a mark-price file", "a mark-price file", "the funding file"]
        );
    }
    let plain = BacktestConfig::parse(
        "symbol = \"LTCUSDT\"\nfunding = \"constant\"\n",
        Path::new("c.toml"),
    );
    assert_eq!(plain.unwrap().data.funding, FundingChoice::Constant);
}

#[test]
fn a_funding_series_must_cover_the_candle_window() {
    const H: i64 = 3_600_000;
    let f = Path::new("f.parquet");
    // Window: candles opening 0 .. 24 h − 1 min; payments every 8 h from −8 h to 32 h.
    let events: Vec<(i64, f64)> = (-1..=4).map(|k| (k * 8 * H, 0.0001 * k as f64)).collect();
    let (inside, warning) = funding_in_window(&events, 0, 24 * H - 60_000, f).unwrap();
    assert_eq!(inside, [(0, 0.0), (8 * H, 0.0001), (16 * H, 0.0002)]);
    assert_eq!(warning, None);
    // Entirely outside: named with both spans.
    let e = funding_in_window(&events, 100 * H, 120 * H, f).unwrap_err();
    assert!(e.starts_with("f.parquet: every funding timestamp lies outside the candle window 1970-01-05T04:00:00 .. 1970-01-06T00:00:00 (the series covers 1969-12-31T16:00:00 .. 1970-01-02T08:00:00)"), "{e}");
    // Starting 9 h into the window: payments missing at its start.
    let late: Vec<(i64, f64)> = vec![(9 * H, 0.0), (17 * H, 0.0)];
    let e = funding_in_window(&late, 0, 24 * H - 60_000, f).unwrap_err();
    assert!(
        e.contains(
            "covers 1970-01-01T09:00:00 .. 1970-01-01T17:00:00, not the whole candle window"
        ),
        "{e}"
    );
    // A 16-hour hole inside: a warning.
    let holed: Vec<(i64, f64)> = vec![(0, 0.0), (16 * H, 0.0), (24 * H, 0.0)];
    let (_, w) = funding_in_window(&holed, 0, 24 * H - 60_000, f).unwrap();
    assert_eq!(w.unwrap(), "f.parquet: 1 stretch(es) of more than 8 h without a funding entry inside the window (1970-01-01T00:00:00 .. 1970-01-01T16:00:00): no funding is paid there");
}
