//! A pre-scan of the page headers of one column chunk, before Parquet's reader decodes it.
//!
//! Parquet's page reader reserves (and for snappy and lz4 zero-fills) as many bytes as a
//! page header says the page holds uncompressed, up to 2 GiB, whatever the page's real size:
//! a crafted 30-byte page could make each of the six decoding threads touch 2 GiB. So before
//! a chunk is decoded its page headers are read here (the Thrift compact encoding, only the
//! fields needed) and held against the footer and each other: every page lies inside the
//! chunk; the data pages' values add up to the rows the footer claims; and no page claims more
//! uncompressed bytes than [`MAX_BYTES_PER_VALUE`] per value plus [`PAGE_SLACK`], more than
//! any encoding of an 8-byte column needs (PLAIN 8, delta ≤ 8.2, dictionary indices ≤ 4.1,
//! plus definition levels).

use parquet::file::reader::ChunkReader;

/// Uncompressed bytes a page may claim per value it holds.
pub(crate) const MAX_BYTES_PER_VALUE: u64 = 16;

/// Uncompressed bytes a page may claim beyond [`MAX_BYTES_PER_VALUE`] per value (level and
/// block headers of a nearly empty page).
pub(crate) const PAGE_SLACK: u64 = 1024;

/// Bytes of a page header read at first, then at most (headers with large statistics).
const HEADER_READ: [u64; 2] = [4096, 1 << 20];

/// What [`check_chunk`] found wrong.
#[derive(Debug)]
pub(crate) enum ChunkProblem {
    /// The data pages hold this many values, not the rows claimed.
    Values(u64),
    /// A page header is unreadable or claims too much; the text completes "column `x` …".
    Page(String),
}

/// The fields of one page header that the scan checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PageHeader {
    /// Page type: 0 data, 1 index, 2 dictionary, 3 data v2.
    kind: i32,
    uncompressed: i64,
    compressed: i64,
    /// Values (with nulls) of a data or dictionary page.
    num_values: i64,
    /// Bytes of the header itself.
    header_len: u64,
}

/// Why a header could not be read.
enum HeaderError {
    /// The header runs past the bytes read.
    Short,
    /// Not a valid compact-Thrift page header.
    Bad(&'static str),
}

/// A cursor over compact-Thrift bytes.
struct Thrift<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Thrift<'_> {
    fn byte(&mut self) -> Result<u8, HeaderError> {
        let v = *self.b.get(self.pos).ok_or(HeaderError::Short)?;
        self.pos += 1;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<(), HeaderError> {
        let end = usize::try_from(n).ok().and_then(|n| self.pos.checked_add(n));
        match end {
            Some(e) if e <= self.b.len() => {
                self.pos = e;
                Ok(())
            }
            _ => Err(HeaderError::Short),
        }
    }

    fn varint(&mut self) -> Result<u64, HeaderError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(HeaderError::Bad("a varint longer than 10 bytes"))
    }

    fn int(&mut self) -> Result<i64, HeaderError> {
        let z = self.varint()?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    /// Skips one value of compact type `ty`; `depth` bounds nesting.
    fn skip_value(&mut self, ty: u8, depth: u32) -> Result<(), HeaderError> {
        if depth > 16 {
            return Err(HeaderError::Bad("nesting deeper than 16"));
        }
        match ty {
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = if h >> 4 == 15 { self.varint()? } else { u64::from(h >> 4) };
                for _ in 0..n {
                    // A bool element is one byte.
                    if matches!(h & 0x0f, 1 | 2) {
                        self.skip(1)?;
                    } else {
                        self.skip_value(h & 0x0f, depth + 1)?;
                    }
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n > 0 {
                    let kv = self.byte()?;
                    for _ in 0..n {
                        self.skip_value(kv >> 4, depth + 1)?;
                        self.skip_value(kv & 0x0f, depth + 1)?;
                    }
                }
                Ok(())
            }
            12 => self.fields(depth + 1, |_, _, t| Ok(t.is_none())).map(drop),
            _ => Err(HeaderError::Bad("an unknown field type")),
        }
    }

    /// Walks the fields of a struct up to its stop byte, calling `on(id, type, self)` with
    /// `Some(self)` to read a field itself (returning `true` when it did) or skips it.
    fn fields(
        &mut self,
        depth: u32,
        mut on: impl FnMut(i16, u8, Option<&mut Self>) -> Result<bool, HeaderError>,
    ) -> Result<(), HeaderError> {
        let mut id: i16 = 0;
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Ok(());
            }
            let ty = h & 0x0f;
            id = match h >> 4 {
                0 => i16::try_from(self.int()?).map_err(|_| HeaderError::Bad("a field id"))?,
                d => id.wrapping_add(i16::from(d)),
            };
            if !on(id, ty, Some(self))? {
                self.skip_value(ty, depth)?;
            }
        }
    }
}

/// Parses a page header at the start of `b`.
fn parse_header(b: &[u8]) -> Result<PageHeader, HeaderError> {
    let mut t = Thrift { b, pos: 0 };
    let mut h = PageHeader::default();
    t.fields(0, |id, ty, t| {
        let t = t.expect("the cursor");
        match (id, ty) {
            (1, 5) => h.kind = t.int()? as i32,
            (2, 5) => h.uncompressed = t.int()?,
            (3, 5) => h.compressed = t.int()?,
            // data_page_header, dictionary_page_header, data_page_header_v2: field 1 is
            // num_values in all three.
            (5 | 7 | 8, 12) => t.fields(1, |id, ty, t| match (id, ty, t) {
                (1, 5, Some(t)) => {
                    h.num_values = t.int()?;
                    Ok(true)
                }
                _ => Ok(false),
            })?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    h.header_len = t.pos as u64;
    Ok(h)
}

/// Scans the page headers of the column chunk at bytes `start .. start + size` of `reader`,
/// which must hold `rows` values in its data pages.
///
/// # Errors
/// [`ChunkProblem::Values`] with the values the data pages hold when that is not `rows`,
/// else [`ChunkProblem::Page`] saying what is wrong with which page.
pub(crate) fn check_chunk<R: ChunkReader>(
    reader: &R,
    start: u64,
    size: u64,
    rows: u64,
) -> Result<(), ChunkProblem> {
    let bad = ChunkProblem::Page;
    let end = start + size;
    let (mut pos, mut values) = (start, 0u64);
    while pos < end {
        let mut parsed = None;
        for want in HEADER_READ {
            let n = want.min(end - pos);
            let buf = reader.get_bytes(pos, n as usize).map_err(|e| bad(e.to_string()))?;
            match parse_header(&buf) {
                Ok(h) => {
                    parsed = Some(h);
                    break;
                }
                Err(HeaderError::Short) if n < end - pos => continue,
                Err(HeaderError::Short) => {
                    return Err(bad(format!(
                        "has a page header at byte {pos} running past its end"
                    )))
                }
                Err(HeaderError::Bad(what)) => {
                    return Err(bad(format!(
                        "has an unreadable page header at byte {pos} ({what})"
                    )))
                }
            }
        }
        let h = parsed
            .ok_or_else(|| bad(format!("has a page header longer than 1 MiB at byte {pos}")))?;
        if h.compressed < 0 || h.uncompressed < 0 || h.num_values < 0 {
            return Err(bad(format!("has a page at byte {pos} claiming a negative size or count")));
        }
        let next = pos + h.header_len + h.compressed as u64;
        if next > end {
            return Err(bad(format!(
                "has a page at byte {pos} claiming {} bytes, past its end at byte {end}",
                h.compressed
            )));
        }
        let nv = h.num_values as u64;
        if h.kind != 1
            && h.uncompressed as u64 > nv.saturating_mul(MAX_BYTES_PER_VALUE) + PAGE_SLACK
        {
            return Err(bad(format!(
                "has a page at byte {pos} claiming {} bytes uncompressed for {nv} values",
                h.uncompressed
            )));
        }
        if matches!(h.kind, 0 | 3) {
            values = values.saturating_add(nv);
        }
        pos = next;
    }
    if values != rows {
        return Err(ChunkProblem::Values(values));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// type 0, uncompressed 24, compressed 24, data_page_header { num_values 3, encoding 0 }.
    const HEADER: [u8; 13] =
        [0x15, 0x00, 0x15, 0x30, 0x15, 0x30, 0x2c, 0x15, 0x06, 0x15, 0x00, 0x00, 0x00];

    #[test]
    fn test_parse_header_reads_sizes_and_values() {
        let h = parse_header(&HEADER).ok().unwrap();
        assert_eq!(
            h,
            PageHeader { kind: 0, uncompressed: 24, compressed: 24, num_values: 3, header_len: 13 }
        );
        assert!(matches!(parse_header(&HEADER[..10]), Err(HeaderError::Short)));
    }

    #[test]
    fn test_parse_header_refuses_deep_nesting_and_unknown_types() {
        // Field 4 a struct whose field 1 is a struct, and so on, 40 deep.
        let mut b = vec![0x15, 0x00, 0x15, 0x30, 0x15, 0x30, 0x1c];
        b.extend(std::iter::repeat_n(0x1c, 40));
        assert!(matches!(parse_header(&b), Err(HeaderError::Bad(_))));
        assert!(matches!(parse_header(&[0x1f]), Err(HeaderError::Bad(_))));
    }
}
