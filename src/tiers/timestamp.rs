//! The cache's `cached_at` text: Python's `datetime.now(timezone.utc).isoformat()`.
//!
//! Written as `2026-02-26T06:44:38.061951+00:00` (the fraction is omitted when it is
//! zero, as Python does). Read back only with an explicit offset: a naive time is not
//! trusted, as in the origin (`now_utc - naive` raises and the entry counts as stale).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::time::{civil_from_days, days_from_civil};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Microseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats epoch microseconds as Python's UTC `isoformat()`.
pub fn format_cached_at(micros: i64) -> String {
    let (days, of_day) = (micros.div_euclid(MICROS_PER_DAY), micros.rem_euclid(MICROS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    let secs = of_day / 1_000_000;
    let frac = of_day % 1_000_000;
    let (h, mi, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}+00:00")
    }
}

/// The current time as a `cached_at` string.
pub fn now_cached_at() -> String {
    format_cached_at(now_micros())
}

/// A compact UTC stamp for file names: `20260917T101500.123456789Z`.
pub fn file_stamp() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let micros = i64::try_from(nanos / 1000).unwrap_or(0);
    let iso = format_cached_at(micros - micros.rem_euclid(1_000_000));
    let compact: String = iso[..19].chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}.{:09}Z", nanos % 1_000_000_000)
}

/// Parses an ISO-8601 date-time with an explicit offset (`Z`, `±HH:MM`, `±HHMM`) into
/// epoch microseconds; `None` for naive or malformed text.
pub fn parse_cached_at(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_us = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 6 {
            return None;
        }
        let digits: i64 = f[..n].parse().ok()?;
        frac_us = digits * 10i64.pow(6 - n as u32);
        rest = &f[n..];
    }
    let offset_s = parse_offset(rest)?;
    let days = days_from_civil(y, mo as u32, d as u32);
    let local = days * MICROS_PER_DAY + (h * 3600 + mi * 60 + sec) * 1_000_000 + frac_us;
    Some(local - offset_s * 1_000_000)
}

/// `Z`, `±HH:MM` or `±HHMM` → seconds east of UTC; `None` when absent or malformed.
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = s[1..].replace(':', "");
    if body.len() != 4 || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i64, i64) = (body[..2].parse().ok()?, body[2..].parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_python_isoformat() {
        let s = "2026-02-26T06:44:38.061951+00:00";
        let us = parse_cached_at(s).unwrap();
        assert_eq!(format_cached_at(us), s);
        assert_eq!(format_cached_at(us - 61_951), "2026-02-26T06:44:38+00:00");
        assert_eq!(parse_cached_at("2026-02-26T08:44:38.061951+02:00"), Some(us));
        assert_eq!(parse_cached_at("2026-02-26T06:44:38.061951Z"), Some(us));
    }

    #[test]
    fn naive_and_garbage_are_rejected() {
        for s in ["2026-02-26T06:44:38", "2026-02-26", "", "yesterday", "2026-13-01T00:00:00Z"] {
            assert_eq!(parse_cached_at(s), None, "{s}");
        }
    }

    #[test]
    fn file_stamp_is_compact() {
        let s = file_stamp();
        assert_eq!(s.len(), "20260917T101500.123456789Z".len(), "{s}");
        assert!(s.ends_with('Z'));
    }
}
