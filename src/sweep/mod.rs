//! Parameter sweeps (docs/sweeps.md): a sweep file's cartesian product of parameters, run in
//! parallel over shared candles and one frozen tier table, streamed to Parquet.
//!
//! The pipeline is *[`spec`] (file → validated [`spec::SweepSpec`]) → [`space`] (mixed-radix
//! enumeration, `run_id`, parameter hash) → [`setup`] (tiers and candles resolved once) →
//! [`runner`] (rayon pool, one reusable engine per thread) → [`writer`] (one thread: durable
//! blocks, then the result file) → [`report`] (top-N, JSON)*. [`resume`], [`shard`] and
//! [`merge`] build on the fixed block layout: runs are grouped in blocks of
//! `block_runs` consecutive `run_id`s, and the result file is always assembled from those
//! blocks in order, so it is byte-identical whatever the thread count, however often the
//! sweep was interrupted, and whether it ran whole or as merged shards.

//!
//! Without the `parquet` feature only the sweep-file front end is built: [`spec`], [`space`]
//! and [`shard`].

/// The cross-symbol summary: combinations ranked by their worst and median objective.
pub mod across;
/// Per-run tables beside the result file (periods, walk record).
#[cfg(feature = "parquet")]
pub mod companion;
pub mod constraints;
#[cfg(feature = "parquet")]
pub mod exec;
/// Walk-forward folds derived from the walk record, and the folds file.
#[cfg(feature = "parquet")]
pub mod folds;
#[cfg(feature = "parquet")]
pub mod halving;
/// The checkpoint of a halving search: the probes and every finished rung.
#[cfg(feature = "parquet")]
pub mod halving_state;
#[cfg(feature = "parquet")]
pub mod identity;
#[cfg(feature = "parquet")]
pub mod merge;
#[cfg(feature = "parquet")]
pub mod periods;
#[cfg(feature = "parquet")]
pub mod progress;
#[cfg(feature = "parquet")]
pub mod report;
#[cfg(feature = "parquet")]
pub mod rerun;
#[cfg(feature = "parquet")]
pub mod results;
#[cfg(feature = "parquet")]
pub mod resume;
#[cfg(feature = "parquet")]
pub mod runner;
pub mod search;
#[cfg(feature = "parquet")]
pub mod selection_input;
#[cfg(feature = "parquet")]
pub mod setup;
pub mod shard;
pub mod space;
pub mod spec;
/// Sweeps across symbols: `[symbols.NAME]` tables and their run ids.
pub mod symbols;
/// Walk-forward sweeps: the section, the folds, each run's per-fold figures.
pub mod walk_forward;
#[cfg(feature = "parquet")]
pub mod writer;

#[cfg(feature = "parquet")]
pub use exec::{execute, ExecOptions, Summary};
#[cfg(feature = "parquet")]
pub use setup::SweepSetup;
pub use shard::Shard;
pub use space::{Axis, Space};
pub use spec::{SizeLimit, SpecError, SweepSpec};

/// Runs per block unless `--block-runs` says otherwise.
pub const DEFAULT_BLOCK_RUNS: u64 = 256;

/// Blocks per Parquet row group of the result file.
pub const ROW_GROUP_BLOCKS: u64 = 16;

use std::path::PathBuf;

/// A fatal sweep error (a failed run is not one: it becomes an error row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The sweep file is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Tiers or candles could not be resolved.
    #[error("{0}")]
    Setup(String),
    /// A file could not be read or written.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A Parquet file could not be read or written.
    #[cfg(feature = "parquet")]
    #[error("{context} {}: {source}", path.display())]
    Parquet {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Partial results cannot be resumed, or the output exists.
    #[error("{0}")]
    Resume(String),
    /// Parts cannot be merged.
    #[error("{0}")]
    Merge(String),
    /// A bad option.
    #[error("{0}")]
    Usage(String),
}

impl SweepError {
    #[cfg(feature = "parquet")]
    pub(crate) fn io(
        context: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        SweepError::Io { context, path: path.to_path_buf(), source }
    }

    #[cfg(feature = "parquet")]
    pub(crate) fn parquet(
        context: &'static str,
        path: &std::path::Path,
        source: parquet::errors::ParquetError,
    ) -> Self {
        SweepError::Parquet { context, path: path.to_path_buf(), source }
    }
}
