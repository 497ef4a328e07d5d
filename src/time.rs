//! UTC epoch milliseconds ⇄ ISO-8601 text, without a calendar crate.

/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a leap year of the proleptic Gregorian calendar.
pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in month `m` (1–12) of year `y`; 0 for a month outside 1–12.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// When `s` starts with `YYYY-MM-DD` whose day does not exist in that month (`2026-02-30`),
/// a sentence saying so; `None` otherwise.
pub fn nonexistent_day(s: &str) -> Option<String> {
    let s = s.trim();
    let (y, m, d) = (s.get(0..4)?, s.get(5..7)?, s.get(8..10)?);
    if s.as_bytes().get(4) != Some(&b'-') || s.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let all_digits = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let n = days_in_month(y, m);
    (n > 0 && (d == 0 || d > n))
        .then(|| format!("day {d:02} does not exist in {y:04}-{m:02}, which has {n} days"))
}

/// Hour of day (0–23, UTC) of an epoch-ms timestamp.
#[inline]
pub fn hour_of_day(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(HOUR_MS).rem_euclid(24)
}

/// Formats `2025-01-01T00:29:00` (UTC, no offset), with `.mmm` only when ms ≠ 0.
pub fn format_iso(ts_ms: i64) -> String {
    let days = ts_ms.div_euclid(DAY_MS);
    let ms_of_day = ts_ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, ms) =
        (ms_of_day / HOUR_MS, (ms_of_day / 60_000) % 60, (ms_of_day / 1000) % 60, ms_of_day % 1000);
    if ms == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}")
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` with an optional `Z` or `+00:00`;
/// returns epoch ms, or `None` when the text is not such a UTC time.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00")).unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    // The day must exist in that month: 2026-02-30 and 2025-02-29 are not dates.
    if !(1..=12).contains(&mo) || d < 1 || d > i64::from(days_in_month(y, mo as u32)) {
        return None;
    }
    let mut ms = days_from_civil(y, mo as u32, d as u32) * DAY_MS;
    if b.len() == 10 {
        return Some(ms);
    }
    if (b[10] != b'T' && b[10] != b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let (h, mi) = (num(11..13)?, num(14..16)?);
    if h > 23 || mi > 59 {
        return None;
    }
    ms += h * HOUR_MS + mi * 60_000;
    if b.len() > 16 {
        if b[16] != b':' || b.len() < 19 {
            return None;
        }
        let sec = num(17..19)?;
        if sec > 59 {
            return None;
        }
        ms += sec * 1000;
        if b.len() > 19 {
            if b[19] != b'.' || b.len() == 20 {
                return None;
            }
            let frac = s.get(20..)?;
            if !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let mut v: i64 = 0;
            for (i, c) in frac.bytes().take(3).enumerate() {
                v += i64::from(c - b'0') * [100, 10, 1][i];
            }
            ms += v;
        }
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        assert_eq!(parse_iso("1970-01-01"), Some(0));
        assert_eq!(parse_iso("2025-01-01T00:00:00"), Some(1_735_689_600_000));
        assert_eq!(parse_iso("2023-02-01 00:00:00Z"), Some(1_675_209_600_000));
        assert_eq!(format_iso(1_735_689_600_000 + 29 * 60_000), "2025-01-01T00:29:00");
        assert_eq!(parse_iso("2024-02-29T23:59:59.5"), Some(1_709_251_199_500));
        assert_eq!(hour_of_day(1_735_689_600_000 + 8 * HOUR_MS), 8);
        assert!(parse_iso("2025-13-01").is_none());
        assert!(parse_iso("yesterday").is_none());
    }

    #[test]
    fn days_that_do_not_exist_in_their_month_are_refused() {
        // Regression: `2026-02-30` used to be accepted (as 2026-03-02).
        for bad in [
            "2026-02-30",
            "2026-02-29", // 2026 is not a leap year
            "2025-02-29",
            "1900-02-29", // divisible by 100, not by 400
            "2026-04-31",
            "2026-06-31",
            "2026-09-31",
            "2026-11-31T00:00:00",
            "2026-01-00",
            "2026-01-32",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        // Leap days that exist, and month ends: epoch ms by hand (days since 1970 × 86 400 000).
        // 2024-02-29: 19 782 days (2024-01-01 = day 19 723, + 31 + 28).
        assert_eq!(parse_iso("2024-02-29"), Some(19_782 * DAY_MS));
        // 2000-02-29: 2000-01-01 = day 10 957, + 31 + 28 = 11 016.
        assert_eq!(parse_iso("2000-02-29"), Some(11_016 * DAY_MS));
        // 2026-02-28: 2026-01-01 = day 20 454, + 31 + 27 = 20 512.
        assert_eq!(parse_iso("2026-02-28"), Some(20_512 * DAY_MS));
        // 2026-04-30: 20 454 + 31 + 28 + 31 + 29 = 20 573.
        assert_eq!(parse_iso("2026-04-30"), Some(20_573 * DAY_MS));
        assert_eq!(parse_iso("2026-12-31"), Some((20_454 + 364) * DAY_MS));
        assert_eq!(
            nonexistent_day("2026-02-30").as_deref(),
            Some("day 30 does not exist in 2026-02, which has 28 days")
        );
        assert_eq!(nonexistent_day("2026-02-28"), None);
        assert_eq!(nonexistent_day("2026-13-01"), None);
        assert_eq!(
            (days_in_month(2024, 2), days_in_month(2100, 2), days_in_month(2026, 13)),
            (29, 28, 0)
        );
    }
}
