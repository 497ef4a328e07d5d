//! Configuration: the parameter registry and the backtest config file.

pub mod backtest;
pub mod fields;
