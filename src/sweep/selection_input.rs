//! Reading a finished sweep for `validate`: its result file and its periods file
//! (`[record] period`) into the dense matrices the pure selection core takes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

use super::identity::Identity;
use super::periods::{periods_path, schema as periods_schema};
use super::writer::{open_results, open_table, read_kv};
use super::{SizeLimit, SweepError, SweepSpec};

/// A sweep's results as `validate` needs them.
#[derive(Clone, Debug)]
pub struct SelectionInput {
    /// The result file.
    pub results: PathBuf,
    /// The periods file.
    pub periods: PathBuf,
    /// Run ids in file order (every run of the file).
    pub run_ids: Vec<u64>,
    /// True for the runs with `status = "ok"`.
    pub ok: Vec<bool>,
    /// Requested metric columns, one value per run (NaN where null).
    pub metrics: BTreeMap<String, Vec<f64>>,
    /// Period ends (the same for every run).
    pub period_ends: Vec<i64>,
    /// Period length, ms (`gridsweep.period_ms`).
    pub period_ms: i64,
    /// Equity of the ok runs, row-major: `equity[i * T + t]` for the i-th ok run.
    pub equity: Vec<f64>,
    /// Initial balance of each ok run.
    pub initial_balance: Vec<f64>,
    /// Run ids of the ok runs.
    pub ok_run_ids: Vec<u64>,
    /// The sweep's axis sizes in enumeration order (first slowest).
    pub axis_sizes: Vec<usize>,
    /// True when the sweep sampled its runs (no grid neighbours, so no plateau score).
    pub sampled: bool,
    /// Runs in the whole sweep.
    pub total_runs: u64,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> SweepError {
    SweepError::Resume(format!("{}: {what}", path.display()))
}

impl SelectionInput {
    /// Reads `results` and its periods file, with the metric columns `metrics`.
    ///
    /// # Errors
    /// Not a gridsweep result file, no periods file (the message says to add `[record]`),
    /// an unknown metric, or periods that do not match the results.
    pub fn read(results: &Path, metrics: &[&str]) -> Result<SelectionInput, SweepError> {
        let kv = read_kv(results)?;
        let ident = Identity::from_kv(&kv)
            .map_err(|_| bad(results, "not a gridsweep sweep result (its metadata is missing)"))?;
        let periods = periods_path(results);
        if !periods.exists() {
            return Err(bad(
                results,
                format!(
                    "no periods file {} beside it: add `[record]` with `period = \"1d\"` to the \
                     sweep file and run the sweep again",
                    periods.display()
                ),
            ));
        }
        let spec =
            SweepSpec::parse(&ident.sweep_toml, Path::new("sweep.toml"), SizeLimit::default())
                .map_err(|e| bad(results, format!("its stored sweep file does not parse: {e}")))?;
        let axis_sizes = spec.space.axes().iter().map(|a| a.values.len()).collect();
        let (run_ids, ok, cols, balances) = read_results(results, metrics)?;
        let pkv = read_kv(&periods)?;
        let period_ms = pkv
            .iter()
            .find(|(k, _)| k == "gridsweep.period_ms")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .ok_or_else(|| {
                bad(&periods, "not a gridsweep periods file (no gridsweep.period_ms)")
            })?;
        if Identity::from_kv(&pkv).ok().is_none_or(|p| p.check_same(&ident).is_err()) {
            return Err(bad(&periods, format!("is not the periods file of {}", results.display())));
        }
        let mut input = SelectionInput {
            results: results.to_path_buf(),
            periods: periods.clone(),
            run_ids,
            ok,
            metrics: cols,
            period_ends: Vec::new(),
            period_ms,
            equity: Vec::new(),
            initial_balance: Vec::new(),
            ok_run_ids: Vec::new(),
            axis_sizes,
            sampled: spec.space.is_sampled(),
            total_runs: ident.total_runs,
        };
        input.read_periods(&periods, &balances)?;
        Ok(input)
    }

    /// Number of period ends per run.
    pub fn n_periods(&self) -> usize {
        self.period_ends.len()
    }

    fn read_periods(&mut self, path: &Path, balances: &[f64]) -> Result<(), SweepError> {
        let mismatch =
            |what: String| bad(path, format!("{what}; it does not match its result file"));
        let n = self.run_ids.len();
        let mut row = 0usize; // global row index
        let mut t_per_run: Option<usize> = None;
        let mut current: Vec<(i64, f64)> = Vec::new();
        let mut run = 0usize;
        let mut flush = |run: usize, current: &mut Vec<(i64, f64)>, me: &mut SelectionInput| {
            match t_per_run {
                None => {
                    t_per_run = Some(current.len());
                    me.period_ends = current.iter().map(|p| p.0).collect();
                }
                Some(t) if t != current.len() => {
                    return Err(mismatch(format!(
                        "run {} has {} periods, others {t}",
                        me.run_ids[run],
                        current.len()
                    )));
                }
                Some(_) => {
                    if current.iter().zip(&me.period_ends).any(|(a, b)| a.0 != *b) {
                        return Err(mismatch(format!(
                            "run {} has other period ends",
                            me.run_ids[run]
                        )));
                    }
                }
            }
            if me.ok[run] {
                if current.iter().any(|p| !p.1.is_finite()) {
                    return Err(mismatch(format!(
                        "ok run {} has a missing equity",
                        me.run_ids[run]
                    )));
                }
                me.equity.extend(current.iter().map(|p| p.1));
                me.initial_balance.push(balances[run]);
                me.ok_run_ids.push(me.run_ids[run]);
            }
            current.clear();
            Ok(())
        };
        for batch in open_table(path, 1 << 16, &periods_schema())? {
            let batch: RecordBatch =
                batch.map_err(|e| SweepError::parquet("cannot read", path, e.into()))?;
            let ids = batch.column(0).as_primitive::<UInt64Type>();
            let ts = batch.column(1).as_primitive::<Int64Type>();
            let eq = batch.column(2).as_primitive::<Float64Type>();
            for i in 0..batch.num_rows() {
                let id = ids.value(i);
                if run < n && id != self.run_ids[run] {
                    flush(run, &mut current, self)?;
                    run += 1;
                }
                if run >= n || id != self.run_ids[run] {
                    return Err(mismatch(format!(
                        "row {} is run {id}, not the next run of the result file",
                        row + 1
                    )));
                }
                current.push((ts.value(i), if eq.is_valid(i) { eq.value(i) } else { f64::NAN }));
                row += 1;
            }
        }
        if run < n && !current.is_empty() {
            flush(run, &mut current, self)?;
            run += 1;
        }
        if run != n {
            return Err(mismatch(format!("it holds {run} runs, the result file {n}")));
        }
        Ok(())
    }
}

/// Run ids, ok flags, the metric columns and the initial balances of a result file.
#[allow(clippy::type_complexity)]
fn read_results(
    path: &Path,
    metrics: &[&str],
) -> Result<(Vec<u64>, Vec<bool>, BTreeMap<String, Vec<f64>>, Vec<f64>), SweepError> {
    let (mut ids, mut ok, mut balances) = (Vec::new(), Vec::new(), Vec::new());
    let mut cols: BTreeMap<String, Vec<f64>> =
        metrics.iter().map(|m| (m.to_string(), Vec::new())).collect();
    for batch in open_results(path, 1 << 16)? {
        let batch = batch.map_err(|e| SweepError::parquet("cannot read", path, e.into()))?;
        let col = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| bad(path, format!("has no column `{name}`")))
        };
        let id = col("run_id")?.as_primitive::<UInt64Type>().clone();
        let status = col("status")?.as_string::<i32>().clone();
        let balance = col("initial_balance")?.as_primitive::<Float64Type>().clone();
        for i in 0..batch.num_rows() {
            ids.push(id.value(i));
            ok.push(status.value(i) == "ok");
            balances.push(balance.value(i));
        }
        for (name, out) in cols.iter_mut() {
            let c = col(name)?;
            let values: Vec<f64> = match c.data_type() {
                arrow_schema::DataType::Float64 => {
                    let a = c.as_primitive::<Float64Type>();
                    (0..a.len())
                        .map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN })
                        .collect()
                }
                arrow_schema::DataType::UInt64 => {
                    let a = c.as_primitive::<UInt64Type>();
                    (0..a.len())
                        .map(|i| if a.is_valid(i) { a.value(i) as f64 } else { f64::NAN })
                        .collect()
                }
                arrow_schema::DataType::Int64 => {
                    let a = c.as_primitive::<Int64Type>();
                    (0..a.len())
                        .map(|i| if a.is_valid(i) { a.value(i) as f64 } else { f64::NAN })
                        .collect()
                }
                other => {
                    return Err(bad(path, format!("column `{name}` is {other}, not a number")))
                }
            };
            out.extend(values);
        }
    }
    Ok((ids, ok, cols, balances))
}
