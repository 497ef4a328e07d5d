//! The folds of a walk-forward sweep, derived from its walk record once every run is in:
//! per fold, the combination chosen on the train window, its two out-of-sample values and its
//! out-of-sample rank; overall, the stitched out-of-sample equity, the walk-forward efficiency
//! and how often the choice changed, for `select = "best"` and `"plateau"` side by side.
//! Written as `<out>.folds.parquet` (one row per fold) by the sweep, or by `merge` for shards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde::Serialize;

use super::companion::CompanionKind;
use super::periods::companion_path;
use super::spec::SweepSpec;
use super::walk_forward::WalkPlan;
use super::writer::{open_table, read_kv, Assembler};
use super::SweepError;
use crate::config::fields::ParamValue;
use crate::selection::walk_forward::{choose, rank_from_top, Folds, Select};
use crate::time::DAY_MS;

/// A year of 365.25 days, ms (the annualisation of the metrics).
const YEAR_MS: f64 = 365.25 * DAY_MS as f64;

/// `<out without .parquet>.folds.parquet`.
pub fn folds_path(out: &Path) -> PathBuf {
    companion_path(out, "folds")
}

/// One fold's choice by one method.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FoldChoice {
    /// Fold number, from 0.
    pub fold: u32,
    /// Train window `[start, end)`, UTC ms.
    pub train_start_ms: i64,
    /// End of the train window.
    pub train_end_ms: i64,
    /// Test window start (= the train window's end).
    pub test_start_ms: i64,
    /// End of the test window.
    pub test_end_ms: i64,
    /// The chosen combination (none when no run had an in-sample value).
    pub run_id: Option<u64>,
    /// Its axis values, as a JSON object.
    pub params: String,
    /// Its objective on the train window.
    pub in_sample: Option<f64>,
    /// Its objective redeployed on the test window (started flat).
    pub oos_redeployed: Option<f64>,
    /// Its objective on the test-window part of its run from the train window's start.
    pub oos_continuous: Option<f64>,
    /// Its return on the train window, %.
    pub in_sample_return_pct: Option<f64>,
    /// Its redeployed return on the test window, %.
    pub oos_return_pct: Option<f64>,
    /// Its continuous return over the test window, %.
    pub oos_continuous_return_pct: Option<f64>,
    /// Rank of its redeployed objective among every combination redeployed on the test
    /// window (1 = best, ties averaged).
    pub oos_rank: Option<f64>,
    /// Combinations ranked on the test window.
    pub oos_ranked: u64,
}

/// The overall figures of one selection method.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodSummary {
    /// `"best"` or `"plateau"`.
    pub select: &'static str,
    /// Per fold.
    pub folds: Vec<FoldChoice>,
    /// The stitched redeployed out-of-sample equity: the initial balance compounded by each
    /// fold's redeployed return, `(test window end, equity)`.
    pub stitched_equity: Vec<(i64, f64)>,
    /// Return of the stitched equity, %.
    pub stitched_return_pct: f64,
    /// Mean annualised redeployed out-of-sample return over mean annualised in-sample return
    /// (none when the in-sample mean is 0).
    pub efficiency: Option<f64>,
    /// Folds whose choice differs from the previous fold's.
    pub choice_changes: u32,
    /// Mean out-of-sample rank over the folds (1 = best).
    pub mean_oos_rank: Option<f64>,
}

/// Everything a walk-forward sweep reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkForwardReport {
    /// Durations as written: train, test, step.
    pub train: String,
    /// Test window length as written.
    pub test: String,
    /// Step as written.
    pub step: String,
    /// Anchored train windows.
    pub anchored: bool,
    /// The objective.
    pub objective: &'static str,
    /// The method the sweep file chose.
    pub select: &'static str,
    /// The folds.
    pub windows: Folds,
    /// The chosen method first, then the other.
    pub methods: [MethodSummary; 2],
}

/// The plan recorded in a walk record's metadata (for `merge`, which has no data).
///
/// # Errors
/// The walk record is missing, unreadable or has no fold list.
pub fn plan_from_file(out: &Path, spec: &SweepSpec) -> Result<WalkPlan, SweepError> {
    let walk = CompanionKind::Walk.path(out);
    let kv = read_kv(&walk)?;
    let folds = kv
        .iter()
        .find(|(k, _)| k == "gridsweep.folds")
        .and_then(|(_, v)| serde_json::from_str::<Folds>(v).ok())
        .ok_or_else(|| {
            SweepError::Merge(format!("{} has no fold list: rerun the sweep", walk.display()))
        })?;
    let spec = spec
        .walk_forward
        .clone()
        .ok_or_else(|| SweepError::Merge("the sweep file has no [walk_forward] section".into()))?;
    Ok(WalkPlan { spec, folds })
}

/// The walk record of `out` as `[figure][fold][run_id]` (NaN where missing).
fn read_walk(out: &Path, runs: usize, folds: usize) -> Result<Vec<Vec<Vec<f64>>>, SweepError> {
    let path = CompanionKind::Walk.path(out);
    let mut v = vec![vec![vec![f64::NAN; runs]; folds]; 6];
    let mut seen = 0usize;
    for batch in open_table(&path, 65_536, &CompanionKind::Walk.schema())? {
        let batch = batch.map_err(|e| SweepError::parquet("cannot read", &path, e.into()))?;
        let ids = batch.column(0).as_primitive::<UInt64Type>();
        let fold = batch.column(1).as_primitive::<UInt32Type>();
        for row in 0..batch.num_rows() {
            let (r, k) = (ids.value(row) as usize, fold.value(row) as usize);
            if r >= runs || k >= folds {
                return Err(SweepError::Merge(format!(
                    "{} holds run {r} fold {k}, outside {runs} runs × {folds} folds: rerun the sweep",
                    path.display()
                )));
            }
            for (c, col) in v.iter_mut().enumerate() {
                let a = batch.column(2 + c).as_primitive::<Float64Type>();
                col[k][r] = if a.is_null(row) { f64::NAN } else { a.value(row) };
            }
            seen += 1;
        }
    }
    if seen != runs * folds {
        return Err(SweepError::Merge(format!(
            "{} holds {seen} rows, not {runs} runs × {folds} folds: rerun the sweep",
            path.display()
        )));
    }
    Ok(v)
}

/// Derives the report of the walk-forward sweep whose results are `out`.
///
/// # Errors
/// The walk record is missing or does not hold every run of the sweep.
pub fn derive(
    out: &Path,
    spec: &SweepSpec,
    plan: &WalkPlan,
) -> Result<WalkForwardReport, SweepError> {
    let runs = usize::try_from(spec.space.len()).unwrap_or(usize::MAX);
    let nf = plan.folds.folds.len();
    let v = read_walk(out, runs, nf)?;
    let sizes: Vec<usize> = spec.space.axes().iter().map(|a| a.values.len()).collect();
    let wf = &plan.spec;
    let initial = spec.space.base().account.initial_balance;
    let method = |select: Select| -> Result<MethodSummary, SweepError> {
        let mut folds = Vec::with_capacity(nf);
        for (k, f) in plan.folds.folds.iter().enumerate() {
            let train: Vec<f64> = v[0][k].iter().map(|&x| wf.oriented(x)).collect();
            let test: Vec<f64> = v[2][k].iter().map(|&x| wf.oriented(x)).collect();
            let chosen = choose(&train, select, &sizes)
                .map_err(|e| SweepError::Setup(format!("walk-forward fold {k}: {e}")))?;
            let opt = |x: f64| (!x.is_nan()).then_some(x);
            let at = |c: usize| chosen.and_then(|r| opt(v[c][k][r]));
            let rank = chosen.and_then(|r| rank_from_top(&test, r));
            folds.push(FoldChoice {
                fold: k as u32,
                train_start_ms: f.train.start_ms,
                train_end_ms: f.train.end_ms,
                test_start_ms: f.test.start_ms,
                test_end_ms: f.test.end_ms,
                run_id: chosen.map(|r| r as u64),
                params: chosen.map_or_else(|| "{}".into(), |r| params_json(spec, r as u64)),
                in_sample: at(0),
                oos_redeployed: at(2),
                oos_continuous: at(4),
                in_sample_return_pct: at(1),
                oos_return_pct: at(3),
                oos_continuous_return_pct: at(5),
                oos_rank: rank.map(|r| r.0),
                oos_ranked: test.iter().filter(|x| !x.is_nan()).count() as u64,
            });
        }
        Ok(summarise(select, folds, initial))
    };
    let first = method(wf.select)?;
    let second = method(wf.select.other())?;
    Ok(WalkForwardReport {
        train: wf.written[0].clone(),
        test: wf.written[1].clone(),
        step: wf.written[2].clone(),
        anchored: wf.anchored,
        objective: wf.objective,
        select: wf.select.as_str(),
        windows: plan.folds.clone(),
        methods: [first, second],
    })
}

/// The overall figures of one method's fold choices, starting from `initial` balance.
pub fn summarise(select: Select, folds: Vec<FoldChoice>, initial: f64) -> MethodSummary {
    let mut equity = initial;
    let mut stitched = Vec::with_capacity(folds.len());
    let (mut oos, mut is, mut n_oos, mut n_is) = (0.0, 0.0, 0u32, 0u32);
    for f in &folds {
        if let Some(r) = f.oos_return_pct {
            equity *= 1.0 + r / 100.0;
            oos += r * YEAR_MS / (f.test_end_ms - f.test_start_ms) as f64;
            n_oos += 1;
        }
        if let Some(r) = f.in_sample_return_pct {
            is += r * YEAR_MS / (f.train_end_ms - f.train_start_ms) as f64;
            n_is += 1;
        }
        stitched.push((f.test_end_ms, equity));
    }
    let mean = |s: f64, n: u32| if n > 0 { s / f64::from(n) } else { f64::NAN };
    let (oos, is) = (mean(oos, n_oos), mean(is, n_is));
    let ranks: Vec<f64> = folds.iter().filter_map(|f| f.oos_rank).collect();
    MethodSummary {
        select: select.as_str(),
        stitched_equity: stitched,
        stitched_return_pct: (equity / initial - 1.0) * 100.0,
        efficiency: (is != 0.0 && is.is_finite() && oos.is_finite()).then(|| oos / is),
        choice_changes: folds.windows(2).filter(|w| w[0].run_id != w[1].run_id).count() as u32,
        mean_oos_rank: (!ranks.is_empty()).then(|| ranks.iter().sum::<f64>() / ranks.len() as f64),
        folds,
    }
}

/// The axis values of `run_id` as a JSON object, axes in file order.
fn params_json(spec: &SweepSpec, run_id: u64) -> String {
    let axes = spec.space.axes();
    let mut coords = vec![0usize; axes.len()];
    spec.space.coords(run_id, &mut coords);
    let fields: Vec<String> = axes
        .iter()
        .zip(&coords)
        .map(|(a, &c)| {
            let v = match &a.values[c] {
                ParamValue::Int(i) => serde_json::Value::from(*i),
                ParamValue::Float(x) => serde_json::Value::from(*x),
                ParamValue::Bool(b) => serde_json::Value::from(*b),
                ParamValue::Text(t) => serde_json::Value::from(t.as_str()),
            };
            format!("{}:{v}", serde_json::Value::from(a.name))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Column names of the folds file.
pub const COLUMNS: [&str; 17] = [
    "fold",
    "train_start_ms",
    "train_end_ms",
    "test_start_ms",
    "test_end_ms",
    "run_id",
    "params",
    "in_sample",
    "oos_redeployed",
    "oos_continuous",
    "in_sample_return_pct",
    "oos_return_pct",
    "oos_continuous_return_pct",
    "oos_rank",
    "oos_ranked",
    "other_select_run_id",
    "other_select_oos_redeployed",
];

/// The folds file's rows: the chosen method's folds, with the other method's choice beside.
fn folds_batch(r: &WalkForwardReport) -> RecordBatch {
    let [chosen, other] = &r.methods;
    let n = chosen.folds.len();
    let mut fold = UInt32Builder::with_capacity(n);
    let mut ms: Vec<Int64Builder> = (0..4).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut run = UInt64Builder::with_capacity(n);
    let mut params = StringBuilder::new();
    let mut vals: Vec<Float64Builder> = (0..7).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut ranked = UInt64Builder::with_capacity(n);
    let mut other_run = UInt64Builder::with_capacity(n);
    let mut other_val = Float64Builder::with_capacity(n);
    for (f, o) in chosen.folds.iter().zip(&other.folds) {
        fold.append_value(f.fold);
        for (b, x) in
            ms.iter_mut().zip([f.train_start_ms, f.train_end_ms, f.test_start_ms, f.test_end_ms])
        {
            b.append_value(x);
        }
        run.append_option(f.run_id);
        params.append_value(&f.params);
        let v = [
            f.in_sample,
            f.oos_redeployed,
            f.oos_continuous,
            f.in_sample_return_pct,
            f.oos_return_pct,
            f.oos_continuous_return_pct,
            f.oos_rank,
        ];
        for (b, x) in vals.iter_mut().zip(v) {
            b.append_option(x);
        }
        ranked.append_value(f.oos_ranked);
        other_run.append_option(o.run_id);
        other_val.append_option(o.oos_redeployed);
    }
    let mut fields = vec![Field::new(COLUMNS[0], DataType::UInt32, false)];
    fields.extend(COLUMNS[1..5].iter().map(|c| Field::new(*c, DataType::Int64, false)));
    fields.push(Field::new(COLUMNS[5], DataType::UInt64, true));
    fields.push(Field::new(COLUMNS[6], DataType::Utf8, false));
    fields.extend(COLUMNS[7..14].iter().map(|c| Field::new(*c, DataType::Float64, true)));
    fields.push(Field::new(COLUMNS[14], DataType::UInt64, false));
    fields.push(Field::new(COLUMNS[15], DataType::UInt64, true));
    fields.push(Field::new(COLUMNS[16], DataType::Float64, true));
    let mut cols: Vec<ArrayRef> = vec![Arc::new(fold.finish())];
    cols.extend(ms.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(run.finish()));
    cols.push(Arc::new(params.finish()));
    cols.extend(vals.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(ranked.finish()));
    cols.push(Arc::new(other_run.finish()));
    cols.push(Arc::new(other_val.finish()));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .expect("columns match the folds schema")
}

/// Derives the folds of `out` and writes `<out>.folds.parquet` (through a temporary file and
/// a rename), with the walk record's metadata plus `gridsweep.walk_forward` (the report as
/// JSON) and `gridsweep.table = "folds"`.
///
/// # Errors
/// As [`derive`], or a write error.
pub fn write_folds(
    out: &Path,
    spec: &SweepSpec,
    plan: &WalkPlan,
) -> Result<WalkForwardReport, SweepError> {
    let report = derive(out, spec, plan)?;
    let batch = folds_batch(&report);
    let mut kv: Vec<(String, String)> = read_kv(&CompanionKind::Walk.path(out))?
        .into_iter()
        .filter(|(k, _)| k != "gridsweep.table" && k != "gridsweep.folds")
        .collect();
    kv.push(("gridsweep.table".into(), "folds".into()));
    kv.push(("gridsweep.walk_forward".into(), serde_json::to_string(&report).unwrap_or_default()));
    let dest = folds_path(out);
    let tmp = crate::durable::temp_beside(&dest);
    let mut a = Assembler::create_with(&tmp, batch.schema(), batch.num_rows().max(1) as u64, kv)?;
    a.append(&batch)?;
    a.finish(&dest)?;
    Ok(report)
}

/// The report stored in the folds file of `out` (for a finished sweep).
///
/// # Errors
/// The folds file is missing or holds no report.
pub fn stored_report(out: &Path) -> Result<serde_json::Value, SweepError> {
    let path = folds_path(out);
    read_kv(&path)?
        .into_iter()
        .find(|(k, _)| k == "gridsweep.walk_forward")
        .and_then(|(_, v)| serde_json::from_str(&v).ok())
        .ok_or_else(|| {
            SweepError::Resume(format!("{} holds no walk-forward report", path.display()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(
        k: u32,
        train: (i64, i64),
        test: (i64, i64),
        run: u64,
        is_ret: f64,
        oos_ret: f64,
    ) -> FoldChoice {
        FoldChoice {
            fold: k,
            train_start_ms: train.0,
            train_end_ms: train.1,
            test_start_ms: test.0,
            test_end_ms: test.1,
            run_id: Some(run),
            params: "{}".into(),
            in_sample: Some(1.0),
            oos_redeployed: Some(0.5),
            oos_continuous: Some(0.4),
            in_sample_return_pct: Some(is_ret),
            oos_return_pct: Some(oos_ret),
            oos_continuous_return_pct: Some(oos_ret),
            oos_rank: Some(f64::from(k) + 1.0),
            oos_ranked: 9,
        }
    }

    #[test]
    fn stitched_equity_compounds_and_efficiency_annualises_each_window() {
        let d = crate::time::DAY_MS;
        let folds = vec![
            fold(0, (0, 14 * d), (14 * d, 21 * d), 3, 4.0, 10.0),
            fold(1, (7 * d, 21 * d), (21 * d, 28 * d), 3, 8.0, -5.0),
            fold(2, (14 * d, 28 * d), (28 * d, 35 * d), 5, 2.0, 2.0),
        ];
        let s = summarise(Select::Best, folds, 1000.0);
        // 1000 × 1.10 = 1100; × 0.95 = 1045; × 1.02 = 1065.9.
        let want = [1100.0, 1045.0, 1065.9];
        for (k, w) in want.iter().enumerate() {
            assert!((s.stitched_equity[k].1 - w).abs() < 1e-9, "{:?}", s.stitched_equity);
        }
        assert!((s.stitched_return_pct - 6.59).abs() < 1e-9);
        // Annualised means: OOS (10 − 5 + 2)/3 per 7 d, IS (4 + 8 + 2)/3 per 14 d:
        // efficiency = (7/3 / 7) / (14/3 / 14) = 1.
        assert!((s.efficiency.unwrap() - 1.0).abs() < 1e-12, "{:?}", s.efficiency);
        assert_eq!(s.choice_changes, 1);
        assert_eq!(s.mean_oos_rank, Some(2.0));
    }
}
