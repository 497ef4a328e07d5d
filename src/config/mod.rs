//! Configuration: the parameter registry, the backtest config file, and the front end
//! (data section, parameters, loader) it shares with sweep files.

pub mod backtest;
pub mod common;
pub mod fields;
