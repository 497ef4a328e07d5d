//! The parameter registry: every strategy and account parameter by its origin name, with a
//! typed setter and getter over [`RunParams`]. Backtest configs and sweep axes both use it.

use crate::engine::{Amount, HedgeMargin, Model, RunParams, WindDown};

/// The value type of a parameter (and of its result column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Whole number.
    Int,
    /// Real number.
    Float,
    /// true / false.
    Bool,
    /// Text (amount, model, wind-down mode).
    Text,
}

/// A parameter value as read from TOML or written to a result column.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// Whole number.
    Int(i64),
    /// Real number.
    Float(f64),
    /// Flag.
    Bool(bool),
    /// Text.
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Text(v) => write!(f, "{v:?}"),
        }
    }
}

impl ParamValue {
    /// Converts a TOML value (integer, float, boolean or string).
    pub fn from_toml(v: &toml::Value) -> Option<ParamValue> {
        match v {
            toml::Value::Integer(i) => Some(ParamValue::Int(*i)),
            toml::Value::Float(f) => Some(ParamValue::Float(*f)),
            toml::Value::Boolean(b) => Some(ParamValue::Bool(*b)),
            toml::Value::String(s) => Some(ParamValue::Text(s.clone())),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// One parameter of the registry.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Name (origin spelling).
    pub name: &'static str,
    /// Value type.
    pub kind: ParamKind,
    /// One-line description for `--help` and the README.
    pub doc: &'static str,
}

macro_rules! specs {
    ($($name:literal, $kind:ident, $doc:literal;)*) => {
        /// Every parameter a config or a sweep axis may set, in result-column order.
        pub const PARAMS: &[ParamSpec] = &[$(ParamSpec { name: $name, kind: ParamKind::$kind, doc: $doc }),*];
    };
}

specs! {
    "model", Text, "account model: \"bybit\" (default) or \"origin\"";
    "grid_count", Int, "levels per side = grid_count / 2 (≥ 4)";
    "grid_step", Float, "distance between levels in percent (0.2 = 0.2 %)";
    "amount", Text, "order size: \"xF\" = fraction F of equity, \"N\" = N USDT, \"grid_bot:N\" = N USDT × leverage over the levels";
    "leverage", Float, "leverage; bybit model: IMR = max(1/L, tier IMR)";
    "initial_balance", Float, "starting balance in USDT";
    "commission_rate", Float, "maker fee on every limit fill";
    "taker_fee_rate", Float, "taker fee on liquidation (and bybit close_all) closes";
    "enable_risk_multipliers", Bool, "origin risk multipliers on/off";
    "early_imbalance_multiplier", Float, "early-imbalance multiplier, (0, 100]";
    "min_liq_ratio", Float, "long-side liquidation-risk threshold";
    "max_liq_ratio", Float, "short-side liquidation-risk threshold";
    "min_total_margin", Float, "threshold of the equal-positions low-margin rule";
    "increase_same_position_on_low_margin", Bool, "variant of the low-margin rule";
    "rebalance_threshold", Float, "grid rebalance threshold (origin: 0.3)";
    "enable_funding", Bool, "charge funding";
    "funding_rate", Float, "constant funding rate at 00:00, 08:00, 16:00 UTC";
    "wind_down_mode", Text, "\"leave_open\" (default) or \"close_all\"";
    "hedge_margin", Text, "bybit hedged-pair MM: \"combined\" (default) or \"per_leg\"";
}

/// Largest accepted `initial_balance`, in USDT (a trillion).
pub const MAX_INITIAL_BALANCE: f64 = 1e12;

/// Smallest order notional the engine places, in USDT; smaller amounts are raised to it.
pub const MIN_ORDER_USDT: f64 = 5.0;

/// `v` as an initial balance, refused when it is above [`MAX_INITIAL_BALANCE`].
///
/// # Errors
/// A sentence naming `initial_balance`, the bound and the value.
pub fn check_initial_balance(v: f64) -> Result<f64, String> {
    // Non-finite and non-positive values are left to `RunParams::validate`.
    if v > MAX_INITIAL_BALANCE {
        return Err(format!(
            "initial_balance must be at most 1e12 USDT (was {v:e}): money figures of larger \
             accounts are not computed reliably; use a balance up to 1000000000000"
        ));
    }
    Ok(v)
}

/// A warning when a fixed USDT `amount` is below the 5-USDT order floor (so every order
/// is silently raised to 5 USDT); it suggests the equity-fraction spelling `"xF"`.
pub fn amount_warning(a: &Amount) -> Option<String> {
    match a {
        Amount::Quote(n) if n.to_f64() < MIN_ORDER_USDT => Some(format!(
            "amount = \"{n}\" is {n} USDT per order, below the {MIN_ORDER_USDT} USDT minimum \
             order, so every order will be {MIN_ORDER_USDT} USDT; if you meant a fraction of \
             equity, write amount = \"x{n}\""
        )),
        _ => None,
    }
}

/// Origin parameters that gridsweep accepts in backtest configs and ignores, each with the
/// warning shown when a config sets it.
pub const IGNORED_PARAMS: &[(&str, &str)] = &[(
    "maintenance_margin_rate",
    "maintenance_margin_rate is ignored (the tier table sets the MMR)",
)];

/// The warning for an ignored origin parameter `name` ([`IGNORED_PARAMS`]), if it is one.
pub fn ignored_param(name: &str) -> Option<&'static str> {
    IGNORED_PARAMS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
}

/// The registry entry for `name`.
pub fn spec(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| p.name == name)
}

/// Sets parameter `name` of `p` to `v`.
///
/// # Errors
/// A sentence naming the parameter when the name is unknown or the value has the wrong type.
pub fn set_param(p: &mut RunParams, name: &str, v: &ParamValue) -> Result<(), String> {
    let num = || v.as_f64().ok_or_else(|| format!("{name} must be a number (was {v})"));
    let int = || match v {
        ParamValue::Int(i) => Ok(*i),
        ParamValue::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        _ => Err(format!("{name} must be a whole number (was {v})")),
    };
    let boolean = || match v {
        ParamValue::Bool(b) => Ok(*b),
        _ => Err(format!("{name} must be true or false (was {v})")),
    };
    let text = || match v {
        ParamValue::Text(s) => Ok(s.as_str()),
        _ => Err(format!("{name} must be a string (was {v})")),
    };
    let g = &mut p.grid;
    let a = &mut p.account;
    match name {
        "model" => {
            a.model = match text()? {
                "origin" => Model::Origin,
                "bybit" => Model::Bybit,
                other => return Err(format!("model must be \"origin\" or \"bybit\" (was {other:?})")),
            }
        }
        "grid_count" => {
            let c = int()?;
            g.grid_count = u32::try_from(c).map_err(|_| format!("grid_count must be ≥ 4 (was {c})"))?;
        }
        "grid_step" => g.grid_step = num()?,
        "amount" => {
            g.amount = match v {
                ParamValue::Text(s) => Amount::parse(s).map_err(|e| e.to_string())?,
                ParamValue::Int(_) | ParamValue::Float(_) => {
                    Amount::parse(&v.to_string()).map_err(|e| e.to_string())?
                }
                _ => return Err(format!("amount must be a string like \"x0.001\" or \"100\" (was {v})")),
            }
        }
        "leverage" => a.leverage = num()?,
        "initial_balance" => a.initial_balance = check_initial_balance(num()?)?,
        "commission_rate" => a.commission_rate = num()?,
        "taker_fee_rate" => a.taker_fee_rate = num()?,
        "enable_risk_multipliers" => g.enable_risk_multipliers = boolean()?,
        "early_imbalance_multiplier" => g.early_imbalance_multiplier = num()?,
        "min_liq_ratio" => g.min_liq_ratio = num()?,
        "max_liq_ratio" => g.max_liq_ratio = num()?,
        "min_total_margin" => g.min_total_margin = num()?,
        "increase_same_position_on_low_margin" => g.increase_same_position_on_low_margin = boolean()?,
        "rebalance_threshold" => g.rebalance_threshold = num()?,
        "enable_funding" => a.enable_funding = boolean()?,
        "funding_rate" => a.funding_rate = num()?,
        "wind_down_mode" => {
            a.wind_down = match text()? {
                "leave_open" => WindDown::LeaveOpen,
                "close_all" => WindDown::CloseAll,
                other => {
                    return Err(format!(
                        "wind_down_mode must be \"leave_open\" or \"close_all\" (was {other:?})"
                    ))
                }
            }
        }
        "hedge_margin" => {
            a.hedge_margin = match text()? {
                "combined" => HedgeMargin::Combined,
                "per_leg" => HedgeMargin::PerLeg,
                other => {
                    return Err(format!(
                        "hedge_margin must be \"combined\" or \"per_leg\" (was {other:?})"
                    ))
                }
            }
        }
        n if ignored_param(n).is_some() => {
            return Err(format!("{n}: {}; remove it", ignored_param(n).unwrap_or_default()))
        }
        "long_koef" => {
            return Err("Config field 'long_koef' was renamed to 'early_imbalance_multiplier' in feature 0028; rename it".into())
        }
        _ => return Err(format!("unknown parameter {name:?}; known parameters: {}", names())),
    }
    Ok(())
}

/// The value of parameter `name` in `p` (`None` for an unknown name).
pub fn get_param(p: &RunParams, name: &str) -> Option<ParamValue> {
    let g = &p.grid;
    let a = &p.account;
    Some(match name {
        "model" => ParamValue::Text(a.model.as_str().into()),
        "grid_count" => ParamValue::Int(i64::from(g.grid_count)),
        "grid_step" => ParamValue::Float(g.grid_step),
        "amount" => ParamValue::Text(g.amount.to_string()),
        "leverage" => ParamValue::Float(a.leverage),
        "initial_balance" => ParamValue::Float(a.initial_balance),
        "commission_rate" => ParamValue::Float(a.commission_rate),
        "taker_fee_rate" => ParamValue::Float(a.taker_fee_rate),
        "enable_risk_multipliers" => ParamValue::Bool(g.enable_risk_multipliers),
        "early_imbalance_multiplier" => ParamValue::Float(g.early_imbalance_multiplier),
        "min_liq_ratio" => ParamValue::Float(g.min_liq_ratio),
        "max_liq_ratio" => ParamValue::Float(g.max_liq_ratio),
        "min_total_margin" => ParamValue::Float(g.min_total_margin),
        "increase_same_position_on_low_margin" => {
            ParamValue::Bool(g.increase_same_position_on_low_margin)
        }
        "rebalance_threshold" => ParamValue::Float(g.rebalance_threshold),
        "enable_funding" => ParamValue::Bool(a.enable_funding),
        "funding_rate" => ParamValue::Float(a.funding_rate),
        "hedge_margin" => ParamValue::Text(a.hedge_margin.as_str().into()),
        "wind_down_mode" => ParamValue::Text(
            match a.wind_down {
                WindDown::LeaveOpen => "leave_open",
                WindDown::CloseAll => "close_all",
            }
            .into(),
        ),
        _ => return None,
    })
}

/// Comma-separated parameter names, for error messages.
pub fn names() -> String {
    PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_param_round_trips_through_get_and_set() {
        let p = RunParams::default();
        for spec in PARAMS {
            let v = get_param(&p, spec.name).unwrap();
            let mut q = RunParams::default();
            set_param(&mut q, spec.name, &v).unwrap();
            assert_eq!(q, p, "{}", spec.name);
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut p = RunParams::default();
        assert!(set_param(&mut p, "grid_step", &ParamValue::Text("a".into()))
            .unwrap_err()
            .starts_with("grid_step"));
        assert!(set_param(&mut p, "gird_step", &ParamValue::Float(1.0))
            .unwrap_err()
            .contains("unknown parameter"));
        assert!(set_param(&mut p, "long_koef", &ParamValue::Float(1.0))
            .unwrap_err()
            .contains("renamed"));
        assert!(set_param(&mut p, "model", &ParamValue::Text("x".into()))
            .unwrap_err()
            .contains("origin"));
        // Regression: maintenance_margin_rate was validated, swept and written to every result
        // row but never read by the engine; it is no parameter any more.
        assert!(spec("maintenance_margin_rate").is_none());
        assert!(get_param(&p, "maintenance_margin_rate").is_none());
        let e =
            set_param(&mut p, "maintenance_margin_rate", &ParamValue::Float(0.005)).unwrap_err();
        assert!(e.contains("ignored (the tier table sets the MMR)"), "{e}");
        set_param(&mut p, "amount", &ParamValue::Int(100)).unwrap();
        assert_eq!(p.grid.amount.to_string(), "100");
    }

    #[test]
    fn initial_balance_is_bounded() {
        // Regression: 1e300 was accepted and gave a run whose money figures were all 0.
        let mut p = RunParams::default();
        let e = set_param(&mut p, "initial_balance", &ParamValue::Float(1e300)).unwrap_err();
        assert!(e.starts_with("initial_balance must be at most 1e12 USDT (was 1e300)"), "{e}");
        assert_eq!(p.account.initial_balance, 10_000.0, "the refused value is not stored");
        assert!(set_param(&mut p, "initial_balance", &ParamValue::Float(1.000001e12)).is_err());
        set_param(&mut p, "initial_balance", &ParamValue::Int(1_000_000_000_000)).unwrap();
        assert_eq!(p.account.initial_balance, 1e12);
    }

    #[test]
    fn amount_below_the_order_floor_warns() {
        let w = amount_warning(&Amount::parse("0.01").unwrap()).unwrap();
        assert!(w.starts_with("amount = \"0.01\" is 0.01 USDT per order, below the 5 USDT"), "{w}");
        assert!(
            w.contains("every order will be 5 USDT") && w.contains("amount = \"x0.01\""),
            "{w}"
        );
        assert!(amount_warning(&Amount::parse("4.99").unwrap()).is_some());
        // 5 USDT is the floor itself; fractions of equity are sized later and never warn here.
        assert_eq!(amount_warning(&Amount::parse("5").unwrap()), None);
        assert_eq!(amount_warning(&Amount::parse("100").unwrap()), None);
        assert_eq!(amount_warning(&Amount::parse("x0.01").unwrap()), None);
    }
}
