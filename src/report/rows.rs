//! The columns of a result file the report draws, gathered from its record batches.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// Per-run values of a sweep's result rows, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepRows {
    /// Run ids.
    pub run_id: Vec<u64>,
    /// True for `status = "ok"`.
    pub ok: Vec<bool>,
    /// True for liquidated runs (false for failed ones).
    pub liquidated: Vec<bool>,
    /// The objective metric (NaN where null).
    pub objective: Vec<f64>,
    /// `return_pct`.
    pub return_pct: Vec<f64>,
    /// `max_drawdown_pct`.
    pub max_drawdown_pct: Vec<f64>,
    /// `min_liq_distance_pct` (NaN where the run never had a liquidation price).
    pub min_liq_distance_pct: Vec<f64>,
    /// The distinct `tier_layer` values.
    pub tier_layers: Vec<String>,
    /// The distinct `model` values.
    pub models: Vec<String>,
}

/// Column `name` of `batch` as f64 (NaN for nulls).
///
/// # Errors
/// A missing or non-numeric column, named.
pub fn f64_column(batch: &RecordBatch, name: &str) -> Result<Vec<f64>, String> {
    let c = batch.column_by_name(name).ok_or_else(|| format!("has no column `{name}`"))?;
    let n = c.len();
    let v = |ok: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..n).map(|i| if c.is_valid(i) { ok(i) } else { f64::NAN }).collect()
    };
    Ok(match c.data_type() {
        DataType::Float64 => {
            let a = c.as_primitive::<Float64Type>();
            v(&|i| a.value(i))
        }
        DataType::UInt64 => {
            let a = c.as_primitive::<UInt64Type>();
            v(&|i| a.value(i) as f64)
        }
        DataType::Int64 => {
            let a = c.as_primitive::<Int64Type>();
            v(&|i| a.value(i) as f64)
        }
        DataType::UInt32 => {
            let a = c.as_primitive::<arrow_array::types::UInt32Type>();
            v(&|i| f64::from(a.value(i)))
        }
        other => return Err(format!("column `{name}` is {other}, not a number")),
    })
}

fn text_column(batch: &RecordBatch, name: &str) -> Result<Vec<String>, String> {
    let c = batch.column_by_name(name).ok_or_else(|| format!("has no column `{name}`"))?;
    let a = c.as_string_opt::<i32>().ok_or_else(|| format!("column `{name}` is not text"))?;
    Ok((0..a.len()).map(|i| a.value(i).to_string()).collect())
}

impl SweepRows {
    /// Adds the rows of one result batch, with `objective` as the objective column.
    ///
    /// # Errors
    /// A missing column (the message names it).
    pub fn observe(&mut self, batch: &RecordBatch, objective: &str) -> Result<(), String> {
        let ids = batch.column_by_name("run_id").ok_or("has no column `run_id`")?;
        let ids = ids.as_primitive_opt::<UInt64Type>().ok_or("column `run_id` is not UInt64")?;
        self.run_id.extend(ids.values().iter().copied());
        let status = text_column(batch, "status")?;
        self.ok.extend(status.iter().map(|s| s == "ok"));
        let liq = batch.column_by_name("liquidated").ok_or("has no column `liquidated`")?;
        let liq = liq.as_boolean_opt().ok_or("column `liquidated` is not Boolean")?;
        self.liquidated.extend((0..liq.len()).map(|i| liq.is_valid(i) && liq.value(i)));
        self.objective.extend(f64_column(batch, objective)?);
        self.return_pct.extend(f64_column(batch, "return_pct")?);
        self.max_drawdown_pct.extend(f64_column(batch, "max_drawdown_pct")?);
        self.min_liq_distance_pct.extend(f64_column(batch, "min_liq_distance_pct")?);
        for (name, set) in [("tier_layer", &mut self.tier_layers), ("model", &mut self.models)] {
            for v in text_column(batch, name)? {
                if !set.contains(&v) {
                    set.push(v);
                }
            }
        }
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.run_id.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.run_id.is_empty()
    }
}
