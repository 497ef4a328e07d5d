//! Resolve, then run: the tier table and the candles, resolved once before any run and
//! shared read-only. Runs never open files or touch the network.

use std::path::PathBuf;

use super::spec::{sha256_hex, SweepSpec};
use super::SweepError;
use crate::candles::{CandleSlice, Candles};
use crate::engine::RunContext;
use crate::tiers::cache_format::tiers_to_json;
use crate::tiers::source::resolve_for_run;
use crate::tiers::{SharedTiers, TierLayer};
use crate::time::format_iso;

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

/// What identifies a sweep's results: stored in every result file, block segment and
/// partial-results manifest, and compared on resume and merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Sweep name.
    pub name: String,
    /// Sweep file text.
    pub sweep_toml: String,
    /// SHA-256 of the sweep file text.
    pub sweep_sha256: String,
    /// Tier table JSON.
    pub tiers_json: String,
    /// Candle fingerprint.
    pub data_fingerprint: String,
    /// gridsweep version.
    pub version: String,
    /// Runs per block.
    pub block_runs: u64,
    /// Runs in the whole sweep.
    pub total_runs: u64,
    /// Axis names, comma-separated, in enumeration order.
    pub axes: String,
}

impl Identity {
    /// As key-value metadata (keys `gridsweep.*`), in a fixed order.
    pub fn to_kv(&self) -> Vec<(String, String)> {
        let k = |s: &str| format!("gridsweep.{s}");
        vec![
            (k("sweep_name"), self.name.clone()),
            (k("version"), self.version.clone()),
            (k("sweep_sha256"), self.sweep_sha256.clone()),
            (k("data_fingerprint"), self.data_fingerprint.clone()),
            (k("tiers_sha256"), sha256_hex(self.tiers_json.as_bytes())),
            (k("total_runs"), self.total_runs.to_string()),
            (k("block_runs"), self.block_runs.to_string()),
            (k("axes"), self.axes.clone()),
            (k("tiers_json"), self.tiers_json.clone()),
            (k("sweep_toml"), self.sweep_toml.clone()),
        ]
    }

    /// Reads an identity back from key-value metadata.
    ///
    /// # Errors
    /// The name of the first missing or malformed key.
    pub fn from_kv(kv: &[(String, String)]) -> Result<Identity, String> {
        let get = |s: &str| {
            let key = format!("gridsweep.{s}");
            kv.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).ok_or(key)
        };
        let num = |s: &str| -> Result<u64, String> {
            get(s)?.parse().map_err(|_| format!("gridsweep.{s}"))
        };
        Ok(Identity {
            name: get("sweep_name")?,
            sweep_toml: get("sweep_toml")?,
            sweep_sha256: get("sweep_sha256")?,
            tiers_json: get("tiers_json")?,
            data_fingerprint: get("data_fingerprint")?,
            version: get("version")?,
            block_runs: num("block_runs")?,
            total_runs: num("total_runs")?,
            axes: get("axes")?,
        })
    }

    /// A sentence naming the first difference from `other` (the current sweep), if any.
    pub fn mismatch(&self, current: &Identity) -> Option<String> {
        let short = |s: &str| s.chars().take(12).collect::<String>();
        if self.sweep_sha256 != current.sweep_sha256 {
            return Some(format!(
                "the sweep file changed (sha256 {}… then, {}… now)",
                short(&self.sweep_sha256),
                short(&current.sweep_sha256)
            ));
        }
        if self.data_fingerprint != current.data_fingerprint {
            return Some("the candle data changed (different data fingerprint)".into());
        }
        if self.tiers_json != current.tiers_json {
            return Some(
                "the risk-limit tier table changed (e.g. the tier cache was refreshed)".into(),
            );
        }
        if self.version != current.version {
            return Some(format!(
                "they were written by gridsweep {} and this is {}",
                self.version, current.version
            ));
        }
        if self.block_runs != current.block_runs {
            return Some(format!(
                "they use --block-runs {} and this run uses {}",
                self.block_runs, current.block_runs
            ));
        }
        if self.total_runs != current.total_runs {
            return Some("the number of runs differs".into());
        }
        None
    }
}

impl SweepSetup {
    /// Resolves the tier table (once, for the sweep's symbol) and opens the candles.
    ///
    /// # Errors
    /// Unreadable or invalid candles, a candle file of another symbol, an empty window, or
    /// a tier source that cannot be resolved.
    pub fn resolve(spec: SweepSpec) -> Result<SweepSetup, SweepError> {
        let symbol = spec.instrument.symbol.clone();
        let (tiers, tier_layer) =
            resolve_for_run(&spec.tiers.to_source(), &symbol).map_err(|e| {
                SweepError::Setup(format!("cannot resolve risk-limit tiers for {symbol}: {e}"))
            })?;
        let candles = Candles::open_parquet(&spec.candles).map_err(|e| {
            SweepError::Setup(format!("cannot open candles {}: {e}", paths(&spec.candles)))
        })?;
        if let Some(s) = candles.symbol() {
            if s != symbol {
                return Err(SweepError::Setup(format!(
                    "the candles in {} are {s}, but the sweep's symbol is {symbol}; fix \
                     `symbol` or `candles` in the sweep file",
                    paths(&spec.candles)
                )));
            }
        }
        let window = candles.window(spec.start_ms, spec.end_ms);
        if window.is_empty() {
            let range = match (candles.first_ts_ms(), candles.last_ts_ms()) {
                (Some(a), Some(b)) => format!("{} .. {}", format_iso(a), format_iso(b)),
                _ => "nothing".into(),
            };
            return Err(SweepError::Setup(format!(
                "no candles between start and end; the data covers {range}: fix `start`/`end` \
                 in the sweep file"
            )));
        }
        let tiers_json = tiers_to_json(&tiers).to_string();
        let data_fingerprint = candles.fingerprint().to_string();
        Ok(SweepSetup { spec, candles, tiers, tier_layer, tiers_json, data_fingerprint })
    }

    /// The candles of the sweep's window.
    pub fn window(&self) -> CandleSlice<'_> {
        self.candles.window(self.spec.start_ms, self.spec.end_ms)
    }

    /// The shared run context (no funding series: the constant rate applies).
    pub fn context(&self) -> RunContext<'_> {
        RunContext { instrument: &self.spec.instrument, tiers: &self.tiers, funding_series: None }
    }

    /// The identity of this sweep's results with blocks of `block_runs`.
    pub fn identity(&self, block_runs: u64) -> Identity {
        Identity {
            name: self.spec.name.clone(),
            sweep_toml: self.spec.text.clone(),
            sweep_sha256: self.spec.text_sha256.clone(),
            tiers_json: self.tiers_json.clone(),
            data_fingerprint: self.data_fingerprint.clone(),
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

fn paths(p: &[PathBuf]) -> String {
    p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident() -> Identity {
        Identity {
            name: "s".into(),
            sweep_toml: "symbol = \"LTCUSDT\"\n".into(),
            sweep_sha256: "aa".repeat(32),
            tiers_json: "{}".into(),
            data_fingerprint: "ff".repeat(32),
            version: "0.1.0".into(),
            block_runs: 256,
            total_runs: 1000,
            axes: "grid_step,leverage".into(),
        }
    }

    #[test]
    fn test_identity_round_trips_through_metadata() {
        let i = ident();
        assert_eq!(Identity::from_kv(&i.to_kv()), Ok(i.clone()));
        let kv: Vec<_> =
            i.to_kv().into_iter().filter(|(k, _)| k != "gridsweep.tiers_json").collect();
        assert_eq!(Identity::from_kv(&kv), Err("gridsweep.tiers_json".to_string()));
    }

    #[test]
    fn test_mismatch_names_what_changed() {
        let a = ident();
        assert_eq!(a.mismatch(&a), None);
        let b = Identity { sweep_sha256: "bb".repeat(32), ..a.clone() };
        assert!(a
            .mismatch(&b)
            .unwrap()
            .starts_with("the sweep file changed (sha256 aaaaaaaaaaaa…"));
        let c = Identity { tiers_json: "[]".into(), ..a.clone() };
        assert!(a.mismatch(&c).unwrap().contains("tier table changed"));
        let d = Identity { data_fingerprint: "00".into(), ..a.clone() };
        assert!(a.mismatch(&d).unwrap().contains("candle data changed"));
        let e = Identity { block_runs: 4, ..a.clone() };
        assert!(a.mismatch(&e).unwrap().contains("--block-runs 256"));
    }
}
