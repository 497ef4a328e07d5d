//! Re-running one row of a finished sweep (`gridsweep show`, the report's equity charts):
//! the parameters come from the sweep file recorded in the result file and the run's
//! `run_id` ([`super::space::Space::params`], as the sweep did), the data from the same
//! loader ([`SweepSetup::resolve`]), checked against the recorded fingerprint, and the run
//! from the sweep's own runner ([`super::runner::run_params_with`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};

use super::identity::Identity;
use super::results::{to_batch, RunEnd, RunOutcome, RUNG, RUN_ID, WINDOW_END_MS};
use super::runner::run_params_with;
use super::setup::SweepSetup;
use super::writer::{open_results, read_kv};
use super::{SizeLimit, SweepError, SweepSpec};
use crate::engine::{Recorder, RunParams};
use crate::metrics::Metrics;

/// A finished sweep, ready to re-run any of its rows.
#[derive(Debug)]
pub struct Recorded {
    /// The result file.
    pub results: PathBuf,
    /// Its identity (metadata).
    pub identity: Identity,
    /// The recorded sweep, its data loaded again and checked.
    pub setup: SweepSetup,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> SweepError {
    SweepError::Setup(format!("{}: {what}", path.display()))
}

/// The identity and the sweep recorded in a result file (no data is read).
///
/// # Errors
/// Not a gridsweep result file, or a stored sweep file that no longer parses.
pub fn recorded_spec(results: &Path) -> Result<(Identity, SweepSpec), SweepError> {
    let kv = read_kv(results)?;
    let identity = Identity::from_kv(&kv).map_err(|k| {
        bad(results, format!("not a gridsweep sweep result (no {k} in its metadata)"))
    })?;
    let origin = PathBuf::from(format!("{}.toml", identity.name));
    let limit = SizeLimit { force: true, ..SizeLimit::default() };
    let spec = SweepSpec::parse(&identity.sweep_toml, &origin, limit)
        .map_err(|e| bad(results, format!("its recorded sweep file does not parse: {e}")))?;
    Ok((identity, spec))
}

impl Recorded {
    /// Opens `results`, loads the data its sweep read and checks the data fingerprint.
    ///
    /// # Errors
    /// A missing candle (or mark, funding) file, or data whose fingerprint differs from the
    /// recorded one: the message names the file(s) and the recorded fingerprint.
    pub fn open(results: &Path) -> Result<Recorded, SweepError> {
        let (identity, spec) = recorded_spec(results)?;
        let recorded = &identity.data_fingerprint;
        for (role, path) in spec.symbols.iter().flat_map(|d| d.input_files(None)) {
            if !path.exists() {
                return Err(bad(
                    results,
                    format!(
                        "cannot re-run its runs: {role} {} is missing (the sweep read it; the \
                         result file records data fingerprint {recorded}); restore it at that \
                         path, relative to the working directory",
                        path.display()
                    ),
                ));
            }
        }
        let files = spec
            .symbols
            .iter()
            .flat_map(|d| d.candles.iter().chain(&d.mark_candles))
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut setup = SweepSetup::resolve(spec).map_err(|e| {
            bad(results, format!("cannot load the data of its sweep ({files}; recorded fingerprint {recorded}): {e}"))
        })?;
        if &setup.data_fingerprint != recorded {
            return Err(bad(
                results,
                format!(
                    "the data changed since the sweep: {files} now has fingerprint {}, the \
                     result file records {recorded}; restore the candle file(s) the sweep read",
                    setup.data_fingerprint
                ),
            ));
        }
        if setup.tiers_json != identity.tiers_json {
            // The tier source moved on (a refreshed cache): use the tables the sweep used.
            let v: serde_json::Value = serde_json::from_str(&identity.tiers_json)
                .map_err(|e| bad(results, format!("its recorded tier table is not JSON: {e}")))?;
            let several = setup.symbols.len() > 1;
            for (d, s) in setup.spec.symbols.iter().zip(setup.symbols.iter_mut()) {
                let symbol = &d.instrument.symbol;
                let own = if several { &v[symbol.as_str()] } else { &v };
                let table = crate::tiers::cache_format::table_from_dict(symbol, &own["tiers"])
                    .map_err(|e| {
                        bad(results, format!("its recorded tier table of {symbol} is invalid: {e}"))
                    })?;
                s.tiers = Arc::new(table);
            }
            setup.tiers_json = identity.tiers_json.clone();
        }
        Ok(Recorded { results: results.to_path_buf(), identity, setup })
    }

    /// The parameters of `run_id`, as the sweep enumerated them.
    ///
    /// # Errors
    /// A `run_id` outside the sweep.
    pub fn params(&self, run_id: u64) -> Result<RunParams, String> {
        let total = self.setup.spec.runs();
        if run_id >= total {
            return Err(format!(
                "run {run_id} is not in sweep {} (its run ids are 0 to {})",
                self.identity.name,
                total - 1
            ));
        }
        self.setup.spec.params(run_id)
    }

    /// Re-runs `run_id` as the sweep ran it, with `rec` attached: under the sweep's
    /// constraints, and over the candles up to `window_end_ms` when the row says the run
    /// stopped at a halving rung there. Returns the parameters, the metrics and where a
    /// constraint stopped the run.
    ///
    /// # Errors
    /// A `run_id` outside the sweep, or the run's own error (as its error row says).
    pub fn run<R: Recorder>(
        &self,
        run_id: u64,
        window_end_ms: Option<i64>,
        rec: &mut R,
    ) -> Result<Rerun, String> {
        let params = self.params(run_id)?;
        let symbol = self.setup.spec.slot(run_id).symbol;
        let ctx = self.setup.context(symbol);
        let window = match window_end_ms {
            Some(end) => self.setup.window(symbol).between(i64::MIN, end),
            None => self.setup.window(symbol),
        };
        let limits = self.setup.spec.constraints;
        if limits.is_empty() {
            let metrics = run_params_with(&params, window, &ctx, rec)?;
            return Ok(Rerun { params, metrics, pruned: None });
        }
        let mut lim = super::constraints::Limited { inner: rec, limits, stop: None };
        let metrics = run_params_with(&params, window, &ctx, &mut lim)?;
        Ok(Rerun { params, metrics, pruned: lim.stop.map(|v| (v.reason(), v.ts_ms)) })
    }

    /// The result row of `run_id` (a one-row batch), read from the result file.
    ///
    /// # Errors
    /// An unreadable file, or no row with that `run_id` (e.g. a shard file without it).
    pub fn row(&self, run_id: u64) -> Result<RecordBatch, SweepError> {
        for batch in open_results(&self.results, 1 << 14)? {
            let batch =
                batch.map_err(|e| SweepError::parquet("cannot read", &self.results, e.into()))?;
            let ids = batch
                .column_by_name(RUN_ID)
                .ok_or_else(|| bad(&self.results, "has no run_id column"))?
                .as_primitive::<UInt64Type>();
            if let Some(i) = (0..ids.len()).find(|&i| ids.value(i) == run_id) {
                return Ok(batch.slice(i, 1));
            }
        }
        Err(bad(&self.results, format!("holds no row for run {run_id}")))
    }
}

/// The columns where the re-run `outcome` and the recorded `row` differ (every column of the
/// result schema but `tier_layer`, compared bit for bit); empty when they are equal.
pub fn differing_columns(
    row: &RecordBatch,
    outcome: &RunOutcome,
    labels: &super::results::RowLabels,
) -> Vec<String> {
    let fresh = to_batch(std::slice::from_ref(outcome), labels);
    let mut out = Vec::new();
    for (f, col) in fresh.schema().fields().iter().zip(fresh.columns()) {
        if f.name() == super::results::TIER_LAYER {
            continue;
        }
        let Some(old) = row.column_by_name(f.name()) else {
            out.push(f.name().clone());
            continue;
        };
        if old.to_data() != col.to_data() {
            out.push(f.name().clone());
        }
    }
    out
}

/// A re-run row: its parameters, metrics and where a constraint stopped it.
#[derive(Clone, Debug)]
pub struct Rerun {
    /// The parameters.
    pub params: RunParams,
    /// The metrics.
    pub metrics: Metrics,
    /// `(pruned_reason, pruned_ts_ms)` when a constraint stopped the run.
    pub pruned: Option<(String, i64)>,
}

/// The halving columns of a result row (`rung`, `window_end_ms`, and whether its status is
/// `eliminated`); `pruned` is left empty (a re-run finds it).
pub fn row_end(row: &RecordBatch) -> RunEnd {
    use arrow_array::types::Int64Type;
    let rung = row
        .column_by_name(RUNG)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .and_then(|c| (!c.is_empty() && !c.is_null(0)).then(|| c.value(0)))
        .and_then(|r| u32::try_from(r).ok());
    let window_end_ms = row
        .column_by_name(WINDOW_END_MS)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .and_then(|c| (!c.is_empty() && !c.is_null(0)).then(|| c.value(0)));
    let eliminated = row
        .column_by_name("status")
        .and_then(|c| c.as_string_opt::<i32>())
        .is_some_and(|c| !c.is_empty() && c.value(0) == "eliminated");
    RunEnd { pruned: None, eliminated, rung, window_end_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::TierLayer;

    fn outcome(ret: f64) -> RunOutcome {
        RunOutcome {
            run_id: 3,
            params: RunParams::default(),
            result: Ok(Metrics { return_pct: ret, ..Metrics::default() }),
            tier_layer: TierLayer::Snapshot,
            periods: Vec::new(),
            walk: Vec::new(),
            end: RunEnd::default(),
        }
    }

    #[test]
    fn test_differing_columns_compares_bits_and_ignores_only_the_tier_layer() {
        let l = super::super::results::RowLabels::one("s", "BTCUSDT");
        let row = to_batch(&[outcome(1.5)], &l);
        assert!(differing_columns(&row, &outcome(1.5), &l).is_empty());
        // One ulp away is a difference.
        let next = f64::from_bits(1.5f64.to_bits() + 1);
        assert_eq!(differing_columns(&row, &outcome(next), &l), ["return_pct"]);
        let other_layer = RunOutcome { tier_layer: TierLayer::GenericDefault, ..outcome(1.5) };
        assert!(differing_columns(&row, &other_layer, &l).is_empty());
        let failed = RunOutcome { result: Err("boom".into()), ..outcome(1.5) };
        let d = differing_columns(&row, &failed, &l);
        assert!(d.contains(&"status".to_string()) && d.contains(&"return_pct".to_string()));
    }
}
