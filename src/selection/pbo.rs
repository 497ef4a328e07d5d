//! The probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation
//! (CSCV; Bailey, Borwein, López de Prado, Zhu, "The Probability of Backtest Overfitting",
//! J. Computational Finance 20(4), 2017; docs/selection.md has the exact rules).
//!
//! Drop the earliest `T mod S` periods, cut the rest into `S` contiguous blocks of `T div S`
//! periods; for each of the C(S, S/2) choices of S/2 blocks as the in-sample (IS) set, the rest
//! out of sample (OOS): the IS winner is the run with the highest IS metric (ties: lowest run
//! id); its OOS rank among all N runs (1 = worst, ties share the average rank) gives
//! ω = rank / (N + 1) and the logit λ = ln(ω / (1 − ω)); PBO is the share of splits with λ ≤ 0.
//!
//! Speed: each run's per-block sums (Σr, Σr², Σmin(r, 0)²; the count is the block length) are
//! taken once, so one split costs O(N · S). Splits are processed in groups in parallel (rayon);
//! inside a group the runs are walked in cache-sized chunks for every split of the group, so the
//! block sums are read once per group rather than once per split. Results are gathered in split
//! order; the outcome does not depend on the thread count.

use rayon::prelude::*;
use serde::Serialize;

use super::returns::ReturnsMatrix;
use super::SelectionError;

/// The default number of blocks (C(16, 8) = 12,870 splits).
pub const DEFAULT_SPLITS: usize = 16;

/// A sample standard deviation whose variance is below this share of the mean square
/// (Σr² / (n − 1)) is rounding noise of the sums, and counts as 0.
const ZERO_VARIANCE_REL: f64 = 1e-10;

/// Runs per cache chunk (S = 16: 512 × 3 × 16 × 8 B = 192 KiB of block sums).
const CHUNK_RUNS: usize = 512;
/// Splits per parallel task.
const GROUP_SPLITS: usize = 64;

/// The performance metric a split ranks runs by; each is a function of a set's period returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Mean / sample standard deviation (ddof 1); 0 when the deviation is 0 or n < 2.
    #[default]
    Sharpe,
    /// Mean period return.
    MeanReturn,
    /// Mean / downside deviation, the downside deviation being sqrt(Σ min(r, 0)² / n) (target 0,
    /// over all n periods: the second lower partial moment). When no period lost: +∞ for a
    /// positive mean (no downside at all ranks above any finite value), else 0.
    Sortino,
}

impl Objective {
    /// Every objective, in the order of [`Objective::as_str`] names.
    pub const ALL: [Objective; 3] = [Objective::Sharpe, Objective::MeanReturn, Objective::Sortino];

    /// The objective's name: `sharpe`, `mean_return` or `sortino`.
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Sharpe => "sharpe",
            Objective::MeanReturn => "mean_return",
            Objective::Sortino => "sortino",
        }
    }

    /// The objective named `name` (see [`Objective::as_str`]; `return` is `mean_return`).
    pub fn parse(name: &str) -> Option<Objective> {
        match name {
            "sharpe" => Some(Objective::Sharpe),
            "mean_return" | "return" => Some(Objective::MeanReturn),
            "sortino" => Some(Objective::Sortino),
            _ => None,
        }
    }

    /// The metric of a set of `n` returns from its sums Σr (`s1`), Σr² (`s2`) and Σmin(r, 0)²
    /// (`d2`).
    #[inline]
    pub fn from_sums(self, n: f64, s1: f64, s2: f64, d2: f64) -> f64 {
        match self {
            Objective::Sharpe => sharpe_from_sums(n, s1, s2),
            Objective::MeanReturn => mean_from_sums(n, s1),
            Objective::Sortino => sortino_from_sums(n, s1, d2),
        }
    }

    /// The metric of the returns `r` (0 for an empty slice).
    pub fn of_returns(self, r: &[f64]) -> f64 {
        let (mut s1, mut s2, mut d2) = (0.0, 0.0, 0.0);
        for &x in r {
            s1 += x;
            s2 += x * x;
            let d = x.min(0.0);
            d2 += d * d;
        }
        self.from_sums(r.len() as f64, s1, s2, d2)
    }
}

#[inline(always)]
fn mean_from_sums(n: f64, s1: f64) -> f64 {
    if n > 0.0 {
        s1 / n
    } else {
        0.0
    }
}

#[inline(always)]
fn sharpe_from_sums(n: f64, s1: f64, s2: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    let mean = s1 / n;
    let var = (s2 - s1 * mean) / (n - 1.0);
    // Both sides computed, then selected: the loop over a chunk stays branch-free.
    let sr = mean / var.sqrt();
    if var <= ZERO_VARIANCE_REL * s2 / (n - 1.0) {
        0.0
    } else {
        sr
    }
}

#[inline(always)]
fn sortino_from_sums(n: f64, s1: f64, d2: f64) -> f64 {
    if n <= 0.0 {
        0.0
    } else if d2 <= 0.0 {
        if s1 > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    } else {
        (s1 / n) / (d2 / n).sqrt()
    }
}

/// One split's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SplitOutcome {
    /// The in-sample blocks as a bit mask (bit b = block b, block 0 the earliest).
    pub is_blocks: u32,
    /// The in-sample winner's row in the matrix.
    pub winner: usize,
    /// The in-sample winner's run id.
    pub winner_run_id: u64,
    /// The winner's in-sample metric.
    pub is_metric: f64,
    /// The winner's out-of-sample metric.
    pub oos_metric: f64,
    /// The winner's out-of-sample rank among all runs (1 = worst; ties share the average).
    pub oos_rank: f64,
    /// λ = ln(ω / (1 − ω)), ω = rank / (N + 1).
    pub logit: f64,
}

/// PBO and its companions for one objective and number of blocks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PboReport {
    /// The metric runs were ranked by.
    pub objective: Objective,
    /// Number of blocks S.
    pub splits: usize,
    /// Number of IS/OOS splits, C(S, S/2).
    pub n_combinations: usize,
    /// Number of runs N.
    pub n_trials: usize,
    /// Periods used (S × block length).
    pub periods_used: usize,
    /// Earliest periods dropped (T mod S).
    pub periods_dropped: usize,
    /// Periods per block.
    pub block_len: usize,
    /// Share of splits whose IS winner ranked in the lower half out of sample (λ ≤ 0).
    pub pbo: f64,
    /// Least-squares slope of the winners' OOS metric on their IS metric, over the splits where
    /// both are finite (none when the IS metrics do not vary).
    pub degradation_slope: Option<f64>,
    /// Intercept of that line.
    pub degradation_intercept: Option<f64>,
    /// Share of splits whose winner's OOS metric is negative.
    pub prob_oos_loss: f64,
    /// λ of every split, in split order (for a histogram).
    pub logits: Vec<f64>,
    /// Every split's outcome, in split order (not printed by `--json`).
    #[serde(skip)]
    pub outcomes: Vec<SplitOutcome>,
}

/// Per-run, per-block sums, chunk-major so a split's loop over a chunk of runs reads contiguous
/// columns: run `i = c·CHUNK_RUNS + j`, block `b` at `c·S·CHUNK_RUNS + b·CHUNK_RUNS + j` (the
/// last chunk zero-padded).
struct BlockSums {
    n_blocks: usize,
    s1: Vec<f64>,
    s2: Vec<f64>,
    d2: Vec<f64>,
}

/// Per-thread scratch for one chunk: the set sums and the metrics.
struct ChunkScratch {
    a1: Vec<f64>,
    a2: Vec<f64>,
    a3: Vec<f64>,
    vals: Vec<f64>,
}

impl ChunkScratch {
    fn new() -> ChunkScratch {
        let z = || vec![0.0; CHUNK_RUNS];
        ChunkScratch { a1: z(), a2: z(), a3: z(), vals: z() }
    }
}

impl BlockSums {
    fn new(m: &ReturnsMatrix, n_blocks: usize, offset: usize, block_len: usize) -> BlockSums {
        let len = m.n_runs().div_ceil(CHUNK_RUNS) * CHUNK_RUNS * n_blocks;
        let (mut s1, mut s2, mut d2) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
        for i in 0..m.n_runs() {
            let row = &m.row(i)[offset..];
            for b in 0..n_blocks {
                let (mut a1, mut a2, mut a3) = (0.0, 0.0, 0.0);
                for &x in &row[b * block_len..(b + 1) * block_len] {
                    a1 += x;
                    a2 += x * x;
                    let d = x.min(0.0);
                    a3 += d * d;
                }
                let k = Self::index(n_blocks, i, b);
                s1[k] = a1;
                s2[k] = a2;
                d2[k] = a3;
            }
        }
        BlockSums { n_blocks, s1, s2, d2 }
    }

    #[inline(always)]
    fn index(n_blocks: usize, i: usize, b: usize) -> usize {
        (i / CHUNK_RUNS) * n_blocks * CHUNK_RUNS + b * CHUNK_RUNS + i % CHUNK_RUNS
    }

    /// Run i's metric over the blocks `set` (`n` periods in all); the same additions in the same
    /// order as [`BlockSums::chunk_metrics`], so the two agree to the bit.
    fn metric<M: Metric>(&self, i: usize, set: &[u8], n: f64) -> f64 {
        let (mut a1, mut a2, mut a3) = (0.0, 0.0, 0.0);
        for &b in set {
            let k = Self::index(self.n_blocks, i, b as usize);
            a1 += self.s1[k];
            if M::NEEDS_S2 {
                a2 += self.s2[k];
            }
            if M::NEEDS_D2 {
                a3 += self.d2[k];
            }
        }
        M::from_sums(n, a1, a2, a3)
    }

    /// The metrics of the first `len` runs of chunk `c` over `set`, into `sc.vals[..len]`.
    #[inline(always)]
    fn chunk_metrics<M: Metric>(
        &self,
        c: usize,
        len: usize,
        set: &[u8],
        n: f64,
        sc: &mut ChunkScratch,
    ) {
        let base = c * self.n_blocks * CHUNK_RUNS;
        let add = |acc: &mut [f64], src: &[f64]| {
            acc.fill(0.0);
            for &b in set {
                let col = &src[base + b as usize * CHUNK_RUNS..][..acc.len()];
                for (a, &x) in acc.iter_mut().zip(col) {
                    *a += x;
                }
            }
        };
        add(&mut sc.a1[..len], &self.s1);
        if M::NEEDS_S2 {
            add(&mut sc.a2[..len], &self.s2);
        }
        if M::NEEDS_D2 {
            add(&mut sc.a3[..len], &self.d2);
        }
        let (a1, a2, a3) = (&sc.a1[..len], &sc.a2[..len], &sc.a3[..len]);
        for (((v, &x1), &x2), &x3) in sc.vals[..len].iter_mut().zip(a1).zip(a2).zip(a3) {
            *v = M::from_sums(n, x1, x2, x3);
        }
    }
}

/// Static dispatch over the objective, so the per-run loop has no branch on it.
trait Metric {
    const NEEDS_S2: bool;
    const NEEDS_D2: bool;
    fn from_sums(n: f64, s1: f64, s2: f64, d2: f64) -> f64;
}

struct SharpeM;
struct MeanM;
struct SortinoM;

impl Metric for SharpeM {
    const NEEDS_S2: bool = true;
    const NEEDS_D2: bool = false;
    #[inline(always)]
    fn from_sums(n: f64, s1: f64, s2: f64, _d2: f64) -> f64 {
        sharpe_from_sums(n, s1, s2)
    }
}

impl Metric for MeanM {
    const NEEDS_S2: bool = false;
    const NEEDS_D2: bool = false;
    #[inline(always)]
    fn from_sums(n: f64, s1: f64, _s2: f64, _d2: f64) -> f64 {
        mean_from_sums(n, s1)
    }
}

impl Metric for SortinoM {
    const NEEDS_S2: bool = false;
    const NEEDS_D2: bool = true;
    #[inline(always)]
    fn from_sums(n: f64, s1: f64, _s2: f64, d2: f64) -> f64 {
        sortino_from_sums(n, s1, d2)
    }
}

/// The C(S, S/2) in-sample block sets in lexicographic order, as masks plus flattened IS and
/// OOS block lists (S/2 entries per split each).
fn enumerate_splits(s: usize) -> (Vec<u32>, Vec<u8>, Vec<u8>) {
    let half = s / 2;
    let mut masks = Vec::new();
    let mut comb: Vec<usize> = (0..half).collect();
    loop {
        masks.push(comb.iter().fold(0u32, |m, &b| m | (1 << b)));
        // Advance to the next combination in lexicographic order.
        let mut k = half;
        while k > 0 && comb[k - 1] == s - half + k - 1 {
            k -= 1;
        }
        if k == 0 {
            break;
        }
        comb[k - 1] += 1;
        for j in k..half {
            comb[j] = comb[j - 1] + 1;
        }
    }
    let mut is_idx = Vec::with_capacity(masks.len() * half);
    let mut oos_idx = Vec::with_capacity(masks.len() * half);
    for &m in &masks {
        for b in 0..s as u8 {
            if m & (1 << b) != 0 {
                is_idx.push(b);
            } else {
                oos_idx.push(b);
            }
        }
    }
    (masks, is_idx, oos_idx)
}

/// The metric of every run over all `T` periods (no block dropped), in row order.
pub fn full_sample_metrics(m: &ReturnsMatrix, objective: Objective) -> Vec<f64> {
    (0..m.n_runs()).map(|i| objective.of_returns(m.row(i))).collect()
}

/// PBO by CSCV over `splits` blocks of the matrix, ranking runs by `objective`.
///
/// # Errors
/// [`SelectionError::BadSplits`] when `splits` is odd, < 2 or > 32;
/// [`SelectionError::TooFewPeriods`] when T < S; [`SelectionError::TooFewRuns`] when N < 2.
pub fn pbo(
    m: &ReturnsMatrix,
    splits: usize,
    objective: Objective,
) -> Result<PboReport, SelectionError> {
    if splits < 2 || !splits.is_multiple_of(2) || splits > 32 {
        return Err(SelectionError::BadSplits { splits });
    }
    if m.n_periods() < splits {
        return Err(SelectionError::TooFewPeriods { periods: m.n_periods(), splits });
    }
    if m.n_runs() < 2 {
        return Err(SelectionError::TooFewRuns { runs: m.n_runs(), needed: 2 });
    }
    let block_len = m.n_periods() / splits;
    let dropped = m.n_periods() % splits;
    let sums = BlockSums::new(m, splits, dropped, block_len);
    let (masks, is_idx, oos_idx) = enumerate_splits(splits);
    let outcomes = match objective {
        Objective::Sharpe => run_splits::<SharpeM>(&sums, m, &masks, &is_idx, &oos_idx, block_len),
        Objective::MeanReturn => {
            run_splits::<MeanM>(&sums, m, &masks, &is_idx, &oos_idx, block_len)
        }
        Objective::Sortino => {
            run_splits::<SortinoM>(&sums, m, &masks, &is_idx, &oos_idx, block_len)
        }
    };
    let n_comb = outcomes.len();
    let overfit = outcomes.iter().filter(|o| o.logit <= 0.0).count();
    let losses = outcomes.iter().filter(|o| o.oos_metric < 0.0).count();
    let (slope, intercept) = least_squares(&outcomes);
    Ok(PboReport {
        objective,
        splits,
        n_combinations: n_comb,
        n_trials: m.n_runs(),
        periods_used: block_len * splits,
        periods_dropped: dropped,
        block_len,
        pbo: overfit as f64 / n_comb as f64,
        degradation_slope: slope,
        degradation_intercept: intercept,
        prob_oos_loss: losses as f64 / n_comb as f64,
        logits: outcomes.iter().map(|o| o.logit).collect(),
        outcomes,
    })
}

/// Slope and intercept of OOS on IS metric over the splits where both are finite; none when
/// the IS metrics do not vary.
fn least_squares(o: &[SplitOutcome]) -> (Option<f64>, Option<f64>) {
    let fin = || o.iter().filter(|s| s.is_metric.is_finite() && s.oos_metric.is_finite());
    let n = fin().count() as f64;
    let first = fin().next().map(|s| s.is_metric);
    if n == 0.0 || fin().all(|s| Some(s.is_metric) == first) {
        return (None, None);
    }
    let mx = fin().map(|s| s.is_metric).sum::<f64>() / n;
    let my = fin().map(|s| s.oos_metric).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for s in fin() {
        let dx = s.is_metric - mx;
        sxy += dx * (s.oos_metric - my);
        sxx += dx * dx;
    }
    if sxx > 0.0 && sxx.is_finite() {
        let slope = sxy / sxx;
        (Some(slope), Some(my - slope * mx))
    } else {
        (None, None)
    }
}

fn run_splits<M: Metric>(
    sums: &BlockSums,
    m: &ReturnsMatrix,
    masks: &[u32],
    is_idx: &[u8],
    oos_idx: &[u8],
    block_len: usize,
) -> Vec<SplitOutcome> {
    let half = sums.n_blocks / 2;
    let n_set = (half * block_len) as f64;
    let n_runs = m.n_runs();
    let groups: Vec<Vec<SplitOutcome>> = (0..masks.len().div_ceil(GROUP_SPLITS))
        .into_par_iter()
        .map(|g| {
            let lo = g * GROUP_SPLITS;
            let hi = (lo + GROUP_SPLITS).min(masks.len());
            let is_sets: Vec<&[u8]> = (lo..hi).map(|k| &is_idx[k * half..(k + 1) * half]).collect();
            let oos_sets: Vec<&[u8]> =
                (lo..hi).map(|k| &oos_idx[k * half..(k + 1) * half]).collect();
            // Pass 1: the in-sample winner of each split (strictly greater replaces, so the
            // lowest row wins a tie).
            let mut sc = ChunkScratch::new();
            let mut best = vec![(f64::NEG_INFINITY, usize::MAX); hi - lo];
            for (c, start) in (0..n_runs).step_by(CHUNK_RUNS).enumerate() {
                let len = CHUNK_RUNS.min(n_runs - start);
                for (set, slot) in is_sets.iter().zip(best.iter_mut()) {
                    sums.chunk_metrics::<M>(c, len, set, n_set, &mut sc);
                    let (mut bm, mut bi) = *slot;
                    for (j, &v) in sc.vals[..len].iter().enumerate() {
                        if v > bm || bi == usize::MAX {
                            bm = v;
                            bi = start + j;
                        }
                    }
                    *slot = (bm, bi);
                }
            }
            // Pass 2: how many runs fall below / equal the winner out of sample.
            let w_oos: Vec<f64> = oos_sets
                .iter()
                .zip(&best)
                .map(|(set, &(_, bi))| sums.metric::<M>(bi, set, n_set))
                .collect();
            let mut counts = vec![(0u64, 0u64); hi - lo];
            for (c, start) in (0..n_runs).step_by(CHUNK_RUNS).enumerate() {
                let len = CHUNK_RUNS.min(n_runs - start);
                for ((set, &w), slot) in oos_sets.iter().zip(&w_oos).zip(counts.iter_mut()) {
                    sums.chunk_metrics::<M>(c, len, set, n_set, &mut sc);
                    let (mut less, mut eq) = *slot;
                    for &v in &sc.vals[..len] {
                        less += u64::from(v < w);
                        eq += u64::from(v == w);
                    }
                    *slot = (less, eq);
                }
            }
            (0..hi - lo)
                .map(|k| {
                    let (is_metric, winner) = best[k];
                    let (less, eq) = counts[k];
                    // Average rank of the tied group: less + (1 + eq) / 2, eq counting the winner.
                    let rank2 = 2 * less + eq + 1;
                    let rank = rank2 as f64 / 2.0;
                    let logit = (rank / (n_runs as f64 + 1.0 - rank)).ln();
                    SplitOutcome {
                        is_blocks: masks[lo + k],
                        winner,
                        winner_run_id: m.run_ids()[winner],
                        is_metric,
                        oos_metric: w_oos[k],
                        oos_rank: rank,
                        logit,
                    }
                })
                .collect()
        })
        .collect();
    groups.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[f64]]) -> ReturnsMatrix {
        let t = rows[0].len();
        let data: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        ReturnsMatrix::from_returns(data, rows.len(), t).unwrap()
    }

    /// A small deterministic LCG (Knuth's MMIX constants) for test data.
    fn lcg_returns(n: usize, t: usize, seed: u64) -> ReturnsMatrix {
        let mut s = seed;
        let data = (0..n * t)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
            })
            .collect();
        ReturnsMatrix::from_returns(data, n, t).unwrap()
    }

    /// PBO straight from the definition: every split's metrics from the raw returns.
    fn naive(m: &ReturnsMatrix, s: usize, obj: Objective) -> Vec<(usize, f64, f64, f64)> {
        let (masks, _, _) = enumerate_splits(s);
        let l = m.n_periods() / s;
        let off = m.n_periods() % s;
        let n = m.n_runs();
        masks
            .iter()
            .map(|&mask| {
                let set = |i: usize, want: bool| -> Vec<f64> {
                    (0..s)
                        .filter(|b| (mask & (1 << b) != 0) == want)
                        .flat_map(|b| m.row(i)[off + b * l..off + (b + 1) * l].to_vec())
                        .collect()
                };
                let is: Vec<f64> = (0..n).map(|i| obj.of_returns(&set(i, true))).collect();
                let oos: Vec<f64> = (0..n).map(|i| obj.of_returns(&set(i, false))).collect();
                let mut w = 0;
                for i in 1..n {
                    if is[i] > is[w] {
                        w = i;
                    }
                }
                let less = oos.iter().filter(|&&v| v < oos[w]).count() as f64;
                let eq = oos.iter().filter(|&&v| v == oos[w]).count() as f64;
                (w, is[w], oos[w], less + (eq + 1.0) / 2.0)
            })
            .collect()
    }

    #[test]
    fn test_splits_enumerated_lexicographically() {
        let (masks, is_idx, oos_idx) = enumerate_splits(4);
        assert_eq!(masks, vec![0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100]);
        assert_eq!(&is_idx[..4], &[0, 1, 0, 2]);
        assert_eq!(&oos_idx[..4], &[2, 3, 1, 3]);
        assert_eq!(enumerate_splits(16).0.len(), 12_870);
        assert_eq!(enumerate_splits(2).0, vec![0b01, 0b10]);
    }

    #[test]
    fn test_pbo_zero_when_one_run_wins_every_block() {
        // Run 0 returns 2 %, 3 % in every block of 2 periods: Sharpe 0.025 / 0.00577 = 4.33 on
        // any 4 periods (Sortino +∞: no loss); run 2 (−1 %, 2 %) 0.24; run 1 (1 %, −1 %) 0.
        // Run 0 wins every IS set and is the best OOS: rank 3 of 3, ω = 3/4, λ = ln 3 > 0 in all
        // 6 splits.
        let m = matrix(&[
            &[0.02, 0.03, 0.02, 0.03, 0.02, 0.03, 0.02, 0.03],
            &[0.01, -0.01, 0.01, -0.01, 0.01, -0.01, 0.01, -0.01],
            &[-0.01, 0.02, -0.01, 0.02, -0.01, 0.02, -0.01, 0.02],
        ]);
        for obj in Objective::ALL {
            let r = pbo(&m, 4, obj).unwrap();
            assert_eq!(r.n_combinations, 6);
            assert_eq!(r.pbo, 0.0, "{obj:?}");
            assert_eq!(r.prob_oos_loss, 0.0);
            assert!(r.outcomes.iter().all(|o| o.winner == 0 && o.oos_rank == 3.0));
            assert!(r.logits.iter().all(|&l| (l - 3f64.ln()).abs() < 1e-12));
            // Every split's IS metric is the same: no regression line.
            assert_eq!(r.degradation_slope, None);
        }
    }

    #[test]
    fn test_pbo_one_when_is_winner_is_always_oos_loser() {
        // Run 1 = −run 0, and run 0's block means (3, 1, −2, −2 %) sum to 0, so any IS pair
        // of blocks has the opposite sign of its OOS pair: the run with the positive IS mean
        // (and Sharpe, and Sortino) is the one that loses out of sample. Rank 1 of 2,
        // ω = 1/3, λ = ln(1/2) < 0 in every split.
        let a = [0.04, 0.02, 0.02, 0.0, -0.01, -0.03, -0.03, -0.01];
        let b = a.map(|x: f64| -x);
        let m = matrix(&[&a, &b]);
        for obj in Objective::ALL {
            let r = pbo(&m, 4, obj).unwrap();
            assert_eq!(r.pbo, 1.0, "{obj:?}");
            assert_eq!(r.prob_oos_loss, 1.0);
            assert!(r.outcomes.iter().all(|o| o.oos_rank == 1.0));
            assert!(r.logits.iter().all(|&l| (l - 0.5f64.ln()).abs() < 1e-12));
        }
        // S = 2 with three runs: run 0 best in block 0 and worst in block 1, run 1 the reverse.
        let m = matrix(&[
            &[0.03, 0.01, -0.02, -0.01],
            &[-0.02, -0.03, 0.02, 0.03],
            &[0.0, 0.01, 0.0, 0.01],
        ]);
        let r = pbo(&m, 2, Objective::Sharpe).unwrap();
        assert_eq!(r.pbo, 1.0);
        assert_eq!(r.outcomes[0].winner, 0);
        assert_eq!(r.outcomes[1].winner, 1);
    }

    #[test]
    fn test_pbo_three_runs_four_blocks_by_hand() {
        // T = 5, S = 4: the first period (T mod S = 1) is dropped, so run 2's +50 % never counts;
        // blocks are single periods. In units of 1 %:
        //   run 0: 1, 3, 1, 2    run 1: 2, 0, 1, 1    run 2: −2, 1, 3, 0
        // The Sharpe of two returns a, b is ((a+b)/2) / (|a−b|/√2) = q/√2 with q = (a+b)/|a−b|
        // (q = 0 when a = b: zero deviation). q per block pair:
        //   pair   {0,1} {0,2} {0,3} {1,2} {1,3} {2,3}
        //   run 0    2     0     3     2     5     3
        //   run 1    1     3     3     1     1     0
        //   run 2  −1/3   1/5   −1     2     1     1
        // Splits (IS → OOS), winner, its OOS rank among 3 (ties averaged), λ = ln(r / (4 − r)):
        //   {0,1}→{2,3}: run 0 (2);         OOS 3 vs 0, 1: rank 3    λ = ln 3
        //   {0,2}→{1,3}: run 1 (3);         OOS 1 vs 5, 1: rank 1.5  λ = ln(1.5/2.5) = ln 0.6
        //   {0,3}→{1,2}: runs 0, 1 tie at 3, run 0 wins; OOS 2 vs 1, 2: rank 2.5  λ = ln(5/3)
        //   {1,2}→{0,3}: runs 0, 2 tie at 2, run 0 wins; OOS 3 vs 3, −1: rank 2.5  λ = ln(5/3)
        //   {1,3}→{0,2}: run 0 (5);         OOS 0 vs 3, 1/5: rank 1  λ = ln(1/3)
        //   {2,3}→{0,1}: run 0 (3);         OOS 2 vs 1, −1/3: rank 3 λ = ln 3
        // PBO = 2/6. Winners' (IS q, OOS q): (2,3) (3,1) (3,2) (2,3) (5,0) (3,2): mean x 3,
        // mean y 11/6, Σdxdy = −7/6 − 7/6 − 2·11/6 = −6, Σdx² = 6: slope −1, intercept
        // (11/6 + 3)/√2 = (29/6)/√2. No OOS metric is negative: probability of loss 0.
        let p = |v: [f64; 5]| v.map(|x| x / 100.0);
        let m = matrix(&[
            &p([0.0, 1.0, 3.0, 1.0, 2.0]),
            &p([0.0, 2.0, 0.0, 1.0, 1.0]),
            &p([50.0, -2.0, 1.0, 3.0, 0.0]),
        ]);
        let r = pbo(&m, 4, Objective::Sharpe).unwrap();
        assert_eq!((r.periods_dropped, r.block_len, r.periods_used), (1, 1, 4));
        let winners: Vec<usize> = r.outcomes.iter().map(|o| o.winner).collect();
        assert_eq!(winners, vec![0, 1, 0, 0, 0, 0]);
        let ranks: Vec<f64> = r.outcomes.iter().map(|o| o.oos_rank).collect();
        assert_eq!(ranks, vec![3.0, 1.5, 2.5, 2.5, 1.0, 3.0]);
        let want = [
            3f64.ln(),
            0.6f64.ln(),
            (5.0f64 / 3.0).ln(),
            (5.0f64 / 3.0).ln(),
            (1.0f64 / 3.0).ln(),
            3f64.ln(),
        ];
        for (got, want) in r.logits.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!((r.pbo - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(r.prob_oos_loss, 0.0);
        assert!((r.degradation_slope.unwrap() + 1.0).abs() < 1e-9);
        assert!((r.degradation_intercept.unwrap() - 29.0 / 6.0 / 2f64.sqrt()).abs() < 1e-9);
        let s2 = 2f64.sqrt();
        let is: Vec<f64> = r.outcomes.iter().map(|o| o.is_metric * s2).collect();
        for (got, want) in is.iter().zip([2.0, 3.0, 3.0, 2.0, 5.0, 3.0]) {
            assert!((got - want).abs() < 1e-9);
        }
    }

    #[test]
    fn test_pbo_identical_runs_rank_in_the_middle() {
        // Every run is the same: the winner is row 0 and shares the average rank (N + 1) / 2,
        // so λ = 0 and every split counts as overfit.
        let row = [0.01, -0.02, 0.03, 0.0, 0.01, 0.02];
        let m = matrix(&[&row, &row, &row, &row]);
        let r = pbo(&m, 2, Objective::Sharpe).unwrap();
        assert_eq!(r.pbo, 1.0);
        assert!(r.outcomes.iter().all(|o| o.winner == 0 && o.oos_rank == 2.5 && o.logit == 0.0));
    }

    #[test]
    fn test_pbo_matches_the_definition_on_random_data() {
        let m = lcg_returns(37, 83, 7).with_run_ids((0..37).map(|i| 10 * i + 3).collect()).unwrap();
        for obj in Objective::ALL {
            for s in [2, 4, 6, 8] {
                let r = pbo(&m, s, obj).unwrap();
                let want = naive(&m, s, obj);
                assert_eq!(r.outcomes.len(), want.len());
                for (o, (w, is, oos, rank)) in r.outcomes.iter().zip(want) {
                    assert_eq!(o.winner, w, "{obj:?} S={s}");
                    assert_eq!(o.winner_run_id, 10 * w as u64 + 3);
                    assert!((o.is_metric - is).abs() < 1e-9 * is.abs().max(1.0));
                    assert!((o.oos_metric - oos).abs() < 1e-9 * oos.abs().max(1.0));
                    assert_eq!(o.oos_rank, rank);
                }
            }
        }
    }

    #[test]
    fn test_pbo_matches_the_definition_across_chunks() {
        // 1,100 runs: three cache chunks, the last one partial.
        let m = lcg_returns(1100, 40, 5);
        for obj in Objective::ALL {
            for s in [4, 6] {
                let r = pbo(&m, s, obj).unwrap();
                for (o, (w, is, oos, rank)) in r.outcomes.iter().zip(naive(&m, s, obj)) {
                    assert_eq!(o.winner, w, "{obj:?} S={s}");
                    assert!((o.is_metric - is).abs() < 1e-9 * is.abs().max(1.0));
                    assert!((o.oos_metric - oos).abs() < 1e-9 * oos.abs().max(1.0));
                    assert_eq!(o.oos_rank, rank);
                }
            }
        }
    }

    #[test]
    fn test_pbo_same_with_one_and_two_threads() {
        let m = lcg_returns(1500, 64, 11);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let a = one.install(|| pbo(&m, 10, Objective::Sortino).unwrap());
        let b = two.install(|| pbo(&m, 10, Objective::Sortino).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn test_pbo_errors() {
        let m = lcg_returns(3, 10, 1);
        assert_eq!(pbo(&m, 3, Objective::Sharpe), Err(SelectionError::BadSplits { splits: 3 }));
        assert_eq!(pbo(&m, 0, Objective::Sharpe), Err(SelectionError::BadSplits { splits: 0 }));
        assert_eq!(pbo(&m, 34, Objective::Sharpe), Err(SelectionError::BadSplits { splits: 34 }));
        assert_eq!(
            pbo(&m, 12, Objective::Sharpe),
            Err(SelectionError::TooFewPeriods { periods: 10, splits: 12 })
        );
        let one = lcg_returns(1, 10, 1);
        assert_eq!(
            pbo(&one, 2, Objective::Sharpe),
            Err(SelectionError::TooFewRuns { runs: 1, needed: 2 })
        );
    }

    #[test]
    fn test_objective_definitions() {
        let r = [0.02, -0.01, 0.03, -0.02];
        // mean 0.005; sample var = (0.015² + 0.015² + 0.025² + 0.025²) / 3
        let sd = ((2.0 * 0.015f64.powi(2) + 2.0 * 0.025f64.powi(2)) / 3.0).sqrt();
        assert!((Objective::Sharpe.of_returns(&r) - 0.005 / sd).abs() < 1e-12);
        assert!((Objective::MeanReturn.of_returns(&r) - 0.005).abs() < 1e-15);
        // downside deviation sqrt((0.01² + 0.02²) / 4)
        let dd = ((0.0001f64 + 0.0004) / 4.0).sqrt();
        assert!((Objective::Sortino.of_returns(&r) - 0.005 / dd).abs() < 1e-12);
        assert_eq!(Objective::Sharpe.of_returns(&[0.01, 0.01, 0.01]), 0.0);
        assert_eq!(Objective::Sortino.of_returns(&[0.01, 0.02]), f64::INFINITY);
        assert_eq!(Objective::Sortino.of_returns(&[0.0, 0.0]), 0.0);
        assert_eq!(Objective::parse("return"), Some(Objective::MeanReturn));
        for o in Objective::ALL {
            assert_eq!(Objective::parse(o.as_str()), Some(o));
        }
    }
}
