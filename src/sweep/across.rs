//! The cross-symbol summary of a sweep over several symbols: each parameter combination
//! ranked by the worst, then the median, of its objective over the symbols (robust across
//! coins). Fed row by row as result batches stream past; pure, no I/O.

/// Objective values per combination and symbol, and the ranking built from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Across {
    /// Symbol names, in file order.
    pub symbols: Vec<String>,
    /// Combinations per symbol.
    pub combos: u64,
    /// `values[symbol * combos + combo]`: the objective of an `ok` row, NaN for a row not
    /// seen yet or without a value (failed, pruned, no finite objective).
    values: Vec<f64>,
}

/// One combination's standing over the symbols.
#[derive(Clone, Debug, PartialEq)]
pub struct AcrossRow {
    /// The combination (its run id on the first symbol).
    pub combo: u64,
    /// The worst objective over the symbols.
    pub worst: f64,
    /// The median objective over the symbols (the mean of the middle two for an even count).
    pub median: f64,
    /// The objective on each symbol, in file order.
    pub values: Vec<f64>,
}

/// The ranking: the best combinations, and how many could not be ranked.
#[derive(Clone, Debug, PartialEq)]
pub struct AcrossRanking {
    /// Best first: by worst value, then median, then lowest combination.
    pub top: Vec<AcrossRow>,
    /// Combinations with a value on every symbol.
    pub ranked: u64,
    /// Combinations lacking a value on some symbol (a failed or pruned run, no finite
    /// objective, or a run outside this shard): not ranked.
    pub unranked: u64,
}

impl Across {
    /// An empty summary of `combos` combinations on each of `symbols`.
    pub fn new(symbols: Vec<String>, combos: u64) -> Across {
        let n = usize::try_from(combos.saturating_mul(symbols.len() as u64)).unwrap_or(0);
        Across { symbols, combos, values: vec![f64::NAN; n] }
    }

    /// Records the objective `value` of `run_id` (`None`: the run has none).
    pub fn observe(&mut self, run_id: u64, value: Option<f64>) {
        if let (Some(v), Some(slot)) =
            (value.filter(|v| v.is_finite()), self.values.get_mut(run_id as usize))
        {
            *slot = v;
        }
    }

    /// The best `n` combinations; `ascending` when a lower objective is better.
    pub fn ranking(&self, n: usize, ascending: bool) -> AcrossRanking {
        // `better(a, b)`: a ranks before b.
        let key = |v: f64| if ascending { -v } else { v };
        let mut rows: Vec<AcrossRow> = Vec::new();
        let mut unranked = 0u64;
        let s = self.symbols.len();
        let mut buf: Vec<f64> = Vec::with_capacity(s);
        for combo in 0..self.combos {
            buf.clear();
            buf.extend((0..s).map(|i| self.values[i * self.combos as usize + combo as usize]));
            if buf.iter().any(|v| v.is_nan()) {
                unranked += 1;
                continue;
            }
            let values = buf.clone();
            let mut sorted: Vec<f64> = buf.iter().map(|&v| key(v)).collect();
            sorted.sort_by(f64::total_cmp);
            let worst = key(sorted[0]);
            let median = key(if s % 2 == 1 {
                sorted[s / 2]
            } else {
                (sorted[s / 2 - 1] + sorted[s / 2]) / 2.0
            });
            rows.push(AcrossRow { combo, worst, median, values });
            // Keep the list short: sort and cut whenever it doubles.
            if rows.len() >= 2 * n.max(1) {
                sort_rows(&mut rows, ascending);
                rows.truncate(n);
            }
        }
        sort_rows(&mut rows, ascending);
        let ranked = self.combos - unranked;
        rows.truncate(n);
        AcrossRanking { top: rows, ranked, unranked }
    }
}

fn sort_rows(rows: &mut [AcrossRow], ascending: bool) {
    let key = |v: f64| if ascending { -v } else { v };
    rows.sort_by(|a, b| {
        key(b.worst)
            .total_cmp(&key(a.worst))
            .then(key(b.median).total_cmp(&key(a.median)))
            .then(a.combo.cmp(&b.combo))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(a: &mut Across, table: &[&[f64]]) {
        // table[symbol][combo]
        for (s, row) in table.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                a.observe(s as u64 * a.combos + c as u64, Some(v));
            }
        }
    }

    #[test]
    fn worst_then_median_ranks_robust_combinations_first() {
        // Three symbols, four combinations; by hand:
        //   combo 0: 5, -1, 9  → worst -1, median 5
        //   combo 1: 2,  2, 2  → worst  2, median 2
        //   combo 2: 3,  2, 8  → worst  2, median 3
        //   combo 3: 1,  7, 7  → worst  1, median 7
        // Higher is better: 2 (worst 2, median 3), 1 (worst 2, median 2), 3, 0.
        let mut a = Across::new(vec!["A".into(), "B".into(), "C".into()], 4);
        fill(&mut a, &[&[5.0, 2.0, 3.0, 1.0], &[-1.0, 2.0, 2.0, 7.0], &[9.0, 2.0, 8.0, 7.0]]);
        let r = a.ranking(10, false);
        let order: Vec<u64> = r.top.iter().map(|t| t.combo).collect();
        assert_eq!(order, [2, 1, 3, 0]);
        assert_eq!((r.top[0].worst, r.top[0].median), (2.0, 3.0));
        assert_eq!(r.top[3].values, [5.0, -1.0, 9.0]);
        assert_eq!((r.ranked, r.unranked), (4, 0));
        // Lower is better (e.g. drawdown): the worst is the largest.
        //   combo 0 worst 9, 1 worst 2, 2 worst 8, 3 worst 7 → 1, 3, 2, 0.
        let order: Vec<u64> = a.ranking(10, true).top.iter().map(|t| t.combo).collect();
        assert_eq!(order, [1, 3, 2, 0]);
        assert_eq!(a.ranking(1, true).top[0].median, 2.0);
    }

    #[test]
    fn even_count_median_is_the_middle_mean_and_missing_values_are_unranked() {
        let mut a = Across::new(vec!["A".into(), "B".into()], 3);
        // combo 0: 1, 4 → median 2.5; combo 1: only A; combo 2: B is NaN (a failed run).
        a.observe(0, Some(1.0));
        a.observe(3, Some(4.0));
        a.observe(1, Some(10.0));
        a.observe(2, Some(3.0));
        a.observe(5, Some(f64::NAN));
        let r = a.ranking(5, false);
        assert_eq!(r.top.len(), 1);
        assert_eq!((r.top[0].combo, r.top[0].worst, r.top[0].median), (0, 1.0, 2.5));
        assert_eq!((r.ranked, r.unranked), (1, 2));
    }

    #[test]
    fn ties_go_to_the_lowest_combination_and_the_list_is_cut_to_n() {
        let mut a = Across::new(vec!["A".into(), "B".into()], 50);
        for r in 0..100 {
            a.observe(r, Some(1.0));
        }
        let r = a.ranking(3, false);
        assert_eq!(r.top.iter().map(|t| t.combo).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(r.ranked, 50);
    }
}
