//! Resolve, then run: the tier table and the candles, resolved once before any run and
//! shared read-only. Runs never open files or touch the network.

use super::spec::SweepSpec;
use super::SweepError;
use crate::candles::{CandleSlice, Candles};
use crate::engine::RunContext;
use crate::instrument::{Instrument, StepSource};
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
    /// SHA-256 of the decoded candles ([`Candles::fingerprint`]), and of the funding series
    /// when one is given ([`data_fingerprint`]).
    pub data_fingerprint: String,
    /// The funding series of the window (`funding = { file = … }`), or `None`.
    pub funding: Option<crate::config::common::FundingEvents>,
    /// Warning about the funding series (stretches without entries), to print once.
    pub funding_warning: Option<String>,
    /// The per-period record's periods (`[record] period`), if the sweep asks for it.
    pub record: Option<RecordPeriods>,
    /// The walk-forward plan (`[walk_forward]`), if the sweep asks for one.
    pub walk: Option<super::walk_forward::WalkPlan>,
}

/// The periods of a sweep's per-period record: length and window, and their ends.
#[derive(Clone, Debug)]
pub struct RecordPeriods {
    /// Period length, ms.
    pub period_ms: i64,
    /// Window start (the sweep's `start`, or the first candle's open time).
    pub start_ms: i64,
    /// Window end (the sweep's `end`, or a minute after the last candle's open time).
    pub end_ms: i64,
    /// Every period end ([`crate::engine::periods::period_ends`]).
    pub ends: Vec<i64>,
}

/// The data's identity for resume and merge: the candles' fingerprint alone; with a funding
/// series or a saved instrument (inputs outside the sweep file), SHA-256 of the tag
/// `gridsweep-data-v1`, the candles' fingerprint, each funding entry's `ts_ms` and rate bits
/// (little-endian), then the tag `instrument` and the instrument's tick size, quantity step
/// and funding interval as text.
pub fn data_fingerprint(
    candles: &Candles,
    funding: Option<&[(i64, f64)]>,
    instrument: &Instrument,
) -> String {
    use sha2::{Digest, Sha256};
    let saved = instrument.funding_interval_min.is_some()
        || [instrument.steps_from.tick_size, instrument.steps_from.qty_step]
            .contains(&StepSource::Saved);
    if funding.is_none() && !saved {
        return candles.fingerprint().to_string();
    }
    let mut h = Sha256::new();
    h.update(b"gridsweep-data-v1\0");
    h.update(candles.fingerprint().as_bytes());
    for (t, r) in funding.unwrap_or_default() {
        h.update(t.to_le_bytes());
        h.update(r.to_bits().to_le_bytes());
    }
    if saved {
        let i = instrument;
        h.update(format!(
            "instrument\0{}\0{}\0{:?}",
            i.tick_size, i.qty_step, i.funding_interval_min
        ));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
        let data_fingerprint =
            data_fingerprint(&data.candles, data.funding.as_deref(), &data.instrument);
        let w = data.window();
        let start_ms = spec.data.start_ms.unwrap_or(w.ts_ms[0]);
        let end_ms = spec.data.end_ms.unwrap_or(w.ts_ms[w.len() - 1] + 60_000);
        let walk = match &spec.walk_forward {
            Some(wf) => {
                let step = Some(wf.step_ms);
                let folds = crate::selection::walk_forward::folds(
                    start_ms,
                    end_ms,
                    wf.train_ms,
                    wf.test_ms,
                    step,
                    wf.anchored,
                )
                .map_err(|e| SweepError::Setup(format!("[walk_forward]: {e}")))?;
                if folds.folds.is_empty() {
                    return Err(SweepError::Setup(
                        "[walk_forward]: no fold fits the data window; shorten train or test"
                            .into(),
                    ));
                }
                Some(super::walk_forward::WalkPlan { spec: wf.clone(), folds })
            }
            None => None,
        };
        let record = spec.record_ms.map(|period_ms| {
            let ends = crate::engine::periods::period_ends(start_ms, end_ms, period_ms).collect();
            RecordPeriods { period_ms, start_ms, end_ms, ends }
        });
        Ok(SweepSetup {
            spec,
            candles: data.candles,
            tiers: data.tiers.tiers,
            tier_layer: data.tiers.layer,
            tiers_json,
            data_fingerprint,
            funding: data.funding,
            funding_warning: data.funding_warning,
            record,
            walk,
        })
    }

    /// The candles of the sweep's window.
    pub fn window(&self) -> CandleSlice<'_> {
        self.candles.window(self.spec.data.start_ms, self.spec.data.end_ms)
    }

    /// The shared run context (the funding series, or the constant rate without one).
    pub fn context(&self) -> RunContext<'_> {
        RunContext {
            instrument: &self.spec.data.instrument,
            tiers: &self.tiers,
            funding_series: self.funding.as_deref(),
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
