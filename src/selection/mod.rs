//! Honest selection (docs/selection.md): statistics that say how far a sweep's winner can be
//! trusted.
//!
//! Pure core: no I/O, no clock, no randomness. Every function takes plain slices or the
//! [`ReturnsMatrix`] and returns a serialisable report, so the CLI (`validate`) only reads
//! files and prints.
//!
//! - [`returns`]: period returns from a dense equity matrix;
//! - [`mod@pbo`]: the probability of backtest overfitting by combinatorially symmetric
//!   cross-validation, with the performance degradation and the probability of loss;
//! - [`dsr`]: the deflated Sharpe ratio, the minimum backtest length and a verdict;
//! - [`pareto`]: exact non-dominated sorting over 2–4 objectives;
//! - [`plateau`]: the minimum and median of an objective over a run's grid neighbourhood;
//! - [`walk_forward`]: train/test window arithmetic and a duration parser;
//! - [`summary`]: PBO, DSR and MinBTL in one object with `validate --json`'s keys.

pub mod dsr;
pub mod pareto;
pub mod pbo;
pub mod plateau;
pub mod returns;
pub mod summary;
pub mod walk_forward;

pub use dsr::{deflated_sharpe, min_backtest_length_years, DsrInput, DsrReport};
pub use pareto::{pareto_ranks, Direction};
pub use pbo::{pbo, Objective, PboReport};
pub use plateau::{plateau_scores, Neighbourhood, PlateauScore};
pub use returns::ReturnsMatrix;
pub use summary::{summarise, ValidationSummary};
pub use walk_forward::{choose, folds, parse_duration_ms, rank_from_top, Folds, Select};

/// Why a selection statistic cannot be computed from its inputs.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// The number of blocks is odd, below 2 or above 32.
    #[error("the number of splits must be even and between 2 and 32 (was {splits})")]
    BadSplits {
        /// The requested number of blocks.
        splits: usize,
    },
    /// Fewer periods than blocks.
    #[error("{periods} periods cannot be cut into {splits} blocks; record a shorter period or use fewer splits")]
    TooFewPeriods {
        /// Periods in the matrix.
        periods: usize,
        /// The requested number of blocks.
        splits: usize,
    },
    /// Fewer than two runs (or no run, where one is enough).
    #[error("at least {needed} runs are needed (got {runs})")]
    TooFewRuns {
        /// Runs given.
        runs: usize,
        /// Runs needed.
        needed: usize,
    },
    /// A matrix's data length is not runs × periods, or per-run inputs disagree in length.
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A value that must be finite (or positive) is not.
    #[error("{what} must be {must} (was {value} at index {index})")]
    BadValue {
        /// Which input.
        what: &'static str,
        /// What it must be.
        must: &'static str,
        /// The offending value.
        value: f64,
        /// Its position.
        index: usize,
    },
    /// Run ids are not strictly increasing.
    #[error("run ids must be strictly increasing (index {index})")]
    RunIdOrder {
        /// The first index out of order.
        index: usize,
    },
    /// Objectives and directions disagree, or there are not 2–4 objectives.
    #[error("Pareto sorting takes 2 to 4 objectives, each with a direction (got {objectives} objectives and {directions} directions)")]
    ParetoShape {
        /// Objective columns given.
        objectives: usize,
        /// Directions given.
        directions: usize,
    },
    /// A walk-forward or duration input is wrong; the message says what to change.
    #[error("{0}")]
    Window(String),
    /// A `--pareto` objective list is malformed; the message says what to change.
    #[error("{0}")]
    ObjectiveSpec(String),
}
