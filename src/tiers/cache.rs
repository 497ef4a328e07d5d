//! The on-disk tier cache: lock-free reads, locked atomic read-modify-write
//! (docs/tiers.md, "Writes, locking and atomicity" and "Security checks").
//!
//! Writers serialise on an exclusive `flock` of `<cache>.lock` (the standard library's
//! [`std::fs::File::lock`]), rewrite the whole file into `<stem>.tmp` (mode 0600) and rename it
//! over the cache, so a reader, which takes no lock, sees the old or the new file, never
//! a partial one. A corrupt cache is renamed to `<name>.corrupt-<timestamp>` before it is
//! rewritten. An unchanged entry is not rewritten (its `cached_at` is kept).

use std::fs::{DirBuilder, File};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::cache_format::{cache_entry, tiers_from_dict, tiers_to_dict};
use super::config::CacheConfig;
use super::error::TierError;
use super::note::Note;
use super::secure_fs;
use super::timestamp;
use super::Tier;

/// A validated cache location.
#[derive(Clone, Debug)]
pub struct CacheFile {
    configured: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
    temp_path: PathBuf,
    ttl: Duration,
    max_size: u64,
}

/// One symbol's entry as read from the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedTiers {
    /// The tiers, validated and ordered.
    pub tiers: Vec<Tier>,
    /// The entry's `cached_at`: `None` when absent, `Some("")` when not a string.
    pub cached_at: Option<String>,
    /// Modification time of the file it was read from.
    pub mtime: SystemTime,
    /// Size of the file it was read from.
    pub file_size: u64,
}

/// The whole cache file as read: its JSON root object and the metadata of the opened file.
#[derive(Debug)]
pub struct CacheSnapshot {
    /// The root object, symbol → entry.
    pub root: Map<String, Value>,
    /// `fstat` of the descriptor the text was read from.
    pub meta: std::fs::Metadata,
}

/// What a locked write did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteOutcome {
    /// Symbols whose entry was (re)written.
    pub written: Vec<String>,
    /// Symbols whose entry already held the same tiers (not rewritten).
    pub unchanged: Vec<String>,
    /// Where a corrupt cache file was moved before the rewrite.
    pub moved_aside: Option<PathBuf>,
    /// Messages for the caller (also logged).
    pub notes: Vec<Note>,
}

impl CacheFile {
    /// Validates the configured location (docs/tiers.md, "Security checks"), except that a symbolic
    /// link at the configured path is refused before the path is resolved (the origin resolves
    /// first, so it reports a link leading outside the root as "outside allowed directory
    /// <target>", and a link swapped in meanwhile is followed).
    ///
    /// # Errors
    /// "Cache path {p} is outside allowed directory {root}", "Cache path {p} is not a
    /// regular file", "Cache path must not be a symlink: {p}", "cache_ttl must be
    /// positive".
    pub fn new(config: &CacheConfig) -> Result<CacheFile, TierError> {
        if config.ttl.is_zero() {
            return Err(TierError::TtlNotPositive);
        }
        let configured = secure_fs::absolute(&secure_fs::expand_user(&config.cache_path))?;
        // The configured path itself is checked first, with lstat: resolving it first would
        // follow a link (and report its target), and a swap between the resolve and the check
        // would leave `path` pointing at the old target.
        if secure_fs::is_symlink(&configured) {
            return Err(TierError::CacheSymlink(configured));
        }
        // Only the directories are resolved; the file name stays the configured entry, which
        // every open then uses with O_NOFOLLOW, so a link swapped in later is refused.
        let path = match (configured.parent(), configured.file_name()) {
            (Some(dir), Some(name)) => secure_fs::resolve_lenient(dir).join(name),
            _ => secure_fs::resolve_lenient(&configured),
        };
        if let Some(root) = &config.allowed_root {
            let root =
                secure_fs::resolve_lenient(&secure_fs::absolute(&secure_fs::expand_user(root))?);
            if !path.starts_with(&root) || path == root {
                return Err(TierError::OutsideRoot { path, root });
            }
        }
        if secure_fs::is_symlink(&configured) || secure_fs::is_symlink(&path) {
            return Err(TierError::CacheSymlink(configured));
        }
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.is_file() {
                return Err(TierError::NotRegularFile(path));
            }
        }
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        let temp_path = path.with_extension("tmp");
        Ok(CacheFile {
            configured,
            path,
            lock_path,
            temp_path,
            ttl: config.ttl,
            max_size: config.max_size,
        })
    }

    /// The resolved cache file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file path (`<cache file name>.lock`).
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// The entry TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// True when the configured or resolved path is a symbolic link now.
    pub fn is_symlink(&self) -> bool {
        secure_fs::is_symlink(&self.configured) || secure_fs::is_symlink(&self.path)
    }

    /// Reads the whole cache without locking; `Ok(None)` when the file does not exist.
    ///
    /// # Errors
    /// The guards of [`secure_fs::open_cache_for_read`], "Corrupted cache file {path}:
    /// {e}" for invalid JSON, "Cache root must be a JSON object" for another root.
    pub fn read_all(&self) -> Result<Option<CacheSnapshot>, TierError> {
        if self.is_symlink() {
            return Err(TierError::CacheSymlink(self.configured.clone()));
        }
        let Some((mut file, meta)) = secure_fs::open_cache_for_read(&self.path, self.max_size)?
        else {
            return Ok(None);
        };
        let text = secure_fs::read_limited(&mut file, &self.path, self.max_size)?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(root)) => Ok(Some(CacheSnapshot { root, meta })),
            Ok(_) => Err(TierError::CacheRootNotObject(self.path.clone())),
            Err(e) => {
                Err(TierError::CorruptJson { path: self.path.clone(), message: e.to_string() })
            }
        }
    }

    /// Reads one symbol's entry (`_load_cache_entry`); `Ok(None)` when the file, the
    /// entry or its tiers are absent or empty.
    ///
    /// # Errors
    /// As [`CacheFile::read_all`], plus the validation errors of
    /// [`tiers_from_dict`] for the entry's tiers.
    pub fn read_entry(&self, symbol: &str) -> Result<Option<CachedTiers>, TierError> {
        let Some(CacheSnapshot { root, meta }) = self.read_all()? else {
            return Ok(None);
        };
        let Some(Value::Object(entry)) = root.get(symbol) else {
            return Ok(None);
        };
        let Some(tiers @ Value::Array(_)) = entry.get("tiers") else {
            return Ok(None);
        };
        let tiers = tiers_from_dict(tiers)?;
        if tiers.is_empty() {
            return Ok(None);
        }
        let cached_at = entry.get("cached_at").map(|v| v.as_str().unwrap_or_default().to_string());
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Some(CachedTiers { tiers, cached_at, mtime, file_size: meta.len() }))
    }

    /// `_is_cache_fresh`: not a symlink, within the size limit, file mtime and
    /// `cached_at` both younger than the TTL (a missing `cached_at` trusts the mtime; an
    /// empty, naive or malformed one is stale).
    pub fn is_fresh(&self, entry: &CachedTiers) -> bool {
        if self.is_symlink() || (self.max_size > 0 && entry.file_size > self.max_size) {
            return false;
        }
        let now = SystemTime::now();
        match now.duration_since(entry.mtime) {
            Ok(age) if age >= self.ttl => return false,
            _ => {}
        }
        let Some(cached_at) = &entry.cached_at else {
            return true;
        };
        let Some(at) = timestamp::parse_cached_at(cached_at) else {
            return false;
        };
        let age_us = i128::from(timestamp::now_micros()) - i128::from(at);
        age_us < self.ttl.as_micros() as i128
    }

    /// Writes one symbol's tiers (`save_to_cache`).
    ///
    /// # Errors
    /// As [`CacheFile::update`].
    pub fn save(&self, symbol: &str, tiers: &[Tier]) -> Result<WriteOutcome, TierError> {
        self.update(&[(symbol.to_string(), tiers.to_vec())])
    }

    /// Locked read-modify-write of several entries at once (`save_multiple_to_cache`).
    ///
    /// # Errors
    /// A symlinked cache or lock path, an oversize or insecure existing file, or an I/O
    /// error; the cache file is then unchanged.
    pub fn update(&self, entries: &[(String, Vec<Tier>)]) -> Result<WriteOutcome, TierError> {
        if self.is_symlink() {
            return Err(TierError::CacheSymlink(self.configured.clone()));
        }
        if let Some(dir) = self.path.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| TierError::io("cannot create cache directory", dir, e))?;
        }
        let lock = secure_fs::open_lock_file(&self.lock_path)?;
        // `File::lock` needs Rust 1.89 (hence `rust-version = "1.89"`).
        lock.lock().map_err(|e| TierError::io("cannot lock", &self.lock_path, e))?;
        let result = self.update_locked(entries);
        // Closing the descriptor releases the lock too; unlock explicitly for clarity.
        let _ = lock.unlock();
        result
    }

    fn update_locked(&self, entries: &[(String, Vec<Tier>)]) -> Result<WriteOutcome, TierError> {
        let mut out = WriteOutcome::default();
        let mut cache = match self.read_all() {
            Ok(Some(snapshot)) => snapshot.root,
            Ok(None) => Map::new(),
            Err(e @ (TierError::CorruptJson { .. } | TierError::CacheRootNotObject(_))) => {
                let aside = self.move_aside()?;
                out.notes.push(Note::emit(
                    log::Level::Warn,
                    format!(
                        "Invalid cache root in {}: expected JSON object; overwriting \
                         (previous file moved to {}; {e})",
                        self.path.display(),
                        aside.display()
                    ),
                ));
                out.moved_aside = Some(aside);
                Map::new()
            }
            Err(e) => return Err(e),
        };
        let stamp = timestamp::now_cached_at();
        for (symbol, tiers) in entries {
            let new = tiers_to_dict(tiers);
            let same = matches!(cache.get(symbol), Some(Value::Object(old))
                if old.get("tiers") == Some(&new) && old.contains_key("cached_at"));
            if same {
                out.unchanged.push(symbol.clone());
            } else {
                cache.insert(symbol.clone(), cache_entry(tiers, &stamp));
                out.written.push(symbol.clone());
            }
        }
        if out.written.is_empty() && out.moved_aside.is_none() {
            return Ok(out);
        }
        if self.write_atomically(&Value::Object(cache))? {
            out.notes.push(Note::emit(
                log::Level::Info,
                format!(
                    "Wrote {} as compact JSON: indented it would exceed the {} byte limit",
                    self.path.display(),
                    self.max_size
                ),
            ));
        }
        let msg = match out.written.as_slice() {
            [one] => format!("Cached risk limit tiers for {one}"),
            many => format!("Cached risk limit tiers for {} symbols", many.len()),
        };
        out.notes.push(Note::emit(log::Level::Info, msg));
        Ok(out)
    }

    /// Writes the whole cache; `Ok(true)` when it had to be compact to fit the size limit.
    /// A file the next read would refuse as oversize is never written.
    fn write_atomically(&self, cache: &Value) -> Result<bool, TierError> {
        let json_err = |e: serde_json::Error| TierError::InFile {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let mut text = serde_json::to_string_pretty(cache).map_err(json_err)?;
        let over = |t: &str| self.max_size > 0 && t.len() as u64 > self.max_size;
        let compact = over(&text);
        if compact {
            text = serde_json::to_string(cache).map_err(json_err)?;
            if over(&text) {
                return Err(TierError::WouldExceedSize {
                    path: self.path.clone(),
                    size: text.len() as u64,
                    max: self.max_size,
                    symbols: cache.as_object().map_or(0, |m| m.len()),
                });
            }
        }
        let write = |mut f: File| -> std::io::Result<()> {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        };
        let tmp = secure_fs::create_temp(&self.temp_path)?;
        if let Err(e) = write(tmp) {
            let _ = std::fs::remove_file(&self.temp_path);
            return Err(TierError::io("cannot write temp file", &self.temp_path, e));
        }
        if let Err(e) = std::fs::rename(&self.temp_path, &self.path) {
            let _ = std::fs::remove_file(&self.temp_path);
            return Err(TierError::io("cannot rename temp file over", &self.path, e));
        }
        crate::durable::sync_parent_dir(&self.path)
            .map_err(|e| TierError::io("cannot sync the directory of", &self.path, e))?;
        Ok(compact)
    }

    /// Renames the current cache file to `<name>.corrupt-<timestamp>` (never overwriting).
    fn move_aside(&self) -> Result<PathBuf, TierError> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let stamp = timestamp::file_stamp();
        let mut target = self.path.with_file_name(format!("{name}.corrupt-{stamp}"));
        let mut n = 1;
        while std::fs::symlink_metadata(&target).is_ok() {
            target = self.path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
            n += 1;
        }
        std::fs::rename(&self.path, &target)
            .map_err(|e| TierError::io("cannot move corrupt cache file aside", &self.path, e))?;
        Ok(target)
    }
}
