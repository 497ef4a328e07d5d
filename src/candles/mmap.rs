//! Read-only memory maps of candle files. This module holds the crate's only `unsafe` code.
//!
//! A Parquet file is mapped and handed to the Parquet reader as its in-memory byte type
//! (`bytes::Bytes`) without a copy; the decoder copies the columns out into owned `Vec`s, and
//! the map is dropped before the caller sees the result. When mapping fails (some network or
//! special file systems), the file is read into memory instead.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::error::CandleError;
use super::store::Candles;

/// The signature of `<File as ChunkReader>::get_bytes`, used only to name Parquet's byte type
/// `B` (`bytes::Bytes`), which this crate cannot name directly.
pub(crate) type BytesWitness<B> = fn(&File, u64, usize) -> parquet::errors::Result<B>;

/// Maps `path` read-only and runs `decode` over the mapped bytes, returning owned candles.
///
/// `decode` is a plain `fn` (it captures nothing) whose result owns its data, so the mapped
/// bytes cannot outlive this call through it. The map is advised for sequential reading.
///
/// # Errors
/// [`CandleError::Io`] when the file cannot be opened or read; whatever `decode` returns.
pub(crate) fn decode_mapped<B>(
    path: &Path,
    _bytes_type: BytesWitness<B>,
    decode: fn(B, &Path) -> Result<Candles, CandleError>,
) -> Result<Candles, CandleError>
where
    B: From<&'static [u8]> + From<Vec<u8>>,
{
    let file = File::open(path).map_err(|e| CandleError::io(path, e))?;
    // SAFETY: the map is read-only and private to this call. Mapping a file is sound only if
    // no one modifies or truncates it while mapped; the candle files are inputs written once
    // (atomically, by rename, when gridsweep writes them) and the map lives only for the
    // duration of one decode. This is the same contract ripgrep and the Parquet tooling use.
    let map = match unsafe { Mmap::map(&file) } {
        Ok(map) => map,
        Err(_) => {
            let bytes = std::fs::read(path).map_err(|e| CandleError::io(path, e))?;
            return decode(B::from(bytes), path);
        }
    };
    #[cfg(unix)]
    {
        // Advice is only a hint; failure changes nothing.
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    // SAFETY: `map` stays alive, unmodified and at the same address until after `decode`
    // returns, and `decode` cannot keep the bytes: it is a non-capturing `fn` whose result
    // (`Candles`) owns plain `Vec`s, and the Parquet reader it builds is dropped when it
    // returns. So the `'static` lifetime is never relied on past `drop(map)` below.
    let bytes: &'static [u8] = unsafe { std::slice::from_raw_parts(map.as_ptr(), map.len()) };
    let out = decode(B::from(bytes), path);
    drop(map);
    out
}
