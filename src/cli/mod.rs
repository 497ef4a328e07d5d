//! Command-line interface: argument definitions and dispatch.

pub mod import_cmd;
pub mod tiers_cmd;
