//! # gridsweep
//!
//! Parallel sweep and optimisation harness for grid trading strategies on Bybit USDT
//! perpetuals.
//!
//! # Overview
//! The pipeline is *config → tiers + candles (resolved once) → engine (pure) → metrics →
//! output*. The pure core ([`engine`], [`metrics`], [`tiers`] lookups, [`decimal`]) does no
//! I/O, reads no clock and uses no randomness; the I/O edges ([`candles`] store, tier
//! provider, [`output`] writers, the CLI) sit around it.
//!
//! # Example
//! One backtest of the origin's grid on a few hand-made candles:
//!
//! ```
//! use gridsweep::candles::CandleSlice;
//! use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
//! use gridsweep::instrument::Instrument;
//! use gridsweep::tiers::builtin::builtin_tiers;
//!
//! let ts = [0, 60_000, 120_000];
//! let (open, high, low, close) = ([100.0, 99.5, 99.0], [100.2, 99.6, 100.9], [99.4, 98.8, 98.9], [99.5, 99.0, 100.8]);
//! let candles = CandleSlice { ts_ms: &ts, open: &open, high: &high, low: &low, close: &close, mark: None };
//!
//! let instrument = Instrument::resolve("LTCUSDT", None, None).unwrap(); // tick 0.01, lot 0.1
//! let tiers = builtin_tiers("LTCUSDT");
//! let ctx = RunContext { instrument: &instrument, tiers: &tiers, funding_series: None };
//! let mut params = RunParams::default();
//! params.account.model = Model::Origin;
//! params.grid.grid_count = 10;
//! params.grid.grid_step = 0.5;
//! params.grid.amount = Amount::parse("100").unwrap(); // 100 USDT per order
//!
//! let metrics = Engine::new().run_candles(candles, &params, &ctx, &mut NoRecorder).unwrap();
//! assert_eq!(metrics.ticks, 12); // four ticks per candle
//! assert!(metrics.total_trades > 0);
//! let equity = metrics.initial_balance + metrics.total_realized_pnl + metrics.total_unrealized_pnl
//!     - metrics.total_commission + metrics.total_funding;
//! assert!((metrics.final_balance - equity).abs() < 1e-9);
//! ```
//!
//! # The command line is not part of the library
//! The `gridsweep` binary's argument parsing and dispatch live in the binary; the library
//! exports no `cli` module:
//!
//! ```compile_fail
//! use gridsweep::cli::tiers_cmd::TiersCommand;
//! ```

#[cfg(feature = "net")]
pub mod bybit;
pub mod candles;
pub mod config;
pub mod decimal;
pub mod durable;
pub mod engine;
pub mod funding;
pub mod instrument;
pub mod metrics;
#[cfg(feature = "parquet")]
pub mod output;
#[cfg(feature = "report")]
pub mod report;
pub mod selection;
pub mod sweep;
pub mod tickfile;
pub mod tiers;
pub mod time;
