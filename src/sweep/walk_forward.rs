//! Walk-forward sweeps (`[walk_forward]`): the sweep file's section, the folds of the data
//! window, and each combination's per-fold record.
//!
//! Every combination is run, per fold, three more times beside its full-window run: on the
//! train window (started flat), on the test window (started flat: **redeployed**), and from the
//! train window's start through the test window (**continuous**: the bot that was running
//! during training and kept running). The figures of each run on each fold are one row of the
//! walk record (`<out>.walk.parquet`), written block by block like the result file, so resume
//! and shards work as for plain sweeps; the fold choices are derived from it once every run is
//! in ([`super::folds`]).

#[cfg(feature = "parquet")]
use std::sync::{Arc, OnceLock};

#[cfg(feature = "parquet")]
use arrow_array::builder::{Float64Builder, UInt32Builder, UInt64Builder};
#[cfg(feature = "parquet")]
use arrow_array::{ArrayRef, RecordBatch};
#[cfg(feature = "parquet")]
use arrow_schema::{DataType, Field, Schema, SchemaRef};

#[cfg(feature = "parquet")]
use super::results::RunOutcome;
#[cfg(feature = "parquet")]
use crate::candles::CandleSlice;
#[cfg(feature = "parquet")]
use crate::engine::RunContext;
#[cfg(feature = "parquet")]
use crate::engine::RunParams;
use crate::metrics::accum::{FinalState, MetricsAccumulator};
use crate::metrics::{MetricValue, Metrics};
#[cfg(feature = "parquet")]
use crate::selection::walk_forward::Fold;
use crate::selection::walk_forward::{Folds, Select};

/// Objectives a walk-forward can choose by: they are defined on an equity path alone, so the
/// continuous run's test-window part has them too.
pub const OBJECTIVES: &[&str] =
    &["calmar_ratio", "return_pct", "net_pnl", "sharpe_ratio", "sortino_ratio", "max_drawdown_pct"];

/// Objectives where smaller is better.
const LOWER_IS_BETTER: &[&str] = &["max_drawdown_pct"];

/// The `[walk_forward]` section of a sweep file.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkForwardSpec {
    /// Train window length, ms.
    pub train_ms: i64,
    /// Test window length, ms.
    pub test_ms: i64,
    /// Step between folds, ms (default: `test_ms`).
    pub step_ms: i64,
    /// Every train window starts at the sweep's start.
    pub anchored: bool,
    /// The objective folds choose by (one of [`OBJECTIVES`]).
    pub objective: &'static str,
    /// How the combination is chosen.
    pub select: Select,
    /// The durations as written (`train`, `test`, `step`), for messages and output.
    pub written: [String; 3],
}

impl WalkForwardSpec {
    /// True when a smaller objective is better.
    pub fn ascending(&self) -> bool {
        LOWER_IS_BETTER.contains(&self.objective)
    }

    /// `value` oriented so that higher is better (NaN stays NaN).
    pub fn oriented(&self, value: f64) -> f64 {
        if self.ascending() {
            -value
        } else {
            value
        }
    }
}

/// Reads `[walk_forward]`; the problems as `(key path, message)`.
///
/// # Errors
/// Every problem found: unknown keys, missing or malformed durations, an unknown objective or
/// selection method.
pub fn parse(v: &toml::Value) -> Result<WalkForwardSpec, Vec<(String, String)>> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut err = |k: &str, m: String| errs.push((format!("walk_forward{k}"), m));
    let Some(t) = v.as_table() else {
        err("", "must be a table, e.g. [walk_forward] train = \"14d\" test = \"7d\"".into());
        return Err(errs);
    };
    const KEYS: [&str; 6] = ["train", "test", "step", "anchored", "objective", "select"];
    for k in t.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        err(&format!(".{k}"), format!("unknown key; [walk_forward] takes {}", KEYS.join(", ")));
    }
    let mut duration = |k: &str, required: bool| -> Option<(i64, String)> {
        match t.get(k) {
            None if required => {
                err(&format!(".{k}"), "is required: a duration such as \"14d\" or \"12h\"".into());
                None
            }
            None => None,
            Some(toml::Value::String(s)) => {
                match crate::selection::walk_forward::parse_duration_ms(s) {
                    Ok(ms) => Some((ms, s.clone())),
                    Err(e) => {
                        err(&format!(".{k}"), e.to_string());
                        None
                    }
                }
            }
            Some(_) => {
                err(&format!(".{k}"), "must be a duration string such as \"7d\"".into());
                None
            }
        }
    };
    let train = duration("train", true);
    let test = duration("test", true);
    let step = duration("step", false);
    let anchored = match t.get("anchored") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(_) => {
            err(".anchored", "must be true or false".into());
            false
        }
    };
    let objective = match t.get("objective") {
        None => Some(OBJECTIVES[0]),
        Some(toml::Value::String(s)) => match OBJECTIVES.iter().find(|o| **o == s.as_str()) {
            Some(o) => Some(*o),
            None => {
                err(
                    ".objective",
                    format!(
                        "{s:?} cannot choose walk-forward folds; use one of {} (metrics of the \
                         equity path, which the continuous run's test window has too)",
                        OBJECTIVES.join(", ")
                    ),
                );
                None
            }
        },
        Some(_) => {
            err(".objective", format!("must be a metric name, one of {}", OBJECTIVES.join(", ")));
            None
        }
    };
    let select = match t.get("select").map(|s| s.as_str()) {
        None => Some(Select::Best),
        Some(Some("best")) => Some(Select::Best),
        Some(Some("plateau")) => Some(Select::Plateau),
        Some(_) => {
            err(".select", "must be \"best\" or \"plateau\"".into());
            None
        }
    };
    match (train, test, objective, select) {
        (Some(train), Some(test), Some(objective), Some(select)) if errs.is_empty() => {
            let (step_ms, step_text) = step.unwrap_or((test.0, test.1.clone()));
            Ok(WalkForwardSpec {
                train_ms: train.0,
                test_ms: test.0,
                step_ms,
                anchored,
                objective,
                select,
                written: [train.1, test.1, step_text],
            })
        }
        _ => Err(errs),
    }
}

/// A walk-forward sweep's plan: its section and the folds of the data window.
#[derive(Clone, Debug)]
pub struct WalkPlan {
    /// The section.
    pub spec: WalkForwardSpec,
    /// The folds ([`crate::selection::walk_forward::folds`]).
    pub folds: Folds,
}

/// One combination's figures on one fold (NaN where a run failed or a value is undefined,
/// e.g. a Calmar ratio without a drawdown).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FoldFigures {
    /// The objective on the train window.
    pub train_value: f64,
    /// `return_pct` on the train window.
    pub train_return_pct: f64,
    /// The objective of the redeployed run (started flat on the test window).
    pub test_value: f64,
    /// `return_pct` of the redeployed run.
    pub test_return_pct: f64,
    /// The objective of the continuous run's test-window part.
    pub continuous_value: f64,
    /// The continuous run's return over the test window, %.
    pub continuous_return_pct: f64,
}

impl FoldFigures {
    /// Every figure missing (a combination whose parameters are invalid).
    pub const MISSING: FoldFigures = FoldFigures {
        train_value: f64::NAN,
        train_return_pct: f64::NAN,
        test_value: f64::NAN,
        test_return_pct: f64::NAN,
        continuous_value: f64::NAN,
        continuous_return_pct: f64::NAN,
    };
}

/// The value of metric `name` in `m` (NaN when it has none).
pub fn metric_value(m: &Metrics, name: &str) -> f64 {
    match m.fields().iter().find(|(n, _)| *n == name).map(|(_, v)| v) {
        Some(MetricValue::F64(x)) => *x,
        Some(MetricValue::OptF64(x)) => x.unwrap_or(f64::NAN),
        Some(MetricValue::U64(x)) => *x as f64,
        _ => f64::NAN,
    }
}

#[cfg(feature = "parquet")]
/// The candles of `[start_ms, end_ms)` and the funding entries a backtest of that window
/// would be given (`config::common::funding_in_window`: from its first candle to a minute
/// after its last).
fn sub_window<'a>(
    candles: CandleSlice<'a>,
    ctx: &RunContext<'a>,
    start_ms: i64,
    end_ms: i64,
) -> (CandleSlice<'a>, RunContext<'a>) {
    let w = candles.between(start_ms, end_ms);
    let funding_series = ctx.funding_series.map(|s| match (w.ts_ms.first(), w.ts_ms.last()) {
        (Some(&first), Some(&last)) => {
            let a = s.partition_point(|e| e.0 < first);
            let b = s.partition_point(|e| e.0 <= last + 59_999).max(a);
            &s[a..b]
        }
        _ => &s[..0],
    });
    (w, RunContext { funding_series, ..*ctx })
}

#[cfg(feature = "parquet")]
/// The figures of `params` on every fold of `plan` (three runs per fold on this thread's
/// engine, [`super::runner::run_params_with`]).
pub fn run_folds(
    plan: &WalkPlan,
    params: &RunParams,
    candles: CandleSlice<'_>,
    ctx: &RunContext<'_>,
) -> Vec<FoldFigures> {
    let objective = plan.spec.objective;
    plan.folds
        .folds
        .iter()
        .map(|f: &Fold| {
            let (train, tctx) = sub_window(candles, ctx, f.train.start_ms, f.train.end_ms);
            let (test, ectx) = sub_window(candles, ctx, f.test.start_ms, f.test.end_ms);
            let (both, bctx) = sub_window(candles, ctx, f.train.start_ms, f.test.end_ms);
            let value = |r: &Result<Metrics, String>, name: &str| {
                r.as_ref().map_or(f64::NAN, |m| metric_value(m, name))
            };
            let tr = super::runner::run_params(params, train, &tctx);
            let te = super::runner::run_params(params, test, &ectx);
            let mut window = TestWindowMetrics::new(f.test.start_ms);
            let co = super::runner::run_params_with(params, both, &bctx, &mut window)
                .map(|_| window.finish());
            let co = co.ok().flatten();
            FoldFigures {
                train_value: value(&tr, objective),
                train_return_pct: value(&tr, "return_pct"),
                test_value: value(&te, objective),
                test_return_pct: value(&te, "return_pct"),
                continuous_value: co.as_ref().map_or(f64::NAN, |m| metric_value(m, objective)),
                continuous_return_pct: co.as_ref().map_or(f64::NAN, |m| m.return_pct),
            }
        })
        .collect()
}

/// The equity-path metrics of a run's part from `from_ms` on: a metrics accumulator started
/// at the equity of the last mark before `from_ms` and fed every later mark.
#[derive(Debug)]
pub struct TestWindowMetrics {
    from_ms: i64,
    before: Option<f64>,
    accum: Option<MetricsAccumulator>,
    last: f64,
}

impl TestWindowMetrics {
    /// Measures from `from_ms`.
    pub fn new(from_ms: i64) -> Self {
        TestWindowMetrics { from_ms, before: None, accum: None, last: f64::NAN }
    }

    /// The metrics of the window (`None` when the run had no mark before `from_ms` or none
    /// from it on, e.g. when liquidated during training). Only the equity-path metrics
    /// ([`OBJECTIVES`]) are meaningful.
    pub fn finish(&self) -> Option<Metrics> {
        let a = self.accum.as_ref()?;
        let start = self.before?;
        Some(a.finish(&FinalState { realized: self.last - start, ..FinalState::default() }))
    }
}

impl crate::engine::Recorder for TestWindowMetrics {
    fn on_equity(&mut self, ts_ms: i64, equity: f64) {
        if ts_ms < self.from_ms {
            self.before = Some(equity);
            return;
        }
        let Some(start) = self.before else { return };
        let a = self.accum.get_or_insert_with(|| MetricsAccumulator::new(start));
        a.on_tick(ts_ms, equity, 0.0, 0.0, false);
        self.last = equity;
    }
}

/// Column names of the walk record.
pub const COLUMNS: [&str; 8] = [
    "run_id",
    "fold",
    "train_value",
    "train_return_pct",
    "test_value",
    "test_return_pct",
    "continuous_value",
    "continuous_return_pct",
];

#[cfg(feature = "parquet")]
/// The walk record's Arrow schema: `run_id` UInt64, `fold` UInt32, six Float64 figures
/// (null where missing).
pub fn schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut fields = vec![
            Field::new(COLUMNS[0], DataType::UInt64, false),
            Field::new(COLUMNS[1], DataType::UInt32, false),
        ];
        fields.extend(COLUMNS[2..].iter().map(|c| Field::new(*c, DataType::Float64, true)));
        Arc::new(Schema::new(fields))
    })
    .clone()
}

#[cfg(feature = "parquet")]
/// The rows of `outcomes` for `folds` folds: each run's figures, nulls where missing.
pub fn to_batch(outcomes: &[RunOutcome], folds: usize) -> RecordBatch {
    let n = outcomes.len() * folds;
    let mut ids = UInt64Builder::with_capacity(n);
    let mut fold = UInt32Builder::with_capacity(n);
    let mut cols: Vec<Float64Builder> = (0..6).map(|_| Float64Builder::with_capacity(n)).collect();
    for o in outcomes {
        for k in 0..folds {
            ids.append_value(o.run_id);
            fold.append_value(k as u32);
            let f = o.walk.get(k).copied().unwrap_or(FoldFigures::MISSING);
            let v = [
                f.train_value,
                f.train_return_pct,
                f.test_value,
                f.test_return_pct,
                f.continuous_value,
                f.continuous_return_pct,
            ];
            for (c, x) in cols.iter_mut().zip(v) {
                c.append_option((!x.is_nan()).then_some(x));
            }
        }
    }
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(ids.finish()), Arc::new(fold.finish())];
    arrays.extend(cols.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    RecordBatch::try_new(schema(), arrays).expect("columns match the walk schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<WalkForwardSpec, Vec<(String, String)>> {
        parse(&toml::Value::Table(s.parse().unwrap()))
    }

    #[test]
    fn the_section_reads_durations_and_defaults() {
        let w = parse_str("train = \"14d\"\ntest = \"7d\"").unwrap();
        assert_eq!(
            (w.train_ms, w.test_ms, w.step_ms),
            (14 * 86_400_000, 7 * 86_400_000, 7 * 86_400_000)
        );
        assert_eq!((w.anchored, w.objective, w.select), (false, "calmar_ratio", Select::Best));
        let w = parse_str(
            "train = \"2d\"\ntest = \"1d\"\nstep = \"12h\"\nanchored = true\n\
             objective = \"max_drawdown_pct\"\nselect = \"plateau\"",
        )
        .unwrap();
        assert_eq!(w.step_ms, 12 * 3_600_000);
        assert!(w.anchored && w.ascending());
        assert_eq!(w.oriented(3.0), -3.0);
    }

    #[test]
    fn the_section_names_each_bad_key() {
        let e = parse_str("train = \"14x\"\nobjective = \"total_trades\"\nselect = 1\nfoo = 2")
            .unwrap_err();
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        for want in [
            "walk_forward.foo",
            "walk_forward.train",
            "walk_forward.test",
            "walk_forward.objective",
            "walk_forward.select",
        ] {
            assert!(keys.contains(&want), "{want} not in {e:?}");
        }
    }

    #[test]
    fn the_test_window_metrics_start_at_the_last_mark_before_it() {
        use crate::engine::Recorder;
        let mut w = TestWindowMetrics::new(1_000);
        // Training: 100 → 120; test window: 120 → 90 → 132.
        for (t, e) in [(0, 100.0), (500, 120.0), (1_000, 90.0), (2_000, 132.0)] {
            w.on_equity(t, e);
        }
        let m = w.finish().unwrap();
        // From 120: return (132 − 120) / 120 = 10 %; drawdown (120 − 90) / 120 = 25 %.
        assert!((m.return_pct - 10.0).abs() < 1e-12, "{}", m.return_pct);
        assert!((m.max_drawdown_pct - 25.0).abs() < 1e-12, "{}", m.max_drawdown_pct);
        assert!(TestWindowMetrics::new(0).finish().is_none());
    }
}
