//! `[constraints]` of a sweep file: limits on metrics that only get worse as a run goes on,
//! turned into the engine's [`StopLimits`] so a run stops at the first tick breaking one
//! (its row: `status = "pruned"`, `pruned_reason`, `pruned_ts_ms`). Exact: the pruned runs
//! are those whose unconstrained final metrics break a limit, and every other run is the
//! same computation.

use crate::config::common::Problem;
use crate::config::fields::ParamValue;
use crate::engine::stop::{LimitMetric, StopLimits, Violation};
use crate::engine::{FillRecord, Recorder};

use super::space::Space;

/// The accepted constraints, for refusals: one line each.
pub fn accepted() -> String {
    LimitMetric::ALL
        .iter()
        .map(|m| match m {
            LimitMetric::Liquidated => "liquidated = false".to_string(),
            m if m.is_lower_bound() => format!("{} = {{ min = … }}", m.name()),
            m => format!("{} = {{ max = … }}", m.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `[constraints]` into stop limits, pushing every problem with its path.
pub fn parse(v: &toml::Value, space: &Space, errs: &mut Vec<Problem>) -> StopLimits {
    let mut limits = StopLimits::default();
    let Some(t) = v.as_table() else {
        errs.push(Problem::new(
            "constraints",
            "must be a table, e.g. [constraints] max_drawdown_pct = { max = 30 }",
        ));
        return limits;
    };
    for (k, v) in t {
        let path = format!("constraints.{k}");
        let Some(m) = LimitMetric::from_name(k) else {
            errs.push(Problem::new(
                path,
                format!(
                    "`{k}` cannot stop a run exactly (only metrics that can only get worse \
                     as a run goes on can); accepted: {}",
                    accepted()
                ),
            ));
            continue;
        };
        if m == LimitMetric::Liquidated {
            match v.as_bool() {
                Some(false) => limits.no_liquidation = true,
                _ => errs.push(Problem::new(
                    path,
                    "must be `false` (stop runs that are liquidated); remove it to allow \
                     liquidations",
                )),
            }
            continue;
        }
        let (want, other) = if m.is_lower_bound() { ("min", "max") } else { ("max", "min") };
        let Some(tab) = v.as_table() else {
            errs.push(Problem::new(path, format!("must be a table: {k} = {{ {want} = … }}")));
            continue;
        };
        if tab.contains_key(other) {
            errs.push(Problem::new(
                format!("{path}.{other}"),
                format!(
                    "{k} can only {} during a run, so a `{other}` bound cannot stop a run \
                     early; use {k} = {{ {want} = … }} (accepted: {})",
                    if m.is_lower_bound() { "fall" } else { "grow" },
                    accepted()
                ),
            ));
            continue;
        }
        if let Some(extra) = tab.keys().find(|x| x.as_str() != want) {
            errs.push(Problem::new(
                format!("{path}.{extra}"),
                format!("unknown key; use {k} = {{ {want} = … }}"),
            ));
            continue;
        }
        let b = match tab.get(want) {
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(x)) if x.is_finite() => *x,
            _ => {
                errs.push(Problem::new(
                    format!("{path}.{want}"),
                    format!("is required and must be a finite number: {k} = {{ {want} = … }}"),
                ));
                continue;
            }
        };
        if b < 0.0 && !m.is_lower_bound() {
            errs.push(Problem::new(
                format!("{path}.{want}"),
                format!("must be ≥ 0 ({k} is never negative), was {b}"),
            ));
            continue;
        }
        if m == LimitMetric::TotalCommission && fees_may_be_negative(space) {
            errs.push(Problem::new(
                path,
                "total_commission only grows when every fee rate is ≥ 0; this sweep has a \
                 negative commission_rate or taker_fee_rate (a rebate), so it cannot stop \
                 runs exactly",
            ));
            continue;
        }
        limits.set(m, b);
    }
    limits
}

/// True when the base parameters or an axis hold a negative fee rate.
fn fees_may_be_negative(space: &Space) -> bool {
    let a = &space.base().account;
    if a.commission_rate < 0.0 || a.taker_fee_rate < 0.0 {
        return true;
    }
    space.axes().iter().filter(|x| x.name == "commission_rate" || x.name == "taker_fee_rate").any(
        |x| {
            x.values.iter().any(|v| match v {
                ParamValue::Float(f) => *f < 0.0,
                ParamValue::Int(i) => *i < 0,
                _ => false,
            })
        },
    )
}

/// A recorder that hands `limits` to the engine and keeps the stop, around `inner`.
#[derive(Debug)]
pub struct Limited<'a, R> {
    /// The recorder it wraps.
    pub inner: &'a mut R,
    /// The limits.
    pub limits: StopLimits,
    /// Where the run stopped.
    pub stop: Option<Violation>,
}

impl<R: Recorder> Recorder for Limited<'_, R> {
    #[inline]
    fn on_fill(&mut self, fill: &FillRecord) {
        self.inner.on_fill(fill);
    }
    #[inline]
    fn on_equity(&mut self, ts_ms: i64, equity: f64) {
        self.inner.on_equity(ts_ms, equity);
    }
    #[inline]
    fn wants_equity(&self) -> bool {
        self.inner.wants_equity()
    }
    #[inline]
    fn equity_needed_by(&self) -> i64 {
        self.inner.equity_needed_by()
    }
    #[inline]
    fn limits(&self) -> Option<StopLimits> {
        Some(self.limits)
    }
    #[inline]
    fn on_stop(&mut self, v: &Violation) {
        self.stop = Some(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RunParams;

    fn parse_str(s: &str) -> (StopLimits, Vec<Problem>) {
        let v: toml::Value = toml::from_str::<toml::Table>(s).unwrap()["constraints"].clone();
        let mut errs = Vec::new();
        let l = parse(&v, &Space::new(RunParams::default(), Vec::new()), &mut errs);
        (l, errs)
    }

    #[test]
    fn the_issue_example_parses() {
        let (l, errs) = parse_str(
            "[constraints]\nliquidated = false\nmax_drawdown_pct = { max = 30 }\n\
             min_liq_distance_pct = { min = 5 }\norders_rejected = { max = 1000 }\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert!(l.no_liquidation);
        assert_eq!(l.bound(LimitMetric::MaxDrawdownPct), Some(30.0));
        assert_eq!(l.bound(LimitMetric::MinLiqDistancePct), Some(5.0));
        assert_eq!(l.bound(LimitMetric::OrdersRejected), Some(1000.0));
    }

    #[test]
    fn non_monotone_and_wrong_direction_are_refused_with_the_list() {
        let (_, errs) = parse_str(
            "[constraints]\ncalmar_ratio = { min = 1 }\nmax_drawdown_pct = { min = 3 }\n\
             liquidated = true\n",
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
        let calmar = errs.iter().find(|p| p.path == "constraints.calmar_ratio").unwrap();
        assert!(calmar.message.contains("accepted: liquidated = false, max_drawdown_pct"));
        assert!(errs.iter().any(|p| p.path == "constraints.max_drawdown_pct.min"));
        assert!(errs.iter().any(|p| p.path == "constraints.liquidated"));
    }
}
