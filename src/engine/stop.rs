//! Stop limits: bounds on metrics that can only get worse as a run goes on, checked by the
//! engine after every tick so that a run stops at the first tick that breaks one.
//!
//! A recorder hands the limits to the engine ([`crate::engine::Recorder::limits`]); the
//! default (`None`) compiles the checks away.

/// A metric a stop limit may bound: each can only move one way during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitMetric {
    /// `liquidated` (the limit: never).
    Liquidated,
    /// `max_drawdown_pct` (at most).
    MaxDrawdownPct,
    /// `max_drawdown` (at most).
    MaxDrawdown,
    /// `max_drawdown_duration` (at most).
    MaxDrawdownDuration,
    /// `min_liq_distance_pct` (at least).
    MinLiqDistancePct,
    /// `orders_rejected` (at most).
    OrdersRejected,
    /// `rejection_events` (at most).
    RejectionEvents,
    /// `peak_imr_pct` (at most).
    PeakImrPct,
    /// `peak_mmr_pct` (at most).
    PeakMmrPct,
    /// `peak_im` (at most).
    PeakIm,
    /// `peak_mm` (at most).
    PeakMm,
    /// `total_commission` (at most; only with fee rates ≥ 0).
    TotalCommission,
}

impl LimitMetric {
    /// Every limitable metric, in the order violations are reported.
    pub const ALL: [LimitMetric; 12] = [
        LimitMetric::Liquidated,
        LimitMetric::MaxDrawdownPct,
        LimitMetric::MaxDrawdown,
        LimitMetric::MaxDrawdownDuration,
        LimitMetric::MinLiqDistancePct,
        LimitMetric::OrdersRejected,
        LimitMetric::RejectionEvents,
        LimitMetric::PeakImrPct,
        LimitMetric::PeakMmrPct,
        LimitMetric::PeakIm,
        LimitMetric::PeakMm,
        LimitMetric::TotalCommission,
    ];

    /// The metric's column name.
    pub fn name(self) -> &'static str {
        match self {
            LimitMetric::Liquidated => "liquidated",
            LimitMetric::MaxDrawdownPct => "max_drawdown_pct",
            LimitMetric::MaxDrawdown => "max_drawdown",
            LimitMetric::MaxDrawdownDuration => "max_drawdown_duration",
            LimitMetric::MinLiqDistancePct => "min_liq_distance_pct",
            LimitMetric::OrdersRejected => "orders_rejected",
            LimitMetric::RejectionEvents => "rejection_events",
            LimitMetric::PeakImrPct => "peak_imr_pct",
            LimitMetric::PeakMmrPct => "peak_mmr_pct",
            LimitMetric::PeakIm => "peak_im",
            LimitMetric::PeakMm => "peak_mm",
            LimitMetric::TotalCommission => "total_commission",
        }
    }

    /// The metric called `name`, when it may be limited.
    pub fn from_name(name: &str) -> Option<LimitMetric> {
        LimitMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for the one metric bounded from below (`min_liq_distance_pct`).
    pub fn is_lower_bound(self) -> bool {
        self == LimitMetric::MinLiqDistancePct
    }
}

/// The bounds a run must keep (`None`: unbounded); `no_liquidation` stops a liquidated run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StopLimits {
    /// Stop a run when it is liquidated.
    pub no_liquidation: bool,
    /// Upper bounds, indexed like [`LimitMetric::ALL`] (the lower bound for
    /// `min_liq_distance_pct`); index 0 (liquidated) is unused.
    pub bounds: [Option<f64>; 12],
}

impl StopLimits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        !self.no_liquidation && self.bounds.iter().all(Option::is_none)
    }

    /// The bound on `m` (`None` for `liquidated`, which is a flag).
    pub fn bound(&self, m: LimitMetric) -> Option<f64> {
        self.bounds[LimitMetric::ALL.iter().position(|&x| x == m).unwrap_or(0)]
    }

    /// Sets the bound on `m`.
    pub fn set(&mut self, m: LimitMetric, v: f64) {
        if let Some(i) = LimitMetric::ALL.iter().position(|&x| x == m) {
            self.bounds[i] = Some(v);
        }
    }

    /// The first limit (in [`LimitMetric::ALL`] order) that `v` breaks, with the value.
    #[inline]
    pub fn first_broken(&self, v: &LimitValues) -> Option<(LimitMetric, f64)> {
        if self.no_liquidation && v.liquidated {
            return Some((LimitMetric::Liquidated, 1.0));
        }
        let values = [
            0.0,
            v.max_drawdown_pct,
            v.max_drawdown,
            v.max_drawdown_duration as f64,
            v.min_liq_distance_pct.unwrap_or(f64::INFINITY),
            v.orders_rejected as f64,
            v.rejection_events as f64,
            v.peak_imr_pct,
            v.peak_mmr_pct,
            v.peak_im,
            v.peak_mm,
            v.total_commission,
        ];
        for (i, b) in self.bounds.iter().enumerate().skip(1) {
            if let Some(b) = *b {
                let x = values[i];
                let broken = if i == 4 { x < b } else { x > b };
                if broken {
                    return Some((LimitMetric::ALL[i], x));
                }
            }
        }
        None
    }
}

/// The current values of the limitable metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitValues {
    /// Liquidated so far.
    pub liquidated: bool,
    /// Running max drawdown %.
    pub max_drawdown_pct: f64,
    /// Running max drawdown.
    pub max_drawdown: f64,
    /// Running longest run of ticks below the peak.
    pub max_drawdown_duration: u64,
    /// Running smallest liquidation distance %.
    pub min_liq_distance_pct: Option<f64>,
    /// Distinct refused openings so far.
    pub orders_rejected: u64,
    /// Refusals so far.
    pub rejection_events: u64,
    /// Running peak IM %.
    pub peak_imr_pct: f64,
    /// Running peak MM %.
    pub peak_mmr_pct: f64,
    /// Running peak IM.
    pub peak_im: f64,
    /// Running peak MM.
    pub peak_mm: f64,
    /// Fees so far.
    pub total_commission: f64,
}

impl LimitValues {
    /// The values in a run's final metrics.
    pub fn of(m: &crate::metrics::Metrics) -> LimitValues {
        LimitValues {
            liquidated: m.liquidated,
            max_drawdown_pct: m.max_drawdown_pct,
            max_drawdown: m.max_drawdown,
            max_drawdown_duration: m.max_drawdown_duration,
            min_liq_distance_pct: m.min_liq_distance_pct,
            orders_rejected: m.orders_rejected,
            rejection_events: m.rejection_events,
            peak_imr_pct: m.peak_imr_pct,
            peak_mmr_pct: m.peak_mmr_pct,
            peak_im: m.peak_im,
            peak_mm: m.peak_mm,
            total_commission: m.total_commission,
        }
    }
}

/// Where and why a run stopped on a limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Violation {
    /// The broken limit's metric.
    pub metric: LimitMetric,
    /// The metric's value at the stop.
    pub value: f64,
    /// The bound it broke (1 for `liquidated`).
    pub bound: f64,
    /// Time of the tick that broke it.
    pub ts_ms: i64,
}

impl Violation {
    /// `"max_drawdown_pct 30.41 > 30"`, or `"liquidated"`.
    pub fn reason(&self) -> String {
        if self.metric == LimitMetric::Liquidated {
            return "liquidated".to_string();
        }
        let op = if self.metric.is_lower_bound() { "<" } else { ">" };
        format!("{} {} {op} {}", self.metric.name(), short(self.value), short(self.bound))
    }
}

/// A number with at most 4 decimals and no trailing zeros.
fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_broken_follows_bounds_and_direction() {
        let mut l = StopLimits::default();
        assert!(l.is_empty());
        l.set(LimitMetric::MaxDrawdownPct, 30.0);
        l.set(LimitMetric::MinLiqDistancePct, 5.0);
        let ok = LimitValues {
            max_drawdown_pct: 30.0,
            min_liq_distance_pct: Some(5.0),
            ..Default::default()
        };
        assert_eq!(l.first_broken(&ok), None, "bounds are inclusive");
        let v = LimitValues { max_drawdown_pct: 30.41, ..ok };
        assert_eq!(l.first_broken(&v), Some((LimitMetric::MaxDrawdownPct, 30.41)));
        let v = LimitValues { min_liq_distance_pct: Some(4.9), ..ok };
        assert_eq!(l.first_broken(&v), Some((LimitMetric::MinLiqDistancePct, 4.9)));
        let v = LimitValues { min_liq_distance_pct: None, ..ok };
        assert_eq!(l.first_broken(&v), None, "no distance yet breaks no lower bound");
        let viol =
            Violation { metric: LimitMetric::MaxDrawdownPct, value: 30.41, bound: 30.0, ts_ms: 0 };
        assert_eq!(viol.reason(), "max_drawdown_pct 30.41 > 30");
    }
}
