//! Running a resolved sweep: plan the blocks of the shard, skip the finished ones, compute
//! the rest in the pool, and let one writer thread make each block durable and append it
//! to the result file in `run_id` order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crossbeam_channel::bounded;

use super::companion::{Companion, CompanionKind};
use super::progress::Progress;
use super::report::{RankBy, Report};
use super::results::{to_batch, RunOutcome};
use super::resume::{parts_dir_of, ManifestState, PartsDir, PartsLock};
use super::runner::{build_pool, compute};
use super::setup::{Identity, SweepSetup};
use super::shard::{block_count, block_runs_range, block_start, Shard};
use super::writer::{open_results, read_kv, Assembler};
use super::{SweepError, DEFAULT_BLOCK_RUNS, ROW_GROUP_BLOCKS};

/// Largest accepted `--block-runs`.
pub const MAX_BLOCK_RUNS: u64 = 1_000_000;

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Result file.
    pub out: PathBuf,
    /// Pool size (`None`: one thread per core).
    pub threads: Option<usize>,
    /// Which slice of the sweep to run.
    pub shard: Shard,
    /// Runs per block (the unit of durability, resume and sharding).
    pub block_runs: u64,
    /// Ranking objective of the report.
    pub rank: RankBy,
    /// Rows in the report's top list.
    pub top_n: usize,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// Overwrite an existing result file of a different sweep.
    pub force: bool,
}

impl ExecOptions {
    /// Defaults for writing `out`.
    pub fn new(out: impl Into<PathBuf>) -> ExecOptions {
        ExecOptions {
            out: out.into(),
            threads: None,
            shard: Shard::WHOLE,
            block_runs: DEFAULT_BLOCK_RUNS,
            rank: RankBy::default(),
            top_n: 10,
            progress: false,
            force: false,
        }
    }
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Result file.
    pub out: PathBuf,
    /// Runs in the whole sweep.
    pub total_runs: u64,
    /// The shard run.
    pub shard: Shard,
    /// Runs in this shard.
    pub shard_runs: u64,
    /// Runs computed by this invocation.
    pub computed_runs: u64,
    /// Runs kept from an interrupted earlier invocation.
    pub resumed_runs: u64,
    /// True when the result file was already complete (nothing was computed).
    pub already_complete: bool,
    /// Pool size.
    pub threads: usize,
    /// Wall time of this invocation, seconds.
    pub elapsed_s: f64,
    /// Counts and top runs over every row of the file.
    pub report: Report,
    /// Axis names in enumeration order.
    pub axes: Vec<&'static str>,
    /// What a halving search did (`None` for the grid).
    pub search: Option<super::halving::SearchSummary>,
}

/// A block computed by the pool, on its way to the writer.
struct Block {
    index: u64,
    outcomes: Vec<RunOutcome>,
}

/// Key-value metadata of a result file for `shard`.
pub fn file_kv(
    ident: &Identity,
    shard: Shard,
    first_run_id: u64,
    runs: u64,
) -> Vec<(String, String)> {
    let mut kv = ident.to_kv();
    kv.push(("gridsweep.shard".into(), shard.to_string()));
    kv.push(("gridsweep.first_run_id".into(), first_run_id.to_string()));
    kv.push(("gridsweep.runs".into(), runs.to_string()));
    kv
}

/// The shard recorded in a result file's metadata.
pub fn kv_shard(kv: &[(String, String)]) -> Option<Shard> {
    kv.iter().find(|(k, _)| k == "gridsweep.shard").and_then(|(_, v)| v.parse().ok())
}

/// What every sweep method starts from: the identity, the shard's blocks and runs, the
/// pool, and an empty summary.
pub(crate) struct Start {
    /// The results' identity with the options' block size.
    pub ident: Identity,
    /// The shard's blocks.
    pub blocks: std::ops::Range<u64>,
    /// The shard's first run id.
    pub first_run_id: u64,
    /// The pool.
    pub pool: rayon::ThreadPool,
    /// The summary, nothing computed yet.
    pub summary: Summary,
}

/// The start of the sweep of `setup` as `opts` says.
///
/// # Errors
/// A pool that cannot be built.
pub(crate) fn start(setup: &SweepSetup, opts: &ExecOptions) -> Result<Start, SweepError> {
    let b_runs = opts.block_runs;
    let ident = setup.identity(b_runs);
    let total = ident.total_runs;
    let blocks = opts.shard.blocks(block_count(total, b_runs));
    let first_run_id = block_start(blocks.start, b_runs, total);
    let shard_runs = block_start(blocks.end, b_runs, total) - first_run_id;
    let axes = setup.spec.shown_axes();
    let pool = build_pool(opts.threads)?;
    let summary = Summary {
        out: opts.out.clone(),
        total_runs: total,
        shard: opts.shard,
        shard_runs,
        computed_runs: 0,
        resumed_runs: 0,
        already_complete: false,
        threads: pool.current_num_threads(),
        elapsed_s: 0.0,
        report: Report::new(opts.rank, opts.top_n).across_symbols(&setup.spec),
        axes,
        search: None,
    };
    Ok(Start { ident, blocks, first_run_id, pool, summary })
}

/// Runs (or resumes, or just reports) the sweep of `setup` as `opts` says.
///
/// # Errors
/// Fatal problems only: bad options, an output that holds other results, unresumable
/// partial results, I/O errors. Failed runs are rows, not errors.
pub fn execute(setup: &SweepSetup, opts: &ExecOptions) -> Result<Summary, SweepError> {
    let started = Instant::now();
    if !(1..=MAX_BLOCK_RUNS).contains(&opts.block_runs) {
        return Err(SweepError::Usage(format!(
            "--block-runs must be between 1 and {MAX_BLOCK_RUNS} (was {}); the default is {}",
            opts.block_runs, DEFAULT_BLOCK_RUNS
        )));
    }
    if let Some(h) = &setup.spec.search {
        return super::halving::execute(setup, opts, h);
    }
    let Start { ident, blocks, first_run_id, pool, mut summary } = start(setup, opts)?;
    let b_runs = opts.block_runs;
    let total = ident.total_runs;
    let shard_runs = summary.shard_runs;

    let out = &opts.out;
    let parts_path = parts_dir_of(out);
    if out.exists() && std::fs::symlink_metadata(&parts_path).is_err() {
        match completion(out, &ident, opts, b_runs, &setup.spec)? {
            Completion::Done(report) => return Ok(already_complete(summary, report, started)),
            Completion::Other(reason) if !opts.force => return Err(other_results(out, &reason)),
            Completion::Other(_) => {}
        }
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SweepError::io("cannot create", dir, e))?;
    }

    let lock = PartsLock::acquire(out)?;
    // Under the lock, a result file of this sweep means it finished: an earlier run was
    // stopped after the file was in place but before its partial results were removed, or
    // another process finished it just now. Nothing is recomputed.
    if out.exists() {
        if let Ok(Completion::Done(report)) = completion(out, &ident, opts, b_runs, &setup.spec) {
            match lock.manifest_state(&ident, opts.shard) {
                ManifestState::Other => log::warn!(
                    "{} holds partial results of another sweep or shard; left untouched",
                    lock.dir().display()
                ),
                _ => {
                    let dir = lock.dir().to_path_buf();
                    match lock.remove() {
                        Ok(()) => log::info!(
                            "{} was already complete; removed the leftover {}",
                            out.display(),
                            dir.display()
                        ),
                        Err(e) => log::warn!("cannot remove leftover partial results: {e}"),
                    }
                }
            }
            return Ok(already_complete(summary, report, started));
        }
    }
    let companions = Companion::of(setup);
    let (parts, done) = PartsDir::open(lock, &ident, opts.shard, blocks.clone(), &companions)?;
    let runs_of = |b: u64| {
        let r = block_runs_range(b, b_runs, total);
        r.end - r.start
    };
    summary.resumed_runs = done.iter().map(|&b| runs_of(b)).sum();
    let progress = Progress::new(shard_runs, summary.resumed_runs, opts.progress);
    let kv = file_kv(&ident, opts.shard, first_run_id, shard_runs);
    let mut side_tables = Vec::with_capacity(companions.len());
    for c in &companions {
        let mut kv = kv.clone();
        kv.extend(c.kv.iter().cloned());
        let group = (b_runs * ROW_GROUP_BLOCKS).saturating_mul(c.rows_per_run.max(1));
        let path = parts.companion_assembly_path(c.kind);
        side_tables.push((c, Assembler::create_with(&path, c.kind.schema(), group, kv)?));
    }
    let mut assembler = Assembler::create(&parts.assembly_path(), b_runs * ROW_GROUP_BLOCKS, kv)?;
    let pending: Vec<u64> = blocks.clone().filter(|b| !done.contains(b)).collect();
    let window_blocks = (2 * summary.threads).max(4);
    let (tx, rx) = bounded::<Block>(2 * window_blocks);

    let labels = &setup.labels();
    let writer_result = std::thread::scope(|scope| {
        let parts = &parts;
        let done = &done;
        let report = &mut summary.report;
        let assembler = &mut assembler;
        let side_tables = &mut side_tables;
        let blocks = blocks.clone();
        let writer = scope.spawn(move || -> Result<(), SweepError> {
            for b in blocks {
                let batch = if done.contains(&b) {
                    for (c, a) in side_tables.iter_mut() {
                        a.append(&parts.load_companion(c, b)?)?;
                    }
                    parts.load(b)?
                } else {
                    let Ok(block) = rx.recv() else {
                        return Err(SweepError::Setup("the runner stopped early".into()));
                    };
                    debug_assert_eq!(block.index, b);
                    for (c, a) in side_tables.iter_mut() {
                        let rows = c.to_batch(&block.outcomes, setup);
                        parts.store_companion(c.kind, b, &rows)?;
                        a.append(&rows)?;
                    }
                    let batch = to_batch(&block.outcomes, labels);
                    parts.store(b, &batch)?;
                    batch
                };
                assembler.append(&batch)?;
                report.observe(&batch);
            }
            Ok(())
        });
        let window_runs = (window_blocks as u64).saturating_mul(b_runs).min(shard_runs);
        let mut ids: Vec<u64> = Vec::with_capacity(window_runs as usize);
        let mut outcomes: Vec<RunOutcome> = Vec::with_capacity(ids.capacity());
        let on_run = || progress.inc();
        'windows: for window in pending.chunks(window_blocks) {
            ids.clear();
            for &b in window {
                ids.extend(block_runs_range(b, b_runs, total));
            }
            compute(&pool, setup, &ids, &mut outcomes, &on_run);
            let mut rest = outcomes.as_slice();
            for &b in window {
                let n = runs_of(b) as usize;
                let (head, tail) = rest.split_at(n);
                rest = tail;
                if tx.send(Block { index: b, outcomes: head.to_vec() }).is_err() {
                    break 'windows;
                }
            }
        }
        drop(tx);
        writer
            .join()
            .unwrap_or_else(|_| Err(SweepError::Setup("the writer thread panicked".into())))
    });
    progress.finish();
    writer_result?;
    summary.computed_runs = pending.iter().map(|&b| runs_of(b)).sum();
    // The per-run tables first (and the folds derived from the walk record): a result file
    // in place means the sweep is finished.
    for (c, a) in side_tables {
        a.finish(&c.kind.path(out))?;
    }
    if let Some(plan) = setup.walk.as_ref().filter(|_| opts.shard == Shard::WHOLE) {
        super::folds::write_folds(out, &setup.spec, plan)?;
    }
    assembler.finish(out)?;
    // The results are in place: a failure to clean up is not a failed sweep (the next run
    // finds them complete and removes the directory).
    if let Err(e) = parts.remove() {
        log::warn!(
            "the results in {} are complete, but the partial results could not be removed: \
             {e}",
            out.display()
        );
    }
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn already_complete(mut summary: Summary, report: Report, started: Instant) -> Summary {
    summary.report = report;
    summary.already_complete = true;
    summary.resumed_runs = summary.shard_runs;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary
}

/// The report of `out` when it holds the complete results of this sweep and shard (`None`
/// when it does not exist, or holds other results and `--force` is given).
///
/// # Errors
/// `out` holds other results (without `--force`), or cannot be read.
pub(crate) fn complete_report(
    out: &Path,
    ident: &Identity,
    opts: &ExecOptions,
    b_runs: u64,
    spec: &super::SweepSpec,
) -> Result<Option<Report>, SweepError> {
    if !out.exists() {
        return Ok(None);
    }
    match completion(out, ident, opts, b_runs, spec)? {
        Completion::Done(report) => Ok(Some(report)),
        Completion::Other(reason) if !opts.force => Err(other_results(out, &reason)),
        Completion::Other(_) => Ok(None),
    }
}

/// What an existing result file holds.
enum Completion {
    /// The complete results of this sweep and shard (their report).
    Done(Report),
    /// Something else (the sentence says what).
    Other(String),
}

fn other_results(out: &Path, reason: &str) -> SweepError {
    SweepError::Resume(format!(
        "{} already exists and holds other results: {reason}; delete it, choose another \
         --out, or pass --force to overwrite it",
        out.display()
    ))
}

/// Whether `out` holds the complete results of this sweep and shard.
fn completion(
    out: &Path,
    ident: &Identity,
    opts: &ExecOptions,
    b_runs: u64,
    spec: &super::SweepSpec,
) -> Result<Completion, SweepError> {
    let kv = read_kv(out).unwrap_or_default();
    let missing = |then: &Identity| {
        CompanionKind::asked_by(&then.sweep_toml)
            .into_iter()
            .map(|k| k.path(out))
            .chain(
                (CompanionKind::asked_by(&then.sweep_toml).contains(&CompanionKind::Walk)
                    && opts.shard == Shard::WHOLE)
                    .then(|| super::folds::folds_path(out)),
            )
            .find(|p| !p.exists())
    };
    let reason = match Identity::from_kv(&kv) {
        Ok(then) if then.check_same(ident).is_ok() && missing(&then).is_some() => {
            let p = missing(&then).unwrap_or_default();
            format!("its companion file {} is missing", p.display())
        }
        Err(_) => "it is not a gridsweep result file".to_string(),
        Ok(then) => match then.check_same(ident) {
            Err(m) => format!("{m}, the file's first and this run's second"),
            Ok(()) if kv_shard(&kv) != Some(opts.shard) => format!(
                "it holds shard {} and this run is shard {}",
                kv_shard(&kv).map_or("?".into(), |s| s.to_string()),
                opts.shard
            ),
            Ok(()) => {
                let mut report = Report::new(opts.rank, opts.top_n).across_symbols(spec);
                for batch in open_results(out, b_runs)? {
                    let batch =
                        batch.map_err(|e| SweepError::parquet("cannot read", out, e.into()))?;
                    report.observe(&batch);
                }
                return Ok(Completion::Done(report));
            }
        },
    };
    Ok(Completion::Other(reason))
}
