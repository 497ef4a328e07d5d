//! Read-only memory maps of candle files. This module holds the crate's only `unsafe` code.
//!
//! A Parquet file is mapped and handed to the Parquet reader as `bytes::Bytes` that own the
//! map, without a copy; the decoder copies the columns out into owned `Vec`s, and the map is
//! released when the reader drops the bytes. When mapping fails (some network or special
//! file systems), the file is read into memory instead.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use bytes::Bytes;
use memmap2::Mmap;

use super::error::CandleError;

/// Maps `path` read-only into shared bytes that own the map (it is unmapped when the last
/// reference goes); falls back to reading the file when mapping is not possible.
///
/// # Errors
/// [`CandleError::Io`] when the file cannot be opened or read.
pub(crate) fn map_file(path: &Path) -> Result<Bytes, CandleError> {
    let file = File::open(path).map_err(|e| CandleError::io(path, e))?;
    // SAFETY: the map is read-only. Mapping a file is sound only if no one modifies or
    // truncates it while mapped; candle files are inputs written once (atomically, by rename,
    // when gridsweep writes them) and the map lives only while one decode holds it. This is
    // the contract ripgrep and the Parquet tooling use.
    match unsafe { Mmap::map(&file) } {
        Ok(map) => {
            #[cfg(unix)]
            {
                // Advice is only a hint; failure changes nothing.
                let _ = map.advise(memmap2::Advice::Sequential);
            }
            Ok(Bytes::from_owner(map))
        }
        Err(_) => Ok(Bytes::from(std::fs::read(path).map_err(|e| CandleError::io(path, e))?)),
    }
}
