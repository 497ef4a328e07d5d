//! Successive halving over the data window (docs/sweeps.md, "Successive halving").
//!
//! Rung `r` ends `min_window · η^r` after the window's first candle; the last rung is the
//! whole window. The probe runs (a seeded choice) go to the full window first; then the
//! other runs are advanced rung by rung, each continuing its own engine state, and after
//! every rung but the last only the best `⌈n/η⌉` by the objective go on (ties: lowest
//! `run_id`) — twice as many when the Spearman correlation on the probes between that
//! rung's objective and the full window's is below `min_spearman`. Constraints prune at any
//! tick. The pure core ([`rung_ends`], [`probe_set`], [`spearman`], [`survivors`]) has no
//! I/O; [`execute`] is the edge.

use super::space::mix;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use rayon::prelude::*;

use super::constraints::Limited;
use super::exec::{file_kv, ExecOptions, Summary};
use super::halving_state::{Checkpoint, ProbeKeys, RungState, Saved};
use super::report::RankBy;
use super::results::{to_batch, RunEnd, RunOutcome};
use super::resume::PartsLock;
use super::search::{Halving, MIN_PROBES};
use super::setup::SweepSetup;
use super::writer::{read_kv, Assembler};
use super::{SweepError, ROW_GROUP_BLOCKS};
use crate::candles::CandleSlice;
use crate::engine::{CandleRun, Engine, NoRecorder, RunContext, RunParams, StopLimits};
use crate::metrics::{MetricValue, Metrics};
use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;

/// Metadata key of the candle·runs a halving file's runs were evaluated over.
pub const KV_EVALUATED: &str = "gridsweep.candle_runs_evaluated";
/// Metadata key of the candle·runs of the exhaustive sweep of the same runs.
pub const KV_EXHAUSTIVE: &str = "gridsweep.candle_runs_exhaustive";
/// Metadata key of the per-rung report (JSON).
pub const KV_RUNGS: &str = "gridsweep.halving_rungs";

/// What one rung did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RungReport {
    /// Rung number (0 = the first).
    pub rung: u32,
    /// End of the rung's window (exclusive), ms.
    pub window_end_ms: i64,
    /// Non-probe runs advanced over this rung.
    pub runs: u64,
    /// Of those, stopped by a constraint during it.
    pub pruned: u64,
    /// Of those, going on to the next rung (all of them at the last rung).
    pub kept: u64,
    /// Spearman correlation on the probes between this rung's objective and the full
    /// window's (`None` when undefined: fewer than 3 probes or a constant objective).
    pub spearman: Option<f64>,
    /// True when the correlation was below the threshold and twice the survivors were kept.
    pub widened: bool,
}

/// What a halving search did, for the report and `--json`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchSummary {
    /// Candles handed to the engine, summed over the runs.
    pub candle_runs_evaluated: u64,
    /// Candles × runs of the exhaustive sweep of the same runs.
    pub candle_runs_exhaustive: u64,
    /// Probe runs taken to the full window.
    pub probes: u64,
    /// Per rung.
    pub rungs: Vec<RungReport>,
}

/// The rung ends (exclusive times) for a window of candles from `first_ms` to `end_ms`
/// (exclusive): `first_ms + min_window · η^r` while inside the window, then `end_ms`.
///
/// # Errors
/// A sentence when the window is not longer than one rung (nothing to halve).
pub fn rung_ends(
    first_ms: i64,
    end_ms: i64,
    min_window_ms: i64,
    eta: u32,
) -> Result<Vec<i64>, String> {
    let span = end_ms.saturating_sub(first_ms);
    if min_window_ms >= span {
        return Err(format!(
            "[search] min_window ({} h) is not shorter than the data window ({} h), so there is \
             only one rung and nothing to halve; use a shorter min_window or method = \"grid\"",
            min_window_ms / 3_600_000,
            span / 3_600_000
        ));
    }
    let mut ends = Vec::new();
    let mut w = min_window_ms;
    while first_ms.saturating_add(w) < end_ms {
        ends.push(first_ms + w);
        w = w.saturating_mul(i64::from(eta));
    }
    ends.push(end_ms);
    Ok(ends)
}

/// The probe runs among `ids`: the `max(32, ⌈share·n⌉)` (at most `n`) with the smallest
/// seeded hash of their `run_id` (ties: lowest `run_id`), ascending by `run_id`.
pub fn probe_set(ids: &[u64], share: f64, seed: u64) -> Vec<u64> {
    let n = ids.len() as u64;
    let want = ((share * n as f64).ceil() as u64).max(MIN_PROBES).min(n) as usize;
    let mut keyed: Vec<(u64, u64)> = ids.iter().map(|&id| (mix(mix(seed) ^ id), id)).collect();
    keyed.sort_unstable();
    let mut out: Vec<u64> = keyed[..want].iter().map(|&(_, id)| id).collect();
    out.sort_unstable();
    out
}

/// Average ranks (1-based) of `x`, ties sharing their mean rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]].total_cmp(&x[idx[i]]).is_eq() {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of `a` and `b` (Pearson on average ranks); `None` for
/// fewer than 3 pairs or a constant side.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// The `keep` best of `(key, run_id)` (higher key first, ties lowest `run_id`), as indices
/// into `keyed`, ascending.
pub fn survivors(keyed: &[(f64, u64)], keep: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keyed.len()).collect();
    idx.sort_by(|&a, &b| keyed[b].0.total_cmp(&keyed[a].0).then(keyed[a].1.cmp(&keyed[b].1)));
    idx.truncate(keep);
    idx.sort_unstable();
    idx
}

/// How many of `n` runs go on at a rung: `⌈n/η⌉`, twice that when `widened` (at most `n`).
pub fn keep_count(n: usize, eta: u32, widened: bool) -> usize {
    let k = n.div_ceil(eta as usize);
    if widened {
        (2 * k).min(n)
    } else {
        k
    }
}

/// The candle·runs a search still has to do from rung `from` on, when `live` runs go into
/// it and each later rung keeps `⌈n/η⌉` (the projection of the progress bar; widened rungs
/// and pruned runs move it, and it is recomputed after every rung).
pub fn projected_work(live: u64, from: usize, piece_lens: &[u64], eta: u32) -> u64 {
    let mut n = live;
    let mut work = 0u64;
    for (r, &len) in piece_lens.iter().enumerate().skip(from) {
        work = work.saturating_add(n.saturating_mul(len));
        if r + 1 < piece_lens.len() {
            n = n.div_ceil(u64::from(eta.max(1)));
        }
    }
    work
}

/// The objective of `m` as a key where higher is better (missing or NaN: −∞).
pub fn objective_key(m: &Metrics, rank: RankBy) -> f64 {
    let v = m.fields().iter().find(|(n, _)| *n == rank.metric).and_then(|(_, v)| match *v {
        MetricValue::F64(x) => Some(x),
        MetricValue::OptF64(x) => x,
        MetricValue::U64(x) => Some(x as f64),
        MetricValue::OptI64(x) => x.map(|x| x as f64),
        _ => None,
    });
    match v {
        Some(x) if !x.is_nan() => {
            if rank.ascending {
                -x
            } else {
                x
            }
        }
        _ => f64::NEG_INFINITY,
    }
}

/// One run in progress: its engine state and where it stands.
struct Live {
    run_id: u64,
    /// The run's symbol (index into the sweep's symbols).
    symbol: usize,
    params: RunParams,
    engine: Engine,
    run: CandleRun,
    /// Candles handed to the engine so far.
    candles: u64,
    /// Objective key at each rung end (probes).
    keys: Vec<f64>,
    /// A panic text, when the engine panicked.
    failed: Option<String>,
}

impl Live {
    /// Advances over `c` (the next rung's candles); the state is kept as a compact clone.
    fn advance(&mut self, c: CandleSlice<'_>, ctx: &RunContext<'_>, limits: StopLimits) {
        if self.failed.is_some() {
            return;
        }
        let (engine, run, params) = (&mut self.engine, &mut self.run, &self.params);
        let r = catch_unwind(AssertUnwindSafe(|| {
            if limits.is_empty() {
                engine.advance_candles(run, c, params, ctx, &mut NoRecorder)
            } else {
                let mut rec = Limited { inner: &mut NoRecorder, limits, stop: None };
                engine.advance_candles(run, c, params, ctx, &mut rec)
            }
        }));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.failed = Some(e.to_string()),
            Err(_) => self.failed = Some("engine panicked (a bug, please report it)".into()),
        }
        self.candles += c.len() as u64;
        self.engine = self.engine.clone();
    }

    /// The row of a run that stops here at rung `rung` (window end `end_ms`).
    fn outcome(
        mut self,
        rung: u32,
        end_ms: i64,
        eliminated: bool,
        last: bool,
        layer: crate::tiers::TierLayer,
    ) -> RunOutcome {
        let result = match self.failed.take() {
            Some(e) => Err(e),
            None if last => {
                let mut rec = NoRecorder;
                Ok(self.engine.finish_candles(&self.run, &mut rec))
            }
            None => Ok(self.engine.peek_metrics(&self.run)),
        };
        let pruned = self.engine.stopped().map(|v| (v.reason(), v.ts_ms));
        let end = RunEnd {
            eliminated: eliminated && pruned.is_none(),
            pruned,
            rung: Some(rung),
            window_end_ms: Some(end_ms),
        };
        RunOutcome {
            run_id: self.run_id,
            params: self.params,
            result,
            tier_layer: layer,
            periods: Vec::new(),
            walk: Vec::new(),
            end,
        }
    }
}

/// The rows of a halving search over `ids` and what it did.
///
/// # Errors
/// A window not longer than one rung.
pub fn search(
    setup: &SweepSetup,
    h: &Halving,
    rank: RankBy,
    ids: &[u64],
    pool: &rayon::ThreadPool,
    progress: &super::progress::Progress,
    state: (Option<&Checkpoint<'_>>, Saved),
) -> Result<(RecordBatch, SearchSummary, Vec<String>), SweepError> {
    // Each symbol's window, context and end; the rungs span all of them (one symbol: its
    // own window).
    let nsym = setup.symbols.len();
    let windows: Vec<CandleSlice<'_>> = (0..nsym).map(|s| setup.window(s)).collect();
    let ctxs: Vec<RunContext<'_>> = (0..nsym).map(|s| setup.context(s)).collect();
    let limits = setup.spec.constraints;
    let mut ends_of = Vec::with_capacity(nsym);
    for w in &windows {
        let (Some(&first), Some(&last)) = (w.ts_ms.first(), w.ts_ms.last()) else {
            return Err(SweepError::Setup("the sweep window holds no candles".into()));
        };
        let interval = if w.len() > 1 { w.ts_ms[1] - w.ts_ms[0] } else { 60_000 };
        ends_of.push((first, last + interval));
    }
    let first = ends_of.iter().map(|e| e.0).min().unwrap_or(0);
    let end_ms = ends_of.iter().map(|e| e.1).max().unwrap_or(0);
    let ends = rung_ends(first, end_ms, h.min_window_ms, h.eta).map_err(SweepError::Usage)?;
    let cuts: Vec<Vec<usize>> = windows
        .iter()
        .map(|w| ends.iter().map(|&t| w.ts_ms.partition_point(|&x| x < t)).collect())
        .collect();
    let piece =
        |s: usize, r: usize| windows[s].range(if r == 0 { 0 } else { cuts[s][r - 1] }, cuts[s][r]);
    let last_rung = ends.len() - 1;
    let probe_keys: Vec<Vec<f64>>;
    let symbol_of = |id: u64| setup.spec.slot(id).symbol;
    let combo_of = |id: u64| setup.spec.slot(id).combo;
    let mut summary = SearchSummary {
        candle_runs_exhaustive: ids.iter().map(|&id| windows[symbol_of(id)].len() as u64).sum(),
        ..SearchSummary::default()
    };
    let mut warnings = Vec::new();
    let mut evaluated = 0u64;

    // Start every run (bad parameters become error rows).
    let start = |id: u64| -> Result<Live, Box<RunOutcome>> {
        let symbol = symbol_of(id);
        let err = |params: RunParams, e: String| {
            Box::new(RunOutcome {
                run_id: id,
                params,
                result: Err(e),
                tier_layer: setup.symbols[symbol].tier_layer,
                periods: Vec::new(),
                walk: Vec::new(),
                end: RunEnd { rung: Some(0), ..RunEnd::default() },
            })
        };
        let params = setup.spec.params(id).map_err(|e| err(*setup.spec.space.base(), e))?;
        let mut engine = Engine::new();
        let run =
            engine.begin_candles(&params, &ctxs[symbol]).map_err(|e| err(params, e.to_string()))?;
        Ok(Live {
            run_id: id,
            symbol,
            params,
            engine,
            run,
            candles: 0,
            keys: Vec::new(),
            failed: None,
        })
    };
    let labels = setup.labels();
    let (checkpoint, saved) = state;
    // Probes and rungs choose combinations: all of a combination's runs (one per symbol) go
    // on together, ranked by their worst objective.
    let mut combos: Vec<u64> = ids.iter().map(|&id| combo_of(id)).collect();
    combos.sort_unstable();
    combos.dedup();
    let probe_combos = probe_set(&combos, h.probes, h.seed);
    let probe_ids: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|&id| probe_combos.binary_search(&combo_of(id)).is_ok())
        .collect();
    // What a killed invocation saved: the probes' rows and keys, then rungs 0..resume_at (the
    // checkpoint holds no rung without the probes). The runs that ended in a saved rung, and
    // the combinations of those that ended early (pruned, failed: not eliminated).
    let Saved { probes: saved_probes, rungs: saved_rungs } = saved;
    let resume_at = saved_rungs.len().min(last_rung);
    let mut ended_before: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut tainted: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (rows, _) in &saved_rungs {
        let ids = rows.column(0).as_primitive::<arrow_array::types::UInt64Type>();
        let status = rows.column_by_name(super::results::STATUS).map(|c| c.as_string::<i32>());
        for i in 0..rows.num_rows() {
            ended_before.insert(ids.value(i));
            if status.is_some_and(|st| st.value(i) != "eliminated") {
                tainted.insert(combo_of(ids.value(i)));
            }
        }
    }
    let mut probes: Vec<Live> = Vec::new();
    let mut live: Vec<Live> = Vec::new();
    let mut errors: Vec<RunOutcome> = Vec::new();
    for &id in ids {
        let probe = probe_ids.binary_search(&id).is_ok();
        if (probe && saved_probes.is_some()) || ended_before.contains(&id) {
            continue;
        }
        match start(id) {
            Ok(l) if probe => probes.push(l),
            Ok(l) => live.push(l),
            Err(row) => errors.push(*row),
        }
    }
    // Combinations one of whose runs failed or was pruned are ranked last from then on (a
    // resumed search finds them again in the errors and the saved rows).
    tainted.extend(errors.iter().map(|o| combo_of(o.run_id)));
    let mut pieces: Vec<RecordBatch> = vec![to_batch(&errors, &labels)];
    let lens: Vec<Vec<u64>> =
        (0..nsym).map(|s| (0..=last_rung).map(|r| piece(s, r).len() as u64).collect()).collect();
    // The mean rung length over the symbols, for the progress projection.
    let mean_lens: Vec<u64> =
        (0..=last_rung).map(|r| lens.iter().map(|l| l[r]).sum::<u64>() / nsym as u64).collect();
    if let Some((_, st)) = saved_rungs.last() {
        let want = &st.survivors;
        let have: Vec<u64> = live.iter().map(|l| l.run_id).collect();
        if &have != want {
            return Err(SweepError::Resume(format!(
                "the saved halving rungs do not match this search (rung {} kept {} runs, {} \
                 are left); delete the partial results directory and run again",
                st.report.rung,
                want.len(),
                have.len()
            )));
        }
    }

    // The probes, to the full window, their objective noted at every rung end; their rows
    // are final at once.
    let full: Vec<f64>;
    let probe_candles: u64;
    match saved_probes {
        Some((rows, keys)) => {
            let same = keys.keys.iter().map(|(id, _)| *id).eq(probe_ids.iter().copied())
                && keys.keys.iter().all(|(_, k)| k.len() == last_rung + 1);
            if !same {
                return Err(SweepError::Resume(
                    "the saved halving probes do not match this search; delete the partial \
                     results directory and run again"
                        .into(),
                ));
            }
            summary.probes = keys.keys.len() as u64;
            probe_candles = keys.candles;
            probe_keys = (0..=last_rung)
                .map(|r| {
                    let pairs =
                        keys.keys.iter().map(|(id, k)| (combo_of(*id), f64::from_bits(k[r])));
                    worst_by_combo(pairs).into_iter().map(|(_, k)| k).collect()
                })
                .collect();
            full = probe_keys[last_rung].clone();
            pieces.push(rows);
        }
        None => {
            summary.probes = probes.len() as u64;
            let probe_work: u64 = probes.iter().map(|l| windows[l.symbol].len() as u64).sum();
            progress
                .set_total(probe_work + projected_work(live.len() as u64, 0, &mean_lens, h.eta));
            pool.install(|| {
                probes.par_iter_mut().with_max_len(1).for_each(|l| {
                    for (r, &len) in lens[l.symbol].iter().enumerate() {
                        l.advance(piece(l.symbol, r), &ctxs[l.symbol], limits);
                        progress.inc_by(len);
                        let m = if r == last_rung {
                            l.engine.clone().finish_candles(&l.run, &mut NoRecorder)
                        } else {
                            l.engine.peek_metrics(&l.run)
                        };
                        l.keys.push(objective_key(&m, rank));
                    }
                });
            });
            probe_keys = (0..=last_rung)
                .map(|r| {
                    let pairs = probes.iter().map(|l| (combo_of(l.run_id), l.keys[r]));
                    worst_by_combo(pairs).into_iter().map(|(_, k)| k).collect()
                })
                .collect();
            full = probe_keys[last_rung].clone();
            let keys = ProbeKeys {
                keys: probes
                    .iter()
                    .map(|l| (l.run_id, l.keys.iter().map(|k| k.to_bits()).collect()))
                    .collect(),
                candles: probes.iter().map(|l| l.candles).sum(),
            };
            probe_candles = keys.candles;
            let rows: Vec<RunOutcome> = pool.install(|| {
                std::mem::take(&mut probes)
                    .into_par_iter()
                    .map(|l| {
                        let (end, layer) =
                            (ends_of[l.symbol].1, setup.symbols[l.symbol].tier_layer);
                        l.outcome(last_rung as u32, end, false, true, layer)
                    })
                    .collect()
            });
            let rows = to_batch(&rows, &labels);
            if let Some(c) = checkpoint {
                c.save_probes(&rows, &keys)?;
            }
            pieces.push(rows);
        }
    }

    // A resumed search: the saved rungs' rows and reports, and the survivors brought back to
    // the end of the last saved rung (advanced rung by rung, so their state is the one the
    // killed invocation had).
    for (rows, st) in saved_rungs.into_iter().take(resume_at) {
        evaluated = st.evaluated;
        summary.rungs.push(st.report);
        pieces.push(rows);
    }
    if resume_at > 0 {
        let redo: u64 = live.iter().map(|l| lens[l.symbol][..resume_at].iter().sum::<u64>()).sum();
        let rest = projected_work(live.len() as u64, resume_at, &mean_lens, h.eta);
        progress.set_total(redo + rest);
        pool.install(|| {
            live.par_iter_mut().with_max_len(1).for_each(|l| {
                for (r, &len) in lens[l.symbol].iter().enumerate().take(resume_at) {
                    l.advance(piece(l.symbol, r), &ctxs[l.symbol], limits);
                    progress.inc_by(len);
                }
            })
        });
        log::info!(
            "resumed the halving search after rung {} ({} runs brought back to its end)",
            resume_at - 1,
            live.len()
        );
    }

    #[allow(clippy::needless_range_loop)] // r numbers the rung in rows and reports
    for r in resume_at..=last_rung {
        pool.install(|| {
            live.par_iter_mut().with_max_len(1).for_each(|l| {
                l.advance(piece(l.symbol, r), &ctxs[l.symbol], limits);
                progress.inc_by(lens[l.symbol][r]);
            })
        });
        let advanced = live.len() as u64;
        if r == last_rung {
            summary.rungs.push(RungReport {
                rung: r as u32,
                window_end_ms: ends[r],
                runs: advanced,
                pruned: live.iter().filter(|l| l.engine.stopped().is_some()).count() as u64,
                kept: advanced,
                spearman: None,
                widened: false,
            });
            break;
        }
        // Runs stopped by a constraint (or failed) end here; the rest are ranked.
        let (done, rest): (Vec<Live>, Vec<Live>) = std::mem::take(&mut live)
            .into_iter()
            .partition(|l| l.engine.stopped().is_some() || l.failed.is_some());
        let pruned = done.len() as u64;
        let mut ended: Vec<RunOutcome> = Vec::new();
        for l in done {
            evaluated += l.candles;
            tainted.insert(combo_of(l.run_id));
            let layer = setup.symbols[l.symbol].tier_layer;
            ended.push(l.outcome(r as u32, ends[r], false, false, layer));
        }
        let rho = spearman(&probe_keys[r], &full);
        let widened = rho.is_some_and(|x| x < h.min_spearman);
        if widened {
            warnings.push(format!(
                "rung {r} (window to {}): Spearman {:.3} on {} probes is below {}: keeping twice \
                 the survivors",
                crate::time::format_iso(ends[r]),
                rho.unwrap_or(f64::NAN),
                summary.probes,
                h.min_spearman
            ));
        }
        let run_keys: Vec<(u64, f64)> = pool.install(|| {
            rest.par_iter()
                .map(|l| (combo_of(l.run_id), objective_key(&l.engine.peek_metrics(&l.run), rank)))
                .collect()
        });
        // Per combination: its worst key over its runs (−∞ once one of them ended early).
        let keyed: Vec<(f64, u64)> = worst_by_combo(
            run_keys
                .into_iter()
                .map(|(c, k)| (c, if tainted.contains(&c) { f64::NEG_INFINITY } else { k })),
        )
        .into_iter()
        .map(|(c, k)| (k, c))
        .collect();
        let keep = keep_count(keyed.len(), h.eta, widened);
        let kept: std::collections::HashSet<u64> =
            survivors(&keyed, keep).into_iter().map(|i| keyed[i].1).collect();
        for l in rest {
            if kept.contains(&combo_of(l.run_id)) {
                live.push(l);
            } else {
                evaluated += l.candles;
                let layer = setup.symbols[l.symbol].tier_layer;
                ended.push(l.outcome(r as u32, ends[r], true, false, layer));
            }
        }
        ended.sort_by_key(|o| o.run_id);
        let report = RungReport {
            rung: r as u32,
            window_end_ms: ends[r],
            runs: advanced,
            pruned,
            kept: live.len() as u64,
            spearman: rho,
            widened,
        };
        let rows = to_batch(&ended, &labels);
        if let Some(c) = checkpoint {
            let survivors = live.iter().map(|l| l.run_id).collect();
            c.save_rung(&rows, &RungState { report: report.clone(), survivors, evaluated })?;
        }
        pieces.push(rows);
        summary.rungs.push(report);
        let done = progress.position();
        progress.set_total(done + projected_work(live.len() as u64, r + 1, &mean_lens, h.eta));
    }
    summary.candle_runs_evaluated =
        evaluated + probe_candles + live.iter().map(|l| l.candles).sum::<u64>();
    let finals: Vec<RunOutcome> = pool.install(|| {
        live.into_par_iter()
            .map(|l| {
                let (end, layer) = (ends_of[l.symbol].1, setup.symbols[l.symbol].tier_layer);
                l.outcome(last_rung as u32, end, false, true, layer)
            })
            .collect()
    });
    pieces.push(to_batch(&finals, &labels));
    Ok((in_run_id_order(&pieces)?, summary, warnings))
}

/// `(combo, worst key)` of each combination among `(combo, key)` pairs, in combination
/// order.
fn worst_by_combo(pairs: impl Iterator<Item = (u64, f64)>) -> Vec<(u64, f64)> {
    let mut m: std::collections::BTreeMap<u64, f64> = std::collections::BTreeMap::new();
    for (c, k) in pairs {
        m.entry(c).and_modify(|w| *w = w.min(k)).or_insert(k);
    }
    m.into_iter().collect()
}

/// The rows of `pieces` as one batch in `run_id` order.
///
/// # Errors
/// Pieces of different schemas (a bug).
fn in_run_id_order(pieces: &[RecordBatch]) -> Result<RecordBatch, SweepError> {
    let schema = super::results::schema();
    let all = arrow_select::concat::concat_batches(&schema, pieces)
        .map_err(|e| SweepError::Setup(format!("cannot join the halving rows: {e}")))?;
    let ids = all.column(0).as_primitive::<arrow_array::types::UInt64Type>();
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by_key(|&i| ids.value(i as usize));
    let order = arrow_array::UInt32Array::from(order);
    arrow_select::take::take_record_batch(&all, &order)
        .map_err(|e| SweepError::Setup(format!("cannot order the halving rows: {e}")))
}

/// Runs the halving search of `setup` as `opts` says: the shard's runs (those of its
/// blocks, halved among themselves), all rows written at once in `run_id` order.
///
/// # Errors
/// As [`super::exec::execute`], and a window not longer than one rung.
pub fn execute(setup: &SweepSetup, opts: &ExecOptions, h: &Halving) -> Result<Summary, SweepError> {
    let started = Instant::now();
    let rank: RankBy = match &h.objective {
        Some(o) => {
            o.parse().map_err(|e: String| SweepError::Usage(format!("[search] objective: {e}")))?
        }
        None => opts.rank,
    };
    let super::exec::Start { ident, blocks: _, first_run_id, pool, mut summary } =
        super::exec::start(setup, opts)?;
    let b_runs = opts.block_runs;
    let shard_runs = summary.shard_runs;
    let shard_end = first_run_id + shard_runs;
    let out = &opts.out;
    if let Some(report) = super::exec::complete_report(out, &ident, opts, b_runs, &setup.spec)? {
        let kv = read_kv(out).unwrap_or_default();
        summary.search =
            kv.iter().find(|(k, _)| k == KV_RUNGS).and_then(|(_, v)| serde_json::from_str(v).ok());
        summary.report = report;
        summary.already_complete = true;
        summary.resumed_runs = shard_runs;
        summary.elapsed_s = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SweepError::io("cannot create", dir, e))?;
    }
    // The checkpoint: the probes and every finished rung are saved, so a killed search
    // resumes after the last finished rung.
    let lock = PartsLock::acquire(out)?;
    let (checkpoint, saved) = Checkpoint::open(&lock, &ident, opts.shard)?;
    // Rows loaded from the checkpoint (rungs count only after the probes, as `search` reads
    // them).
    if let Some((probes, _)) = &saved.probes {
        summary.resumed_runs = probes.num_rows() as u64
            + saved.rungs.iter().map(|(b, _)| b.num_rows() as u64).sum::<u64>();
    }
    let ids: Vec<u64> = (first_run_id..shard_end).collect();
    let progress = super::progress::Progress::counting("candle·runs", 0, 0, opts.progress);
    let found = search(setup, h, rank, &ids, &pool, &progress, (Some(&checkpoint), saved));
    progress.finish();
    let (rows, search, warnings) = found?;
    for w in &warnings {
        log::warn!("{w}");
    }
    let mut kv = file_kv(&ident, opts.shard, first_run_id, shard_runs);
    kv.push((KV_EVALUATED.into(), search.candle_runs_evaluated.to_string()));
    kv.push((KV_EXHAUSTIVE.into(), search.candle_runs_exhaustive.to_string()));
    kv.push((KV_RUNGS.into(), serde_json::to_string(&search).unwrap_or_default()));
    let tmp = lock.dir().join("result.parquet.tmp");
    let mut assembler = Assembler::create(&tmp, b_runs * ROW_GROUP_BLOCKS, kv)?;
    let n = rows.num_rows();
    let step = usize::try_from(b_runs).unwrap_or(usize::MAX).max(1);
    for at in (0..n).step_by(step) {
        let batch = rows.slice(at, step.min(n - at));
        assembler.append(&batch)?;
        summary.report.observe(&batch);
    }
    assembler.finish(out)?;
    if let Err(e) = lock.remove() {
        log::warn!("the results in {} are complete, but {e}", out.display());
    }
    summary.computed_runs = shard_runs - summary.resumed_runs;
    summary.search = Some(search);
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_grow_by_eta_and_end_at_the_window() {
        let d = 86_400_000;
        assert_eq!(rung_ends(0, 30 * d, 3 * d, 3).unwrap(), [3 * d, 9 * d, 27 * d, 30 * d]);
        assert_eq!(rung_ends(0, 27 * d, 3 * d, 3).unwrap(), [3 * d, 9 * d, 27 * d]);
        let e = rung_ends(0, 3 * d, 3 * d, 3).unwrap_err();
        assert!(e.contains("not shorter than the data window"), "{e}");
    }

    #[test]
    fn probes_are_seeded_at_least_32_and_stable() {
        let ids: Vec<u64> = (0..1000).collect();
        let a = probe_set(&ids, 0.02, 1);
        assert_eq!(a.len(), 32, "2 % of 1000 is 20, raised to 32");
        assert_eq!(a, probe_set(&ids, 0.02, 1));
        assert_ne!(a, probe_set(&ids, 0.02, 2));
        assert_eq!(probe_set(&ids, 0.1, 1).len(), 100);
        assert_eq!(probe_set(&ids[..10], 0.02, 1).len(), 10);
    }

    #[test]
    fn spearman_by_hand() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // Ranks 1,2,3,4 vs 2,1,4,3: Σd² = 4, ρ = 1 − 6·4/(4·15) = 0.6.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]).unwrap();
        assert!((r - 0.6).abs() < 1e-12, "{r}");
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn projected_work_keeps_a_third_per_rung() {
        // 100 runs over rungs of 10, 20, 60 candles with η = 3: 100·10 + 34·20 + 12·60.
        assert_eq!(projected_work(100, 0, &[10, 20, 60], 3), 1000 + 680 + 720);
        // From rung 1 with 40 runs left: 40·20 + 14·60.
        assert_eq!(projected_work(40, 1, &[10, 20, 60], 3), 800 + 840);
        assert_eq!(projected_work(5, 3, &[10, 20, 60], 3), 0);
    }

    #[test]
    fn survivors_break_ties_by_lowest_run_id() {
        let keyed = [(1.0, 7), (3.0, 9), (3.0, 4), (f64::NEG_INFINITY, 1), (2.0, 2)];
        assert_eq!(survivors(&keyed, 2), [1, 2]);
        assert_eq!(survivors(&keyed, 3), [1, 2, 4]);
        assert_eq!(keep_count(10, 3, false), 4);
        assert_eq!(keep_count(10, 3, true), 8);
        assert_eq!(keep_count(3, 3, true), 2);
    }
}
