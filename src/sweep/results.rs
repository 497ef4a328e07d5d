//! The result table: one row per run, its Arrow schema, and the file metadata.
//!
//! Columns: `run_id`, `param_hash`, `sweep` (the sweep's name), `symbol`, every registry parameter in registry order (typed:
//! Int64, Float64, Boolean, Utf8), every metric in [`Metrics::fields`] order (nullable: an
//! errored run has no metrics), then `status` (`"ok"`/`"error"`), `error` (nullable) and
//! `tier_layer` (where the run's tier table came from). The schema is documented in
//! docs/sweeps.md ("Results").
//! Plain types only, so pyarrow, DuckDB and Polars read the file without extra steps.

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::space::param_hash;
use crate::config::fields::{self, ParamKind, ParamValue, PARAMS};
use crate::engine::RunParams;
use crate::metrics::{MetricValue, Metrics};
use crate::tiers::TierLayer;

/// The outcome of one run: its parameters and metrics, or why it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// Flat index of the combination.
    pub run_id: u64,
    /// The run's parameters.
    pub params: RunParams,
    /// Metrics, or the error text of a failed run.
    pub result: Result<Metrics, String>,
    /// Where the run's tier table came from (`snapshot`, `generic_default`, …).
    pub tier_layer: TierLayer,
    /// Equity at each period end when the sweep records periods (empty otherwise, and for a
    /// failed run).
    pub periods: Vec<f64>,
    /// The run's figures on each walk-forward fold (empty without `[walk_forward]`).
    pub walk: Vec<super::walk_forward::FoldFigures>,
    /// How a constrained or halving run ended (all empty for a plain run).
    pub end: RunEnd,
}

/// How a run ended under `[constraints]` or a halving search: the extra columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunEnd {
    /// `(pruned_reason, pruned_ts_ms)` when a constraint stopped the run.
    pub pruned: Option<(String, i64)>,
    /// Halving: the run was not among the best of its last rung.
    pub eliminated: bool,
    /// Halving: the last rung the run reached (0 = the first).
    pub rung: Option<u32>,
    /// Halving: the end of the window the metrics cover, ms.
    pub window_end_ms: Option<i64>,
}

/// What every row of a sweep carries besides its outcome: the sweep's name and its symbol
/// (run `r` is on symbol `r div combos`; [`super::symbols::slot`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowLabels {
    /// The sweep's name.
    pub sweep: String,
    /// The symbol names, in file order.
    pub symbols: Vec<String>,
    /// Parameter combinations per symbol.
    pub combos: u64,
}

impl RowLabels {
    /// Labels of a one-symbol sweep (every run on `symbol`).
    pub fn one(sweep: &str, symbol: &str) -> RowLabels {
        RowLabels { sweep: sweep.into(), symbols: vec![symbol.into()], combos: u64::MAX }
    }

    /// The symbol of `run_id`.
    pub fn symbol(&self, run_id: u64) -> &str {
        let s = super::symbols::slot(run_id, self.combos).symbol;
        self.symbols.get(s).map_or("", String::as_str)
    }
}

/// Metadata key prefix of every key gridsweep writes.
pub const META_PREFIX: &str = "gridsweep.";

/// Metrics that are also parameters and equal to them by definition; the parameter column
/// holds them (a Parquet file must not have two columns of one name).
pub const METRICS_IN_PARAM_COLUMNS: &[&str] = &["initial_balance"];

/// True when metric `name` gets its own column.
fn metric_has_column(name: &str) -> bool {
    !METRICS_IN_PARAM_COLUMNS.contains(&name)
}

/// Column names that are not parameters or metrics.
pub const RUN_ID: &str = "run_id";
/// Parameter-hash column.
pub const PARAM_HASH: &str = "param_hash";
/// The sweep's name, in every row (stacked result files stay apart).
pub const SWEEP: &str = "sweep";
/// The run's symbol.
pub const SYMBOL: &str = super::symbols::SYMBOL_COLUMN;
/// Status column (`"ok"` / `"error"`).
pub const STATUS: &str = "status";
/// Error-text column.
pub const ERROR: &str = "error";
/// Tier-layer column: where the run's tier table came from.
pub const TIER_LAYER: &str = "tier_layer";
/// The constraint a pruned run broke, with the value (`max_drawdown_pct 30.41 > 30`).
pub const PRUNED_REASON: &str = "pruned_reason";
/// The tick time at which a pruned run stopped.
pub const PRUNED_TS_MS: &str = "pruned_ts_ms";
/// Halving: the last rung the run reached.
pub const RUNG: &str = "rung";
/// Halving: the end of the window the row's metrics cover.
pub const WINDOW_END_MS: &str = "window_end_ms";

fn metric_type(v: MetricValue) -> DataType {
    match v {
        MetricValue::F64(_) | MetricValue::OptF64(_) => DataType::Float64,
        MetricValue::U64(_) => DataType::UInt64,
        MetricValue::OptI64(_) => DataType::Int64,
        MetricValue::Bool(_) => DataType::Boolean,
        MetricValue::Text(_) => DataType::Utf8,
    }
}

fn param_type(k: ParamKind) -> DataType {
    match k {
        ParamKind::Int => DataType::Int64,
        ParamKind::Float => DataType::Float64,
        ParamKind::Bool => DataType::Boolean,
        ParamKind::Text => DataType::Utf8,
    }
}

/// The result schema (built once).
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut f = vec![
                Field::new(RUN_ID, DataType::UInt64, false),
                Field::new(PARAM_HASH, DataType::Utf8, false),
                Field::new(SWEEP, DataType::Utf8, false),
                Field::new(SYMBOL, DataType::Utf8, false),
            ];
            f.extend(PARAMS.iter().map(|p| Field::new(p.name, param_type(p.kind), false)));
            f.extend(
                Metrics::default()
                    .fields()
                    .iter()
                    .filter(|(name, _)| metric_has_column(name))
                    .map(|(name, v)| Field::new(*name, metric_type(*v), true)),
            );
            f.push(Field::new(STATUS, DataType::Utf8, false));
            f.push(Field::new(ERROR, DataType::Utf8, true));
            f.push(Field::new(TIER_LAYER, DataType::Utf8, false));
            f.push(Field::new(PRUNED_REASON, DataType::Utf8, true));
            f.push(Field::new(PRUNED_TS_MS, DataType::Int64, true));
            f.push(Field::new(RUNG, DataType::Int64, true));
            f.push(Field::new(WINDOW_END_MS, DataType::Int64, true));
            Arc::new(Schema::new(f))
        })
        .clone()
}

/// Names of the numeric metrics (valid `--rank-by` values).
pub fn numeric_metrics() -> Vec<&'static str> {
    Metrics::default()
        .fields()
        .iter()
        .filter(|(_, v)| !matches!(v, MetricValue::Bool(_) | MetricValue::Text(_)))
        .map(|(n, _)| *n)
        .collect()
}

/// Builds the record batch of `outcomes` (one row each, in the given order), labelled by
/// `labels`.
///
/// # Panics
/// Never for outcomes built by the runner (every column has a row per outcome).
pub fn to_batch(outcomes: &[RunOutcome], labels: &RowLabels) -> RecordBatch {
    let n = outcomes.len();
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema().fields().len());
    let mut ids = UInt64Builder::with_capacity(n);
    let mut hashes = StringBuilder::with_capacity(n, n * 16);
    for o in outcomes {
        ids.append_value(o.run_id);
        hashes.append_value(param_hash(&o.params));
    }
    cols.push(Arc::new(ids.finish()));
    cols.push(Arc::new(hashes.finish()));
    let mut sweep = StringBuilder::with_capacity(n, n * labels.sweep.len());
    let mut symbol = StringBuilder::with_capacity(n, n * 8);
    for o in outcomes {
        sweep.append_value(&labels.sweep);
        symbol.append_value(labels.symbol(o.run_id));
    }
    cols.push(Arc::new(sweep.finish()));
    cols.push(Arc::new(symbol.finish()));
    for spec in PARAMS {
        let vals = outcomes.iter().map(|o| fields::get_param(&o.params, spec.name));
        cols.push(match spec.kind {
            ParamKind::Int => {
                let mut b = Int64Builder::with_capacity(n);
                vals.for_each(|v| match v {
                    Some(ParamValue::Int(i)) => b.append_value(i),
                    _ => b.append_value(0),
                });
                Arc::new(b.finish())
            }
            ParamKind::Float => {
                let mut b = Float64Builder::with_capacity(n);
                vals.for_each(|v| match v {
                    Some(ParamValue::Float(x)) => b.append_value(x),
                    Some(ParamValue::Int(i)) => b.append_value(i as f64),
                    _ => b.append_value(f64::NAN),
                });
                Arc::new(b.finish())
            }
            ParamKind::Bool => {
                let mut b = BooleanBuilder::with_capacity(n);
                vals.for_each(|v| b.append_value(matches!(v, Some(ParamValue::Bool(true)))));
                Arc::new(b.finish())
            }
            ParamKind::Text => {
                let mut b = StringBuilder::with_capacity(n, n * 8);
                vals.for_each(|v| match v {
                    Some(ParamValue::Text(t)) => b.append_value(t),
                    Some(other) => b.append_value(other.to_string()),
                    None => b.append_value(""),
                });
                Arc::new(b.finish())
            }
        });
    }
    let rows: Vec<Option<_>> =
        outcomes.iter().map(|o| o.result.as_ref().ok().map(Metrics::fields)).collect();
    let template = Metrics::default().fields();
    for (i, (name, kind)) in template.iter().enumerate() {
        if !metric_has_column(name) {
            continue;
        }
        let cells = rows.iter().map(|r| r.as_ref().map(|f| f[i].1));
        cols.push(match kind {
            MetricValue::F64(_) | MetricValue::OptF64(_) => {
                let mut b = Float64Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Some(MetricValue::F64(x)) => b.append_value(x),
                        Some(MetricValue::OptF64(Some(x))) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            MetricValue::U64(_) => {
                let mut b = UInt64Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Some(MetricValue::U64(x)) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            MetricValue::OptI64(_) => {
                let mut b = Int64Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Some(MetricValue::OptI64(Some(x))) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            MetricValue::Bool(_) => {
                let mut b = BooleanBuilder::with_capacity(n);
                for c in cells {
                    match c {
                        Some(MetricValue::Bool(x)) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            MetricValue::Text(_) => {
                let mut b = StringBuilder::with_capacity(n, n * 4);
                for c in cells {
                    match c {
                        Some(MetricValue::Text(x)) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        });
    }
    let mut status = StringBuilder::with_capacity(n, n * 5);
    let mut error = StringBuilder::with_capacity(n, 0);
    for o in outcomes {
        match &o.result {
            Ok(_) if o.end.pruned.is_some() => {
                status.append_value("pruned");
                error.append_null();
            }
            Ok(_) if o.end.eliminated => {
                status.append_value("eliminated");
                error.append_null();
            }
            Ok(_) => {
                status.append_value("ok");
                error.append_null();
            }
            Err(e) => {
                status.append_value("error");
                error.append_value(e);
            }
        }
    }
    cols.push(Arc::new(status.finish()));
    cols.push(Arc::new(error.finish()));
    let mut layer = StringBuilder::with_capacity(n, n * 8);
    for o in outcomes {
        layer.append_value(o.tier_layer.as_str());
    }
    cols.push(Arc::new(layer.finish()));
    let mut reason = StringBuilder::with_capacity(n, 0);
    let (mut at, mut rung, mut window_end) = (
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    for o in outcomes {
        reason.append_option(o.end.pruned.as_ref().map(|p| p.0.as_str()));
        at.append_option(o.end.pruned.as_ref().map(|p| p.1));
        rung.append_option(o.end.rung.map(i64::from));
        window_end.append_option(o.end.window_end_ms);
    }
    cols.push(Arc::new(reason.finish()));
    cols.push(Arc::new(at.finish()));
    cols.push(Arc::new(rung.finish()));
    cols.push(Arc::new(window_end.finish()));
    RecordBatch::try_new(schema(), cols).expect("columns match the result schema")
}

/// Writer properties of result files and block segments: zstd, row groups of `group_rows`,
/// `created_by` without the parquet-rs version (so files do not change with it), and `kv`.
///
/// # Panics
/// If `group_rows` is 0.
pub fn writer_properties(group_rows: u64, kv: Vec<(String, String)>) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
        .set_max_row_group_row_count(Some(usize::try_from(group_rows).unwrap_or(usize::MAX)))
        .set_created_by(format!("gridsweep {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::Array;

    #[test]
    fn test_schema_has_every_param_and_metric() {
        let s = schema();
        let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
        let metrics = Metrics::default().fields().len();
        assert_eq!(names.len(), 4 + PARAMS.len() + metrics - METRICS_IN_PARAM_COLUMNS.len() + 7);
        let mut uniq = names.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), names.len(), "column names must be unique");
        assert_eq!(&names[..5], ["run_id", "param_hash", "sweep", "symbol", "model"]);
        assert_eq!(names[4 + PARAMS.len()], "total_trades");
        assert_eq!(
            &names[names.len() - 7..],
            [
                "status",
                "error",
                "tier_layer",
                "pruned_reason",
                "pruned_ts_ms",
                "rung",
                "window_end_ms"
            ]
        );
        assert!(numeric_metrics().contains(&"calmar_ratio"));
        assert!(!numeric_metrics().contains(&"liquidated"));
    }

    #[test]
    fn test_only_listed_metrics_share_a_name_with_a_parameter() {
        // A new metric named like a parameter must be listed (if equal by definition) or
        // renamed: this test makes that a decision, not an accident.
        let clashes: Vec<&str> = Metrics::default()
            .fields()
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| PARAMS.iter().any(|p| p.name == *n))
            .collect();
        assert_eq!(clashes, METRICS_IN_PARAM_COLUMNS);
        let m = Metrics { initial_balance: 123.0, ..Metrics::default() };
        let mut p = RunParams::default();
        p.account.initial_balance = 123.0;
        let b = to_batch(
            &[RunOutcome {
                run_id: 0,
                params: p,
                result: Ok(m),
                tier_layer: TierLayer::Snapshot,
                periods: Vec::new(),
                walk: Vec::new(),
                end: RunEnd::default(),
            }],
            &RowLabels::one("s", "BTCUSDT"),
        );
        let col = b.column_by_name("initial_balance").unwrap();
        assert_eq!(col.as_primitive::<arrow_array::types::Float64Type>().value(0), 123.0);
    }

    /// A plain ok run with default parameters and metrics.
    fn ok_outcome(run_id: u64) -> RunOutcome {
        RunOutcome {
            run_id,
            params: RunParams::default(),
            result: Ok(Metrics::default()),
            tier_layer: TierLayer::Snapshot,
            periods: Vec::new(),
            walk: Vec::new(),
            end: RunEnd::default(),
        }
    }

    #[test]
    fn test_error_rows_have_null_metrics() {
        let failed = RunOutcome { result: Err("boom".into()), ..ok_outcome(1) };
        let b = to_batch(&[ok_outcome(0), failed], &RowLabels::one("s", "BTCUSDT"));
        assert_eq!(b.num_rows(), 2);
        let calmar = b.column_by_name("return_pct").unwrap();
        assert_eq!(calmar.null_count(), 1);
        assert_eq!(b.column_by_name("error").unwrap().null_count(), 1);
    }

    #[test]
    fn test_rows_carry_the_sweep_and_their_symbol() {
        // Two combinations per symbol: runs 0, 1 on AUSDT, 2, 3 on BUSDT.
        let labels = RowLabels {
            sweep: "s1".into(),
            symbols: vec!["AUSDT".into(), "BUSDT".into()],
            combos: 2,
        };
        let b = to_batch(&[ok_outcome(1), ok_outcome(2), ok_outcome(3)], &labels);
        let text = |c: &str| -> Vec<String> {
            let a = b.column_by_name(c).unwrap().as_string::<i32>();
            (0..a.len()).map(|i| a.value(i).to_string()).collect()
        };
        assert_eq!(text("symbol"), ["AUSDT", "BUSDT", "BUSDT"]);
        assert_eq!(text("sweep"), ["s1", "s1", "s1"]);
    }
}
