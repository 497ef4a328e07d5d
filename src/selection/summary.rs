//! Everything `validate` prints for one returns matrix, as one serialisable object with the
//! issue's `--json` keys.

use serde::Serialize;

use super::dsr::{annualised_sharpe, deflated_sharpe_of_matrix, min_btl_report};
use super::pbo::{pbo, Objective};
use super::returns::ReturnsMatrix;
use super::SelectionError;

/// PBO, DSR and MinBTL of a sweep's runs, flat (the `--json` object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationSummary {
    /// The objective runs were ranked and selected by.
    pub objective: Objective,
    /// Probability of backtest overfitting.
    pub pbo: f64,
    /// Number of blocks S.
    pub splits: usize,
    /// Number of IS/OOS splits, C(S, S/2).
    pub n_combinations: usize,
    /// Earliest periods PBO dropped (T mod S).
    pub periods_dropped: usize,
    /// Number of runs N.
    pub n_trials: usize,
    /// The selected run (highest full-sample objective; ties: lowest run id).
    pub selected_run_id: u64,
    /// Its per-period Sharpe ratio.
    pub sharpe_selected: f64,
    /// Its annualised Sharpe ratio.
    pub sharpe_selected_annualised: f64,
    /// SR₀: the per-period Sharpe ratio the best of N skill-less runs would show.
    pub expected_max_sharpe: f64,
    /// The deflated Sharpe ratio (null when undefined).
    pub deflated_sharpe: Option<f64>,
    /// MinBTL in years (null when the selected Sharpe ratio is not positive).
    pub min_backtest_length_years: Option<f64>,
    /// Years of data.
    pub data_years: f64,
    /// One sentence on MinBTL against the data.
    pub verdict: String,
    /// Slope of the winners' OOS metric on their IS metric.
    pub degradation_slope: Option<f64>,
    /// Intercept of that line.
    pub degradation_intercept: Option<f64>,
    /// Share of splits whose winner lost out of sample.
    pub prob_oos_loss: f64,
    /// λ of every split, in split order.
    pub logits: Vec<f64>,
}

/// The summary of `m` for `splits` blocks, ranking by `objective`, with `periods_per_year`
/// periods a year ([`super::dsr::periods_per_year`]).
///
/// # Errors
/// Those of [`pbo`] and [`deflated_sharpe_of_matrix`].
pub fn summarise(
    m: &ReturnsMatrix,
    splits: usize,
    objective: Objective,
    periods_per_year: f64,
) -> Result<ValidationSummary, SelectionError> {
    let p = pbo(m, splits, objective)?;
    let d = deflated_sharpe_of_matrix(m, objective)?;
    let annual = annualised_sharpe(d.dsr.input.sharpe, periods_per_year);
    let data_years = m.n_periods() as f64 / periods_per_year;
    let btl = min_btl_report(m.n_runs(), annual, data_years);
    Ok(ValidationSummary {
        objective,
        pbo: p.pbo,
        splits: p.splits,
        n_combinations: p.n_combinations,
        periods_dropped: p.periods_dropped,
        n_trials: p.n_trials,
        selected_run_id: d.selected_run_id,
        sharpe_selected: d.dsr.input.sharpe,
        sharpe_selected_annualised: annual,
        expected_max_sharpe: d.dsr.expected_max_sharpe,
        deflated_sharpe: d.dsr.deflated_sharpe,
        min_backtest_length_years: btl.min_backtest_length_years,
        data_years,
        verdict: btl.verdict,
        degradation_slope: p.degradation_slope,
        degradation_intercept: p.degradation_intercept,
        prob_oos_loss: p.prob_oos_loss,
        logits: p.logits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_summary_json_has_the_issue_keys() {
        // 4 runs × 28 daily returns; run 2 drifts up.
        let data: Vec<f64> = (0..4 * 28)
            .map(|k| {
                let (i, t) = (k / 28, k % 28);
                let noise = if (t * 7 + i * 3) % 5 < 2 { -0.01 } else { 0.012 };
                noise + if i == 2 { 0.004 } else { 0.0 }
            })
            .collect();
        let m = ReturnsMatrix::from_returns(data, 4, 28).unwrap();
        let s = summarise(&m, 4, Objective::Sharpe, 365.25).unwrap();
        assert_eq!(s.selected_run_id, 2);
        assert_eq!(s.n_combinations, 6);
        assert!((s.data_years - 28.0 / 365.25).abs() < 1e-15);
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "pbo",
            "splits",
            "n_trials",
            "selected_run_id",
            "sharpe_selected",
            "deflated_sharpe",
            "min_backtest_length_years",
            "data_years",
            "degradation_slope",
            "degradation_intercept",
            "prob_oos_loss",
            "logits",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["objective"], "sharpe");
        assert_eq!(v["logits"].as_array().unwrap().len(), 6);
    }
}
