//! Positional reads of candle files: the Parquet reader's [`ChunkReader`] over a plain
//! [`File`], reading each byte range it asks for into an owned buffer with `pread`
//! (`FileExt::read_at`), plus a before/after identity check of the file.
//!
//! **Why not a memory map.** Candle files used to be memory-mapped for decode. A map of a file
//! that is truncated while mapped turns the next access to a page past the new end into
//! `SIGBUS`, which kills the process without a message (docs/candles.md, "Reading"; 27 of 40 trials of
//! truncating a file during decode). That cannot be made impossible while `unsafe_code` stays
//! denied: checking the file's size before and after decode leaves the window in between;
//! an advisory shared lock (`File::lock_shared`) binds only writers that take the exclusive
//! lock, and `cp`, editors, `truncate` or a pandas script take none. A positional read of a
//! truncated file is a short read instead, i.e. an ordinary I/O error, so with `pread` the
//! signal cannot happen at all. Nothing else changes: the map lived only during decode (the
//! decoder always copied the columns into owned `Vec`s), so every run still shares the one
//! decoded, read-only copy (`Arc<Candles>`); the price is one copy of each page out of the
//! page cache (a year of candles, 25 MB: 1.6 ms mapped, 2.1 to 2.4 ms read, page-header scan
//! included, by `cargo bench --bench candles -- --quick` on a quiet 2-core machine), and the
//! crate now has no `unsafe` code.
//!
//! **A file changed underneath.** Truncation mid-decode gives a short read; a rewrite in place
//! may give garbage that fails to decode or validate, or, rarely, values that pass. So the
//! file's [`Identity`] (size, modification and status-change times) is taken when it is
//! opened and again after decode, and a difference turns the result, good or bad, into
//! [`super::CandleError::Changed`]. That check is as fine as the file system's timestamps;
//! the safe way to replace a candle file while it may be read is to write a new file and
//! rename it over the old one (as `gridsweep import` does): a reader holding the old file
//! keeps reading the old contents, whole.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use parquet::errors::{ParquetError, Result as PqResult};
use parquet::file::reader::{ChunkReader, Length};

/// Bytes buffered per page-header read (headers are usually well under 1 KiB; the page body
/// is read separately, exactly).
const HEADER_BUF: usize = 4096;

/// What identifies one version of a file's contents, as far as `fstat` can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    ctime: (i64, i64),
}

impl Identity {
    /// The identity of the open `file` now.
    pub(crate) fn of(file: &File) -> io::Result<Identity> {
        let m = file.metadata()?;
        Ok(Identity {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            ctime: {
                use std::os::unix::fs::MetadataExt;
                (m.ctime(), m.ctime_nsec())
            },
        })
    }

    /// Size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// A candle file opened for positional reads: a [`ChunkReader`] whose every read is bounded
/// by the size the file had when it was opened.
#[derive(Clone, Debug)]
pub(crate) struct PreadFile {
    file: Arc<File>,
    len: u64,
}

impl PreadFile {
    /// Opens `path` and records its identity.
    ///
    /// # Errors
    /// The `io::Error` of opening or `fstat`.
    pub(crate) fn open(path: &Path) -> io::Result<(PreadFile, Identity)> {
        let file = File::open(path)?;
        let id = Identity::of(&file)?;
        Ok((PreadFile { file: Arc::new(file), len: id.len() }, id))
    }

    /// The file's identity now (compare with the one [`PreadFile::open`] returned).
    pub(crate) fn identity(&self) -> io::Result<Identity> {
        Identity::of(&self.file)
    }

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match read_at(&self.file, &mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended at byte {} while reading {} bytes at offset \
                             {offset}: it is shorter than when it was opened ({} bytes)",
                            offset + done as u64,
                            buf.len(),
                            self.len
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

impl Length for PreadFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for PreadFile {
    type T = BufReader<Cursor>;

    fn get_read(&self, start: u64) -> PqResult<Self::T> {
        if start > self.len {
            return Err(ParquetError::EOF(format!(
                "read at offset {start} of a {}-byte file",
                self.len
            )));
        }
        Ok(BufReader::with_capacity(HEADER_BUF, Cursor { file: self.clone(), pos: start }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> PqResult<Bytes> {
        // Bound the allocation by the file's real size before making it.
        if start.checked_add(length as u64).is_none_or(|end| end > self.len) {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} lie past the end of the {}-byte file",
                self.len
            )));
        }
        let mut buf = vec![0u8; length];
        self.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

/// A `Read` at a position of a [`PreadFile`], never past the size it was opened with.
#[derive(Debug)]
pub(crate) struct Cursor {
    file: PreadFile,
    pos: u64,
}

impl Read for Cursor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.file.len.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        let k = read_at(&self.file.file, &mut buf[..n], self.pos)?;
        self.pos += k as u64;
        Ok(k)
    }
}
