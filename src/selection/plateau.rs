//! Plateau scores: how an objective holds up around a run on the sweep grid, so a robust
//! region beats a lone spike.
//!
//! The grid is the sweep's mixed radix (`src/sweep/space.rs`): `run_id` is the flat index with
//! the first axis slowest and the last fastest, so run `r` has coordinate
//! `(r / stride_i) mod size_i` on axis `i`, `stride_last = 1`.
//!
//! A run's plateau is the run itself plus its neighbours at ±1 step:
//! - [`Neighbourhood::Box`] (the default): every combination within one step on every axis at
//!   once, up to 3^k − 1 neighbours. Chosen because parameters that interact (grid step ×
//!   grid count, leverage × amount) fail together: a trader who misjudges the market is off on
//!   several axes at once, and a spike that survives only along the axes but collapses on a
//!   diagonal is not a plateau.
//! - [`Neighbourhood::Axes`]: only the 2k neighbours that differ on one axis (cheaper for many
//!   axes: 2k instead of 3^k − 1).
//!
//! Grid edges: neighbours outside the grid do not exist and are skipped (a corner of a 3 × 3
//! grid has 3 box neighbours). Missing (NaN) objectives are skipped; a run whose own objective is
//! NaN has no score. The median of an even count is the mean of the two middle values. Scores
//! assume higher is better: negate a lower-is-better objective first, so `min` stays the worst
//! case.

use rayon::prelude::*;
use serde::Serialize;

use super::SelectionError;

/// Which neighbours count (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Neighbourhood {
    /// All 3^k − 1 combinations within ±1 step on every axis.
    #[default]
    Box,
    /// The 2k combinations ±1 step on a single axis.
    Axes,
}

/// One run's plateau: the worst and the median objective over the run and its neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PlateauScore {
    /// The smallest value (none when the run's own objective is missing).
    pub min: Option<f64>,
    /// The median (even count: mean of the two middle values).
    pub median: Option<f64>,
    /// How many values (the run included) were taken.
    pub count: u32,
}

/// The plateau score of every run of a grid with `axis_sizes` (first axis slowest), from each
/// run's `objective` (indexed by run id).
///
/// # Errors
/// [`SelectionError::Shape`] when `objective.len()` is not the product of `axis_sizes`.
pub fn plateau_scores(
    axis_sizes: &[usize],
    objective: &[f64],
    hood: Neighbourhood,
) -> Result<Vec<PlateauScore>, SelectionError> {
    let total = axis_sizes.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
    if total != Some(objective.len()) {
        return Err(SelectionError::Shape {
            what: "plateau objective (one value per grid point)",
            expected: total.unwrap_or(usize::MAX),
            got: objective.len(),
        });
    }
    let k = axis_sizes.len();
    let mut strides = vec![1usize; k];
    for i in (0..k.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * axis_sizes[i + 1];
    }
    let offsets = offsets(k, hood);
    let scores = (0..objective.len())
        .into_par_iter()
        .map_init(
            || (vec![0usize; k], Vec::with_capacity(offsets.len() / k.max(1) + 1)),
            |(coord, vals), r| {
                if objective[r].is_nan() {
                    return PlateauScore { min: None, median: None, count: 0 };
                }
                grid_coords(axis_sizes, r, coord);
                vals.clear();
                vals.push(objective[r]);
                'offsets: for off in offsets.chunks_exact(k.max(1)).filter(|_| k > 0) {
                    let mut idx = r as isize;
                    for i in 0..k {
                        let c = coord[i] as isize + off[i] as isize;
                        if c < 0 || c >= axis_sizes[i] as isize {
                            continue 'offsets;
                        }
                        idx += off[i] as isize * strides[i] as isize;
                    }
                    let v = objective[idx as usize];
                    if !v.is_nan() {
                        vals.push(v);
                    }
                }
                vals.sort_unstable_by(f64::total_cmp);
                let n = vals.len();
                let median =
                    if n % 2 == 1 { vals[n / 2] } else { (vals[n / 2 - 1] + vals[n / 2]) / 2.0 };
                PlateauScore { min: Some(vals[0]), median: Some(median), count: n as u32 }
            },
        )
        .collect();
    Ok(scores)
}

/// The coordinate on each axis (first axis first) of grid point `run_id`, as
/// [`crate::sweep::space::Space::coords`] numbers them (last axis fastest).
///
/// # Panics
/// When `out` is shorter than `axis_sizes`.
pub fn grid_coords(axis_sizes: &[usize], run_id: usize, out: &mut [usize]) {
    let mut rem = run_id;
    for (i, &n) in axis_sizes.iter().enumerate().rev() {
        out[i] = rem % n;
        rem /= n;
    }
}

/// The neighbour offsets, flattened k per neighbour (the all-zero offset left out).
fn offsets(k: usize, hood: Neighbourhood) -> Vec<i8> {
    let mut out = Vec::new();
    match hood {
        Neighbourhood::Axes => {
            for i in 0..k {
                for d in [-1i8, 1] {
                    let mut o = vec![0i8; k];
                    o[i] = d;
                    out.extend(o);
                }
            }
        }
        Neighbourhood::Box => {
            let n = 3usize.pow(k as u32);
            for code in 0..n {
                let mut c = code;
                let o: Vec<i8> = (0..k)
                    .map(|_| {
                        let d = (c % 3) as i8 - 1;
                        c /= 3;
                        d
                    })
                    .collect();
                if o.iter().any(|&d| d != 0) {
                    out.extend(o);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(min: f64, median: f64, count: u32) -> PlateauScore {
        PlateauScore { min: Some(min), median: Some(median), count }
    }

    #[test]
    fn test_plateau_three_by_three_by_hand() {
        // Axis 0 (slowest) = rows, axis 1 = columns; run id = 3·row + column:
        //   1 2 3
        //   4 9 5
        //   6 7 8
        let obj = [1.0, 2.0, 3.0, 4.0, 9.0, 5.0, 6.0, 7.0, 8.0];
        let b = plateau_scores(&[3, 3], &obj, Neighbourhood::Box).unwrap();
        // Corner 0: {1, 2, 4, 9} → min 1, median (2 + 4)/2 = 3.
        assert_eq!(b[0], s(1.0, 3.0, 4));
        // Edge 1: {1, 2, 3, 4, 9, 5} → 1 2 3 4 5 9 → median 3.5.
        assert_eq!(b[1], s(1.0, 3.5, 6));
        // Centre 4: all nine → median 5.
        assert_eq!(b[4], s(1.0, 5.0, 9));
        // Corner 8: {9, 5, 7, 8} → 5 7 8 9 → median 7.5.
        assert_eq!(b[8], s(5.0, 7.5, 4));
        let a = plateau_scores(&[3, 3], &obj, Neighbourhood::Axes).unwrap();
        // Centre: {9, 2, 4, 5, 7} → 2 4 5 7 9.
        assert_eq!(a[4], s(2.0, 5.0, 5));
        // Corner 0: {1, 2, 4}; corner 8: {8, 5, 7}.
        assert_eq!(a[0], s(1.0, 2.0, 3));
        assert_eq!(a[8], s(5.0, 7.0, 3));
        // The spike (9) scores below the steady corner: median 5 vs 7.5 in the box.
        // A missing value is skipped; the missing run itself has no score.
        let mut obj = obj;
        obj[2] = f64::NAN;
        let b = plateau_scores(&[3, 3], &obj, Neighbourhood::Box).unwrap();
        // Run 1: {1, 2, 4, 9, 5} → 1 2 4 5 9 → median 4.
        assert_eq!(b[1], s(1.0, 4.0, 5));
        assert_eq!(b[2], PlateauScore { min: None, median: None, count: 0 });
    }

    #[test]
    fn test_plateau_run_id_order_is_last_axis_fastest() {
        // A 2 × 3 grid: run ids 0, 1, 2 are row 0. With the value = run id, run 2 (row 0,
        // column 2) has box neighbours 1 (row 0, column 1), 4 and 5 (row 1), never 3.
        let obj: Vec<f64> = (0..6).map(f64::from).collect();
        let b = plateau_scores(&[2, 3], &obj, Neighbourhood::Box).unwrap();
        assert_eq!(b[2], s(1.0, 3.0, 4)); // {1, 2, 4, 5}
        let a = plateau_scores(&[2, 3], &obj, Neighbourhood::Axes).unwrap();
        assert_eq!(a[2], s(1.0, 2.0, 3)); // {1, 2, 5}
                                          // One axis of size 1 has no neighbours on it; no axes at all: the run alone.
        assert_eq!(
            plateau_scores(&[1, 2], &[3.0, 1.0], Neighbourhood::Box).unwrap()[0],
            s(1.0, 2.0, 2)
        );
        assert_eq!(plateau_scores(&[], &[7.0], Neighbourhood::Box).unwrap()[0], s(7.0, 7.0, 1));
    }

    #[test]
    fn test_grid_coords_match_the_sweep_space() {
        use crate::config::fields::{self, ParamValue};
        use crate::engine::RunParams;
        use crate::sweep::space::{Axis, AxisForm, Space};
        let axis = |name: &'static str, values: Vec<ParamValue>| Axis {
            name,
            kind: fields::spec(name).unwrap().kind,
            form: AxisForm::List,
            values,
        };
        let space = Space::new(
            RunParams::default(),
            vec![
                axis("leverage", vec![ParamValue::Float(2.0), ParamValue::Float(3.0)]),
                axis("grid_count", (1..=3).map(|i| ParamValue::Int(10 * i)).collect()),
                axis("grid_step", vec![ParamValue::Float(0.2), ParamValue::Float(0.4)]),
            ],
        );
        let (mut a, mut b) = ([0usize; 3], [0usize; 3]);
        for id in 0..12 {
            space.coords(id, &mut a);
            grid_coords(&[2, 3, 2], id as usize, &mut b);
            assert_eq!(a, b, "run {id}");
        }
    }

    #[test]
    fn test_plateau_shape_error() {
        assert!(matches!(
            plateau_scores(&[3, 3], &[0.0; 8], Neighbourhood::Box),
            Err(SelectionError::Shape { expected: 9, got: 8, .. })
        ));
    }

    #[test]
    fn test_plateau_offsets_counts() {
        assert_eq!(offsets(3, Neighbourhood::Box).len(), 26 * 3);
        assert_eq!(offsets(3, Neighbourhood::Axes).len(), 6 * 3);
    }
}
