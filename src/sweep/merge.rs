//! `gridsweep merge`: joins the result files of shards `1/N … N/N` of one sweep into the
//! file an unsharded run writes, byte for byte.

use std::path::{Path, PathBuf};

use super::companion::CompanionKind;
use super::exec::{file_kv, kv_shard};
use super::report::{RankBy, Report};
use super::results::RUN_ID;
use super::setup::Identity;
use super::shard::{block_count, Shard};
use super::writer::{open_results, read_kv, Assembler};
use super::{SweepError, ROW_GROUP_BLOCKS};
use crate::output::guard::{self, Input, Kind, Output};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;

/// What a merge did.
#[derive(Clone, Debug)]
pub struct MergeSummary {
    /// Merged file.
    pub out: PathBuf,
    /// Sweep name.
    pub name: String,
    /// Runs in the sweep.
    pub total_runs: u64,
    /// Number of parts merged.
    pub parts: u32,
    /// Counts and top runs.
    pub report: Report,
    /// Axis names (with `symbol` first for a sweep over several symbols).
    pub axes: Vec<String>,
    /// The merged sweep's file, parsed.
    pub spec: super::spec::SweepSpec,
}

struct Part {
    path: PathBuf,
    ident: Identity,
    shard: Shard,
}

/// Merges `parts` (any order) into `out`.
///
/// # Errors
/// A part that is not a gridsweep result file, parts of different sweeps, a missing or
/// duplicated shard, a part whose rows do not match its shard, `out` existing (unless
/// `force`) or being one of the parts, or an I/O error.
pub fn merge(
    parts: &[PathBuf],
    out: &Path,
    rank: RankBy,
    top_n: usize,
    force: bool,
) -> Result<MergeSummary, SweepError> {
    if parts.is_empty() {
        return Err(SweepError::Merge("give the shard result files to merge".into()));
    }
    let part_inputs: Vec<Input<'_>> =
        parts.iter().map(|p| Input { role: "one of the parts", path: p }).collect();
    let output = Output { flag: "--out", path: out, kind: Kind::SweepResult };
    // Before reading anything: an --out that is a part or a directory fails at once.
    guard::check(&part_inputs, &[output], true).map_err(|e| SweepError::Merge(e.to_string()))?;
    let mut found: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts {
        let kv = read_kv(p)?;
        let not_ours = || {
            SweepError::Merge(format!(
                "{} is not a gridsweep sweep result (its gridsweep.* metadata is missing)",
                p.display()
            ))
        };
        let ident = Identity::from_kv(&kv).map_err(|_| not_ours())?;
        let shard = kv_shard(&kv).ok_or_else(not_ours)?;
        found.push(Part { path: p.clone(), ident, shard });
    }
    let first = &found[0];
    for p in &found[1..] {
        if let Err(reason) = first.ident.check_same(&p.ident) {
            return Err(SweepError::Merge(format!(
                "{} and {} are parts of different sweeps: {reason}; merge only the shards of \
                 one sweep run",
                first.path.display(),
                p.path.display()
            )));
        }
        if p.shard.count != first.shard.count {
            return Err(SweepError::Merge(format!(
                "{} is shard {} but {} is shard {}: all parts must come from the same --shard \
                 K/N split",
                first.path.display(),
                first.shard,
                p.path.display(),
                p.shard
            )));
        }
    }
    let n = first.shard.count;
    let ident = first.ident.clone();
    let spec = super::spec::SweepSpec::parse(
        &ident.sweep_toml,
        Path::new("(the sweep file stored in the merged parts)"),
        super::spec::SizeLimit { max_runs: u64::MAX, force: true },
    )
    .map_err(|e| SweepError::Merge(e.to_string()))?;
    found.sort_by_key(|p| p.shard.index);
    for w in found.windows(2) {
        if w[0].shard == w[1].shard {
            return Err(SweepError::Merge(format!(
                "shard {} is given twice ({} and {}); pass each shard once",
                w[0].shard,
                w[0].path.display(),
                w[1].path.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !found.iter().any(|p| p.shard.index == *k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Merge(format!(
            "shard{} {} {} missing; run `gridsweep sweep <file> --shard K/{n}` for {} and \
             pass {} too",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
            if missing.len() == 1 { "its output" } else { "their outputs" },
        )));
    }
    // The candle and tier files the sweep read are inputs too: `--force` must not replace
    // them with the merged result.
    let mut sweep_inputs: Vec<(&str, PathBuf)> = spec
        .symbols
        .iter()
        .flat_map(|d| d.input_files(None))
        .map(|(role, p)| (role, p.to_path_buf()))
        .collect();
    if holds_text(out, &ident.sweep_toml) {
        sweep_inputs.push(("the sweep file of the merged sweep", out.to_path_buf()));
    }
    let mut inputs = part_inputs;
    inputs.extend(sweep_inputs.iter().map(|(role, p)| Input { role, path: p }));
    guard::check(&inputs, &[output], force).map_err(|e| SweepError::Merge(e.to_string()))?;
    if out.exists() && !force {
        return Err(SweepError::Merge(format!(
            "{} already exists; delete it, choose another --out, or pass --force to overwrite",
            out.display()
        )));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SweepError::io("cannot create", dir, e))?;
    }

    let b_runs = ident.block_runs;
    let total = ident.total_runs;
    for stale in crate::durable::remove_stale_temps(out) {
        log::info!("removed {}, left by a merge that was killed", stale.display());
    }
    let tmp = crate::durable::temp_beside(out);
    let mut asm = Assembler::create(
        &tmp,
        b_runs * ROW_GROUP_BLOCKS,
        file_kv(&ident, Shard::WHOLE, 0, total),
    )?;
    let mut report = Report::new(rank, top_n).across_symbols(&spec);
    let nblocks = block_count(total, b_runs);
    let result = (|| {
        for p in &found {
            let want = p.shard.blocks(nblocks);
            let (lo, hi) = ((want.start * b_runs).min(total), (want.end * b_runs).min(total));
            let mut next = lo;
            for batch in open_results(&p.path, b_runs)? {
                let batch =
                    batch.map_err(|e| SweepError::parquet("cannot read", &p.path, e.into()))?;
                let ids = batch
                    .column_by_name(RUN_ID)
                    .map(|c| c.as_primitive::<UInt64Type>().clone())
                    .filter(|c| !c.is_empty());
                let aligned = ids.is_some_and(|ids| {
                    ids.value(0) == next
                        && ids.len() as u64 == (next + b_runs).min(hi) - next
                        && ids.values().iter().zip(next..).all(|(a, b)| *a == b)
                });
                if !aligned {
                    return Err(SweepError::Merge(format!(
                        "{} does not hold runs {lo}..{hi} of shard {} in order; it is damaged \
                         or was edited: rerun that shard",
                        p.path.display(),
                        p.shard
                    )));
                }
                next += batch.num_rows() as u64;
                asm.append(&batch)?;
                report.observe(&batch);
            }
            if next != hi {
                return Err(SweepError::Merge(format!(
                    "{} ends at run {next}, but shard {} runs to {hi}; it is incomplete: rerun \
                     that shard",
                    p.path.display(),
                    p.shard
                )));
            }
        }
        // The per-run tables too, and the folds of a walk-forward (written before the
        // result file, as a sweep does).
        for kind in CompanionKind::asked_by(&ident.sweep_toml) {
            merge_companion(&found, out, &ident, b_runs, nblocks, kind)?;
        }
        if CompanionKind::asked_by(&ident.sweep_toml).contains(&CompanionKind::Walk) {
            let plan = super::folds::plan_from_file(out, &spec)?;
            super::folds::write_folds(out, &spec, &plan)?;
        }
        asm.finish(out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    Ok(MergeSummary {
        out: out.to_path_buf(),
        name: ident.name.clone(),
        total_runs: total,
        parts: n,
        report,
        axes: spec.shown_axes().into_iter().map(String::from).collect(),
        spec,
    })
}

/// Merges the parts' files of a per-run table (`<part>.<table>.parquet`, shard order) into
/// `<out>.<table>.parquet`, checking that each holds its shard's runs from the first on and
/// the same number of rows per run.
fn merge_companion(
    found: &[Part],
    out: &Path,
    ident: &Identity,
    b_runs: u64,
    nblocks: u64,
    kind: CompanionKind,
) -> Result<(), SweepError> {
    let (schema, table) = (|| kind.schema(), kind.table());
    let total = ident.total_runs;
    let dest = kind.path(out);
    let tmp = crate::durable::temp_beside(&dest);
    let mut kv = file_kv(ident, Shard::WHOLE, 0, total);
    let mut per_run: Option<u64> = None;
    let mut asm: Option<Assembler> = None;
    let rows_of = |path: &Path| -> Result<u64, SweepError> {
        let f = std::fs::File::open(path).map_err(|e| SweepError::io("cannot open", path, e))?;
        let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| SweepError::parquet("cannot read", path, e))?;
        Ok(u64::try_from(b.metadata().file_metadata().num_rows()).unwrap_or(0))
    };
    let result = (|| {
        for p in found {
            let path = kind.path(&p.path);
            if !path.exists() {
                return Err(SweepError::Merge(format!(
                    "{} is missing: the sweep has [{}], so each part needs its {table} file \
                     beside it; copy it there or rerun shard {}",
                    path.display(),
                    kind.section(),
                    p.shard
                )));
            }
            let part_kv = read_kv(&path)?;
            if Identity::from_kv(&part_kv).ok().is_none_or(|i| i.check_same(ident).is_err()) {
                return Err(SweepError::Merge(format!(
                    "{} is not the {table} file of {}: rerun shard {}",
                    path.display(),
                    p.path.display(),
                    p.shard
                )));
            }
            let want = p.shard.blocks(nblocks);
            let (lo, hi) = ((want.start * b_runs).min(total), (want.end * b_runs).min(total));
            let runs = hi - lo;
            let t = rows_of(&path)?.checked_div(runs).unwrap_or(0);
            let mut rows = 0u64;
            let mut first_id = None;
            // Batches of one block each, as the sweep appended them.
            let batch_rows = b_runs.saturating_mul(t.max(1));
            for batch in super::writer::open_table(&path, batch_rows, &schema())? {
                let batch =
                    batch.map_err(|e| SweepError::parquet("cannot read", &path, e.into()))?;
                if first_id.is_none() && batch.num_rows() > 0 {
                    first_id = batch
                        .column_by_name("run_id")
                        .map(|c| c.as_primitive::<UInt64Type>().value(0));
                }
                rows += batch.num_rows() as u64;
                if asm.is_none() {
                    for (k, v) in &part_kv {
                        if kind.own_keys().contains(&k.as_str()) {
                            kv.push((k.clone(), v.clone()));
                        }
                    }
                    let group = (b_runs * ROW_GROUP_BLOCKS).saturating_mul(t.max(1));
                    asm = Some(Assembler::create_with(&tmp, schema(), group, kv.clone())?);
                }
                if let Some(a) = asm.as_mut() {
                    a.append(&batch)?;
                }
            }
            let consistent = per_run.is_none_or(|pr| pr == t) && rows == runs * t;
            if !consistent || (runs > 0 && first_id != Some(lo)) {
                return Err(SweepError::Merge(format!(
                    "{} does not hold the {table} rows of runs {lo}..{hi} of shard {}: rerun \
                     that shard",
                    path.display(),
                    p.shard
                )));
            }
            per_run = Some(t);
        }
        match asm {
            Some(a) => a.finish(&dest),
            None => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// True when `path` is a file whose whole text is `text` (the sweep file these parts were
/// run from, which the parts do not name).
fn holds_text(path: &Path, text: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == text.len() as u64)
        && std::fs::read(path).is_ok_and(|b| b == text.as_bytes())
}
