//! The per-period record of a sweep (`[record] period`): `<out>.periods.parquet`, one row per
//! run per period end with the run's equity there ([`crate::engine::PeriodRecorder`]),
//! rows in `run_id` then time order. Written block by block beside the result file, so it
//! is streamed, resumed and merged exactly like it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{Float64Builder, Int64Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::results::RunOutcome;

/// Column names of the periods file.
pub const COLUMNS: [&str; 3] = ["run_id", "period_end_ms", "equity"];

/// `<out without .parquet>.periods.parquet`.
pub fn periods_path(out: &Path) -> PathBuf {
    companion_path(out, "periods")
}

/// A file beside a result file: `<out without .parquet>.<kind>.parquet`.
pub fn companion_path(out: &Path, kind: &str) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    out.with_file_name(format!("{stem}.{kind}.parquet"))
}

/// The periods file's Arrow schema: `run_id` UInt64, `period_end_ms` Int64, `equity`
/// Float64 (null for a run that failed).
pub fn schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new(COLUMNS[0], DataType::UInt64, false),
            Field::new(COLUMNS[1], DataType::Int64, false),
            Field::new(COLUMNS[2], DataType::Float64, true),
        ]))
    })
    .clone()
}

/// The rows of `outcomes` for the period ends `ends`: each run's `periods` (equity per
/// end), or nulls for a run without them (a failed run).
pub fn to_batch(outcomes: &[RunOutcome], ends: &[i64]) -> RecordBatch {
    let n = outcomes.len() * ends.len();
    let (mut ids, mut ts, mut eq) = (
        UInt64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
    );
    for o in outcomes {
        for (k, &end) in ends.iter().enumerate() {
            ids.append_value(o.run_id);
            ts.append_value(end);
            eq.append_option(o.periods.get(k).copied());
        }
    }
    let cols: Vec<ArrayRef> =
        vec![Arc::new(ids.finish()), Arc::new(ts.finish()), Arc::new(eq.finish())];
    RecordBatch::try_new(schema(), cols).expect("columns match the periods schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_periods_file_sits_beside_the_results() {
        assert_eq!(periods_path(Path::new("r/x.parquet")), Path::new("r/x.periods.parquet"));
        assert_eq!(periods_path(Path::new("x")), Path::new("x.periods.parquet"));
    }
}
