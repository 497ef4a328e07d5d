//! File-system guards for the cache (docs/tiers.md, "Security checks").
//!
//! Opens never follow a symbolic link (`O_NOFOLLOW`), and after opening, the `(dev, ino)`
//! of the descriptor is compared with `lstat(path)`, so a link swapped in between the
//! check and the use is detected. Unix only: this crate targets Linux and macOS.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::TierError;

/// Permission bits a cache, temp or lock file is created with.
pub const OWNER_ONLY: u32 = 0o600;

/// True when `path` itself (not its target) is a symbolic link.
pub fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// True when both metadata describe the same inode on the same device.
pub fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// `~` / `~/…` expanded with `$HOME` (Python's `expanduser`); other paths unchanged.
pub fn expand_user(path: &Path) -> PathBuf {
    let mut comps = path.components();
    if comps.next() == Some(Component::Normal("~".as_ref())) {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(comps.as_path());
        }
    }
    path.to_path_buf()
}

/// The path made absolute against the current directory (not resolved).
///
/// # Errors
/// When the current directory cannot be read.
pub fn absolute(path: &Path) -> Result<PathBuf, TierError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| TierError::io("cannot read current directory for", path, e))?;
    Ok(cwd.join(path))
}

/// Python's `Path.resolve(strict=False)`: symbolic links of the existing prefix resolved,
/// `.`/`..` removed, missing components kept as written.
pub fn resolve_lenient(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => out.push(comp.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(c) => {
                out.push(c);
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                }
            }
        }
    }
    out
}

fn nofollow_flags() -> i32 {
    libc::O_NOFOLLOW | libc::O_NONBLOCK
}

/// Opens an existing cache file for reading (`validate_and_open_cache_file`).
///
/// Returns `Ok(None)` when the file does not exist. `max_size = 0` disables the size check.
///
/// # Errors
/// A symlink ([`TierError::CacheSymlink`]), not a regular file, larger than `max_size`,
/// replaced during the open ([`TierError::IdentityChanged`]), writable by group or
/// others ([`TierError::InsecurePermissions`]), or any other I/O error.
pub fn open_cache_for_read(
    path: &Path,
    max_size: u64,
) -> Result<Option<(File, Metadata)>, TierError> {
    // A writer may rename a new file over the path between our open and lstat: that is
    // an atomic replace, not a swap. Retry a few times; a symlink is rejected at once.
    let mut attempts = 0;
    loop {
        match open_cache_once(path, max_size) {
            Err(TierError::IdentityChanged(_)) if attempts < 8 && !is_symlink(path) => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

fn open_cache_once(path: &Path, max_size: u64) -> Result<Option<(File, Metadata)>, TierError> {
    let file = match OpenOptions::new().read(true).custom_flags(nofollow_flags()).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(_) if is_symlink(path) => return Err(TierError::CacheSymlink(path.to_path_buf())),
        Err(e) => return Err(TierError::io("cannot open cache file", path, e)),
    };
    let meta = file.metadata().map_err(|e| TierError::io("cannot stat cache file", path, e))?;
    if !meta.is_file() {
        return Err(TierError::NotRegularFile(path.to_path_buf()));
    }
    if max_size > 0 && meta.len() > max_size {
        return Err(TierError::SizeExceeded {
            path: path.to_path_buf(),
            size: meta.len(),
            max: max_size,
        });
    }
    let lmeta = std::fs::symlink_metadata(path)
        .map_err(|e| TierError::io("cannot stat cache file", path, e))?;
    if lmeta.file_type().is_symlink() || !same_inode(&meta, &lmeta) {
        return Err(TierError::IdentityChanged(path.to_path_buf()));
    }
    check_permissions(path, &meta)?;
    Ok(Some((file, meta)))
}

/// Rejects a file writable by group or others.
///
/// # Errors
/// [`TierError::InsecurePermissions`] naming the path and mode.
pub fn check_permissions(path: &Path, meta: &Metadata) -> Result<(), TierError> {
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(TierError::InsecurePermissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// Reads an opened file to a string, refusing more than `max_size` bytes (0 = no limit).
///
/// # Errors
/// [`TierError::SizeExceeded`] if the file grew past the limit, or an I/O error.
pub fn read_limited(file: &mut File, path: &Path, max_size: u64) -> Result<String, TierError> {
    let mut text = String::new();
    let limit = if max_size == 0 { u64::MAX } else { max_size.saturating_add(1) };
    file.take(limit)
        .read_to_string(&mut text)
        .map_err(|e| TierError::io("cannot read cache file", path, e))?;
    if max_size > 0 && text.len() as u64 > max_size {
        return Err(TierError::SizeExceeded {
            path: path.to_path_buf(),
            size: text.len() as u64,
            max: max_size,
        });
    }
    Ok(text)
}

/// Opens (creating with mode 0600) the `.lock` file, refusing symbolic links
/// (docs/tiers.md, "Writes, locking and atomicity", step 1).
///
/// # Errors
/// [`TierError::LockSymlink`], [`TierError::LockChanged`], or the I/O error.
pub fn open_lock_file(path: &Path) -> Result<File, TierError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(OWNER_ONLY)
        .custom_flags(nofollow_flags())
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(_) if is_symlink(path) => return Err(TierError::LockSymlink(path.to_path_buf())),
        Err(e) => return Err(TierError::io("cannot open cache lock file", path, e)),
    };
    let lmeta = std::fs::symlink_metadata(path)
        .map_err(|e| TierError::io("cannot stat cache lock file", path, e))?;
    if lmeta.file_type().is_symlink() {
        return Err(TierError::LockSymlink(path.to_path_buf()));
    }
    let fmeta =
        file.metadata().map_err(|e| TierError::io("cannot stat cache lock file", path, e))?;
    if !same_inode(&lmeta, &fmeta) {
        return Err(TierError::LockChanged(path.to_path_buf()));
    }
    Ok(file)
}

/// Creates a fresh temp file with mode 0600 (an old one, or a link planted there, is
/// removed first; the create never follows a link).
///
/// # Errors
/// The I/O error, naming the path.
pub fn create_temp(path: &Path) -> Result<File, TierError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(TierError::io("cannot remove stale temp file", path, e)),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(OWNER_ONLY)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| TierError::io("cannot create temp file", path, e))
}
