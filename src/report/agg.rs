//! Pure aggregations behind the report's charts: per-cell maximum/median of a metric over
//! two axes, liquidated share, drawdown and position curves. No I/O.

use crate::engine::{Direction, FillRecord, Side};

/// How the runs that share a cell (every value of the other axes) are summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// The median (mean of the two middle values for an even count).
    Median,
}

impl Agg {
    /// `"max"`, `"min"` or `"median"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agg::Max => "max",
            Agg::Min => "min",
            Agg::Median => "median",
        }
    }
}

/// A grid of cells over two axes: `values[y * nx + x]`, `None` where no run counts.
#[derive(Clone, Debug, PartialEq)]
pub struct CellGrid {
    /// Cells along the x axis.
    pub nx: usize,
    /// Cells along the y axis.
    pub ny: usize,
    /// Cell values, row by row (y outer).
    pub values: Vec<Option<f64>>,
}

impl CellGrid {
    /// The value at `(x, y)`.
    pub fn get(&self, x: usize, y: usize) -> Option<f64> {
        self.values[y * self.nx + x]
    }

    /// The cell with the highest value (`ascending`: the lowest); ties go to the first cell
    /// in row order.
    pub fn best(&self, ascending: bool) -> Option<(usize, usize)> {
        let mut best: Option<(usize, f64)> = None;
        for (i, v) in self.values.iter().enumerate() {
            let Some(v) = *v else { continue };
            let better = match best {
                None => true,
                Some((_, b)) => {
                    if ascending {
                        v < b
                    } else {
                        v > b
                    }
                }
            };
            if better {
                best = Some((i, v));
            }
        }
        best.map(|(i, _)| (i % self.nx, i / self.nx))
    }

    /// The smallest and largest value of the grid.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut it = self.values.iter().flatten().copied();
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }
}

/// The median of `v` (sorted in place); `None` for an empty slice.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn summarise(v: &mut [f64], agg: Agg) -> Option<f64> {
    match agg {
        Agg::Max => v.iter().copied().reduce(f64::max),
        Agg::Min => v.iter().copied().reduce(f64::min),
        Agg::Median => median(v),
    }
}

/// Groups `values` by cell: run `i` lies at `(xs[i], ys[i])` and counts when `keep[i]` and
/// its value is finite; each cell is summarised by `agg`.
///
/// # Panics
/// When the slices differ in length or a coordinate is outside `nx × ny`.
pub fn cell_grid(
    xs: &[usize],
    ys: &[usize],
    nx: usize,
    ny: usize,
    values: &[f64],
    keep: &[bool],
    agg: Agg,
) -> CellGrid {
    assert!(xs.len() == ys.len() && ys.len() == values.len() && values.len() == keep.len());
    let mut cells: Vec<Vec<f64>> = vec![Vec::new(); nx * ny];
    for i in 0..values.len() {
        if keep[i] && values[i].is_finite() {
            cells[ys[i] * nx + xs[i]].push(values[i]);
        }
    }
    CellGrid { nx, ny, values: cells.iter_mut().map(|c| summarise(c, agg)).collect() }
}

/// The share (0–1) of the counted runs of each cell (`keep[i]`) that were liquidated.
///
/// # Panics
/// As [`cell_grid`].
pub fn liquidated_share(
    xs: &[usize],
    ys: &[usize],
    nx: usize,
    ny: usize,
    liquidated: &[bool],
    keep: &[bool],
) -> CellGrid {
    let flags: Vec<f64> = liquidated.iter().map(|&l| f64::from(u8::from(l))).collect();
    let mut sums = vec![(0u64, 0u64); nx * ny];
    for i in 0..flags.len() {
        if keep[i] {
            let c = &mut sums[ys[i] * nx + xs[i]];
            c.0 += u64::from(liquidated[i]);
            c.1 += 1;
        }
    }
    let values = sums.iter().map(|&(l, n)| (n > 0).then(|| l as f64 / n as f64)).collect();
    CellGrid { nx, ny, values }
}

/// The underwater curve: at each point, the equity's distance below its running peak in
/// percent of that peak (0 at a new high, negative below it).
pub fn underwater_pct(equity: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&(t, e)| {
            peak = peak.max(e);
            let dd = if peak > 0.0 { (e - peak) / peak * 100.0 } else { 0.0 };
            (t, dd)
        })
        .collect()
}

/// Long and short position sizes (base currency) after each fill: `(ts_ms, long, short)`.
pub fn positions(fills: &[FillRecord]) -> Vec<(i64, f64, f64)> {
    let (mut long, mut short) = (0.0f64, 0.0f64);
    fills
        .iter()
        .map(|f| {
            match (f.direction, f.side) {
                (Direction::Long, Side::Buy) => long += f.qty,
                (Direction::Long, Side::Sell) => long = (long - f.qty).max(0.0),
                (Direction::Short, Side::Sell) => short += f.qty,
                (Direction::Short, Side::Buy) => short = (short - f.qty).max(0.0),
            }
            (f.ts_ms, long, short)
        })
        .collect()
}

/// At most about `max_points` points of a time series for drawing: the points are cut into
/// equal runs and each run keeps its lowest and its highest point (in time order), so peaks
/// and troughs survive; the last point is always kept.
pub fn thin_min_max(points: &[(i64, f64)], max_points: usize) -> Vec<(i64, f64)> {
    if points.len() <= max_points.max(2) {
        return points.to_vec();
    }
    let per = points.len().div_ceil((max_points / 2).max(1));
    let mut out = Vec::with_capacity(max_points + 1);
    for chunk in points.chunks(per) {
        let lo = chunk.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
        let hi = chunk.iter().max_by(|a, b| a.1.total_cmp(&b.1)).copied();
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo.0 <= hi.0 {
                out.extend([lo, hi]);
            } else {
                out.extend([hi, lo]);
            }
        }
    }
    if out.last() != points.last() {
        out.extend(points.last().copied());
    }
    out.dedup();
    out
}

/// Points on a `w × h` pixel raster merged to one per cell of `cell` pixels: of the points
/// that fall in one cell the one listed first is kept (callers list the points to keep
/// first). Returns the indices kept, in input order of first appearance.
pub fn merge_on_raster(
    xy: &[(f64, f64)],
    bounds: [f64; 4],
    w: u32,
    h: u32,
    cell: u32,
) -> Vec<usize> {
    let [x0, x1, y0, y1] = bounds;
    let (cw, ch) = ((w / cell.max(1)).max(1) as usize, (h / cell.max(1)).max(1) as usize);
    let mut seen = vec![false; cw * ch];
    let mut kept = Vec::new();
    let sx = if x1 > x0 { (cw as f64) / (x1 - x0) } else { 0.0 };
    let sy = if y1 > y0 { (ch as f64) / (y1 - y0) } else { 0.0 };
    for (i, &(x, y)) in xy.iter().enumerate() {
        if !x.is_finite() || !y.is_finite() {
            continue;
        }
        let cx = (((x - x0) * sx) as usize).min(cw - 1);
        let cy = (((y - y0) * sy) as usize).min(ch - 1);
        if !std::mem::replace(&mut seen[cy * cw + cx], true) {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FillKind;

    /// Rows of a 2 × 3 × 2 sweep (axes a, b, c; c varies fastest), values by run_id.
    fn coords() -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for ia in 0..2 {
            for ib in 0..3 {
                for ic in 0..2 {
                    a.push(ia);
                    b.push(ib);
                    c.push(ic);
                }
            }
        }
        (a, b, c)
    }

    #[test]
    fn test_max_and_median_per_cell_over_the_other_axis() {
        let (a, b, _) = coords();
        // Value of run r: 10 * a + b + (r % 2) * 0.5, i.e. the c axis adds 0 or 0.5.
        let values: Vec<f64> =
            (0..12).map(|r| 10.0 * a[r] as f64 + b[r] as f64 + (r % 2) as f64 * 0.5).collect();
        let keep = vec![true; 12];
        let max = cell_grid(&b, &a, 3, 2, &values, &keep, Agg::Max);
        let med = cell_grid(&b, &a, 3, 2, &values, &keep, Agg::Median);
        for ia in 0..2 {
            for ib in 0..3 {
                // The two runs of the cell, computed from their run_ids.
                let r0 = ia * 6 + ib * 2;
                let (v0, v1) = (values[r0], values[r0 + 1]);
                assert_eq!(max.get(ib, ia), Some(v0.max(v1)));
                assert_eq!(med.get(ib, ia), Some((v0 + v1) / 2.0));
            }
        }
        assert_eq!(max.best(false), Some((2, 1)));
        assert_eq!(max.best(true), Some((0, 0)));
        assert_eq!(max.range(), Some((0.5, 12.5)));
    }

    #[test]
    fn test_cells_skip_failed_runs_and_nan_and_odd_medians() {
        let (a, b, _) = coords();
        let values: Vec<f64> = (0..12).map(|r| r as f64).collect();
        let mut keep = vec![true; 12];
        keep[0] = false; // cell (a 0, b 0) keeps run 1 only
        let mut v = values.clone();
        v[3] = f64::NAN; // cell (a 0, b 1) keeps run 2 only
                         // Over a alone (b aggregated): cell a = 1 holds runs 6..12, a median of 6 values.
        let zeros = vec![0usize; 12];
        let by_a = cell_grid(&a, &zeros, 2, 1, &v, &keep, Agg::Median);
        assert_eq!(by_a.get(0, 0), Some(3.0)); // runs 1, 2, 4, 5 (3 NaN, 0 dropped): (2+4)/2
        assert_eq!(by_a.get(1, 0), Some(8.5)); // runs 6..11: (8 + 9) / 2
        let g = cell_grid(&b, &a, 3, 2, &v, &keep, Agg::Median);
        assert_eq!(g.get(0, 0), Some(1.0));
        assert_eq!(g.get(1, 0), Some(2.0));
        let none = cell_grid(&b, &a, 3, 2, &v, &[false; 12], Agg::Max);
        assert!(none.values.iter().all(Option::is_none));
        assert_eq!(none.best(false), None);
        let mut odd = [3.0, 1.0, 2.0];
        assert_eq!(median(&mut odd), Some(2.0));
    }

    #[test]
    fn test_liquidated_share_counts_liquidated_over_kept_runs_of_the_cell() {
        let (a, b, _) = coords();
        // Run r is liquidated when r is divisible by 3: runs 0, 3, 6, 9.
        let liq: Vec<bool> = (0..12).map(|r| r % 3 == 0).collect();
        let mut keep = vec![true; 12];
        keep[1] = false; // cell (b 0, a 0) then counts run 0 alone
        let g = liquidated_share(&b, &a, 3, 2, &liq, &keep);
        for ia in 0..2 {
            for ib in 0..3 {
                let runs: Vec<usize> =
                    (0..12).filter(|&r| a[r] == ia && b[r] == ib && keep[r]).collect();
                let l = runs.iter().filter(|&&r| liq[r]).count();
                assert_eq!(g.get(ib, ia), Some(l as f64 / runs.len() as f64), "a {ia} b {ib}");
            }
        }
        assert_eq!(g.get(0, 0), Some(1.0));
        assert_eq!(g.get(1, 0), Some(0.5)); // runs 2, 3
    }

    #[test]
    fn test_underwater_is_percent_below_the_running_peak() {
        let eq = [(0, 100.0), (1, 110.0), (2, 99.0), (3, 121.0), (4, 60.5)];
        let u = underwater_pct(&eq);
        let want = [0.0, 0.0, (99.0 - 110.0) / 110.0 * 100.0, 0.0, -50.0];
        for (got, w) in u.iter().zip(want) {
            assert!((got.1 - w).abs() < 1e-12, "{got:?} vs {w}");
        }
    }

    #[test]
    fn test_positions_follow_opens_and_closes_of_each_book() {
        let f = |side, direction, qty| FillRecord {
            ts_ms: 0,
            side,
            direction,
            price: 1.0,
            qty,
            realized_pnl: 0.0,
            commission: 0.0,
            kind: FillKind::Limit,
        };
        let fills = [
            f(Side::Buy, Direction::Long, 2.0),
            f(Side::Sell, Direction::Short, 1.5),
            f(Side::Sell, Direction::Long, 0.5),
            f(Side::Buy, Direction::Short, 1.5),
        ];
        let p: Vec<(f64, f64)> = positions(&fills).iter().map(|x| (x.1, x.2)).collect();
        assert_eq!(p, [(2.0, 0.0), (2.0, 1.5), (1.5, 1.5), (1.5, 0.0)]);
    }

    #[test]
    fn test_thinning_keeps_extremes_and_the_last_point() {
        let pts: Vec<(i64, f64)> = (0..1000).map(|i| (i, ((i * 37) % 101) as f64)).collect();
        let t = thin_min_max(&pts, 100);
        assert!(t.len() <= 101, "{}", t.len());
        assert_eq!(t.last(), pts.last());
        let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert!(t.iter().any(|p| p.1 == lo) && t.iter().any(|p| p.1 == hi));
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn test_raster_merge_keeps_the_first_point_of_each_cell() {
        let xy = [(0.1, 0.1), (0.2, 0.2), (9.9, 9.9), (5.0, 5.0), (f64::NAN, 1.0)];
        // 10 × 10 units on 100 × 100 px with 10-px cells: one unit per cell.
        let kept = merge_on_raster(&xy, [0.0, 10.0, 0.0, 10.0], 100, 100, 10);
        assert_eq!(kept, [0, 2, 3]);
    }
}
