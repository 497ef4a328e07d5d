//! `gridsweep merge`: joins the result files of shards `1/N … N/N` of one sweep into the
//! file an unsharded run writes, byte for byte.

use std::path::{Path, PathBuf};

use super::exec::{file_kv, kv_shard};
use super::report::{RankBy, Report};
use super::results::RUN_ID;
use super::setup::Identity;
use super::shard::{block_count, Shard};
use super::writer::{open_results, read_kv, Assembler};
use super::{SweepError, ROW_GROUP_BLOCKS};
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
    /// Axis names.
    pub axes: Vec<String>,
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
    let mut found: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts {
        if same_path(p, out) {
            return Err(SweepError::Merge(format!(
                "--out {} is also one of the parts; choose another output file",
                out.display()
            )));
        }
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
        if let Some(reason) = p.ident.mismatch(&first.ident) {
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
    let tmp = tmp_beside(out);
    let mut asm = Assembler::create(
        &tmp,
        b_runs * ROW_GROUP_BLOCKS,
        file_kv(&ident, Shard::WHOLE, 0, total),
    )?;
    let mut report = Report::new(rank, top_n);
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
        axes: ident.axes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
    })
}

fn tmp_beside(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
