//! `--shard K/N`: a deterministic slice of a sweep's blocks.
//!
//! Blocks are split into `N` contiguous ranges of near-equal size; shard `K` (1-based) takes
//! range `K`. Shards therefore start at block boundaries, and `merge` can concatenate their
//! blocks in shard order into the file an unsharded run writes.

use std::ops::Range;

/// Shard `index` of `count` (1-based; `1/1` is the whole sweep).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard must be K/N with 1 ≤ K ≤ N, e.g. 2/8 (was {s:?}); with a job array use \
                 --shard $((SLURM_ARRAY_TASK_ID+1))/N or --shard $((JOB_COMPLETION_INDEX+1))/N"
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { index: k, count: n })
    }
}

impl Shard {
    /// The whole sweep.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// True for `1/1`.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// This shard's block indices out of `blocks`.
    pub fn blocks(&self, blocks: u64) -> Range<u64> {
        let n = u128::from(self.count);
        let at = |k: u32| (u128::from(blocks) * u128::from(k) / n) as u64;
        at(self.index - 1)..at(self.index)
    }
}

/// Number of blocks of `runs` runs in blocks of `block_runs`.
pub fn block_count(runs: u64, block_runs: u64) -> u64 {
    runs.div_ceil(block_runs)
}

/// Run ids of block `b` (empty past the end; never wraps, whatever the sizes).
pub fn block_runs_range(b: u64, block_runs: u64, total_runs: u64) -> Range<u64> {
    let lo = block_start(b, block_runs, total_runs);
    lo..lo.saturating_add(block_runs).min(total_runs)
}

/// The first run id of block `b`, or `total_runs` for a block past the end (never wraps).
pub fn block_start(b: u64, block_runs: u64, total_runs: u64) -> u64 {
    b.checked_mul(block_runs).map_or(total_runs, |lo| lo.min(total_runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_shards_partition_blocks() {
        for blocks in [0u64, 1, 2, 7, 100] {
            for n in 1..=5u32 {
                let mut next = 0;
                for k in 1..=n {
                    let r = Shard { index: k, count: n }.blocks(blocks);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, blocks);
            }
        }
    }

    #[test]
    fn test_parse() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert!("0/3".parse::<Shard>().unwrap_err().contains("K/N"));
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(block_runs_range(2, 4, 10), 8..10);
        assert_eq!(block_count(10, 4), 3);
    }

    #[test]
    fn test_block_arithmetic_saturates_instead_of_wrapping() {
        // u64::MAX runs in blocks of 1,000,000: the last block starts at
        // floor(u64::MAX / 1e6) · 1e6 and ends at u64::MAX (lo + block_runs would wrap).
        let (total, b_runs) = (u64::MAX, 1_000_000u64);
        let blocks = block_count(total, b_runs);
        assert_eq!(blocks, u64::MAX / b_runs + 1);
        let last = block_runs_range(blocks - 1, b_runs, total);
        assert_eq!(last, u64::MAX / b_runs * b_runs..u64::MAX);
        assert_eq!(block_runs_range(blocks, b_runs, total), total..total);
        assert_eq!(block_start(u64::MAX, 2, 10), 10);
        let r = Shard { index: 3, count: 3 }.blocks(blocks);
        assert_eq!(r.end, blocks);
    }
}
