//! The checkpoint of a halving search in the parts directory (`<out>.parts/`), so a killed
//! search resumes at the last finished rung instead of the first (docs/sweeps.md,
//! "Successive halving").
//!
//! After the probes: `probes.parquet` (their result rows) and `probes.json` (their objective
//! at every rung end, as f64 bits, and the candles they took). After each rung but the last:
//! `rung-NNN.parquet` (the rows of the runs that ended there: pruned, failed, eliminated)
//! and `rung-NNN.json` (the rung report, the survivors' run ids and the candle·runs of the
//! runs ended so far). Every file is written through a synced temporary file and a rename,
//! after `manifest.json` names the sweep and shard; a checkpoint of another sweep or shard
//! is never read.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use super::halving::RungReport;
use super::resume::{write_atomic, PartsLock};
use super::setup::Identity;
use super::shard::Shard;
use super::writer::{read_segment, write_segment};
use super::SweepError;

/// The probes' saved part: their objective per rung end and the candles they took.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeKeys {
    /// `(run_id, objective key bits at each rung end)`, in run-id order.
    pub keys: Vec<(u64, Vec<u64>)>,
    /// Candles handed to the engine over all probes.
    pub candles: u64,
}

/// One finished rung's saved part (besides its rows).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RungState {
    /// The rung report.
    pub report: RungReport,
    /// The run ids going on to the next rung, ascending.
    pub survivors: Vec<u64>,
    /// Candle·runs of every run that ended so far (probes not included).
    pub evaluated: u64,
}

/// What a killed search left: the probes, then every finished rung in order.
#[derive(Debug, Default)]
pub struct Saved {
    /// The probes' rows and keys, when they finished.
    pub probes: Option<(RecordBatch, ProbeKeys)>,
    /// The finished rungs (0, 1, …), each with the rows of the runs that ended there.
    pub rungs: Vec<(RecordBatch, RungState)>,
}

/// The checkpoint directory of one halving search, under its lock.
#[derive(Debug)]
pub struct Checkpoint<'a> {
    lock: &'a PartsLock,
}

fn probes_rows(dir: &Path) -> PathBuf {
    dir.join("probes.parquet")
}

fn probes_json(dir: &Path) -> PathBuf {
    dir.join("probes.json")
}

fn rung_rows(dir: &Path, r: u32) -> PathBuf {
    dir.join(format!("rung-{r:03}.parquet"))
}

fn rung_json(dir: &Path, r: u32) -> PathBuf {
    dir.join(format!("rung-{r:03}.json"))
}

/// True for the file names a halving checkpoint writes (for the parts directory's cleanup).
pub fn is_checkpoint_file(name: &str) -> bool {
    let rung = name.strip_prefix("rung-").is_some_and(|r| {
        r.len() > 3 && r.as_bytes()[..3].iter().all(u8::is_ascii_digit) && {
            let ext = &r[3..];
            [".parquet", ".json", ".parquet.tmp", ".tmp"].contains(&ext)
        }
    });
    rung || matches!(name, "probes.parquet" | "probes.json" | "probes.parquet.tmp" | "probes.tmp")
}

impl<'a> Checkpoint<'a> {
    /// Opens the checkpoint of `ident`'s shard `shard` in the locked directory: what an
    /// earlier invocation of the same search saved, or nothing (a directory of another sweep
    /// or shard is cleared first; its manifest names this one afterwards).
    ///
    /// # Errors
    /// An I/O error.
    pub fn open(
        lock: &'a PartsLock,
        ident: &Identity,
        shard: Shard,
    ) -> Result<(Checkpoint<'a>, Saved), SweepError> {
        let c = Checkpoint { lock };
        let dir = lock.dir();
        let same = matches!(lock.manifest_state(ident, shard), super::resume::ManifestState::Same);
        if !same {
            c.clear()?;
            write_atomic(&dir.join("manifest.json"), lock.manifest_text(ident, shard).as_bytes())?;
            return Ok((c, Saved::default()));
        }
        let saved = match c.load() {
            Ok(s) => s,
            Err(e) => {
                log::warn!(
                    "the saved halving rungs in {} are unreadable ({e}); starting over",
                    dir.display()
                );
                c.clear()?;
                Saved::default()
            }
        };
        Ok((c, saved))
    }

    fn load(&self) -> Result<Saved, SweepError> {
        let dir = self.lock.dir();
        let mut saved = Saved::default();
        if !probes_json(dir).exists() {
            return Ok(saved);
        }
        let keys: ProbeKeys = read_json(&probes_json(dir))?;
        let rows = read_segment(&probes_rows(dir), keys.keys.len() as u64)?;
        saved.probes = Some((rows, keys));
        for r in 0u32.. {
            let j = rung_json(dir, r);
            if !j.exists() {
                break;
            }
            let state: RungState = read_json(&j)?;
            let ended = state.report.runs - state.report.kept;
            let rows = read_segment(&rung_rows(dir, r), ended)?;
            saved.rungs.push((rows, state));
        }
        Ok(saved)
    }

    /// Saves the probes' rows and keys.
    ///
    /// # Errors
    /// A write error.
    pub fn save_probes(&self, rows: &RecordBatch, keys: &ProbeKeys) -> Result<(), SweepError> {
        let dir = self.lock.dir();
        write_segment(&probes_rows(dir), rows, Vec::new())?;
        write_json(&probes_json(dir), keys)
    }

    /// Saves rung `state.report.rung`: the rows that ended there, then its state (the state
    /// file is what marks the rung as saved).
    ///
    /// # Errors
    /// A write error.
    pub fn save_rung(&self, rows: &RecordBatch, state: &RungState) -> Result<(), SweepError> {
        let dir = self.lock.dir();
        let r = state.report.rung;
        write_segment(&rung_rows(dir, r), rows, Vec::new())?;
        write_json(&rung_json(dir, r), state)
    }

    /// Removes every checkpoint file (an inconsistent or foreign checkpoint).
    ///
    /// # Errors
    /// An I/O error.
    pub fn clear(&self) -> Result<(), SweepError> {
        let dir = self.lock.dir();
        let entries = std::fs::read_dir(dir).map_err(|e| SweepError::io("cannot list", dir, e))?;
        for e in entries.flatten() {
            if is_checkpoint_file(&e.file_name().to_string_lossy()) {
                let p = e.path();
                std::fs::remove_file(&p).map_err(|e| SweepError::io("cannot remove", &p, e))?;
            }
        }
        Ok(())
    }
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<(), SweepError> {
    let text = serde_json::to_string(v).unwrap_or_default();
    write_atomic(path, text.as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SweepError> {
    let text = std::fs::read_to_string(path).map_err(|e| SweepError::io("cannot read", path, e))?;
    serde_json::from_str(&text).map_err(|e| SweepError::Resume(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_file_names_are_recognised_and_nothing_else() {
        for n in [
            "probes.parquet",
            "probes.json",
            "probes.tmp",
            "rung-000.parquet",
            "rung-012.json",
            "rung-003.tmp",
            "rung-001.parquet.tmp",
        ] {
            assert!(is_checkpoint_file(n), "{n}");
        }
        for n in [
            "rung-.json",
            "rung-ab1.json",
            "rung-001.txt",
            "probes.csv",
            "block-000001.parquet",
            "notes.json",
        ] {
            assert!(!is_checkpoint_file(n), "{n}");
        }
    }
}
