//! Configuration: the parameter registry and the backtest config file.

pub mod backtest;
pub mod common;
pub mod fields;
