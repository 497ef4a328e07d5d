//! Partial results: `<out>.parts/` holds one Parquet segment per finished block
//! (`block-000012.parquet`, written to a temporary name and renamed, so a kill at any
//! moment leaves only whole blocks) and `manifest.json` (the sweep's [`Identity`] and
//! shard). Running the same command again keeps the finished blocks and computes the rest;
//! a different sweep file, data or tier table is refused.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use super::setup::Identity;
use super::shard::{block_runs_range, Shard};
use super::writer::{read_kv, read_segment, write_segment};
use super::SweepError;

/// The partial-results directory of one output file, locked for this process.
#[derive(Debug)]
pub struct PartsDir {
    dir: PathBuf,
    ident: Identity,
    shard: Shard,
    _lock: File,
}

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

impl PartsDir {
    /// Opens (or creates) the parts directory of `out` for the sweep `ident` / `shard` and
    /// returns it with the blocks already finished there.
    ///
    /// # Errors
    /// Another process holds the directory, the manifest belongs to another sweep (the
    /// message says what changed and how to start over), or an I/O error.
    pub fn open(
        out: &Path,
        ident: &Identity,
        shard: Shard,
        blocks: std::ops::Range<u64>,
    ) -> Result<(PartsDir, BTreeSet<u64>), SweepError> {
        let dir = parts_dir_of(out);
        std::fs::create_dir_all(&dir).map_err(|e| SweepError::io("cannot create", &dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| SweepError::io("cannot create", &lock_path, e))?;
        // An OS file lock dies with the process: a killed sweep never leaves a stale lock.
        if lock.try_lock().is_err() {
            return Err(SweepError::Resume(format!(
                "another gridsweep process is writing {}; wait for it or choose another --out",
                out.display()
            )));
        }
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
                                Ok(then) => then.mismatch(ident).or_else(|| {
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
        let parts = PartsDir { dir, ident: ident.clone(), shard, _lock: lock };
        let mut done = BTreeSet::new();
        let entries = std::fs::read_dir(&parts.dir)
            .map_err(|e| SweepError::io("cannot list", &parts.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
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
            if blocks.contains(&b) && parts.segment_ok(&path, b) {
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
        let Ok(kv) = read_kv(path) else { return false };
        kv == self.segment_kv(b)
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

    /// Removes the directory (after the result file is in place).
    ///
    /// # Errors
    /// An I/O error.
    pub fn remove(self) -> Result<(), SweepError> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).map_err(|e| SweepError::io("cannot remove", &dir, e))
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
