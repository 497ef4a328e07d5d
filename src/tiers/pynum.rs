//! Numbers as Python's `Decimal(...)` reads them from Bybit JSON: finite, ±Infinity, NaN.
//!
//! The origin validates tiers with `Decimal(value)`, which accepts surrounding
//! whitespace, `_` between digits, `inf`/`Infinity` and `NaN` in any case. [`PyNum`](crate::tiers::pynum::PyNum)
//! reproduces that so the same inputs pass or fail with the same messages.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::decimal::Dec;

/// A decimal as Python reads it: a finite [`Dec`], an infinity or a NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyNum {
    /// A finite value, keeping its written scale.
    Finite(Dec),
    /// `Infinity` (`neg = false`) or `-Infinity`.
    Inf {
        /// True for `-Infinity`.
        neg: bool,
    },
    /// `NaN` or `sNaN`, possibly signed.
    NaN {
        /// True for `-NaN`.
        neg: bool,
        /// True for a signalling NaN (`sNaN`).
        signaling: bool,
    },
}

impl PyNum {
    /// Parses a string the way `Decimal(s)` does; `None` when Python would raise.
    pub fn parse(s: &str) -> Option<PyNum> {
        let t = s.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let lower = body.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            return Some(PyNum::Inf { neg });
        }
        for (prefix, signaling) in [("snan", true), ("nan", false)] {
            if let Some(payload) = lower.strip_prefix(prefix) {
                return payload
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then_some(PyNum::NaN { neg, signaling });
            }
        }
        if body.starts_with(['+', '-']) {
            return None;
        }
        let cleaned = strip_digit_underscores(body)?;
        let d = Dec::parse(&cleaned).ok()?;
        Some(PyNum::Finite(if neg { Dec::new(-d.mantissa(), d.scale()) } else { d }))
    }

    /// Reads a JSON value: strings as [`PyNum::parse`], numbers exactly (integers) or as
    /// the shortest decimal that round-trips (floats).
    ///
    /// Returns `Ok(None)` for `null` (a missing field), `Err(raw)` with the value as
    /// written when it is not a number.
    pub fn from_json(v: &Value) -> Result<Option<PyNum>, String> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => PyNum::parse(s).map(Some).ok_or_else(|| s.clone()),
            Value::Number(n) => {
                let d = if let Some(i) = n.as_i64() {
                    Some(Dec::new(i128::from(i), 0))
                } else if let Some(u) = n.as_u64() {
                    Some(Dec::new(i128::from(u), 0))
                } else {
                    n.as_f64().and_then(Dec::from_f64_shortest)
                };
                d.map(|d| Some(PyNum::Finite(d))).ok_or_else(|| n.to_string())
            }
            other => Err(other.to_string()),
        }
    }

    /// True for NaN (quiet or signalling).
    pub fn is_nan(self) -> bool {
        matches!(self, PyNum::NaN { .. })
    }

    /// Python's ordering comparison; `None` when either side is NaN (Python raises
    /// `decimal.InvalidOperation`).
    pub fn py_cmp(self, other: PyNum) -> Option<Ordering> {
        use PyNum::*;
        match (self, other) {
            (NaN { .. }, _) | (_, NaN { .. }) => None,
            (Inf { neg: a }, Inf { neg: b }) => Some(b.cmp(&a)),
            (Inf { neg }, Finite(_)) => Some(if neg { Ordering::Less } else { Ordering::Greater }),
            (Finite(_), Inf { neg }) => Some(if neg { Ordering::Greater } else { Ordering::Less }),
            (Finite(a), Finite(b)) => Some(a.cmp(&b)),
        }
    }

    /// `self <= other`, `None` when NaN is involved.
    pub fn le(self, other: PyNum) -> Option<bool> {
        self.py_cmp(other).map(|o| o != Ordering::Greater)
    }

    /// True when `0 <= self <= 1`; `None` for NaN.
    pub fn in_unit_range(self) -> Option<bool> {
        let zero = PyNum::Finite(Dec::ZERO);
        let one = PyNum::Finite(Dec::from_int(1));
        Some(zero.le(self)? && self.le(one)?)
    }

    /// The finite value, if any.
    pub fn finite(self) -> Option<Dec> {
        match self {
            PyNum::Finite(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for PyNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PyNum::Finite(d) => d.fmt(f),
            PyNum::Inf { neg } => f.write_str(if neg { "-Infinity" } else { "Infinity" }),
            PyNum::NaN { neg, signaling } => f.write_str(match (neg, signaling) {
                (false, false) => "NaN",
                (true, false) => "-NaN",
                (false, true) => "sNaN",
                (true, true) => "-sNaN",
            }),
        }
    }
}

/// Removes `_` that sit between two digits (PEP 515); `None` for any other `_`.
fn strip_digit_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_decimal_spellings() {
        assert_eq!(PyNum::parse("inf"), Some(PyNum::Inf { neg: false }));
        assert_eq!(PyNum::parse("-Infinity"), Some(PyNum::Inf { neg: true }));
        assert!(PyNum::parse("NaN").is_some_and(PyNum::is_nan));
        assert!(PyNum::parse("snan12").is_some_and(PyNum::is_nan));
        assert_eq!(PyNum::parse(" 1_000 ").map(|p| p.to_string()), Some("1000".into()));
        assert_eq!(PyNum::parse("0.010").map(|p| p.to_string()), Some("0.010".into()));
        assert_eq!(PyNum::parse("-100").map(|p| p.to_string()), Some("-100".into()));
        for bad in ["abc", "", "1__0", "_1", "1_", "--1", "nanx", "1e"] {
            assert_eq!(PyNum::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_numbers_and_non_numbers() {
        let v: Value =
            serde_json::from_str(r#"[100, 0.01, true, null, "x", 18446744073709551615]"#).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(PyNum::from_json(&a[0]).unwrap().unwrap().to_string(), "100");
        assert_eq!(PyNum::from_json(&a[1]).unwrap().unwrap().to_string(), "0.01");
        assert_eq!(PyNum::from_json(&a[2]), Err("true".into()));
        assert_eq!(PyNum::from_json(&a[3]), Ok(None));
        assert_eq!(PyNum::from_json(&a[4]), Err("x".into()));
        assert_eq!(PyNum::from_json(&a[5]).unwrap().unwrap().to_string(), "18446744073709551615");
    }

    #[test]
    fn nan_is_unordered() {
        let nan = PyNum::parse("NaN").unwrap();
        let one = PyNum::parse("1").unwrap();
        assert_eq!(nan.py_cmp(one), None);
        assert_eq!(nan.in_unit_range(), None);
        assert_eq!(PyNum::parse("Infinity").unwrap().py_cmp(one), Some(Ordering::Greater));
    }
}
