//! The deflated Sharpe ratio (DSR; Bailey and López de Prado, "The Deflated Sharpe Ratio:
//! Correcting for Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio
//! Management 40(5), 2014: the DSR definition and the paper's numerical example) and the minimum
//! backtest length (MinBTL; Bailey, Borwein, López de Prado, Zhu, "Pseudo-Mathematics and
//! Financial Charlatanism", Notices of the AMS 61(5), 2014, eq. 6 and the MinBTL bound from it).
//!
//! Φ is `0.5 · erfc(−x / √2)` with `libm`'s erfc (a port of musl's); Φ⁻¹ is Wichura's
//! algorithm AS 241 (`PPND16`, Applied Statistics 37(3), 1988, pp. 477–484), accurate to about
//! 1 part in 10¹⁶.

use serde::Serialize;

use super::pbo::{full_sample_metrics, Objective};
use super::returns::ReturnsMatrix;
use super::SelectionError;

/// The Euler–Mascheroni constant γ.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Days in a year for annualising: crypto perpetuals trade every calendar day.
pub const DAYS_PER_YEAR: f64 = 365.25;

/// Periods of `period_ms` milliseconds in a year of [`DAYS_PER_YEAR`] days (365.25 for "1d").
pub fn periods_per_year(period_ms: i64) -> f64 {
    DAYS_PER_YEAR * crate::time::DAY_MS as f64 / period_ms as f64
}

/// A per-period Sharpe ratio annualised: `sr · √(periods per year)`.
pub fn annualised_sharpe(sharpe_per_period: f64, periods_per_year: f64) -> f64 {
    sharpe_per_period * periods_per_year.sqrt()
}

/// The standard normal distribution function Φ(x).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile Φ⁻¹(p) by AS 241 (−∞ at p ≤ 0, +∞ at p ≥ 1, NaN for NaN).
#[allow(clippy::excessive_precision)]
pub fn norm_inv_cdf(p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = ((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
            + 6.7265770927008700853e4)
            * r
            + 4.5921953931549871457e4)
            * r
            + 1.3731693765509461125e4)
            * r
            + 1.9715909503065514427e3)
            * r
            + 1.3314166789178437745e2)
            * r
            + 3.3871328727963666080e0;
        let den = ((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
            + 3.9307895800092710610e4)
            * r
            + 2.1213794301586595867e4)
            * r
            + 5.3941960214247511077e3)
            * r
            + 6.8718700749205790830e2)
            * r
            + 4.2313330701600911252e1)
            * r
            + 1.0;
        return q * num / den;
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
            + 2.41780725177450611770e-1)
            * r
            + 1.27045825245236838258e0)
            * r
            + 3.64784832476320460504e0)
            * r
            + 5.76949722146069140550e0)
            * r
            + 4.63033784615654529590e0)
            * r
            + 1.42343711074968357734e0;
        let den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
            + 1.51986665636164571966e-2)
            * r
            + 1.48103976427480074590e-1)
            * r
            + 6.89767334985100004550e-1)
            * r
            + 1.67638483018380384940e0)
            * r
            + 2.05319162663775882187e0)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
            + 1.24266094738807843860e-3)
            * r
            + 2.65321895265761230930e-2)
            * r
            + 2.96560571828504891230e-1)
            * r
            + 1.78482653991729133580e0)
            * r
            + 5.46378491116411436990e0)
            * r
            + 6.65790464350110377720e0;
        let den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
            + 1.84631831751005468180e-5)
            * r
            + 7.86869131145613259100e-4)
            * r
            + 1.48753612908506148525e-2)
            * r
            + 1.36929880922735805310e-1)
            * r
            + 5.99832206555887937690e-1)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
}

/// E\[max\] of N independent standard normal trials, approximated as
/// (1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)); 0 for N ≤ 1 (nothing was selected).
pub fn expected_max_z(n_trials: usize) -> f64 {
    if n_trials <= 1 {
        return 0.0;
    }
    let n = n_trials as f64;
    (1.0 - EULER_GAMMA) * norm_inv_cdf(1.0 - 1.0 / n)
        + EULER_GAMMA * norm_inv_cdf(1.0 - 1.0 / (n * std::f64::consts::E))
}

/// Sample moments of a series of returns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Moments {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (ddof 1; 0 for fewer than 2 values).
    pub std: f64,
    /// Population skewness m₃ / m₂^{3/2} (0 when m₂ = 0).
    pub skewness: f64,
    /// Population (non-excess) kurtosis m₄ / m₂² (3, the normal value, when m₂ = 0).
    pub kurtosis: f64,
}

/// The moments of `r` (two passes: the mean, then central sums).
pub fn moments(r: &[f64]) -> Moments {
    let n = r.len() as f64;
    if r.is_empty() {
        return Moments { mean: 0.0, std: 0.0, skewness: 0.0, kurtosis: 3.0 };
    }
    let mean = r.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &x in r {
        let d = x - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let std = if r.len() > 1 { (m2 / (n - 1.0)).sqrt() } else { 0.0 };
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    if m2 > 0.0 {
        Moments { mean, std, skewness: m3 / m2.powf(1.5), kurtosis: m4 / (m2 * m2) }
    } else {
        Moments { mean, std, skewness: 0.0, kurtosis: 3.0 }
    }
}

/// What the DSR needs: the trials, the spread of their Sharpe ratios and the selected run's
/// Sharpe ratio and return moments, all per period (not annualised).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DsrInput {
    /// Number of configurations tried, N.
    pub n_trials: usize,
    /// Sample variance (ddof 1) of the trials' per-period Sharpe ratios, V.
    pub sharpe_variance: f64,
    /// Number of periods of the selected run's returns, T.
    pub n_periods: usize,
    /// Population skewness γ₃ of the selected run's returns.
    pub skewness: f64,
    /// Population (non-excess) kurtosis γ₄ of the selected run's returns.
    pub kurtosis: f64,
    /// The selected run's per-period Sharpe ratio, SR.
    pub sharpe: f64,
}

/// The deflated Sharpe ratio and the figures it is made of.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DsrReport {
    /// The inputs.
    #[serde(flatten)]
    pub input: DsrInput,
    /// SR₀ = √V · E\[max\]: the Sharpe ratio the best of N skill-less trials would show.
    pub expected_max_sharpe: f64,
    /// The standardised distance z = (SR − SR₀)·√(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²).
    pub z: Option<f64>,
    /// DSR = Φ(z): the probability that the true Sharpe ratio is above SR₀ (none when the
    /// denominator is not positive).
    pub deflated_sharpe: Option<f64>,
}

/// The DSR of `input` (Bailey and López de Prado 2014; module docs).
///
/// # Errors
/// [`SelectionError::TooFewRuns`] for N = 0; [`SelectionError::TooFewPeriods`] for T < 2;
/// [`SelectionError::BadValue`] for a non-finite input or a negative V.
pub fn deflated_sharpe(input: &DsrInput) -> Result<DsrReport, SelectionError> {
    if input.n_trials == 0 {
        return Err(SelectionError::TooFewRuns { runs: 0, needed: 1 });
    }
    if input.n_periods < 2 {
        return Err(SelectionError::TooFewPeriods { periods: input.n_periods, splits: 2 });
    }
    for (what, value) in [
        ("sharpe_variance", input.sharpe_variance),
        ("skewness", input.skewness),
        ("kurtosis", input.kurtosis),
        ("sharpe", input.sharpe),
    ] {
        if !value.is_finite() || (what == "sharpe_variance" && value < 0.0) {
            return Err(SelectionError::BadValue {
                what, must: "finite (V ≥ 0)", value, index: 0
            });
        }
    }
    let sr0 = input.sharpe_variance.sqrt() * expected_max_z(input.n_trials);
    let sr = input.sharpe;
    let den2 = 1.0 - input.skewness * sr + (input.kurtosis - 1.0) / 4.0 * sr * sr;
    let z = (den2 > 0.0).then(|| (sr - sr0) * ((input.n_periods - 1) as f64).sqrt() / den2.sqrt());
    Ok(DsrReport { input: *input, expected_max_sharpe: sr0, z, deflated_sharpe: z.map(norm_cdf) })
}

/// The DSR of the run a sweep would select from a returns matrix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SelectedDsr {
    /// The selected run's row (highest full-sample objective; ties: lowest row).
    pub selected: usize,
    /// Its run id.
    pub selected_run_id: u64,
    /// Its full-sample objective value.
    pub objective_value: f64,
    /// The DSR of its Sharpe ratio against all N runs' Sharpe ratios.
    #[serde(flatten)]
    pub dsr: DsrReport,
}

/// Selects the run with the highest full-sample `objective` (all T periods) and computes its
/// DSR: N = all rows, V = sample variance of every row's per-period Sharpe ratio, T = periods.
///
/// # Errors
/// [`SelectionError::TooFewRuns`] for fewer than 2 runs (V needs two);
/// [`SelectionError::TooFewPeriods`] for T < 2.
pub fn deflated_sharpe_of_matrix(
    m: &ReturnsMatrix,
    objective: Objective,
) -> Result<SelectedDsr, SelectionError> {
    if m.n_runs() < 2 {
        return Err(SelectionError::TooFewRuns { runs: m.n_runs(), needed: 2 });
    }
    let sharpes = full_sample_metrics(m, Objective::Sharpe);
    let values = if objective == Objective::Sharpe {
        sharpes.clone()
    } else {
        full_sample_metrics(m, objective)
    };
    let mut sel = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[sel] {
            sel = i;
        }
    }
    let n = sharpes.len() as f64;
    let mean = sharpes.iter().sum::<f64>() / n;
    let var = sharpes.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (n - 1.0);
    let mo = moments(m.row(sel));
    let dsr = deflated_sharpe(&DsrInput {
        n_trials: m.n_runs(),
        sharpe_variance: var,
        n_periods: m.n_periods(),
        skewness: mo.skewness,
        kurtosis: mo.kurtosis,
        sharpe: sharpes[sel],
    })?;
    Ok(SelectedDsr {
        selected: sel,
        selected_run_id: m.run_ids()[sel],
        objective_value: values[sel],
        dsr,
    })
}

/// MinBTL in years: the data length below which the best of `n_trials` skill-less
/// configurations is expected to show an annualised Sharpe of `annual_sharpe`:
/// ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))² / SR². 0 for N ≤ 1; +∞ for SR ≤ 0.
pub fn min_backtest_length_years(n_trials: usize, annual_sharpe: f64) -> f64 {
    if n_trials <= 1 {
        return 0.0;
    }
    if annual_sharpe.is_nan() || annual_sharpe <= 0.0 {
        return f64::INFINITY;
    }
    let e = expected_max_z(n_trials);
    e * e / (annual_sharpe * annual_sharpe)
}

/// MinBTL beside the data's own length, with a verdict a trader can read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MinBtlReport {
    /// Configurations tried.
    pub n_trials: usize,
    /// The selected run's annualised Sharpe ratio.
    pub annual_sharpe: f64,
    /// MinBTL in years (none when the Sharpe ratio is not positive: no length is enough).
    pub min_backtest_length_years: Option<f64>,
    /// Years of data the selection was made on.
    pub data_years: f64,
    /// Whether the data is at least MinBTL long.
    pub enough_data: bool,
    /// One sentence.
    pub verdict: String,
}

/// MinBTL for `n_trials` at `annual_sharpe` against `data_years` of data.
pub fn min_btl_report(n_trials: usize, annual_sharpe: f64, data_years: f64) -> MinBtlReport {
    let min = min_backtest_length_years(n_trials, annual_sharpe);
    let enough = data_years >= min;
    MinBtlReport {
        n_trials,
        annual_sharpe,
        min_backtest_length_years: min.is_finite().then_some(min),
        data_years,
        enough_data: enough,
        verdict: verdict(n_trials, annual_sharpe, data_years, min),
    }
}

/// One line: can `data_years` of data support choosing among `n_trials` configurations whose
/// best shows `annual_sharpe`, given MinBTL `min_btl_years`?
pub fn verdict(n_trials: usize, annual_sharpe: f64, data_years: f64, min_btl_years: f64) -> String {
    let data = format_years(data_years);
    let configs = if n_trials == 1 {
        "1 configuration".to_string()
    } else {
        format!("{n_trials} configurations")
    };
    if !min_btl_years.is_finite() {
        format!(
            "the selected configuration has an annualised Sharpe ratio of {annual_sharpe:.2}: no amount of data supports choosing it among {configs}"
        )
    } else if data_years < min_btl_years {
        format!(
            "{data} of data cannot support choosing among {configs}: at an annualised Sharpe ratio of {annual_sharpe:.2} that takes at least {}",
            format_years(min_btl_years)
        )
    } else {
        format!(
            "{data} of data is enough to choose among {configs} at an annualised Sharpe ratio of {annual_sharpe:.2} (at least {} needed)",
            format_years(min_btl_years)
        )
    }
}

/// "31 days", "4.5 months", "2.3 years".
fn format_years(y: f64) -> String {
    let days = y * DAYS_PER_YEAR;
    if days < 61.0 {
        let d = days.round();
        if d == 1.0 {
            "1 day".to_string()
        } else {
            format!("{d:.0} days")
        }
    } else if y < 2.0 {
        format!("{:.1} months", y * 12.0)
    } else {
        format!("{y:.1} years")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_norm_known_values() {
        // Reference values: Python's statistics.NormalDist (AS 241 and erfc) and tables.
        let cases = [
            (0.975, 1.959_963_984_540_054),
            (0.3, -0.524_400_512_708_040_7),
            (1e-10, -6.361_340_902_404_056),
            (0.5, 0.0),
            (1.0 - 1e-15, 7.941_444_487_415_977),
        ];
        for (p, z) in cases {
            let got = norm_inv_cdf(p);
            assert!((got - z).abs() < 1e-12 * z.abs().max(1.0), "Φ⁻¹({p}) = {got}, want {z}");
        }
        assert!((norm_cdf(1.5) - 0.933_192_798_731_141_9).abs() < 1e-15);
        // Φ(−5) = 2.8665157187919391e-7 (0.5·erfc(5/√2); NormalDist.cdf, built on erf, loses digits here).
        assert!((norm_cdf(-5.0) / 2.866_515_718_791_939e-7 - 1.0).abs() < 1e-13);
        assert_eq!(norm_cdf(0.0), 0.5);
        for p in [1e-300, 1e-20, 0.01, 0.2, 0.5, 0.7, 0.99, 0.999_999] {
            assert!((norm_cdf(norm_inv_cdf(p)) / p - 1.0).abs() < 1e-12, "{p}");
        }
        assert_eq!(norm_inv_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(norm_inv_cdf(1.0), f64::INFINITY);
    }

    #[test]
    fn test_dsr_paper_vector() {
        // Bailey and López de Prado 2014, §4: N = 100, V = 0.5/250, T = 1250, γ₃ = −3, γ₄ = 10,
        // SR = 2.5/√250 (annualised 2.5 over 250 days) → SR₀ = 0.1132, DSR = 0.9004.
        let r = deflated_sharpe(&DsrInput {
            n_trials: 100,
            sharpe_variance: 0.5 / 250.0,
            n_periods: 1250,
            skewness: -3.0,
            kurtosis: 10.0,
            sharpe: 2.5 / 250f64.sqrt(),
        })
        .unwrap();
        assert!((r.expected_max_sharpe - 0.1132).abs() < 1e-4, "{}", r.expected_max_sharpe);
        assert!((r.deflated_sharpe.unwrap() - 0.9004).abs() < 1e-4, "{:?}", r.deflated_sharpe);
        // Full precision (Python statistics.NormalDist): 0.11317200186513214, 0.9003968344493904.
        assert!((r.expected_max_sharpe - 0.113_172_001_865_132_14).abs() < 1e-12);
        assert!((r.deflated_sharpe.unwrap() - 0.900_396_834_449_390_4).abs() < 1e-10);
    }

    #[test]
    fn test_min_btl_paper_example() {
        // Bailey et al. 2014 (Notices), after eq. 6: 45 independent configurations and 5 years
        // of data are enough to expect an annualised Sharpe of 1 from the best skill-less one.
        let y = min_backtest_length_years(45, 1.0);
        assert!((y - 4.998_087_004_443_402).abs() < 1e-9, "{y}");
        assert_eq!(min_backtest_length_years(1, 1.0), 0.0);
        assert_eq!(min_backtest_length_years(10, 0.0), f64::INFINITY);
        // Quadrupling the Sharpe ratio cuts MinBTL 16-fold.
        assert!((min_backtest_length_years(45, 4.0) * 16.0 - y).abs() < 1e-12);
    }

    #[test]
    fn test_min_btl_verdict() {
        let one_month = 31.0 / 365.25;
        let r = min_btl_report(180, 3.0, one_month);
        assert!(!r.enough_data);
        assert!(
            r.verdict
                .starts_with("31 days of data cannot support choosing among 180 configurations"),
            "{}",
            r.verdict
        );
        let r = min_btl_report(10, 3.0, 2.5);
        assert!(r.enough_data);
        assert!(r.verdict.starts_with("2.5 years of data is enough"), "{}", r.verdict);
        let r = min_btl_report(10, -0.5, 2.5);
        assert_eq!(r.min_backtest_length_years, None);
        assert!(r.verdict.contains("no amount of data"), "{}", r.verdict);
    }

    #[test]
    fn test_annualising() {
        assert_eq!(periods_per_year(crate::time::DAY_MS), 365.25);
        assert_eq!(periods_per_year(crate::time::HOUR_MS), 365.25 * 24.0);
        assert!((annualised_sharpe(0.1, 365.25) - 0.1 * 365.25f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn test_moments_population() {
        // 1, 2, 3, 10: mean 4, deviations −3, −2, −1, 6; m₂ = 50/4, m₃ = 180/4, m₄ = 1394/4.
        let m = moments(&[1.0, 2.0, 3.0, 10.0]);
        assert_eq!(m.mean, 4.0);
        assert!((m.std - (50.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.skewness - 45.0 / 12.5f64.powf(1.5)).abs() < 1e-12);
        assert!((m.kurtosis - 348.5 / 156.25).abs() < 1e-12);
        let c = moments(&[2.0, 2.0]);
        assert_eq!((c.std, c.skewness, c.kurtosis), (0.0, 0.0, 3.0));
    }

    #[test]
    fn test_dsr_of_matrix_selects_highest_sharpe() {
        let rows = [
            [0.01, -0.01, 0.02, 0.0, -0.005, 0.01],
            [0.02, 0.01, 0.015, 0.01, 0.02, 0.012],
            [-0.01, 0.0, 0.01, -0.02, 0.0, 0.01],
        ];
        let data: Vec<f64> = rows.iter().flatten().copied().collect();
        let m = ReturnsMatrix::from_returns(data, 3, 6).unwrap();
        let s = deflated_sharpe_of_matrix(&m, Objective::Sharpe).unwrap();
        assert_eq!(s.selected, 1);
        let srs: Vec<f64> = rows.iter().map(|r| Objective::Sharpe.of_returns(r)).collect();
        let mean = srs.iter().sum::<f64>() / 3.0;
        let v = srs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0;
        assert!((s.dsr.input.sharpe_variance - v).abs() < 1e-12);
        assert_eq!(s.dsr.input.sharpe, srs[1]);
        assert_eq!(s.dsr.input.n_periods, 6);
        assert!(s.dsr.deflated_sharpe.unwrap() > 0.5);
    }

    #[test]
    fn test_dsr_errors() {
        let ok = DsrInput {
            n_trials: 1,
            sharpe_variance: 0.0,
            n_periods: 2,
            skewness: 0.0,
            kurtosis: 3.0,
            sharpe: 0.1,
        };
        assert!(deflated_sharpe(&ok).is_ok());
        assert!(deflated_sharpe(&DsrInput { n_trials: 0, ..ok }).is_err());
        assert!(deflated_sharpe(&DsrInput { n_periods: 1, ..ok }).is_err());
        assert!(deflated_sharpe(&DsrInput { sharpe: f64::NAN, ..ok }).is_err());
        assert!(deflated_sharpe(&DsrInput { sharpe_variance: -1.0, ..ok }).is_err());
    }
}
