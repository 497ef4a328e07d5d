//! `gridsweep backtest`: one run from a config file, with a readable summary.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use gridsweep::config::backtest::BacktestConfig;
use gridsweep::config::common::FundingChoice;
use gridsweep::engine::{Engine, RunContext, Tick, VecRecorder};
use gridsweep::metrics::{Metrics, PriceSource};
use gridsweep::output::guard::{self, Input};
use gridsweep::output::{thin_equity, write_equity, write_trades};
use gridsweep::tickfile::read_ticks_csv;
use gridsweep::time::format_iso;

/// Arguments of `gridsweep backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    /// Config file: a flat TOML table with the origin's field names (see README).
    #[arg(long, value_name = "FILE.toml")]
    pub config: PathBuf,
    /// Candle Parquet file(s); replaces the config's `candles`.
    #[arg(long, value_name = "FILE.parquet", num_args = 1..)]
    pub candles: Vec<PathBuf>,
    /// Replay a tick CSV (`exchange_ts,last_price`) instead of candles.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "candles")]
    pub ticks: Option<PathBuf>,
    /// Write every fill (`.csv` or `.parquet`).
    #[arg(long, value_name = "OUT")]
    pub trades: Option<PathBuf>,
    /// Write the per-tick equity curve (`.csv` or `.parquet`).
    #[arg(long, value_name = "OUT")]
    pub equity: Option<PathBuf>,
    /// Thin the equity curve to the last mark of every minute, hour or day (default: every
    /// tick); the final mark is always kept.
    #[arg(long, value_name = "1m|1h|1d", requires = "equity", value_parser = ["1m", "1h", "1d"])]
    pub equity_every: Option<String>,
    /// Print the metrics as one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write an HTML report of the run: equity, underwater curve, position sizes and the
    /// fills on the price (one self-contained file).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Replace an existing --trades/--equity file that is not a trades/equity file (inputs
    /// are never overwritten).
    #[arg(long)]
    pub force: bool,
}

/// Runs one backtest; returns the exit code.
///
/// # Errors
/// Config, data, tier or output problems, and a run that fails (exit 2 in `main`).
pub fn run(args: BacktestArgs) -> anyhow::Result<i32> {
    let cfg = BacktestConfig::load(&args.config)?;
    cfg.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
    check_outputs(&args, &cfg)?;
    let symbol = cfg.data.instrument.symbol.clone();
    let data = &cfg.data;
    let resolved = data.resolve_tiers().map_err(anyhow::Error::msg)?;
    let (tiers, layer) = (resolved.tiers, resolved.layer);
    // The funding series of the run's window, when the config names one.
    let funding = |first: i64, last: i64| -> anyhow::Result<Option<Vec<(i64, f64)>>> {
        let FundingChoice::File(path) = &data.funding else { return Ok(None) };
        let (events, warning) =
            data.open_funding(path, first, last, "config").map_err(anyhow::Error::msg)?;
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        Ok(Some(events))
    };
    let ctx = RunContext { instrument: &cfg.data.instrument, tiers: &tiers, funding_series: None };
    let mut rec = VecRecorder {
        keep_equity: args.equity.is_some() || args.report.is_some(),
        ..Default::default()
    };
    // The price line of the report: every tick's price, or every candle's close.
    let mut price: Vec<(i64, f64)> = Vec::new();
    let mut engine = Engine::new();
    let (metrics, source) = if let Some(path) = &args.ticks {
        if !data.mark_candles.is_empty() {
            bail!("{}: mark_candles needs candles: a tick file has no mark prices to align them with; remove mark_candles or run on candles", args.config.display());
        }
        let ticks: Vec<Tick> = read_ticks_csv(path)?;
        let n = ticks.len();
        if args.report.is_some() {
            price = ticks.iter().map(|t| (t.ts_ms, t.price)).collect();
        }
        let series = match (ticks.first(), ticks.last()) {
            (Some(a), Some(b)) => funding(a.ts_ms, b.ts_ms)?,
            _ => None,
        };
        let ctx = RunContext { funding_series: series.as_deref(), ..ctx };
        let m = engine.run(ticks, &cfg.params, &ctx, &mut rec);
        (m, format!("{n} ticks from {}", path.display()))
    } else {
        let paths =
            if args.candles.is_empty() { cfg.data.candles.clone() } else { args.candles.clone() };
        if paths.is_empty() {
            bail!("{}: no candles given; set `candles` in the config or pass --candles FILE.parquet (or --ticks FILE.csv)", args.config.display());
        }
        let candles = data.open_candles(&paths, "config").map_err(anyhow::Error::msg)?;
        let window = candles.window(cfg.data.start_ms, cfg.data.end_ms);
        if let Some(w) = window.gaps().warning() {
            eprintln!("warning: {w}");
        }
        let desc = format!(
            "{} candles {} .. {}",
            window.len(),
            format_iso(window.ts_ms[0]),
            format_iso(window.ts_ms[window.len() - 1])
        );
        let series = funding(window.ts_ms[0], window.ts_ms[window.len() - 1])?;
        let ctx = RunContext { funding_series: series.as_deref(), ..ctx };
        if args.report.is_some() {
            price = window.ts_ms.iter().copied().zip(window.close.iter().copied()).collect();
        }
        (engine.run_candles(window, &cfg.params, &ctx, &mut rec), desc)
    };
    let m = metrics.with_context(|| format!("backtest of {} failed", args.config.display()))?;
    let config_text = std::fs::read_to_string(&args.config).unwrap_or_default();
    let meta = vec![
        ("gridsweep.config".to_string(), config_text),
        ("gridsweep.symbol".to_string(), symbol.clone()),
        ("gridsweep.model".to_string(), cfg.params.account.model.as_str().to_string()),
        ("gridsweep.tier_layer".to_string(), layer.as_str().to_string()),
        (
            "gridsweep.liquidation_price_source".to_string(),
            m.liquidation_price_source.as_str().to_string(),
        ),
        ("gridsweep.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
    if let Some(p) = &args.trades {
        write_trades(p, &rec.fills, &meta)?;
    }
    if let Some(p) = &args.equity {
        let every = match args.equity_every.as_deref() {
            Some("1m") => Some(60_000),
            Some("1h") => Some(3_600_000),
            Some("1d") => Some(86_400_000),
            _ => None,
        };
        let points = every.map_or_else(|| rec.equity.clone(), |ms| thin_equity(&rec.equity, ms));
        write_equity(p, &points, &meta)?;
    }
    if let Some(path) = &args.report {
        let p = &cfg.params;
        let label = format!(
            "{symbol}: {} levels, step {} %, amount {}, leverage {}x, model {}",
            p.grid.grid_count,
            p.grid.grid_step,
            p.grid.amount,
            p.account.leverage,
            p.account.model.as_str()
        );
        let provenance = vec![
            ("config".to_string(), args.config.display().to_string()),
            ("data".to_string(), source.clone()),
            ("tiers".to_string(), layer.as_str().to_string()),
            (
                "return".to_string(),
                format!("{:.2} %, max drawdown {:.2} %", m.return_pct, m.max_drawdown_pct),
            ),
            ("gridsweep".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ];
        let run = gridsweep::report::build::RunTrace {
            run_id: None,
            label,
            equity: std::mem::take(&mut rec.equity),
            fills: rec.fills.clone(),
        };
        let title = format!("gridsweep backtest — {}", args.config.display());
        let html = gridsweep::report::build::single_run(&title, &provenance, &run, &price)
            .map_err(anyhow::Error::msg)?;
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
        rec.equity = run.equity;
    }
    if args.json {
        let mut v = serde_json::to_value(m)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("symbol".into(), symbol.clone().into());
            o.insert("model".into(), cfg.params.account.model.as_str().into());
            o.insert("tier_layer".into(), layer.as_str().into());
            o.insert("tier_table".into(), gridsweep::tiers::cache_format::tiers_to_json(&tiers));
        }
        writeln!(super::stdout(), "{v}")?;
    } else {
        print_summary(
            &mut super::stdout(),
            "backtest",
            &symbol,
            &cfg.params,
            &m,
            &source,
            layer.as_str(),
        )?;
    }
    Ok(0)
}

/// The output rules (see [`guard`]) for --trades/--equity, checked before the run.
fn check_outputs(args: &BacktestArgs, cfg: &BacktestConfig) -> anyhow::Result<()> {
    let mut inputs = vec![Input { role: "the config file", path: &args.config }];
    let candles = if args.candles.is_empty() { &cfg.data.candles[..] } else { &args.candles[..] };
    if let Some(t) = &args.ticks {
        inputs.push(Input { role: "the tick file", path: t });
    }
    let files = cfg.data.input_files(Some(if args.ticks.is_some() { &[] } else { candles }));
    inputs.extend(files.into_iter().map(|(role, path)| Input { role, path }));
    let outputs =
        super::run_outputs(args.trades.as_deref(), args.equity.as_deref(), args.report.as_deref())?;
    guard::check(&inputs, &outputs, args.force)?;
    Ok(())
}

/// The readable summary of one run (shared with `gridsweep show`).
pub(crate) fn print_summary(
    w: &mut impl Write,
    command: &str,
    symbol: &str,
    p: &gridsweep::engine::RunParams,
    m: &Metrics,
    source: &str,
    layer: &str,
) -> std::io::Result<()> {
    let opt = |v: Option<f64>, d: usize| v.map_or("n/a".to_string(), |x| format!("{x:.d$}"));
    writeln!(w, "gridsweep {command} — {symbol}, model {}, {source}", p.account.model.as_str())?;
    writeln!(
        w,
        "  grid: {} levels, step {} %, amount {}, leverage {}x, tiers: {layer}",
        p.grid.grid_count, p.grid.grid_step, p.grid.amount, p.account.leverage
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "  final balance     {:>14.4}   (initial {:.2})",
        m.final_balance, m.initial_balance
    )?;
    writeln!(w, "  net PnL           {:>14.4}   ({:+.4} %)", m.net_pnl, m.return_pct)?;
    writeln!(w, "  realised PnL      {:>14.4}", m.total_realized_pnl)?;
    writeln!(w, "  unrealised PnL    {:>14.4}", m.total_unrealized_pnl)?;
    writeln!(w, "  commission        {:>14.4}", m.total_commission)?;
    writeln!(w, "  funding           {:>14.4}", m.total_funding)?;
    writeln!(
        w,
        "  max drawdown      {:>14.4}   ({:.4} %, {} ticks)",
        m.max_drawdown, m.max_drawdown_pct, m.max_drawdown_duration
    )?;
    writeln!(w, "  Sharpe / Sortino  {:>14.4} / {:.4}", m.sharpe_ratio, m.sortino_ratio)?;
    writeln!(w, "  Calmar            {:>14}", opt(m.calmar_ratio, 4))?;
    writeln!(
        w,
        "  trades            {:>14}   (long {}, short {}; round trips {}, win rate {:.2} %)",
        m.total_trades,
        m.long_trades,
        m.short_trades,
        m.round_trips,
        m.win_rate * 100.0
    )?;
    writeln!(w, "  profit factor     {:>14}", opt(m.profit_factor, 4))?;
    writeln!(w, "  volume            {:>14.2}   (turnover {:.2}x)", m.total_volume, m.turnover)?;
    writeln!(
        w,
        "  peak IM / MM      {:>14.4} / {:.4}   ({:.4} % / {:.4} % of equity)",
        m.peak_im, m.peak_mm, m.peak_imr_pct, m.peak_mmr_pct
    )?;
    writeln!(w, "  time in market    {:>14.2} %", m.time_in_market_pct)?;
    writeln!(w, "  orders rejected   {:>14}", m.orders_rejected)?;
    writeln!(w, "  min dist. to liq. {:>14} %", opt(m.min_liq_distance_pct, 4))?;
    writeln!(
        w,
        "  final positions   long {} @ {:.6}, short {} @ {:.6}",
        m.final_long_size, m.final_long_entry, m.final_short_size, m.final_short_entry
    )?;
    let on = match m.liquidation_price_source {
        PriceSource::Mark => "liquidation on the mark price",
        PriceSource::Last => "liquidation on the last price",
    };
    match m.liquidation_ts_ms {
        Some(ts) => writeln!(w, "  LIQUIDATED at {} ({on})", format_iso(ts))?,
        None => writeln!(w, "  not liquidated ({on})")?,
    }
    Ok(())
}
