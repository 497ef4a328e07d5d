//! Exact non-dominated sorting ("Pareto rank") over 2–4 objectives.
//!
//! Run a dominates run b when a is at least as good on every objective and better on one.
//! `pareto_rank` 0 is the front (dominated by nobody); a run's rank is the length of the longest
//! chain of runs dominating one another above it, which is the front index that repeated
//! peeling of fronts gives. Runs equal on every objective share a rank and do not dominate each
//! other.
//!
//! Missing values: a run with a NaN objective is ranked after all others (max rank + 1, or 0
//! when every run has a NaN). ±∞ are ordinary values; −0 equals +0.
//!
//! Algorithms (values are first replaced by their dense rank on each axis, minimised):
//! - 2 objectives: sort by (f₁, f₂) and sweep, keeping the smallest f₂ of each front; a point
//!   joins the first front whose smallest f₂ is above its own (binary search): O(N log N).
//! - 3–4 objectives: after the same sort every dominator of a point precedes it, so
//!   rank(p) = 1 + max rank of its dominators. Divide and conquer over the sorted order
//!   (Jensen 2003; Fortin, Grenier, Parizeau 2013): solve the left half, push its ranks into
//!   the right half through a sweep on f₂ with a Fenwick tree of prefix maxima on f₃ (for 4
//!   objectives one more divide-and-conquer level on f₂ first), then solve the right half:
//!   O(N log² N) for 3 objectives, O(N log³ N) for 4.

use serde::Serialize;

use super::SelectionError;

/// Whether an objective is better high or low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better (`desc` in a sort key).
    Max,
    /// Lower is better (`asc`).
    Min,
}

/// `validate`'s default objectives: return up, drawdown down, liquidation distance up.
pub const DEFAULT_OBJECTIVES: &str = "return_pct,max_drawdown_pct:asc,min_liq_distance_pct";

/// Column names and directions from `name[:asc|:desc],…` (2–4 entries; `desc`, higher is
/// better, when no suffix is given).
///
/// # Errors
/// [`SelectionError::ParetoShape`] for fewer than 2 or more than 4 entries;
/// [`SelectionError::ObjectiveSpec`] for an empty name or an unknown suffix.
pub fn parse_objectives(spec: &str) -> Result<Vec<(&str, Direction)>, SelectionError> {
    let out = spec
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (name, dir) = match item.split_once(':') {
                None => (item, Direction::Max),
                Some((n, "desc")) => (n, Direction::Max),
                Some((n, "asc")) => (n, Direction::Min),
                Some((_, other)) => {
                    return Err(SelectionError::ObjectiveSpec(format!(
                        "`{item}`: the direction must be `asc` or `desc` (was `{other}`)"
                    )))
                }
            };
            if name.is_empty() {
                return Err(SelectionError::ObjectiveSpec(format!(
                    "`{spec}`: every Pareto objective needs a column name"
                )));
            }
            Ok((name, dir))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !(2..=4).contains(&out.len()) {
        return Err(SelectionError::ParetoShape { objectives: out.len(), directions: out.len() });
    }
    Ok(out)
}

/// Below this many points a divide-and-conquer range is solved pairwise.
const SMALL: usize = 24;

/// The Pareto rank of every run (0 = front) over the objective columns `objectives` (one slice
/// per objective, each with one value per run) with their `directions`.
///
/// # Errors
/// [`SelectionError::ParetoShape`] unless there are 2–4 objectives with one direction each;
/// [`SelectionError::Shape`] when the columns differ in length.
pub fn pareto_ranks(
    objectives: &[&[f64]],
    directions: &[Direction],
) -> Result<Vec<u32>, SelectionError> {
    let m = objectives.len();
    if !(2..=4).contains(&m) || directions.len() != m {
        return Err(SelectionError::ParetoShape { objectives: m, directions: directions.len() });
    }
    let n = objectives[0].len();
    for c in objectives {
        if c.len() != n {
            return Err(SelectionError::Shape {
                what: "pareto objective column",
                expected: n,
                got: c.len(),
            });
        }
    }
    let valid: Vec<u32> =
        (0..n).filter(|&i| objectives.iter().all(|c| !c[i].is_nan())).map(|i| i as u32).collect();
    // Dense ranks per axis, minimised: equal values share a rank.
    let mut pts = vec![[0u32; 4]; valid.len()];
    let mut order: Vec<u32> = (0..valid.len() as u32).collect();
    for (d, (col, dir)) in objectives.iter().zip(directions).enumerate() {
        let key = |k: u32| -> f64 {
            let v = col[valid[k as usize] as usize];
            match dir {
                Direction::Min => v,
                Direction::Max => -v,
            }
        };
        order.sort_unstable_by(|&a, &b| key(a).partial_cmp(&key(b)).expect("NaN filtered"));
        let mut r = 0u32;
        for w in 0..order.len() {
            if w > 0 && key(order[w]) != key(order[w - 1]) {
                r += 1;
            }
            pts[order[w] as usize][d] = r;
        }
    }
    // Lexicographic order and de-duplication.
    let mut idx: Vec<u32> = (0..valid.len() as u32).collect();
    idx.sort_unstable_by_key(|&k| pts[k as usize]);
    let mut uniq: Vec<[u32; 4]> = Vec::with_capacity(idx.len());
    let mut of_valid = vec![0u32; valid.len()];
    for &k in &idx {
        let p = pts[k as usize];
        if uniq.last() != Some(&p) {
            uniq.push(p);
        }
        of_valid[k as usize] = (uniq.len() - 1) as u32;
    }
    drop(pts);
    let urank = match m {
        2 => sweep2(&uniq),
        _ => {
            let mut rank = vec![0u32; uniq.len()];
            let mut dc = Dc {
                pts: &uniq,
                rank: &mut rank,
                m,
                bit: Fenwick::new(uniq.len()),
                buf: Vec::new(),
                buf2: Vec::new(),
            };
            dc.solve(0, uniq.len());
            rank
        }
    };
    let worst = urank.iter().max().map_or(0, |&r| r + 1);
    let mut out = vec![worst; n];
    for (k, &i) in valid.iter().enumerate() {
        out[i as usize] = urank[of_valid[k] as usize];
    }
    Ok(out)
}

/// Two objectives over unique points sorted by (f₁, f₂).
fn sweep2(pts: &[[u32; 4]]) -> Vec<u32> {
    // min_f2[k]: the smallest f₂ in front k so far (non-decreasing in k).
    let mut min_f2: Vec<u32> = Vec::new();
    pts.iter()
        .map(|p| {
            let k = min_f2.partition_point(|&f| f <= p[1]);
            if k == min_f2.len() {
                min_f2.push(p[1]);
            } else {
                min_f2[k] = p[1];
            }
            k as u32
        })
        .collect()
}

#[inline]
fn dominates(a: &[u32; 4], b: &[u32; 4]) -> bool {
    a[0] <= b[0] && a[1] <= b[1] && a[2] <= b[2] && a[3] <= b[3] && a != b
}

/// Fenwick tree of prefix maxima (0 = empty), cleared by walking the touched paths again.
struct Fenwick {
    t: Vec<u32>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick { t: vec![0; n.max(1)] }
    }
    fn update(&mut self, mut i: usize, v: u32) {
        while i < self.t.len() {
            if self.t[i] < v {
                self.t[i] = v;
            }
            i |= i + 1;
        }
    }
    fn clear(&mut self, mut i: usize) {
        while i < self.t.len() && self.t[i] != 0 {
            self.t[i] = 0;
            i |= i + 1;
        }
    }
    /// Max over positions 0..=i.
    fn query(&self, i: usize) -> u32 {
        let mut r = 0;
        let mut i = i as isize;
        while i >= 0 {
            r = r.max(self.t[i as usize]);
            i = (i & (i + 1)) - 1;
        }
        r
    }
}

/// One item of a cross step: a point's remaining coordinates, whether it is a source (left,
/// rank known) and its index.
#[derive(Clone, Copy)]
struct Item {
    c: [u32; 3],
    left: bool,
    i: u32,
}

struct Dc<'a> {
    pts: &'a [[u32; 4]],
    rank: &'a mut [u32],
    m: usize,
    bit: Fenwick,
    buf: Vec<Item>,
    buf2: Vec<Item>,
}

impl Dc<'_> {
    fn solve(&mut self, lo: usize, hi: usize) {
        if hi - lo <= SMALL {
            for j in lo..hi {
                for i in lo..j {
                    if dominates(&self.pts[i], &self.pts[j]) && self.rank[i] + 1 > self.rank[j] {
                        self.rank[j] = self.rank[i] + 1;
                    }
                }
            }
            return;
        }
        let mid = (lo + hi) / 2;
        self.solve(lo, mid);
        self.cross(lo, mid, hi);
        self.solve(mid, hi);
    }

    /// Raise the ranks of [mid, hi) by those of their dominators in [lo, mid).
    fn cross(&mut self, lo: usize, mid: usize, hi: usize) {
        let mut items = std::mem::take(&mut self.buf);
        items.clear();
        for k in lo..hi {
            let p = self.pts[k];
            items.push(Item { c: [p[1], p[2], p[3]], left: k < mid, i: k as u32 });
        }
        // Sort by the first remaining coordinate, sources first among equals (≤ dominates).
        items.sort_unstable_by_key(|it| (it.c[0], !it.left));
        if self.m == 3 {
            self.sweep(&items, 1);
        } else {
            self.static3(&mut items);
        }
        self.buf = items;
    }

    /// Items sorted so every source that may dominate a target precedes it on coordinate
    /// `d − 1`: a sweep with the Fenwick tree over coordinate `d` (sorted on `d − 1` already).
    fn sweep(&mut self, items: &[Item], d: usize) {
        for it in items {
            if it.left {
                self.bit.update(it.c[d] as usize, self.rank[it.i as usize] + 1);
            } else {
                let q = self.bit.query(it.c[d] as usize);
                let r = &mut self.rank[it.i as usize];
                if q > *r {
                    *r = q;
                }
            }
        }
        for it in items {
            if it.left {
                self.bit.clear(it.c[d] as usize);
            }
        }
    }

    /// Static 3-d dominance (items sorted on c[0]): divide on that order, then a 2-d sweep
    /// (sort on c[1], Fenwick on c[2]) from the first half's sources to the second half's
    /// targets.
    fn static3(&mut self, items: &mut [Item]) {
        let n = items.len();
        if n < 2 {
            return;
        }
        if n <= SMALL {
            for j in 0..n {
                if items[j].left {
                    continue;
                }
                for i in 0..j {
                    let (a, b) = (items[i], items[j]);
                    if a.left && a.c[0] <= b.c[0] && a.c[1] <= b.c[1] && a.c[2] <= b.c[2] {
                        let v = self.rank[a.i as usize] + 1;
                        let r = &mut self.rank[b.i as usize];
                        if v > *r {
                            *r = v;
                        }
                    }
                }
            }
            return;
        }
        let mid = n / 2;
        {
            let (a, b) = items.split_at_mut(mid);
            self.static3(a);
            self.static3(b);
        }
        // Both halves are solved, so one scratch buffer serves every level.
        let mut cross = std::mem::take(&mut self.buf2);
        cross.clear();
        cross.extend(items[..mid].iter().filter(|it| it.left));
        let sources = cross.len();
        cross.extend(items[mid..].iter().filter(|it| !it.left));
        if sources > 0 && sources < cross.len() {
            cross.sort_unstable_by_key(|it| (it.c[1], !it.left));
            self.sweep(&cross, 2);
        }
        self.buf2 = cross;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: peel fronts by pairwise checks, O(N²) per front.
    fn brute(cols: &[Vec<f64>], dirs: &[Direction]) -> Vec<u32> {
        let n = cols[0].len();
        let better = |a: f64, b: f64, d: Direction| match d {
            Direction::Max => a > b,
            Direction::Min => a < b,
        };
        let dom = |a: usize, b: usize| {
            cols.iter().zip(dirs).all(|(c, &d)| !better(c[b], c[a], d))
                && cols.iter().zip(dirs).any(|(c, &d)| better(c[a], c[b], d))
        };
        let valid: Vec<usize> = (0..n).filter(|&i| cols.iter().all(|c| !c[i].is_nan())).collect();
        let mut rank = vec![u32::MAX; n];
        let mut left: Vec<usize> = valid.clone();
        let mut k = 0;
        while !left.is_empty() {
            let front: Vec<usize> =
                left.iter().copied().filter(|&b| !left.iter().any(|&a| dom(a, b))).collect();
            for &f in &front {
                rank[f] = k;
            }
            left.retain(|x| !front.contains(x));
            k += 1;
        }
        for r in rank.iter_mut() {
            if *r == u32::MAX {
                *r = k;
            }
        }
        rank
    }

    fn ranks(cols: &[Vec<f64>], dirs: &[Direction]) -> Vec<u32> {
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        pareto_ranks(&refs, dirs).unwrap()
    }

    #[test]
    fn test_pareto_two_objectives_by_hand() {
        // return (max) and drawdown (min):
        // a (10, 5) b (8, 2) c (10, 5) d (7, 6) e (9, 3) f (NaN, 1)
        // a = c (same point, rank 0); b, e on the front too; d is dominated by e, which is
        // dominated by nobody → rank 1; f missing → after all: 2.
        let cols =
            vec![vec![10.0, 8.0, 10.0, 7.0, 9.0, f64::NAN], vec![5.0, 2.0, 5.0, 6.0, 3.0, 1.0]];
        assert_eq!(ranks(&cols, &[Direction::Max, Direction::Min]), vec![0, 0, 0, 1, 0, 2]);
    }

    #[test]
    fn test_pareto_chain_in_three_and_four_objectives() {
        // A strict chain 0 > 1 > 2 > ... on every axis: ranks 0, 1, 2, ...
        let n = 100;
        for m in [3, 4] {
            let cols: Vec<Vec<f64>> = (0..m).map(|_| (0..n).map(|i| i as f64).collect()).collect();
            let r = ranks(&cols, &vec![Direction::Min; m]);
            assert_eq!(r, (0..n as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn test_pareto_matches_brute_force_on_thousands_of_runs() {
        // Deep recursion (N = 2,500 ≫ SMALL) on continuous values and on a coarse grid of
        // values (many ties), 2–4 objectives, mixed directions.
        let mut s = 99u64;
        let mut next = |levels: u64| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 20) % levels) as f64
        };
        for m in 2..=4 {
            for levels in [1 << 30, 7] {
                let cols: Vec<Vec<f64>> =
                    (0..m).map(|_| (0..2500).map(|_| next(levels)).collect()).collect();
                let dirs: Vec<Direction> = (0..m)
                    .map(|d| if d % 2 == 0 { Direction::Max } else { Direction::Min })
                    .collect();
                assert_eq!(ranks(&cols, &dirs), brute(&cols, &dirs), "m = {m}, levels = {levels}");
            }
        }
    }

    #[test]
    fn test_parse_objectives() {
        assert_eq!(
            parse_objectives(DEFAULT_OBJECTIVES).unwrap(),
            vec![
                ("return_pct", Direction::Max),
                ("max_drawdown_pct", Direction::Min),
                ("min_liq_distance_pct", Direction::Max)
            ]
        );
        assert_eq!(
            parse_objectives("a:desc, b:asc").unwrap(),
            vec![("a", Direction::Max), ("b", Direction::Min)]
        );
        assert!(parse_objectives("a").is_err());
        assert!(parse_objectives("a,b,c,d,e").is_err());
        assert!(parse_objectives("a,b:up").is_err());
        assert!(parse_objectives("a,:asc").is_err());
    }

    #[test]
    fn test_pareto_shape_errors() {
        let a = [1.0, 2.0];
        assert!(matches!(
            pareto_ranks(&[&a], &[Direction::Max]),
            Err(SelectionError::ParetoShape { .. })
        ));
        assert!(matches!(
            pareto_ranks(&[&a, &a], &[Direction::Max]),
            Err(SelectionError::ParetoShape { .. })
        ));
        assert!(matches!(
            pareto_ranks(&[&a, &[1.0]], &[Direction::Max, Direction::Min]),
            Err(SelectionError::Shape { .. })
        ));
        assert_eq!(
            pareto_ranks(&[&[], &[]], &[Direction::Max, Direction::Min]).unwrap(),
            Vec::<u32>::new()
        );
        let nan = [f64::NAN, f64::NAN];
        assert_eq!(
            pareto_ranks(&[&nan, &a], &[Direction::Max, Direction::Min]).unwrap(),
            vec![0, 0]
        );
    }

    mod property_tests {
        use super::*;
        use proptest::prelude::*;

        fn case() -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<Direction>)> {
            (2usize..=4, 0usize..120).prop_flat_map(|(m, n)| {
                // Few distinct values, so ties and duplicates are common; NaN now and then.
                let v = prop_oneof![20 => (0i32..6).prop_map(f64::from), 1 => Just(f64::NAN), 1 => Just(-0.0)];
                let dir = prop_oneof![Just(Direction::Max), Just(Direction::Min)];
                (proptest::collection::vec(proptest::collection::vec(v, n), m), proptest::collection::vec(dir, m))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            #[test]
            fn prop_pareto_matches_brute_force((cols, dirs) in case()) {
                prop_assert_eq!(ranks(&cols, &dirs), brute(&cols, &dirs));
            }

            #[test]
            fn prop_pareto_matches_brute_force_continuous(
                m in 2usize..=4,
                seed in any::<u64>(),
                n in 0usize..400,
            ) {
                let mut s = seed;
                let cols: Vec<Vec<f64>> = (0..m).map(|_| (0..n).map(|_| {
                    s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    ((s >> 33) % 50) as f64
                }).collect()).collect();
                let dirs: Vec<Direction> = (0..m).map(|d| if (seed >> d) & 1 == 0 { Direction::Max } else { Direction::Min }).collect();
                prop_assert_eq!(ranks(&cols, &dirs), brute(&cols, &dirs));
            }
        }
    }
}
