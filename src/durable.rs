//! Durable replacement of a file: its data is synced before the rename, and the directory
//! entry the rename wrote is synced after it, so a crash leaves the old file or the new one.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Syncs the directory holding `path`, making a finished rename in it survive a crash.
/// File systems that cannot sync a directory (and non-Unix systems) count as done.
///
/// # Errors
/// An I/O error while syncing.
pub fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    if !cfg!(unix) {
        return Ok(());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => Ok(()),
        other => other,
    }
}

/// Writes `bytes` to `tmp`, syncs it, renames it to `path` and syncs the directory.
///
/// # Errors
/// The failing step's I/O error and the path it concerned; `tmp` is removed on failure.
pub fn replace_file(
    path: &Path,
    tmp: &Path,
    bytes: &[u8],
) -> Result<(), (&'static str, std::io::Error)> {
    let write = || -> std::io::Result<()> {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(tmp);
        return Err(("cannot write", e));
    }
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(("cannot rename into", e));
    }
    sync_parent_dir(path).map_err(|e| ("cannot sync the directory of", e))
}

/// `.NAME.tmp-PID` beside `path`: the temporary name a writer of `path` uses (in the same
/// directory, since a rename is atomic only within one file system).
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Removes the `.NAME.tmp-PID` files left beside `path` by writers that were killed: those
/// whose process no longer runs. Where liveness cannot be checked (no `/proc`), nothing is
/// removed. Returns the files removed.
pub fn remove_stale_temps(path: &Path) -> Vec<PathBuf> {
    let proc_root = Path::new("/proc/self");
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    if !proc_root.exists() {
        return Vec::new();
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_writes_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("gridsweep-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, tmp) = (dir.join("m.json"), dir.join("m.tmp"));
        std::fs::write(&path, "old").unwrap();
        replace_file(&path, &tmp, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(!tmp.exists());
        // A rename that cannot happen (the target is a non-empty directory) removes the temp.
        let blocked = dir.join("sub");
        std::fs::create_dir_all(blocked.join("x")).unwrap();
        let err = replace_file(&blocked, &tmp, b"z").unwrap_err();
        assert_eq!(err.0, "cannot rename into");
        assert!(!tmp.exists());
        sync_parent_dir(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temps_of_dead_writers_are_removed_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("gridsweep-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("m.parquet");
        // A child that has exited and been reaped: its PID runs no process now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.join(format!(".m.parquet.tmp-{dead}"));
        let mine = temp_beside(&out);
        let other_name = dir.join(format!(".other.parquet.tmp-{dead}"));
        for p in [&stale, &mine, &other_name] {
            std::fs::write(p, "x").unwrap();
        }
        assert_eq!(remove_stale_temps(&out), vec![stale.clone()]);
        assert!(!stale.exists());
        assert!(mine.exists(), "this process's own temp file is kept");
        assert!(other_name.exists(), "temp files of other outputs are kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
