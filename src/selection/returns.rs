//! Period returns from recorded equity: `r_t = equity_t / equity_(t−1) − 1`, the first period
//! against the run's initial balance.
//!
//! Layout (chosen for speed): one dense row-major `f64` buffer of `n_runs × n_periods`, run `i`'s
//! period `t` at index `i · n_periods + t`. Rows are in ascending `run_id` order; the run ids
//! themselves travel beside the buffer, so "lowest run id" and "lowest row" are the same tie rule.

use super::SelectionError;

/// Period returns of N runs over T periods, dense and row-major (run `i`, period `t` at
/// `i · T + t`), with each row's run id (strictly increasing).
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnsMatrix {
    n_runs: usize,
    n_periods: usize,
    run_ids: Vec<u64>,
    data: Vec<f64>,
}

impl ReturnsMatrix {
    /// Returns from a row-major equity matrix (`equity[i · n_periods + t]` = run `i`'s equity
    /// at the end of period `t`) and each run's initial balance; run ids are `0..n_runs`.
    ///
    /// A period that starts at an equity of zero or less (a run wiped out before it) has return
    /// 0: nothing is left to gain or lose.
    ///
    /// # Errors
    /// [`SelectionError::Shape`] when the lengths disagree, [`SelectionError::BadValue`] for a
    /// non-finite equity or a balance that is not finite and > 0.
    pub fn from_equity(
        equity: &[f64],
        n_runs: usize,
        n_periods: usize,
        initial_balance: &[f64],
    ) -> Result<ReturnsMatrix, SelectionError> {
        check_len("equity", n_runs * n_periods, equity.len())?;
        check_len("initial_balance", n_runs, initial_balance.len())?;
        for (index, &value) in initial_balance.iter().enumerate() {
            if !(value.is_finite() && value > 0.0) {
                return Err(SelectionError::BadValue {
                    what: "initial_balance",
                    must: "finite and > 0",
                    value,
                    index,
                });
            }
        }
        if let Some(index) = equity.iter().position(|e| !e.is_finite()) {
            let value = equity[index];
            return Err(SelectionError::BadValue { what: "equity", must: "finite", value, index });
        }
        let mut data = vec![0.0; equity.len()];
        if n_periods > 0 {
            for ((row, out), &b) in equity
                .chunks_exact(n_periods)
                .zip(data.chunks_exact_mut(n_periods))
                .zip(initial_balance)
            {
                period_returns(row, b, out);
            }
        }
        Ok(ReturnsMatrix { n_runs, n_periods, run_ids: (0..n_runs as u64).collect(), data })
    }

    /// A matrix from returns already computed (row-major, `n_runs × n_periods`); run ids
    /// `0..n_runs`.
    ///
    /// # Errors
    /// [`SelectionError::Shape`] when `data.len() != n_runs · n_periods`,
    /// [`SelectionError::BadValue`] for a non-finite return.
    pub fn from_returns(
        data: Vec<f64>,
        n_runs: usize,
        n_periods: usize,
    ) -> Result<ReturnsMatrix, SelectionError> {
        check_len("returns", n_runs * n_periods, data.len())?;
        if let Some(index) = data.iter().position(|r| !r.is_finite()) {
            let value = data[index];
            return Err(SelectionError::BadValue { what: "returns", must: "finite", value, index });
        }
        Ok(ReturnsMatrix { n_runs, n_periods, run_ids: (0..n_runs as u64).collect(), data })
    }

    /// The same matrix with the rows' real run ids (strictly increasing, one per row).
    ///
    /// # Errors
    /// [`SelectionError::Shape`] for a wrong count, [`SelectionError::RunIdOrder`] when the ids
    /// are not strictly increasing.
    pub fn with_run_ids(mut self, run_ids: Vec<u64>) -> Result<ReturnsMatrix, SelectionError> {
        check_len("run_ids", self.n_runs, run_ids.len())?;
        if let Some(i) = run_ids.windows(2).position(|w| w[0] >= w[1]) {
            return Err(SelectionError::RunIdOrder { index: i + 1 });
        }
        self.run_ids = run_ids;
        Ok(self)
    }

    /// Number of runs (rows).
    pub fn n_runs(&self) -> usize {
        self.n_runs
    }

    /// Number of periods (columns).
    pub fn n_periods(&self) -> usize {
        self.n_periods
    }

    /// The rows' run ids.
    pub fn run_ids(&self) -> &[u64] {
        &self.run_ids
    }

    /// Run `i`'s returns, period by period.
    ///
    /// # Panics
    /// When `i >= n_runs`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_periods..(i + 1) * self.n_periods]
    }

    /// The whole row-major buffer.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
}

/// One run's returns from its equity at each period end and its initial balance, into `out`
/// (same length as `equity`); a period starting at equity ≤ 0 has return 0.
///
/// # Panics
/// When `out.len() != equity.len()`.
pub fn period_returns(equity: &[f64], initial_balance: f64, out: &mut [f64]) {
    assert_eq!(equity.len(), out.len(), "period_returns: output length");
    let mut prev = initial_balance;
    for (o, &e) in out.iter_mut().zip(equity) {
        *o = if prev > 0.0 { e / prev - 1.0 } else { 0.0 };
        prev = e;
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), SelectionError> {
    if expected == got {
        Ok(())
    } else {
        Err(SelectionError::Shape { what, expected, got })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_returns_first_period_against_initial_balance() {
        // Run 0: 100 → 110 → 99 → 99; run 1: 200 → 0 (wiped out) → 0.
        let eq = [110.0, 99.0, 99.0, 0.0, 0.0, 0.0];
        let m = ReturnsMatrix::from_equity(&eq, 2, 3, &[100.0, 200.0]).unwrap();
        let r0 = m.row(0);
        assert!((r0[0] - 0.1).abs() < 1e-15);
        assert!((r0[1] - (99.0 / 110.0 - 1.0)).abs() < 1e-15);
        assert_eq!(r0[2], 0.0);
        assert_eq!(m.row(1), &[-1.0, 0.0, 0.0]);
        assert_eq!(m.run_ids(), &[0, 1]);
    }

    #[test]
    fn test_returns_shape_and_value_errors() {
        assert!(matches!(
            ReturnsMatrix::from_equity(&[1.0; 5], 2, 3, &[1.0, 1.0]),
            Err(SelectionError::Shape { what: "equity", expected: 6, got: 5 })
        ));
        assert!(matches!(
            ReturnsMatrix::from_equity(&[1.0; 6], 2, 3, &[1.0, 0.0]),
            Err(SelectionError::BadValue { what: "initial_balance", index: 1, .. })
        ));
        let m = ReturnsMatrix::from_returns(vec![0.0; 4], 2, 2).unwrap();
        assert!(matches!(
            m.clone().with_run_ids(vec![5, 5]),
            Err(SelectionError::RunIdOrder { index: 1 })
        ));
        assert_eq!(m.with_run_ids(vec![3, 9]).unwrap().run_ids(), &[3, 9]);
    }
}
