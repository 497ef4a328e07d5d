//! [`Note`](crate::tiers::note::Note): a log message the tier subsystem emits and also hands back to its caller.
//!
//! Every note goes to the `log` facade (target `gridsweep::tiers`) and is returned in
//! [`crate::tiers::provider::Resolved::notes`], so tests can assert it and the CLI prints it to
//! stderr without installing a logger.

use std::fmt;

/// One message with its level, as the origin logs it (docs/tiers.md, "Where a table
/// comes from").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Severity (`Debug`, `Info`, `Warn`).
    pub level: log::Level,
    /// The message text.
    pub message: String,
}

impl Note {
    /// Builds a note and emits it through the `log` facade.
    pub fn emit(level: log::Level, message: String) -> Note {
        log::log!(target: "gridsweep::tiers", level, "{message}");
        Note { level, message }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.level, self.message)
    }
}
