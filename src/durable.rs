//! Durable replacement of a file: its data is synced before the rename, and the directory
//! entry the rename wrote is synced after it, so a crash leaves the old file or the new one.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::Path;

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
}
