//! Per-run tables written beside a result file, block by block like it: the per-period
//! record (`<out>.periods.parquet`, [`super::periods`]) and the walk-forward record
//! (`<out>.walk.parquet`, [`super::walk_forward`]). Each block's rows are made durable before
//! the block's results, resumed with them, assembled into place before the result file and
//! merged shard by shard the same way.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::periods::companion_path;
use super::results::RunOutcome;
use super::setup::SweepSetup;

/// Which per-run table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompanionKind {
    /// Equity at each period end (`[record]`).
    Periods,
    /// Figures on each walk-forward fold (`[walk_forward]`).
    Walk,
}

impl CompanionKind {
    /// Every kind, in the order they are written.
    pub const ALL: [CompanionKind; 2] = [CompanionKind::Periods, CompanionKind::Walk];

    /// The table name: the file suffix, the segment prefix and `gridsweep.table`.
    pub fn table(self) -> &'static str {
        match self {
            CompanionKind::Periods => "periods",
            CompanionKind::Walk => "walk",
        }
    }

    /// The sweep-file section that asks for this table.
    pub fn section(self) -> &'static str {
        match self {
            CompanionKind::Periods => "record",
            CompanionKind::Walk => "walk_forward",
        }
    }

    /// The table's Arrow schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            CompanionKind::Periods => super::periods::schema(),
            CompanionKind::Walk => super::walk_forward::schema(),
        }
    }

    /// The file of this table beside the result file `out`.
    pub fn path(self, out: &Path) -> PathBuf {
        companion_path(out, self.table())
    }

    /// File metadata keys (besides the result file's) that describe the table.
    pub fn own_keys(self) -> &'static [&'static str] {
        match self {
            CompanionKind::Periods => &["gridsweep.table", "gridsweep.period_ms"],
            CompanionKind::Walk => &["gridsweep.table", "gridsweep.folds"],
        }
    }

    /// The tables a sweep file's text asks for.
    pub fn asked_by(sweep_toml: &str) -> Vec<CompanionKind> {
        let Ok(t) = sweep_toml.parse::<toml::Table>() else { return Vec::new() };
        CompanionKind::ALL.into_iter().filter(|k| t.contains_key(k.section())).collect()
    }
}

/// One per-run table of a sweep: its kind and rows per run.
#[derive(Clone, Debug)]
pub struct Companion {
    /// Which table.
    pub kind: CompanionKind,
    /// Rows per run (period ends, or folds).
    pub rows_per_run: u64,
    /// Metadata describing the table ([`CompanionKind::own_keys`]).
    pub kv: Vec<(String, String)>,
}

impl Companion {
    /// The tables `setup` writes, in [`CompanionKind::ALL`] order.
    pub fn of(setup: &SweepSetup) -> Vec<Companion> {
        let mut out = Vec::new();
        let table = |k: CompanionKind| ("gridsweep.table".to_string(), k.table().to_string());
        if let Some(r) = &setup.record {
            out.push(Companion {
                kind: CompanionKind::Periods,
                rows_per_run: r.ends.len() as u64,
                kv: vec![
                    table(CompanionKind::Periods),
                    ("gridsweep.period_ms".into(), r.period_ms.to_string()),
                ],
            });
        }
        if let Some(w) = &setup.walk {
            let folds = serde_json::to_string(&w.folds).unwrap_or_default();
            out.push(Companion {
                kind: CompanionKind::Walk,
                rows_per_run: w.folds.folds.len() as u64,
                kv: vec![table(CompanionKind::Walk), ("gridsweep.folds".into(), folds)],
            });
        }
        out
    }

    /// The rows of one block's outcomes.
    pub fn to_batch(&self, outcomes: &[RunOutcome], setup: &SweepSetup) -> RecordBatch {
        match self.kind {
            CompanionKind::Periods => {
                let ends = setup.record.as_ref().map_or(&[][..], |r| &r.ends[..]);
                super::periods::to_batch(outcomes, ends)
            }
            CompanionKind::Walk => {
                super::walk_forward::to_batch(outcomes, self.rows_per_run as usize)
            }
        }
    }
}
