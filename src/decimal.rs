//! Exact base-10 numbers for the few decisions that must not depend on binary rounding.
//!
//! The origin computes money and quantities in Python `Decimal` (28 significant digits,
//! half-even). gridsweep keeps money in `f64` for speed, and uses [`Dec`] where a discrete
//! decision (a ceiling to the quantity step, a config value kept verbatim, a tier boundary
//! written back to the cache) must be made exactly. Nothing here allocates.

use std::cmp::Ordering;
use std::fmt;

/// Precision of Python's default `Decimal` context, in significant digits.
pub const PY_PRECISION: u32 = 28;

/// An exact decimal `mantissa × 10^-scale`, keeping the scale it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dec {
    mantissa: i128,
    scale: u32,
}

/// Why a string is not a decimal number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal number: {0:?}")]
pub struct ParseDecError(pub String);

impl Dec {
    /// Zero with scale 0.
    pub const ZERO: Dec = Dec { mantissa: 0, scale: 0 };

    /// Builds `mantissa × 10^-scale`.
    pub const fn new(mantissa: i128, scale: u32) -> Dec {
        Dec { mantissa, scale }
    }

    /// Builds an integer value.
    pub const fn from_int(v: i64) -> Dec {
        Dec { mantissa: v as i128, scale: 0 }
    }

    /// The integer mantissa.
    pub const fn mantissa(self) -> i128 {
        self.mantissa
    }

    /// The number of digits after the decimal point.
    pub const fn scale(self) -> u32 {
        self.scale
    }

    /// Parses `[-+]digits[.digits][e[-+]digits]`; at most 36 significant digits.
    ///
    /// # Errors
    /// Returns [`ParseDecError`] for anything else (including `NaN` and `Infinity`).
    pub fn parse(s: &str) -> Result<Dec, ParseDecError> {
        let err = || ParseDecError(s.to_string());
        let t = s.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (num, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = body[i + 1..].parse().map_err(|_| err())?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int_part, frac_part) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let mut mantissa: i128 = 0;
        let mut digits = 0u32;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            if !b.is_ascii_digit() {
                return Err(err());
            }
            if mantissa != 0 || b != b'0' {
                digits += 1;
            }
            if digits > 36 {
                return Err(err());
            }
            mantissa = mantissa * 10 + i128::from(b - b'0');
        }
        let mut scale = frac_part.len() as i64 - i64::from(exp);
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or_else(err)?;
            scale += 1;
        }
        if scale > 60 {
            return Err(err());
        }
        Ok(Dec { mantissa: if neg { -mantissa } else { mantissa }, scale: scale as u32 })
    }

    /// The nearest `f64` (exact for up to 15 significant digits).
    pub fn to_f64(self) -> f64 {
        // Division by an exact power of ten is correctly rounded when both fit in 2^53.
        if self.mantissa.unsigned_abs() < (1u128 << 53) && self.scale <= 22 {
            self.mantissa as f64 / 10f64.powi(self.scale as i32)
        } else {
            self.to_string().parse().unwrap_or(f64::NAN)
        }
    }

    /// The shortest decimal that round-trips to `x` (Python's `str(float)`), if finite.
    pub fn from_f64_shortest(x: f64) -> Option<Dec> {
        if !x.is_finite() {
            return None;
        }
        let mut buf = [0u8; 64];
        let n = {
            use std::io::Write;
            let mut cur = std::io::Cursor::new(&mut buf[..]);
            write!(cur, "{x:e}").ok()?;
            cur.position() as usize
        };
        let s = std::str::from_utf8(&buf[..n]).ok()?;
        Dec::parse(s).ok()
    }

    /// True when the value is zero.
    pub const fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// True when the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    /// The value with trailing zeros of the fraction removed (same number).
    pub fn normalized(self) -> Dec {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        debug_assert!(scale >= self.scale);
        let f = 10i128.checked_pow(scale - self.scale)?;
        self.mantissa.checked_mul(f)
    }

    /// Exact product, or `None` on overflow.
    pub fn checked_mul(self, o: Dec) -> Option<Dec> {
        Some(Dec { mantissa: self.mantissa.checked_mul(o.mantissa)?, scale: self.scale + o.scale })
    }

    /// Exact sum, or `None` on overflow.
    pub fn checked_add(self, o: Dec) -> Option<Dec> {
        let s = self.scale.max(o.scale);
        Some(Dec { mantissa: self.rescaled(s)?.checked_add(o.rescaled(s)?)?, scale: s })
    }

    /// `self / o` rounded half-even to `PY_PRECISION` significant digits, as Python's
    /// default `Decimal` context does; `None` on division by zero or overflow.
    pub fn py_div(self, o: Dec) -> Option<Dec> {
        if o.mantissa == 0 {
            return None;
        }
        if self.mantissa == 0 {
            return Some(Dec::ZERO);
        }
        let neg = (self.mantissa < 0) != (o.mantissa < 0);
        let n = self.mantissa.unsigned_abs();
        let d = o.mantissa.unsigned_abs();
        // value = (n / d) × 10^(o.scale - self.scale). Long division digit by digit.
        let mut q: u128 = n / d;
        let mut r: u128 = n % d;
        let mut frac_digits: u32 = 0;
        let sig = |q: u128| if q == 0 { 0 } else { q.ilog10() + 1 };
        while sig(q) < PY_PRECISION && (r != 0) {
            q = q.checked_mul(10)?;
            r = r.checked_mul(10)?;
            q += r / d;
            r %= d;
            frac_digits += 1;
        }
        // Too many digits in the integer quotient: drop digits with rounding.
        let mut sticky = r != 0;
        let mut dropped: u32 = 0;
        let mut last_dropped: u128 = 0;
        while sig(q) > PY_PRECISION {
            if last_dropped != 0 {
                sticky = true;
            }
            last_dropped = q % 10;
            q /= 10;
            dropped += 1;
        }
        let round_up = if dropped > 0 {
            last_dropped > 5 || (last_dropped == 5 && (sticky || q % 2 == 1))
        } else if r != 0 {
            // Next digit decides; compare 2r with d.
            let twice = r.checked_mul(2)?;
            match twice.cmp(&d) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => q % 2 == 1,
            }
        } else {
            false
        };
        if round_up {
            q += 1;
        }
        let exp10: i64 = i64::from(o.scale) - i64::from(self.scale) - i64::from(frac_digits)
            + i64::from(dropped);
        let mut mant = i128::try_from(q).ok()?;
        let scale;
        if exp10 >= 0 {
            mant = mant.checked_mul(10i128.checked_pow(exp10 as u32)?)?;
            scale = 0;
        } else {
            scale = (-exp10) as u32;
        }
        Some(Dec { mantissa: if neg { -mant } else { mant }, scale })
    }

    /// The smallest integer `k` with `k ≥ self / unit` (Decimal `ROUND_UP` of a positive
    /// quotient), computed exactly after rounding the quotient to 28 digits as Python does.
    pub fn ceil_div(self, unit: Dec) -> Option<i64> {
        let q = self.py_div(unit)?;
        let f = 10i128.checked_pow(q.scale)?;
        let (whole, rem) = (q.mantissa.div_euclid(f), q.mantissa.rem_euclid(f));
        let k = if rem != 0 { whole + 1 } else { whole };
        i64::try_from(k).ok()
    }
}

impl PartialOrd for Dec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dec {
    fn cmp(&self, other: &Self) -> Ordering {
        let s = self.scale.max(other.scale);
        match (self.rescaled(s), other.rescaled(s)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if neg {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (a, b) = digits.split_at(digits.len() - scale);
            write!(f, "{a}.{b}")
        } else {
            write!(f, "0.{}{}", "0".repeat(scale - digits.len()), digits)
        }
    }
}

impl std::str::FromStr for Dec {
    type Err = ParseDecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dec::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parse_keeps_scale_and_displays_verbatim() {
        assert_eq!(d("0.010").to_string(), "0.010");
        assert_eq!(d("2000000").to_string(), "2000000");
        assert_eq!(d("-1.5").to_string(), "-1.5");
        assert_eq!(d("1e3").to_string(), "1000");
        assert_eq!(d("1.5e-3").to_string(), "0.0015");
        assert!(Dec::parse("abc").is_err());
        assert!(Dec::parse("NaN").is_err());
        assert!(Dec::parse("").is_err());
        assert!(Dec::parse(".").is_err());
    }

    #[test]
    fn py_div_rounds_to_28_significant_digits_half_even() {
        // Python: Decimal(1)/Decimal(3) == Decimal('0.3333333333333333333333333333')
        assert_eq!(d("1").py_div(d("3")).unwrap().to_string(), "0.3333333333333333333333333333");
        // Decimal(2)/Decimal(3) == Decimal('0.6666666666666666666666666667')
        assert_eq!(d("2").py_div(d("3")).unwrap().to_string(), "0.6666666666666666666666666667");
        assert_eq!(
            d("100").py_div(d("99.0")).unwrap().to_string(),
            "1.010101010101010101010101010"
        );
        assert_eq!(d("10").py_div(d("4")).unwrap().to_string(), "2.5");
    }

    #[test]
    fn ceil_div_is_exact_on_integer_quotients() {
        // 0.002 / 0.001 is exactly 2: no spurious third lot (f64 gives 2.0000000000000004).
        assert_eq!(d("0.002").ceil_div(d("0.001")), Some(2));
        assert_eq!(d("0.0021").ceil_div(d("0.001")), Some(3));
        assert_eq!(d("1.0101").ceil_div(d("0.001")), Some(1011));
    }

    #[test]
    fn shortest_f64_repr_matches_python_str() {
        assert_eq!(Dec::from_f64_shortest(99.0).unwrap().normalized().to_string(), "99");
        assert_eq!(Dec::from_f64_shortest(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Dec::from_f64_shortest(9999.8788822).unwrap().to_string(), "9999.8788822");
    }
}
