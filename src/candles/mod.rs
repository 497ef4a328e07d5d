//! 1-minute OHLCV candles: column slices shared read-only by every run.
//!
//! [`Candles`] owns validated columns decoded once from Parquet ([`parquet_io`], with
//! positional reads in the private `pread` module, which says why not a memory map: the crate
//! has no `unsafe` code); the engine borrows them as a [`CandleSlice`] ([`Candles::slice`],
//! [`Candles::window`]). [`import`] turns Binance CSV dumps and Bybit kline JSON into that
//! Parquet format; [`validate`] holds the row rules and gap reporting
//! ([`CandleSlice::gaps`]: what a run's window is missing, for the caller to warn about).

//!
//! The Parquet reader and writer ([`parquet_io`], `pages`, `pread`) and [`open`] need the
//! `parquet` feature; [`CandleSlice`] (module `slice`), [`Candles`], [`Columns`], [`import`]
//! and [`validate`] do not.

pub mod error;
pub mod import;
#[cfg(feature = "parquet")]
mod pages;
#[cfg(feature = "parquet")]
pub mod parquet_io;
#[cfg(feature = "parquet")]
mod pread;
mod slice;
pub mod store;
pub mod validate;

pub use error::{CandleError, Loc, Problem};
pub use slice::{CandleSlice, MarkSlice};
#[cfg(feature = "parquet")]
pub use store::open;
pub use store::{Candles, Columns};
pub use validate::GapReport;
