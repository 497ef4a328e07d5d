//! The parallel runner: a rayon pool computes runs; each pool thread keeps one [`Engine`]
//! (thread-local scratch) and reuses it for every run it executes, so a run allocates
//! nothing in steady state. A failed (or even panicking) run becomes an error outcome and
//! never stops the sweep.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;
use rayon::ThreadPool;

use super::constraints::Limited;
use super::results::{RunEnd, RunOutcome};
use super::setup::SweepSetup;
use super::SweepError;
use crate::candles::CandleSlice;
use crate::engine::RunParams;
use crate::engine::{Engine, NoRecorder, PeriodRecorder, Recorder, RunContext};

thread_local! {
    static ENGINE: RefCell<Engine> = RefCell::new(Engine::new());
    static PERIODS: RefCell<PeriodRecorder> = RefCell::new(PeriodRecorder::default());
}

/// Builds a pool of `threads` threads (`None`: one per core).
///
/// # Errors
/// [`SweepError::Usage`] for 0 threads, or when the pool cannot be built.
pub fn build_pool(threads: Option<usize>) -> Result<ThreadPool, SweepError> {
    if threads == Some(0) {
        return Err(SweepError::Usage("--threads must be ≥ 1".into()));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .thread_name(|i| format!("gridsweep-run-{i}"))
        .build()
        .map_err(|e| SweepError::Usage(format!("cannot start {threads:?} threads: {e}")))
}

/// Runs `run_id` on this thread's engine, over its symbol's `window` with its `ctx`.
pub fn run_one(
    setup: &SweepSetup,
    window: CandleSlice<'_>,
    ctx: &RunContext<'_>,
    run_id: u64,
) -> RunOutcome {
    let tier_layer = setup.symbols[setup.spec.slot(run_id).symbol].tier_layer;
    let params = match setup.spec.params(run_id) {
        Ok(p) => p,
        Err(e) => {
            let params = *setup.spec.space.base();
            let walk = Vec::new();
            return RunOutcome {
                run_id,
                params,
                result: Err(e),
                tier_layer,
                periods: Vec::new(),
                walk,
                end: RunEnd::default(),
            };
        }
    };
    let limits = setup.spec.constraints;
    let mut end = RunEnd::default();
    let (result, periods) = match &setup.record {
        None if !limits.is_empty() => {
            let mut rec = Limited { inner: &mut NoRecorder, limits, stop: None };
            let result = run_params_with(&params, window, ctx, &mut rec);
            end.pruned = rec.stop.map(|v| (v.reason(), v.ts_ms));
            (result, Vec::new())
        }
        None => (run_params(&params, window, ctx), Vec::new()),
        Some(r) => PERIODS.with(|rec| {
            let mut rec = rec.borrow_mut();
            rec.reset(r.period_ms, r.start_ms, r.end_ms, params.account.initial_balance);
            let result = if limits.is_empty() {
                run_params_with(&params, window, ctx, &mut *rec)
            } else {
                let mut lim = Limited { inner: &mut *rec, limits, stop: None };
                let result = run_params_with(&params, window, ctx, &mut lim);
                end.pruned = lim.stop.map(|v| (v.reason(), v.ts_ms));
                result
            };
            rec.finish();
            let periods = match result {
                Ok(_) => rec.ends.iter().map(|e| e.1).collect(),
                Err(_) => Vec::new(),
            };
            (result, periods)
        }),
    };
    let walk = match &setup.walk {
        Some(plan) => super::walk_forward::run_folds(plan, &params, window, ctx),
        None => Vec::new(),
    };
    RunOutcome { run_id, params, result, tier_layer, periods, walk, end }
}

/// Runs `params` over `window` on this thread's engine; a panic becomes an error text.
pub fn run_params(
    params: &RunParams,
    window: CandleSlice<'_>,
    ctx: &RunContext<'_>,
) -> Result<crate::metrics::Metrics, String> {
    run_params_with(params, window, ctx, &mut NoRecorder)
}

/// [`run_params`] with a recorder.
pub fn run_params_with<R: Recorder>(
    params: &RunParams,
    window: CandleSlice<'_>,
    ctx: &RunContext<'_>,
    rec: &mut R,
) -> Result<crate::metrics::Metrics, String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        ENGINE.with(|e| {
            let mut engine = e.borrow_mut();
            engine.run_candles(window, params, ctx, rec)
        })
    }));
    match r {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("engine panicked (a bug, please report it): {msg}"))
        }
    }
}

/// Computes `ids` in `pool` into `out` (same order as `ids`), calling `on_run` after each.
pub fn compute(
    pool: &ThreadPool,
    setup: &SweepSetup,
    ids: &[u64],
    out: &mut Vec<RunOutcome>,
    on_run: &(dyn Fn() + Sync),
) {
    let windows: Vec<CandleSlice<'_>> = (0..setup.symbols.len()).map(|s| setup.window(s)).collect();
    let contexts: Vec<RunContext<'_>> =
        (0..setup.symbols.len()).map(|s| setup.context(s)).collect();
    pool.install(|| {
        ids.par_iter()
            .with_max_len(1)
            .map(|&id| {
                let s = setup.spec.slot(id).symbol;
                let o = run_one(setup, windows[s], &contexts[s], id);
                on_run();
                o
            })
            .collect_into_vec(out);
    });
}
