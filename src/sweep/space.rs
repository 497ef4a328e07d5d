//! The parameter space: base parameters plus axes, enumerated in mixed radix.
//!
//! `run_id` is the flat index of a combination: the first axis varies slowest and the last
//! fastest, as nested loops written in file order would. The parameter hash is a stable
//! fingerprint of a run's full canonical parameter set.

use sha2::{Digest, Sha256};

use crate::config::fields::{self, ParamKind, ParamValue, PARAMS};
use crate::engine::RunParams;

/// How an axis was written (for messages and the README; values are already expanded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisForm {
    /// An explicit list.
    List,
    /// `{ start, stop, step }`, both ends included.
    Linear,
    /// `{ start, stop, count }`, log-spaced, both ends included.
    Log,
    /// `{ dist = "uniform", low, high }` (random search only; `values` = `[low, high]`).
    Uniform,
    /// `{ dist = "log_uniform", low, high }` (random search only; `values` = `[low, high]`).
    LogUniform,
    /// `{ dist = "int_uniform", low, high }`, both ends included (random search only).
    IntUniform,
}

impl AxisForm {
    /// True for a distribution (`{ dist = … }`), which only a random search can draw from.
    pub fn is_dist(self) -> bool {
        matches!(self, AxisForm::Uniform | AxisForm::LogUniform | AxisForm::IntUniform)
    }
}

/// A sampled space's draw: `samples` runs, run `k`'s point a pure function of
/// `(seed, k, axis index)` (docs/sweeps.md, "Sampled spaces").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampler {
    /// Number of runs.
    pub samples: u64,
    /// Seed of the draw.
    pub seed: u64,
}

/// One axis: a registry parameter and its values, in canonical form (as the result column
/// holds them).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Registry name of the parameter.
    pub name: &'static str,
    /// Value type.
    pub kind: ParamKind,
    /// How it was written.
    pub form: AxisForm,
    /// The values, in order; never empty, no duplicates.
    pub values: Vec<ParamValue>,
}

/// Base parameters and axes; combination `run_id` is [`Space::params`].
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    base: RunParams,
    axes: Vec<Axis>,
    sampler: Option<Sampler>,
}

impl Space {
    /// A space over `axes` (in enumeration order) with everything else from `base`.
    pub fn new(base: RunParams, axes: Vec<Axis>) -> Space {
        Space { base, axes, sampler: None }
    }

    /// A sampled space: `sampler.samples` runs drawn from `axes` (lists: uniform choice).
    pub fn sampled(base: RunParams, axes: Vec<Axis>, sampler: Sampler) -> Space {
        Space { base, axes, sampler: Some(sampler) }
    }

    /// The draw of a sampled space (`None`: the full grid).
    pub fn sampler(&self) -> Option<Sampler> {
        self.sampler
    }

    /// True when runs are drawn at random rather than enumerated (no grid neighbours).
    pub fn is_sampled(&self) -> bool {
        self.sampler.is_some()
    }

    /// The axes, first (slowest) to last (fastest).
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// The parameters every run starts from (defaults plus `[params]`).
    pub fn base(&self) -> &RunParams {
        &self.base
    }

    /// Number of combinations, `None` on overflow.
    pub fn checked_len(&self) -> Option<u64> {
        if let Some(s) = self.sampler {
            return Some(s.samples);
        }
        self.axes.iter().try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64))
    }

    /// Number of combinations.
    ///
    /// # Panics
    /// When the product overflows `u64` (validation refuses such spaces).
    pub fn len(&self) -> u64 {
        self.checked_len().expect("validated space size fits in u64")
    }

    /// True when the space has no combination (never, after validation).
    pub fn is_empty(&self) -> bool {
        self.checked_len() == Some(0)
    }

    /// The value index on each axis of combination `run_id` (first axis first); grid
    /// spaces only (a sampled space has no grid coordinates).
    pub fn coords(&self, run_id: u64, out: &mut [usize]) {
        let mut r = run_id;
        for (i, a) in self.axes.iter().enumerate().rev() {
            let n = a.values.len() as u64;
            out[i] = (r % n) as usize;
            r /= n;
        }
    }

    /// The parameters of combination `run_id`.
    ///
    /// # Errors
    /// The registry's message if a value cannot be set (validation makes this unreachable).
    pub fn params(&self, run_id: u64) -> Result<RunParams, String> {
        let mut p = self.base;
        if let Some(s) = self.sampler {
            for (i, a) in self.axes.iter().enumerate() {
                fields::set_param(&mut p, a.name, &draw(a, s.seed, run_id, i as u64))?;
            }
            return Ok(p);
        }
        let mut r = run_id;
        for a in self.axes.iter().rev() {
            let n = a.values.len() as u64;
            fields::set_param(&mut p, a.name, &a.values[(r % n) as usize])?;
            r /= n;
        }
        Ok(p)
    }
}

/// The 64 random bits of run `run_id` on axis `axis` under `seed` (splitmix64, stateless).
pub fn sample_bits(seed: u64, run_id: u64, axis: u64) -> u64 {
    mix(mix(mix(seed) ^ run_id) ^ axis)
}

/// A uniform float in `[0, 1)` from the top 53 bits of `bits`.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn num(v: &ParamValue) -> f64 {
    match v {
        ParamValue::Int(i) => *i as f64,
        ParamValue::Float(x) => *x,
        _ => 0.0,
    }
}

/// The value of run `run_id` on axis number `i` of a sampled space: a distribution's draw
/// (in `[low, high]`; `exp`/`ln` from the pure-Rust `libm`, so bit-identical on every
/// IEEE-754 machine) or a uniform choice among a list's values.
pub fn draw(a: &Axis, seed: u64, run_id: u64, i: u64) -> ParamValue {
    let bits = sample_bits(seed, run_id, i);
    let (lo, hi) = (a.values.first().map_or(0.0, num), a.values.last().map_or(0.0, num));
    let x = match a.form {
        AxisForm::Uniform => lo + (hi - lo) * unit(bits),
        AxisForm::LogUniform => {
            let (l, h) = (libm::log(lo), libm::log(hi));
            libm::exp(l + (h - l) * unit(bits))
        }
        AxisForm::IntUniform => {
            let n = (hi - lo) as u128 + 1;
            let k = ((u128::from(bits) * n) >> 64) as f64;
            let v = lo + k;
            return match a.kind {
                ParamKind::Int => ParamValue::Int(v as i64),
                _ => ParamValue::Float(v),
            };
        }
        _ => {
            let n = a.values.len() as u128;
            return a.values[((u128::from(bits) * n) >> 64) as usize].clone();
        }
    };
    ParamValue::Float(x.clamp(lo, hi))
}

/// A seeded 64-bit mix of `x` (splitmix64's finaliser), shared with the halving probes.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The canonical text of a parameter set: `name=value` lines in registry order; floats in
/// their shortest round-trip decimal form, text verbatim.
pub fn canonical_params(p: &RunParams) -> String {
    let mut s = String::with_capacity(512);
    for spec in PARAMS {
        s.push_str(spec.name);
        s.push('=');
        match fields::get_param(p, spec.name) {
            Some(ParamValue::Text(t)) => s.push_str(&t),
            Some(v) => s.push_str(&v.to_string()),
            None => {}
        }
        s.push('\n');
    }
    s
}

/// Stable 64-bit parameter hash: the first 16 hex digits of SHA-256 over
/// [`canonical_params`]. Equal parameter sets hash equal across sweeps, machines and runs.
pub fn param_hash(p: &RunParams) -> String {
    let d = Sha256::digest(canonical_params(p).as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(name: &'static str, values: Vec<ParamValue>) -> Axis {
        let kind = fields::spec(name).unwrap().kind;
        Axis { name, kind, form: AxisForm::List, values }
    }

    #[test]
    fn test_mixed_radix_last_axis_fastest() {
        let s = Space::new(
            RunParams::default(),
            vec![
                axis("leverage", vec![ParamValue::Float(2.0), ParamValue::Float(3.0)]),
                axis(
                    "grid_count",
                    vec![ParamValue::Int(10), ParamValue::Int(20), ParamValue::Int(30)],
                ),
            ],
        );
        assert_eq!(s.len(), 6);
        let got: Vec<(f64, u32)> = (0..6)
            .map(|id| {
                let p = s.params(id).unwrap();
                (p.account.leverage, p.grid.grid_count)
            })
            .collect();
        assert_eq!(got, [(2.0, 10), (2.0, 20), (2.0, 30), (3.0, 10), (3.0, 20), (3.0, 30)]);
        let mut c = [0usize; 2];
        s.coords(4, &mut c);
        assert_eq!(c, [1, 1]);
    }

    #[test]
    fn test_param_hash_is_stable_and_distinguishes() {
        let a = RunParams::default();
        let mut b = a;
        b.account.leverage = 11.0;
        assert_eq!(param_hash(&a), param_hash(&RunParams::default()));
        assert_ne!(param_hash(&a), param_hash(&b));
        assert_eq!(param_hash(&a).len(), 16);
        assert!(canonical_params(&a).starts_with("model=bybit\ngrid_count=50\ngrid_step=0.2\n"));
    }
}
