//! Partial results: `<out>.parts/` holds one Parquet segment per finished block
//! (`block-000012.parquet`, written to a temporary name and renamed, so a kill at any
//! moment leaves only whole blocks), `manifest.json` (the sweep's [`Identity`] and shard)
//! and the marker `.gridsweep-parts`. Running the same command again keeps the finished
//! blocks and computes the rest; a different sweep file, data or tier table is refused.
//!
//! The directory itself is the lock: a process `flock`s it (opened without following a
//! link, then checked to be the same inode as the path) and holds the lock until the
//! directory is gone, so at most one process works on one output, and a finishing sweep
//! never has its directory pulled away by another. gridsweep only works in a directory it
//! created: a symbolic link, a non-directory, or a non-empty directory without the marker
//! is refused, naming the path, and nothing in it is touched.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use super::companion::{Companion, CompanionKind};
use super::setup::Identity;
use super::shard::{block_runs_range, Shard};
use super::writer::{read_kv, read_segment, read_segment_of, write_segment};
use super::SweepError;

/// The marker file that says a directory holds gridsweep's partial results.
pub const MARKER: &str = ".gridsweep-parts";

/// `<out>.parts`.
pub fn parts_dir_of(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".parts");
    PathBuf::from(s)
}

fn manifest_json(ident: &Identity, shard: Shard) -> String {
    let mut m = serde_json::Map::new();
    for (k, v) in ident.to_kv() {
        m.insert(k, v.into());
    }
    m.insert("gridsweep.shard".into(), shard.to_string().into());
    serde_json::to_string_pretty(&m).unwrap_or_default()
}

/// True for the names gridsweep writes in a parts directory (the only files it deletes).
fn is_own_file(name: &str) -> bool {
    let numbered = |rest: &str, prefix: &str| {
        rest.strip_prefix(prefix)
            .is_some_and(|r| r.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    let segment = numbered(name, "block-")
        || CompanionKind::ALL.iter().any(|k| numbered(name, &format!("{}-", k.table())));
    let assembly = CompanionKind::ALL.iter().any(|k| name == format!("{}.parquet.tmp", k.table()));
    matches!(name, "manifest.json" | "manifest.tmp" | "result.parquet.tmp" | "lock" | MARKER)
        || assembly
        || super::halving_state::is_checkpoint_file(name)
        || (segment && (name.ends_with(".parquet") || name.ends_with(".parquet.tmp")))
}

/// How the manifest of a locked parts directory relates to a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestState {
    /// No manifest (a new or emptied directory).
    Absent,
    /// The manifest of this sweep and shard.
    Same,
    /// Another sweep's or shard's (or an unreadable) manifest.
    Other,
}

/// The locked `<out>.parts` directory, before its manifest is checked.
#[derive(Debug)]
pub struct PartsLock {
    dir: PathBuf,
    lock: File,
}

impl PartsLock {
    /// Creates (if needed) and locks the parts directory of `out`.
    ///
    /// # Errors
    /// The path is a symbolic link, not a directory, or a directory gridsweep did not create
    /// (each message names it and says what to do); another process holds the lock; or an
    /// I/O error.
    pub fn acquire(out: &Path) -> Result<PartsLock, SweepError> {
        let dir = parts_dir_of(out);
        for _ in 0..16 {
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused(&dir)),
                Ok(m) if !m.is_dir() => {
                    return Err(SweepError::Resume(format!(
                        "{} exists and is not a directory, so gridsweep cannot keep its partial \
                         results there; move it away or choose another --out",
                        dir.display()
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(SweepError::io("cannot create", &dir, e)),
                },
                Err(e) => return Err(SweepError::io("cannot inspect", &dir, e)),
            }
            let lock = match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
                .open(&dir)
            {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(_) if is_symlink(&dir) => return Err(symlink_refused(&dir)),
                Err(e) => return Err(SweepError::io("cannot open", &dir, e)),
            };
            // An OS file lock dies with the process: a killed sweep never leaves a stale lock.
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(SweepError::io("cannot lock", &dir, e))
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(SweepError::Resume(format!(
                        "another gridsweep process is writing {} (its partial results {} are \
                     locked); wait for it to finish, then run the command again, or choose \
                     another --out",
                        out.display(),
                        dir.display()
                    )))
                }
            }
            // The lock must be on the directory the path names now: one that was removed
            // (a sweep just finished) or swapped while we opened it is retried.
            let parts = PartsLock { dir: dir.clone(), lock };
            if !parts.still_here() {
                continue;
            }
            parts.check_ours()?;
            return Ok(parts);
        }
        Err(SweepError::Resume(format!(
            "cannot lock {}: it keeps being replaced; make sure no other program writes there",
            dir.display()
        )))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when the path still names the locked directory (not a link, the same inode).
    fn still_here(&self) -> bool {
        match (self.lock.metadata(), std::fs::symlink_metadata(&self.dir)) {
            (Ok(f), Ok(l)) => {
                !l.file_type().is_symlink() && (f.dev(), f.ino()) == (l.dev(), l.ino())
            }
            _ => false,
        }
    }

    /// Refuses a directory gridsweep did not create: it must hold the marker, an earlier
    /// version's manifest, or nothing. Writes the marker when it is missing.
    fn check_ours(&self) -> Result<(), SweepError> {
        let marker = self.dir.join(MARKER);
        if std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file()) {
            return Ok(());
        }
        let manifest = self.dir.join("manifest.json");
        let legacy = std::fs::read_to_string(&manifest)
            .is_ok_and(|t| t.contains("\"gridsweep.sweep_sha256\""));
        let empty = std::fs::read_dir(&self.dir)
            .map_err(|e| SweepError::io("cannot list", &self.dir, e))?
            .next()
            .is_none();
        if !(legacy || empty) {
            return Err(SweepError::Resume(format!(
                "{} exists but was not created by gridsweep (it has no {MARKER} file), so it is \
                 left untouched; move it away or choose another --out",
                self.dir.display()
            )));
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&marker)
            .and_then(|mut f| {
                use std::io::Write;
                f.write_all(b"gridsweep partial results; removed when the sweep finishes\n")
            })
            .map_err(|e| SweepError::io("cannot create", &marker, e))
    }

    /// The manifest text naming `ident`'s shard `shard` (what [`PartsLock::manifest_state`]
    /// compares with).
    pub fn manifest_text(&self, ident: &Identity, shard: Shard) -> String {
        manifest_json(ident, shard)
    }

    /// How the directory's manifest relates to `ident` / `shard`.
    pub fn manifest_state(&self, ident: &Identity, shard: Shard) -> ManifestState {
        match std::fs::read_to_string(self.dir.join("manifest.json")) {
            Err(e) if e.kind() == ErrorKind::NotFound => ManifestState::Absent,
            Ok(have) if have == manifest_json(ident, shard) => ManifestState::Same,
            _ => ManifestState::Other,
        }
    }

    /// Deletes gridsweep's files (the marker last), removes the directory, and only then
    /// releases the lock. Files gridsweep did not write are left, and so is the directory.
    ///
    /// # Errors
    /// The directory was replaced since it was locked, holds other files, or an I/O error.
    pub fn remove(self) -> Result<(), SweepError> {
        if !self.still_here() {
            return Err(SweepError::Resume(format!(
                "{} was replaced while this process held it; it is left untouched",
                self.dir.display()
            )));
        }
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| SweepError::io("cannot list", &self.dir, e))?;
        let mut foreign = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == MARKER {
                continue;
            }
            if is_own_file(&name) {
                let p = entry.path();
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(SweepError::io("cannot remove", &p, e)),
                }
            } else {
                foreign.push(name);
            }
        }
        if !foreign.is_empty() {
            return Err(SweepError::Resume(format!(
                "{} holds files gridsweep did not write ({}); they and the directory are left",
                self.dir.display(),
                foreign.join(", ")
            )));
        }
        let marker = self.dir.join(MARKER);
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(SweepError::io("cannot remove", &marker, e))
            }
            _ => {}
        }
        std::fs::remove_dir(&self.dir)
            .map_err(|e| SweepError::io("cannot remove", &self.dir, e))?;
        let _ = crate::durable::sync_parent_dir(&self.dir);
        drop(self.lock);
        Ok(())
    }
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn symlink_refused(dir: &Path) -> SweepError {
    SweepError::Resume(format!(
        "{} is a symbolic link; gridsweep keeps partial results only in a directory it \
         creates itself and will not write through a link. Remove the link (it is not \
         followed) or choose another --out",
        dir.display()
    ))
}

/// The partial-results directory of one output file, locked for this process.
#[derive(Debug)]
pub struct PartsDir {
    dir: PathBuf,
    ident: Identity,
    shard: Shard,
    lock: PartsLock,
    /// The per-run tables the sweep writes beside its results (a segment each per block).
    companions: Vec<Companion>,
}

impl PartsDir {
    /// Checks the manifest of the locked directory `lock` for the sweep `ident` / `shard`
    /// (writing it in a new directory) and returns the directory with the blocks of `blocks`
    /// already finished there.
    ///
    /// # Errors
    /// The manifest belongs to another sweep (the message says what changed and how to
    /// start over), or an I/O error.
    pub fn open(
        lock: PartsLock,
        ident: &Identity,
        shard: Shard,
        blocks: std::ops::Range<u64>,
        companions: &[Companion],
    ) -> Result<(PartsDir, BTreeSet<u64>), SweepError> {
        let dir = lock.dir.clone();
        let manifest = dir.join("manifest.json");
        let want = manifest_json(ident, shard);
        match std::fs::read_to_string(&manifest) {
            Ok(have) if have == want => {}
            Ok(have) => {
                let reason =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&have)
                        .ok()
                        .and_then(|m| {
                            let kv: Vec<(String, String)> = m
                                .iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect();
                            let shard_then = m.get("gridsweep.shard").and_then(|v| v.as_str());
                            match Identity::from_kv(&kv) {
                                Ok(then) => then
                                    .check_same(ident)
                                    .err()
                                    .map(|m| {
                                        format!(
                                            "{m}, the partial results' first and this run's second"
                                        )
                                    })
                                    .or_else(|| {
                                        (shard_then != Some(&shard.to_string())).then(|| {
                                            format!(
                                                "they are shard {} and this run is shard {shard}",
                                                shard_then.unwrap_or("?")
                                            )
                                        })
                                    }),
                                Err(_) => None,
                            }
                        })
                        .unwrap_or_else(|| "its manifest is unreadable".into());
                return Err(SweepError::Resume(format!(
                    "cannot resume from {}: {reason}. Delete {} to start over, or pass a new \
                     --out to keep both",
                    dir.display(),
                    dir.display()
                )));
            }
            Err(_) => write_atomic(&manifest, want.as_bytes())?,
        }
        let parts =
            PartsDir { dir, ident: ident.clone(), shard, lock, companions: companions.to_vec() };
        let mut done = BTreeSet::new();
        let entries = std::fs::read_dir(&parts.dir)
            .map_err(|e| SweepError::io("cannot list", &parts.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_own_file(&name) {
                continue;
            }
            let path = entry.path();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(b) = name
                .strip_prefix("block-")
                .and_then(|s| s.strip_suffix(".parquet"))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            // A block is done when its results (and its per-run tables, written first) are
            // in place.
            let companions_ok = parts.companions.iter().all(|c| {
                parts.segment_ok_of(&parts.companion_path(c.kind, b), parts.companion_kv(c.kind, b))
            });
            if blocks.contains(&b) && parts.segment_ok(&path, b) && companions_ok {
                done.insert(b);
            } else {
                log::warn!(
                    "ignoring unusable partial block {}; it will be recomputed",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok((parts, done))
    }

    fn segment_kv(&self, b: u64) -> Vec<(String, String)> {
        vec![
            ("gridsweep.sweep_sha256".into(), self.ident.sweep_sha256.clone()),
            ("gridsweep.block".into(), b.to_string()),
        ]
    }

    /// Cheap check of a segment's footer: same sweep, same block, right row count.
    fn segment_ok(&self, path: &Path, b: u64) -> bool {
        self.segment_ok_of(path, self.segment_kv(b))
    }

    fn segment_ok_of(&self, path: &Path, want: Vec<(String, String)>) -> bool {
        let Ok(kv) = read_kv(path) else { return false };
        kv == want
    }

    fn companion_kv(&self, kind: CompanionKind, b: u64) -> Vec<(String, String)> {
        let mut kv = self.segment_kv(b);
        kv.push(("gridsweep.table".into(), kind.table().into()));
        kv
    }

    fn companion_path(&self, kind: CompanionKind, b: u64) -> PathBuf {
        self.dir.join(format!("{}-{b:06}.parquet", kind.table()))
    }

    /// Makes block `b`'s rows of a per-run table durable (before its results: a block is
    /// done once its results are in place).
    ///
    /// # Errors
    /// A write error.
    pub fn store_companion(
        &self,
        kind: CompanionKind,
        b: u64,
        batch: &RecordBatch,
    ) -> Result<(), SweepError> {
        write_segment(&self.companion_path(kind, b), batch, self.companion_kv(kind, b))
    }

    /// Reads finished block `b`'s rows of a per-run table back.
    ///
    /// # Errors
    /// The segment is unreadable or has the wrong size.
    pub fn load_companion(&self, c: &Companion, b: u64) -> Result<RecordBatch, SweepError> {
        let r = block_runs_range(b, self.ident.block_runs, self.ident.total_runs);
        let rows = (r.end - r.start) * c.rows_per_run;
        read_segment_of(&self.companion_path(c.kind, b), rows, &c.kind.schema())
    }

    /// Where a per-run table is assembled before it is renamed into place.
    pub fn companion_assembly_path(&self, kind: CompanionKind) -> PathBuf {
        self.dir.join(format!("{}.parquet.tmp", kind.table()))
    }

    fn segment_path(&self, b: u64) -> PathBuf {
        self.dir.join(format!("block-{b:06}.parquet"))
    }

    /// Makes block `b` durable.
    ///
    /// # Errors
    /// A write error.
    pub fn store(&self, b: u64, batch: &RecordBatch) -> Result<(), SweepError> {
        write_segment(&self.segment_path(b), batch, self.segment_kv(b))
    }

    /// Reads finished block `b` back.
    ///
    /// # Errors
    /// The segment is unreadable or has the wrong size.
    pub fn load(&self, b: u64) -> Result<RecordBatch, SweepError> {
        let r = block_runs_range(b, self.ident.block_runs, self.ident.total_runs);
        read_segment(&self.segment_path(b), r.end - r.start)
    }

    /// Where the result file is assembled before it is renamed into place.
    pub fn assembly_path(&self) -> PathBuf {
        self.dir.join("result.parquet.tmp")
    }

    /// The shard these partial results belong to.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Removes the directory (after the result file is in place), holding the lock until
    /// it is gone.
    ///
    /// # Errors
    /// As [`PartsLock::remove`].
    pub fn remove(self) -> Result<(), SweepError> {
        self.lock.remove()
    }
}

/// Writes `bytes` to `path` durably, through a synced temporary file and a rename.
///
/// # Errors
/// An I/O error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = path.with_extension("tmp");
    crate::durable::replace_file(path, &tmp, bytes)
        .map_err(|(what, e)| SweepError::io(what, path, e))
}
