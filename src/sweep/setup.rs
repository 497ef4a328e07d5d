//! Resolve, then run: the tier table and the candles, resolved once before any run and
//! shared read-only. Runs never open files or touch the network.

use super::spec::SweepSpec;
use super::SweepError;
use crate::candles::{CandleSlice, Candles};
use crate::engine::RunContext;
use crate::instrument::{Instrument, StepSource};
use crate::tiers::cache_format::tiers_to_json;
use crate::tiers::{SharedTiers, TierLayer};

/// One symbol's data, resolved once before any run and shared read-only.
#[derive(Debug)]
pub struct SymbolData {
    /// All candles of the symbol's files, decoded once.
    pub candles: Candles,
    /// The symbol's frozen tier table.
    pub tiers: SharedTiers,
    /// Where the table came from.
    pub tier_layer: TierLayer,
    /// The table as JSON (`tiers_to_json`).
    pub tiers_json: String,
    /// The symbol's data fingerprint ([`data_fingerprint`]).
    pub data_fingerprint: String,
    /// The funding series of the window (`funding = { file = … }`), or `None`.
    pub funding: Option<crate::config::common::FundingEvents>,
    /// Warning about the funding series (stretches without entries), to print once.
    pub funding_warning: Option<String>,
}

/// Everything a sweep's runs share: the spec, and each symbol's candles and frozen tier table.
#[derive(Debug)]
pub struct SweepSetup {
    /// The validated sweep.
    pub spec: SweepSpec,
    /// Each symbol's data, in the order of `spec.symbols`.
    pub symbols: Vec<SymbolData>,
    /// The tier tables as JSON for the result metadata: the one symbol's table, or an object
    /// of every symbol's, keyed by symbol (`{"BTCUSDT": …, "ETHUSDT": …}`).
    pub tiers_json: String,
    /// The data's identity: the one symbol's [`data_fingerprint`], or SHA-256 of the tag
    /// `gridsweep-symbols-v1` and each symbol's name and fingerprint, in file order.
    pub data_fingerprint: String,
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
    /// Resolves each symbol's tier table (once) and opens its candles (once).
    ///
    /// # Errors
    /// Unreadable or invalid candles, a candle file of another symbol, an empty window, or
    /// a tier source that cannot be resolved; with several symbols the message names the
    /// symbol's table.
    pub fn resolve(spec: SweepSpec) -> Result<SweepSetup, SweepError> {
        let several = spec.symbols.len() > 1;
        let mut symbols = Vec::with_capacity(spec.symbols.len());
        for d in &spec.symbols {
            let data = d.load(None, "sweep").map_err(|e| {
                SweepError::Setup(if several {
                    format!("[symbols.{}]: {e}", d.instrument.symbol)
                } else {
                    e
                })
            })?;
            symbols.push(SymbolData {
                tiers_json: tiers_to_json(&data.tiers.tiers).to_string(),
                data_fingerprint: data_fingerprint(
                    &data.candles,
                    data.funding.as_deref(),
                    &data.instrument,
                ),
                candles: data.candles,
                tiers: data.tiers.tiers,
                tier_layer: data.tiers.layer,
                funding: data.funding,
                funding_warning: data.funding_warning,
            });
        }
        let (tiers_json, data_fingerprint) = if several {
            combined_identity(&spec, &symbols)
        } else {
            (symbols[0].tiers_json.clone(), symbols[0].data_fingerprint.clone())
        };
        // A symbol's window: its `start`, or its first candle; its `end`, or a minute after
        // its last candle.
        let bounds = |i: usize| {
            let d = &spec.symbols[i];
            let w = symbols[i].candles.window(d.start_ms, d.end_ms);
            (d.start_ms.unwrap_or(w.ts_ms[0]), d.end_ms.unwrap_or(w.ts_ms[w.len() - 1] + 60_000))
        };
        let (start_ms, end_ms) = bounds(0);
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
        if spec.record_ms.is_some() {
            // One set of period ends for every run: the symbols must share the window.
            for (i, d) in spec.symbols.iter().enumerate().skip(1) {
                let own = bounds(i);
                if own != (start_ms, end_ms) {
                    return Err(SweepError::Setup(format!(
                        "[record]: every symbol's runs need the same period ends, and \
                         {}'s window ({} .. {}) differs from {}'s ({} .. {}); give `start` and \
                         `end` at the top of the sweep file",
                        d.instrument.symbol,
                        crate::time::format_iso(own.0),
                        crate::time::format_iso(own.1),
                        spec.symbols[0].instrument.symbol,
                        crate::time::format_iso(start_ms),
                        crate::time::format_iso(end_ms)
                    )));
                }
            }
        }
        let record = spec.record_ms.map(|period_ms| {
            let ends = crate::engine::periods::period_ends(start_ms, end_ms, period_ms).collect();
            RecordPeriods { period_ms, start_ms, end_ms, ends }
        });
        Ok(SweepSetup { spec, symbols, tiers_json, data_fingerprint, record, walk })
    }

    /// The candles of symbol `s`'s window (`s` indexes `spec.symbols`).
    pub fn window(&self, s: usize) -> CandleSlice<'_> {
        let d = &self.spec.symbols[s];
        self.symbols[s].candles.window(d.start_ms, d.end_ms)
    }

    /// Symbol `s`'s run context: its instrument, tier table and funding series.
    pub fn context(&self, s: usize) -> RunContext<'_> {
        RunContext {
            instrument: &self.spec.symbols[s].instrument,
            tiers: &self.symbols[s].tiers,
            funding_series: self.symbols[s].funding.as_deref(),
        }
    }

    /// The row labels of the result table: the sweep's name and the symbol names.
    pub fn labels(&self) -> super::results::RowLabels {
        super::results::RowLabels {
            sweep: self.spec.name.clone(),
            symbols: self.spec.symbol_names(),
            combos: self.spec.space.len(),
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
            price_source: self.price_source(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            block_runs,
            total_runs: self.spec.runs(),
            axes: self.spec.space.axes().iter().map(|a| a.name).collect::<Vec<_>>().join(","),
        }
    }

    /// `"mark"` when every symbol's data has a mark-price path, `"last"` when none has,
    /// else `"mark,last"` per symbol in file order (e.g. `"mark,last"`).
    fn price_source(&self) -> String {
        let each: Vec<&str> = self
            .symbols
            .iter()
            .map(|s| if s.candles.has_mark() { "mark" } else { "last" })
            .collect();
        if each.iter().all(|p| *p == each[0]) {
            each[0].to_string()
        } else {
            each.join(",")
        }
    }

    /// Axis values above a symbol's tier-table maximum leverage (bybit model): such runs
    /// fail with an error row. Returns `(symbol, values, max)` for a warning before the
    /// sweep starts, per symbol with such values.
    pub fn leverage_over_max(&self) -> Vec<(String, Vec<f64>, f64)> {
        let Some(axis) = self.spec.space.axes().iter().find(|a| a.name == "leverage") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (d, s) in self.spec.symbols.iter().zip(&self.symbols) {
            let max = s.tiers.max_leverage();
            let over: Vec<f64> = axis
                .values
                .iter()
                .filter_map(|v| match v {
                    crate::config::fields::ParamValue::Float(x) if *x > max => Some(*x),
                    _ => None,
                })
                .collect();
            if !over.is_empty() {
                out.push((d.instrument.symbol.clone(), over, max));
            }
        }
        out
    }
}

/// The tier JSON object and the data fingerprint of a sweep over several symbols.
fn combined_identity(spec: &SweepSpec, symbols: &[SymbolData]) -> (String, String) {
    use sha2::{Digest, Sha256};
    let mut tiers = serde_json::Map::new();
    let mut h = Sha256::new();
    h.update(b"gridsweep-symbols-v1\0");
    for (d, s) in spec.symbols.iter().zip(symbols) {
        let name = &d.instrument.symbol;
        let json: serde_json::Value =
            serde_json::from_str(&s.tiers_json).unwrap_or(serde_json::Value::Null);
        tiers.insert(name.clone(), json);
        h.update(name.as_bytes());
        h.update(b"\0");
        h.update(s.data_fingerprint.as_bytes());
        h.update(b"\0");
    }
    let fp = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (serde_json::Value::Object(tiers).to_string(), fp)
}
