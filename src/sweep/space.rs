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
}

impl Space {
    /// A space over `axes` (in enumeration order) with everything else from `base`.
    pub fn new(base: RunParams, axes: Vec<Axis>) -> Space {
        Space { base, axes }
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

    /// The value index on each axis of combination `run_id` (first axis first).
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
        let mut r = run_id;
        for a in self.axes.iter().rev() {
            let n = a.values.len() as u64;
            fields::set_param(&mut p, a.name, &a.values[(r % n) as usize])?;
            r /= n;
        }
        Ok(p)
    }
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
