//! Resolve, then run: the tier table and the candles, resolved once before any run and
//! shared read-only. Runs never open files or touch the network.

use super::spec::SweepSpec;
use super::SweepError;
use crate::candles::{CandleSlice, Candles};
use crate::engine::RunContext;
use crate::tiers::cache_format::tiers_to_json;
use crate::tiers::{SharedTiers, TierLayer};

/// Everything a sweep's runs share: the spec, the candles, the frozen tier table.
#[derive(Debug)]
pub struct SweepSetup {
    /// The validated sweep.
    pub spec: SweepSpec,
    /// All candles of the files, decoded once.
    pub candles: Candles,
    /// The frozen tier table.
    pub tiers: SharedTiers,
    /// Where the table came from.
    pub tier_layer: TierLayer,
    /// The table as JSON (`tiers_to_json`), for the result metadata.
    pub tiers_json: String,
    /// SHA-256 of the decoded candles ([`Candles::fingerprint`]).
    pub data_fingerprint: String,
}

pub use super::identity::{Identity, Mismatch};

impl SweepSetup {
    /// Resolves the tier table (once, for the sweep's symbol) and opens the candles.
    ///
    /// # Errors
    /// Unreadable or invalid candles, a candle file of another symbol, an empty window, or
    /// a tier source that cannot be resolved.
    pub fn resolve(spec: SweepSpec) -> Result<SweepSetup, SweepError> {
        let data = spec.data.load(None, "sweep").map_err(SweepError::Setup)?;
        let tiers_json = tiers_to_json(&data.tiers.tiers).to_string();
        let data_fingerprint = data.candles.fingerprint().to_string();
        Ok(SweepSetup {
            spec,
            candles: data.candles,
            tiers: data.tiers.tiers,
            tier_layer: data.tiers.layer,
            tiers_json,
            data_fingerprint,
        })
    }

    /// The candles of the sweep's window.
    pub fn window(&self) -> CandleSlice<'_> {
        self.candles.window(self.spec.data.start_ms, self.spec.data.end_ms)
    }

    /// The shared run context (no funding series: the constant rate applies).
    pub fn context(&self) -> RunContext<'_> {
        RunContext {
            instrument: &self.spec.data.instrument,
            tiers: &self.tiers,
            funding_series: None,
        }
    }

    /// The identity of this sweep's results with blocks of `block_runs`.
    pub fn identity(&self, block_runs: u64) -> Identity {
        Identity {
            name: self.spec.name.clone(),
            sweep_toml: self.spec.text.clone(),
            sweep_sha256: self.spec.text_sha256.clone(),
            tiers_json: self.tiers_json.clone(),
            data_fingerprint: self.data_fingerprint.clone(),
            price_source: if self.candles.has_mark() { "mark" } else { "last" }.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            block_runs,
            total_runs: self.spec.space.len(),
            axes: self.spec.space.axes().iter().map(|a| a.name).collect::<Vec<_>>().join(","),
        }
    }

    /// Axis values above the tier table's maximum leverage (bybit model): such runs fail
    /// with an error row. Returns `(value, max)` pairs for a warning before the sweep starts.
    pub fn leverage_over_max(&self) -> Option<(Vec<f64>, f64)> {
        let max = self.tiers.max_leverage();
        let axis = self.spec.space.axes().iter().find(|a| a.name == "leverage")?;
        let over: Vec<f64> = axis
            .values
            .iter()
            .filter_map(|v| match v {
                crate::config::fields::ParamValue::Float(x) if *x > max => Some(*x),
                _ => None,
            })
            .collect();
        (!over.is_empty()).then_some((over, max))
    }
}
