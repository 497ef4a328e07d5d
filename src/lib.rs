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

pub mod candles;
pub mod cli;
pub mod config;
pub mod decimal;
pub mod engine;
pub mod instrument;
pub mod metrics;
pub mod output;
pub mod sweep;
pub mod tickfile;
pub mod tiers;
pub mod time;
