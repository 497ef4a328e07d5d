//! `gridsweep backtest`: one run from a config file, with a readable summary.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::candles::Candles;
use crate::config::backtest::BacktestConfig;
use crate::engine::{Engine, RunContext, Tick, VecRecorder};
use crate::metrics::Metrics;
use crate::output::{write_equity, write_trades};
use crate::tickfile::read_ticks_csv;
use crate::tiers::source::resolve_for_run;
use crate::time::format_iso;

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
    /// Print the metrics as one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs one backtest; returns the exit code.
///
/// # Errors
/// Config, data, tier or output problems, and a run that fails (exit 2 in `main`).
pub fn run(args: BacktestArgs) -> anyhow::Result<i32> {
    let cfg = BacktestConfig::load(&args.config).map_err(anyhow::Error::msg)?;
    let symbol = cfg.instrument.symbol.clone();
    let (tiers, layer) = resolve_for_run(&cfg.tiers.to_source(), &symbol)
        .with_context(|| format!("cannot resolve risk-limit tiers for {symbol}"))?;
    let ctx = RunContext { instrument: &cfg.instrument, tiers: &tiers, funding_series: None };
    let mut rec = VecRecorder { keep_equity: args.equity.is_some(), ..Default::default() };
    let mut engine = Engine::new();
    let (metrics, source) = if let Some(path) = &args.ticks {
        let ticks: Vec<Tick> = read_ticks_csv(path)?;
        let n = ticks.len();
        let m = engine.run(ticks, &cfg.params, &ctx, &mut rec);
        (m, format!("{n} ticks from {}", path.display()))
    } else {
        let paths =
            if args.candles.is_empty() { cfg.candles.clone() } else { args.candles.clone() };
        if paths.is_empty() {
            bail!("{}: no candles given; set `candles` in the config or pass --candles FILE.parquet (or --ticks FILE.csv)", args.config.display());
        }
        let candles = Candles::open_parquet(&paths)?;
        let window = candles.window(cfg.start_ms, cfg.end_ms);
        if window.is_empty() {
            bail!(
                "no candles between start and end in {}",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        if let Some(w) = window.gaps().warning() {
            eprintln!("warning: {w}");
        }
        let desc = format!(
            "{} candles {} .. {}",
            window.len(),
            format_iso(window.ts_ms[0]),
            format_iso(window.ts_ms[window.len() - 1])
        );
        (engine.run_candles(window, &cfg.params, &ctx, &mut rec), desc)
    };
    let m = metrics.with_context(|| format!("backtest of {} failed", args.config.display()))?;
    if let Some(p) = &args.trades {
        write_trades(p, &rec.fills)?;
    }
    if let Some(p) = &args.equity {
        write_equity(p, &rec.equity)?;
    }
    if args.json {
        let mut v = serde_json::to_value(m)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("symbol".into(), symbol.clone().into());
            o.insert("model".into(), cfg.params.account.model.as_str().into());
            o.insert("tier_layer".into(), layer.as_str().into());
            o.insert("tier_table".into(), crate::tiers::cache_format::tiers_to_json(&tiers));
        }
        println!("{v}");
    } else {
        print_summary(&symbol, &cfg, &m, &source, layer.as_str());
    }
    Ok(0)
}

fn print_summary(symbol: &str, cfg: &BacktestConfig, m: &Metrics, source: &str, layer: &str) {
    let p = &cfg.params;
    let opt = |v: Option<f64>, d: usize| v.map_or("n/a".to_string(), |x| format!("{x:.d$}"));
    println!("gridsweep backtest — {symbol}, model {}, {source}", p.account.model.as_str());
    println!(
        "  grid: {} levels, step {} %, amount {}, leverage {}x, tiers: {layer}",
        p.grid.grid_count, p.grid.grid_step, p.grid.amount, p.account.leverage
    );
    println!();
    println!("  final balance     {:>14.4}   (initial {:.2})", m.final_balance, m.initial_balance);
    println!("  net PnL           {:>14.4}   ({:+.4} %)", m.net_pnl, m.return_pct);
    println!("  realised PnL      {:>14.4}", m.total_realized_pnl);
    println!("  unrealised PnL    {:>14.4}", m.total_unrealized_pnl);
    println!("  commission        {:>14.4}", m.total_commission);
    println!("  funding           {:>14.4}", m.total_funding);
    println!(
        "  max drawdown      {:>14.4}   ({:.4} %, {} ticks)",
        m.max_drawdown, m.max_drawdown_pct, m.max_drawdown_duration
    );
    println!("  Sharpe / Sortino  {:>14.4} / {:.4}", m.sharpe_ratio, m.sortino_ratio);
    println!("  Calmar            {:>14}", opt(m.calmar_ratio, 4));
    println!(
        "  trades            {:>14}   (long {}, short {}; round trips {}, win rate {:.2} %)",
        m.total_trades,
        m.long_trades,
        m.short_trades,
        m.round_trips,
        m.win_rate * 100.0
    );
    println!("  profit factor     {:>14}", opt(m.profit_factor, 4));
    println!("  volume            {:>14.2}   (turnover {:.2}x)", m.total_volume, m.turnover);
    println!(
        "  peak IM / MM      {:>14.4} / {:.4}   ({:.4} % / {:.4} % of equity)",
        m.peak_im, m.peak_mm, m.peak_imr_pct, m.peak_mmr_pct
    );
    println!("  time in market    {:>14.2} %", m.time_in_market_pct);
    println!("  orders rejected   {:>14}", m.orders_rejected);
    println!("  min dist. to liq. {:>14} %", opt(m.min_liq_distance_pct, 4));
    println!(
        "  final positions   long {} @ {:.6}, short {} @ {:.6}",
        m.final_long_size, m.final_long_entry, m.final_short_size, m.final_short_entry
    );
    match m.liquidation_ts_ms {
        Some(ts) => println!("  LIQUIDATED at {}", format_iso(ts)),
        None => println!("  not liquidated"),
    }
}
