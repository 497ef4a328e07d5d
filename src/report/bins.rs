//! Heatmap axes for a sampled sweep (docs/report.md): a sampled space has no grid, so each
//! axis's drawn values are put into bins: [`BINS`] equal bins over `[low, high]` for
//! `uniform`, equal bins of the logarithm for `log_uniform`, one bin per integer for an
//! `int_uniform` of at most [`BINS`] values (else equal integer ranges), and one bin per value
//! for a list. Pure: the values are recomputed from the seed and the run id.

use crate::config::fields::{ParamKind, ParamValue};
use crate::sweep::space::{draw, Axis, AxisForm, Space};

/// Bins per continuous axis.
pub const BINS: usize = 8;

fn num(v: &ParamValue) -> f64 {
    match v {
        ParamValue::Float(x) => *x,
        ParamValue::Int(i) => *i as f64,
        _ => f64::NAN,
    }
}

/// `0.2`, `12.5`, `1,250`: three significant digits, for bin labels.
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

/// A drawn value's bin.
type BinOf<'a> = Box<dyn Fn(&ParamValue) -> usize + 'a>;

/// One axis's bins: the labels and a function from a drawn value to its bin.
fn bins_of(a: &Axis) -> (Vec<String>, BinOf<'_>) {
    let (lo, hi) = (a.values.first().map_or(0.0, num), a.values.last().map_or(0.0, num));
    let equal = |f: fn(f64) -> f64, g: fn(f64) -> f64| {
        let (l, h) = (f(lo), f(hi));
        let edge = move |k: usize| g(l + (h - l) * k as f64 / BINS as f64);
        let labels =
            (0..BINS).map(|k| format!("{}–{}", short(edge(k)), short(edge(k + 1)))).collect();
        let at = move |v: &ParamValue| -> usize {
            let t = (f(num(v)) - l) / (h - l);
            ((t * BINS as f64).floor().max(0.0) as usize).min(BINS - 1)
        };
        (labels, Box::new(at) as BinOf<'_>)
    };
    match a.form {
        AxisForm::Uniform => equal(|x| x, |x| x),
        AxisForm::LogUniform => equal(f64::ln, f64::exp),
        AxisForm::IntUniform => {
            let n = (hi - lo) as usize + 1;
            if n <= BINS {
                let labels = (0..n).map(|k| format!("{}", lo as i64 + k as i64)).collect();
                (labels, Box::new(move |v: &ParamValue| ((num(v) - lo) as usize).min(n - 1)))
            } else {
                let first = |k: usize| lo as i64 + (k * n / BINS) as i64;
                let labels =
                    (0..BINS).map(|k| format!("{}–{}", first(k), first(k + 1) - 1)).collect();
                let at = move |v: &ParamValue| (((num(v) - lo) as usize) * BINS / n).min(BINS - 1);
                (labels, Box::new(at))
            }
        }
        _ => {
            let labels = a
                .values
                .iter()
                .map(|v| match v {
                    ParamValue::Text(t) => t.clone(),
                    other => other.to_string(),
                })
                .collect();
            let at = move |v: &ParamValue| a.values.iter().position(|x| x == v).unwrap_or(0);
            (labels, Box::new(at))
        }
    }
}

/// The binned axes of a sampled `space` (bin labels as values) and each row's bin on every
/// axis (`coords[axis][row]`) for the rows `run_ids` (run `r` is sample `r mod samples`).
pub fn sampled_axes(space: &Space, run_ids: &[u64]) -> (Vec<Axis>, Vec<Vec<usize>>) {
    let seed = space.sampler().map_or(0, |s| s.seed);
    let samples = space.len().max(1);
    let mut axes = Vec::with_capacity(space.axes().len());
    let mut coords = Vec::with_capacity(space.axes().len());
    for (i, a) in space.axes().iter().enumerate() {
        let (labels, at) = bins_of(a);
        coords.push(run_ids.iter().map(|&r| at(&draw(a, seed, r % samples, i as u64))).collect());
        axes.push(Axis {
            name: a.name,
            kind: ParamKind::Text,
            form: AxisForm::List,
            values: labels.into_iter().map(ParamValue::Text).collect(),
        });
    }
    (axes, coords)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(form: AxisForm, kind: ParamKind, lo: ParamValue, hi: ParamValue) -> Axis {
        Axis { name: "grid_step", kind, form, values: vec![lo, hi] }
    }

    #[test]
    fn uniform_and_log_bins_by_hand() {
        // uniform [0.2, 1.0]: 8 bins of 0.1; 0.25 → 0, 0.95 → 7, 1.0 (the top) → 7.
        let a = axis(
            AxisForm::Uniform,
            ParamKind::Float,
            ParamValue::Float(0.2),
            ParamValue::Float(1.0),
        );
        let (labels, at) = bins_of(&a);
        assert_eq!(labels[0], "0.200–0.300");
        assert_eq!(at(&ParamValue::Float(0.25)), 0);
        assert_eq!(at(&ParamValue::Float(0.95)), 7);
        assert_eq!(at(&ParamValue::Float(1.0)), 7);
        // log_uniform [1, 256]: edges 1, 2, 4, …, 256; 3 → bin 1, 100 → bin 6.
        let a = axis(
            AxisForm::LogUniform,
            ParamKind::Float,
            ParamValue::Float(1.0),
            ParamValue::Float(256.0),
        );
        let (labels, at) = bins_of(&a);
        assert_eq!(labels[1], "2.00–4.00");
        assert_eq!(at(&ParamValue::Float(3.0)), 1);
        assert_eq!(at(&ParamValue::Float(100.0)), 6);
    }

    #[test]
    fn sampled_rows_fall_in_the_bin_of_their_drawn_value() {
        let a = axis(
            AxisForm::Uniform,
            ParamKind::Float,
            ParamValue::Float(0.2),
            ParamValue::Float(1.0),
        );
        let space = Space::sampled(
            crate::engine::RunParams::default(),
            vec![a],
            crate::sweep::space::Sampler { samples: 50, seed: 9 },
        );
        let ids: Vec<u64> = (0..100).collect(); // two symbols' worth: run r is sample r mod 50
        let (axes, coords) = sampled_axes(&space, &ids);
        assert_eq!(axes[0].values.len(), BINS);
        for &r in &ids {
            let x = space.params(r % 50).unwrap().grid.grid_step;
            let want = (((x - 0.2) / 0.8 * 8.0).floor() as usize).min(7);
            assert_eq!(coords[0][r as usize], want, "run {r}: {x}");
        }
    }

    #[test]
    fn int_bins_are_one_per_value_or_equal_ranges() {
        let a =
            axis(AxisForm::IntUniform, ParamKind::Int, ParamValue::Int(10), ParamValue::Int(13));
        let (labels, at) = bins_of(&a);
        assert_eq!(labels, ["10", "11", "12", "13"]);
        assert_eq!(at(&ParamValue::Int(12)), 2);
        // 10..=49: 40 values in 8 ranges of 5: 10–14, …, 45–49.
        let a =
            axis(AxisForm::IntUniform, ParamKind::Int, ParamValue::Int(10), ParamValue::Int(49));
        let (labels, at) = bins_of(&a);
        assert_eq!((labels[0].as_str(), labels[7].as_str()), ("10–14", "45–49"));
        assert_eq!(at(&ParamValue::Int(14)), 0);
        assert_eq!(at(&ParamValue::Int(15)), 1);
        assert_eq!(at(&ParamValue::Int(49)), 7);
    }
}
