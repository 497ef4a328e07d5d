//! Run parameters: the strategy (origin field names) and the account model.

use crate::decimal::Dec;

/// Which account model a run uses.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The origin backtester exactly: no margin checks, no liquidation event.
    Origin,
    #[default]
    /// The origin strategy on a realistic Bybit account: leverage-based IM, order
    /// rejection, cross-margin liquidation.
    Bybit,
}

impl Model {
    /// The name used in configs and result files.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Origin => "origin",
            Model::Bybit => "bybit",
        }
    }
}

/// Order size: a fraction of equity (`"x0.001"`) or a fixed quote amount (`"100"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Amount {
    /// `"xF"`: fraction F of the current equity, in quote currency.
    EquityFraction(Dec),
    /// `"N"`: N units of quote currency (USDT).
    Quote(Dec),
    /// `"grid_bot:N"`: Bybit's futures grid bot sizing: an investment of N USDT times the
    /// leverage, spread evenly over the `grid_count` levels (per-order notional
    /// `N × leverage / grid_count`).
    GridBot(Dec),
}

impl Amount {
    /// Parses the origin's amount string (`"x0.001"`, `"100"`); `"b…"` is rejected as in
    /// the origin.
    ///
    /// # Errors
    /// An [`AmountError`] saying what is wrong with the text.
    pub fn parse(s: &str) -> Result<Amount, AmountError> {
        let t = s.trim();
        let text = || s.to_string();
        if let Some(rest) = t.strip_prefix("grid_bot:") {
            let n = Dec::parse(rest.trim())
                .map_err(|_| AmountError::InvestmentNotANumber { text: text() })?;
            if n.mantissa() <= 0 {
                return Err(AmountError::InvestmentNotPositive { text: text() });
            }
            return Ok(Amount::GridBot(n));
        }
        if let Some(rest) = t.strip_prefix('x') {
            let f =
                Dec::parse(rest).map_err(|_| AmountError::FractionNotANumber { text: text() })?;
            if f.mantissa() <= 0 {
                return Err(AmountError::FractionNotPositive { text: text() });
            }
            Ok(Amount::EquityFraction(f))
        } else if t.starts_with('b') {
            Err(AmountError::BaseCurrency { text: text() })
        } else {
            let n = Dec::parse(t).map_err(|_| AmountError::NotAnAmount { text: text() })?;
            if n.mantissa() <= 0 {
                return Err(AmountError::QuoteNotPositive { text: text() });
            }
            Ok(Amount::Quote(n))
        }
    }
}

/// Why [`Amount::parse`] refused a string; every variant holds the string as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// `"grid_bot:N"` with an N that is not a number.
    #[error("amount {text:?}: the investment after 'grid_bot:' is not a number of USDT")]
    InvestmentNotANumber {
        /// The amount text.
        text: String,
    },
    /// `"grid_bot:N"` with N ≤ 0.
    #[error("amount {text:?}: the investment must be > 0")]
    InvestmentNotPositive {
        /// The amount text.
        text: String,
    },
    /// `"xF"` with an F that is not a number.
    #[error("amount {text:?}: the fraction after 'x' is not a number")]
    FractionNotANumber {
        /// The amount text.
        text: String,
    },
    /// `"xF"` with F ≤ 0.
    #[error("amount {text:?}: the fraction must be > 0")]
    FractionNotPositive {
        /// The amount text.
        text: String,
    },
    /// `"b…"`: a base-currency amount, which the origin refuses too.
    #[error(
        "amount {text:?}: base-currency amounts ('b…') are not supported; use \"xF\" (fraction \
         of equity) or \"N\" (USDT)"
    )]
    BaseCurrency {
        /// The amount text.
        text: String,
    },
    /// Neither `"xF"`, `"N"` nor `"grid_bot:N"`.
    #[error("amount {text:?} is neither \"xF\" (fraction of equity) nor \"N\" (USDT)")]
    NotAnAmount {
        /// The amount text.
        text: String,
    },
    /// `"N"` with N ≤ 0.
    #[error("amount {text:?}: the USDT amount must be > 0")]
    QuoteNotPositive {
        /// The amount text.
        text: String,
    },
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::EquityFraction(d) => write!(f, "x{d}"),
            Amount::Quote(d) => write!(f, "{d}"),
            Amount::GridBot(d) => write!(f, "grid_bot:{d}"),
        }
    }
}

/// What happens to open positions after the last tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindDown {
    /// Positions stay open; their unrealised PnL is reported.
    LeaveOpen,
    /// Every position is closed at the last price.
    CloseAll,
}

/// Grid strategy parameters (the origin's names; docs/strategy.md, "Parameters").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridParams {
    /// Levels per side are `grid_count / 2`; ≥ 4.
    pub grid_count: u32,
    /// Distance between levels, in percent (0.2 = 0.2 %).
    pub grid_step: f64,
    /// Order size.
    pub amount: Amount,
    /// Turns the risk multipliers (docs/strategy.md, "Risk multipliers") on.
    pub enable_risk_multipliers: bool,
    /// Early-imbalance multiplier (docs/strategy.md, "Early imbalance"), in (0, 100].
    pub early_imbalance_multiplier: f64,
    /// Long-side liquidation-risk threshold.
    pub min_liq_ratio: f64,
    /// Short-side liquidation-risk threshold.
    pub max_liq_ratio: f64,
    /// Threshold of the equal-positions low-margin rule.
    pub min_total_margin: f64,
    /// Variant of the low-margin rule.
    pub increase_same_position_on_low_margin: bool,
    /// Rebalance threshold of the grid (origin: always 0.3).
    pub rebalance_threshold: f64,
}

impl Default for GridParams {
    fn default() -> Self {
        GridParams {
            grid_count: 50,
            grid_step: 0.2,
            amount: Amount::EquityFraction(Dec::new(1, 3)),
            enable_risk_multipliers: true,
            early_imbalance_multiplier: 1.0,
            min_liq_ratio: 0.8,
            max_liq_ratio: 1.2,
            min_total_margin: 0.15,
            increase_same_position_on_low_margin: false,
            rebalance_threshold: 0.3,
        }
    }
}

/// Account, fee and funding parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccountParams {
    /// Account model.
    pub model: Model,
    /// Starting balance in USDT.
    pub initial_balance: f64,
    /// Maker fee rate on every limit fill (origin `commission_rate`).
    pub commission_rate: f64,
    /// Taker fee rate on liquidation closes (and `close_all` wind-down in the bybit model).
    pub taker_fee_rate: f64,
    /// Leverage: the ROE scale of the risk rules; in the bybit model it sets IMR = max(1/L, tier IMR).
    pub leverage: f64,
    /// Hedge-mode maintenance-margin rule of the bybit model.
    pub hedge_margin: super::HedgeMargin,
    /// Charge funding.
    pub enable_funding: bool,
    /// Constant funding rate at 00:00, 08:00, 16:00 UTC (used when no series is given).
    pub funding_rate: f64,
    /// End-of-run handling of open positions.
    pub wind_down: WindDown,
}

impl Default for AccountParams {
    fn default() -> Self {
        AccountParams {
            model: Model::Bybit,
            initial_balance: 10_000.0,
            commission_rate: 0.0002,
            taker_fee_rate: 0.00055,
            leverage: 10.0,
            hedge_margin: super::HedgeMargin::Combined,
            enable_funding: true,
            funding_rate: 0.0001,
            wind_down: WindDown::LeaveOpen,
        }
    }
}

/// Everything that varies between the runs of a sweep: small and `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunParams {
    /// Strategy parameters.
    pub grid: GridParams,
    /// Account parameters.
    pub account: AccountParams,
}

/// One invalid parameter: the field name and a sentence saying what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// Field name (origin spelling).
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl RunParams {
    /// Checks every constraint and returns all problems at once.
    ///
    /// `max_leverage` is the tier table's limit (bybit model only).
    ///
    /// # Errors
    /// Every violated constraint, each naming its field.
    pub fn validate(&self, max_leverage: f64) -> Result<(), Vec<ParamError>> {
        let mut errs = Vec::new();
        let mut bad =
            |field: &'static str, message: String| errs.push(ParamError { field, message });
        let g = &self.grid;
        let a = &self.account;
        if g.grid_count < 4 {
            bad("grid_count", format!("must be ≥ 4 (was {})", g.grid_count));
        }
        if g.grid_count > 2000 {
            bad("grid_count", format!("must be ≤ 2000 (was {})", g.grid_count));
        }
        if !(g.grid_step.is_finite() && g.grid_step > 0.0 && g.grid_step < 100.0) {
            bad("grid_step", format!("must be a percentage in (0, 100) (was {})", g.grid_step));
        }
        if !(g.early_imbalance_multiplier > 0.0 && g.early_imbalance_multiplier <= 100.0) {
            bad(
                "early_imbalance_multiplier",
                format!("must be in (0, 100] (was {})", g.early_imbalance_multiplier),
            );
        }
        for (field, v) in [
            ("min_liq_ratio", g.min_liq_ratio),
            ("max_liq_ratio", g.max_liq_ratio),
            ("min_total_margin", g.min_total_margin),
        ] {
            if !v.is_finite() {
                bad(field, format!("must be a finite number (was {v})"));
            }
        }
        if !(g.rebalance_threshold > 0.0 && g.rebalance_threshold < 1.0) {
            bad(
                "rebalance_threshold",
                format!("must be in (0, 1) (was {})", g.rebalance_threshold),
            );
        }
        if !(a.initial_balance.is_finite() && a.initial_balance > 0.0) {
            bad("initial_balance", format!("must be > 0 (was {})", a.initial_balance));
        }
        if !(0.0..=0.01).contains(&a.commission_rate) {
            bad("commission_rate", format!("must be in [0, 0.01] (was {})", a.commission_rate));
        }
        if !(0.0..=0.01).contains(&a.taker_fee_rate) {
            bad("taker_fee_rate", format!("must be in [0, 0.01] (was {})", a.taker_fee_rate));
        }
        if !a.funding_rate.is_finite() || a.funding_rate.abs() > 0.05 {
            bad(
                "funding_rate",
                format!("must be within ±0.05 per interval (was {})", a.funding_rate),
            );
        }
        let lev_max = match a.model {
            Model::Origin => 125.0,
            Model::Bybit => max_leverage,
        };
        if !(a.leverage >= 1.0 && a.leverage <= lev_max) {
            let limit = if lev_max.is_finite() {
                format!("between 1 and {lev_max} (this symbol's tier table allows {lev_max}x)")
            } else {
                "at least 1".to_string()
            };
            bad("leverage", format!("must be {limit} (was {})", a.leverage));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_parsing_follows_origin() {
        assert_eq!(Amount::parse("x0.001"), Ok(Amount::EquityFraction(Dec::new(1, 3))));
        assert_eq!(Amount::parse("100"), Ok(Amount::Quote(Dec::new(100, 0))));
        assert!(Amount::parse("b0.1").unwrap_err().to_string().contains("not supported"));
        // Typed errors (issue 14 item 20): the variant says what is wrong, the text is kept.
        assert_eq!(Amount::parse("b0.1"), Err(AmountError::BaseCurrency { text: "b0.1".into() }));
        assert_eq!(Amount::parse("x"), Err(AmountError::FractionNotANumber { text: "x".into() }));
        assert_eq!(Amount::parse("-5"), Err(AmountError::QuoteNotPositive { text: "-5".into() }));
        assert_eq!(
            Amount::parse("grid_bot:0"),
            Err(AmountError::InvestmentNotPositive { text: "grid_bot:0".into() })
        );
        assert_eq!(
            Amount::parse("x0.001").map_err(|e| e.to_string()),
            Ok(Amount::EquityFraction(Dec::new(1, 3)))
        );
        assert_eq!(
            Amount::parse("abc").unwrap_err().to_string(),
            "amount \"abc\" is neither \"xF\" (fraction of equity) nor \"N\" (USDT)"
        );
        assert!(Amount::parse("x").is_err());
        assert!(Amount::parse("-5").is_err());
        assert_eq!(Amount::parse("x0.001").unwrap().to_string(), "x0.001");
        assert_eq!(Amount::parse("grid_bot:1000"), Ok(Amount::GridBot(Dec::new(1000, 0))));
        assert_eq!(Amount::parse("grid_bot:1000").unwrap().to_string(), "grid_bot:1000");
        assert!(Amount::parse("grid_bot:-1").is_err());
        assert!(Amount::parse("grid_bot:").is_err());
    }

    #[test]
    fn validation_reports_every_field() {
        let mut p = RunParams::default();
        p.grid.grid_count = 2;
        p.grid.grid_step = 0.0;
        p.account.leverage = 500.0;
        let errs = p.validate(100.0).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["grid_count", "grid_step", "leverage"]);
        assert!(RunParams::default().validate(100.0).is_ok());
    }
}
