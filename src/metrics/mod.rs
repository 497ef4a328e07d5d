//! Run metrics (docs/metrics.md): one flat record per run, the single source for every writer.

pub mod accum;

pub use accum::MetricsAccumulator;

/// A typed metric value, for writers that need one column type per metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    /// A float (never null).
    F64(f64),
    /// A float that may be undefined (written as null).
    OptF64(Option<f64>),
    /// A count.
    U64(u64),
    /// An integer that may be absent (written as null).
    OptI64(Option<i64>),
    /// A flag.
    Bool(bool),
    /// A word from a fixed set (written as a string).
    Text(&'static str),
}

/// Which price path the liquidation check and the margin figures followed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// The last (traded) price: the data had no mark prices, or `model = "origin"`.
    #[default]
    Last,
    /// The mark price path of the data (`mark_candles`).
    Mark,
}

impl PriceSource {
    /// `"last"` or `"mark"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Last => "last",
            PriceSource::Mark => "mark",
        }
    }
}

/// Everything a run reports. Money is USDT; `*_pct` are percentages.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Every recorded fill (opens, closes, liquidation and wind-down closes).
    pub total_trades: u64,
    /// Closing fills with realised PnL > 0.
    pub winning_trades: u64,
    /// Closing fills with realised PnL < 0.
    pub losing_trades: u64,
    /// Winning / closing fills (the origin divided by all fills; fixed here).
    pub win_rate: f64,
    /// Mean positive realised PnL (0 when none).
    pub avg_win: f64,
    /// Mean negative realised PnL (0 when none).
    pub avg_loss: f64,
    /// Sum of realised PnL (fees excluded).
    pub total_realized_pnl: f64,
    /// Unrealised PnL at the last price.
    pub total_unrealized_pnl: f64,
    /// Sum of fees paid.
    pub total_commission: f64,
    /// Sum of funding received (negative when paid).
    pub total_funding: f64,
    /// Starting balance.
    pub initial_balance: f64,
    /// initial + realised + unrealised − commission + funding.
    pub final_balance: f64,
    /// final − initial.
    pub net_pnl: f64,
    /// net / initial × 100.
    pub return_pct: f64,
    /// Largest peak-to-trough fall of equity (peak starts at the initial balance).
    pub max_drawdown: f64,
    /// Largest drawdown as % of the peak at the time of that drawdown.
    pub max_drawdown_pct: f64,
    /// Longest run of consecutive ticks below the peak.
    pub max_drawdown_duration: u64,
    /// Hourly Sharpe ratio, annualised (origin definition).
    pub sharpe_ratio: f64,
    /// Hourly Sortino ratio, annualised (downside deviation over all returns).
    pub sortino_ratio: f64,
    /// Annualised return % (return % × year / span) / max drawdown % (undefined without a
    /// drawdown).
    pub calmar_ratio: Option<f64>,
    /// Σ wins / |Σ losses|; undefined (+∞, written null) when there are no losses.
    pub profit_factor: Option<f64>,
    /// Σ qty × price over fills.
    pub total_volume: f64,
    /// volume / initial balance.
    pub turnover: f64,
    /// Fills of the long book.
    pub long_trades: u64,
    /// Fills of the short book.
    pub short_trades: u64,
    /// Realised PnL of the long book.
    pub long_pnl: f64,
    /// Realised PnL of the short book.
    pub short_pnl: f64,
    /// Peak Σ initial margin (entry-based).
    pub peak_im: f64,
    /// Peak Σ maintenance margin (entry-based).
    pub peak_mm: f64,
    /// Peak IM as % of equity.
    pub peak_imr_pct: f64,
    /// Peak MM as % of equity.
    pub peak_mmr_pct: f64,
    /// Closing fills that reduced a non-empty position.
    pub round_trips: u64,
    /// % of ticks with any position open.
    pub time_in_market_pct: f64,
    /// Distinct opening orders refused for lack of margin (bybit model): a level and
    /// direction refused again counts once until an order is placed there.
    pub orders_rejected: u64,
    /// Every refusal, a level refused again after a book change included (bybit model).
    pub rejection_events: u64,
    /// Price at which equity reached the maintenance margin (bybit model, liquidated runs).
    pub liquidation_trigger_price: Option<f64>,
    /// Price every position was closed at in the liquidation: the account's bankruptcy
    /// price, where equity after the taker fee is zero.
    pub bankruptcy_price: Option<f64>,
    /// Price of the tick on which the liquidation happened (past the trigger on a gap).
    pub liquidation_tick_price: Option<f64>,
    /// True when the account was liquidated (bybit model).
    pub liquidated: bool,
    /// Tick time of the liquidation.
    pub liquidation_ts_ms: Option<i64>,
    /// Smallest distance of the price to the estimated liquidation price, in %.
    pub min_liq_distance_pct: Option<f64>,
    /// The price path liquidation and margins followed (`last` or `mark`).
    pub liquidation_price_source: PriceSource,
    /// Final long size (base currency).
    pub final_long_size: f64,
    /// Final long average entry price (0 when flat).
    pub final_long_entry: f64,
    /// Final short size (base currency).
    pub final_short_size: f64,
    /// Final short average entry price (0 when flat).
    pub final_short_entry: f64,
    /// Ticks processed.
    pub ticks: u64,
    /// First tick time.
    pub first_ts_ms: Option<i64>,
    /// Last tick time.
    pub last_ts_ms: Option<i64>,
}

impl Metrics {
    /// Every metric as `(name, value)`, in a fixed order (the result file's column order).
    pub fn fields(&self) -> [(&'static str, MetricValue); 49] {
        use MetricValue::*;
        [
            ("total_trades", U64(self.total_trades)),
            ("winning_trades", U64(self.winning_trades)),
            ("losing_trades", U64(self.losing_trades)),
            ("win_rate", F64(self.win_rate)),
            ("avg_win", F64(self.avg_win)),
            ("avg_loss", F64(self.avg_loss)),
            ("total_realized_pnl", F64(self.total_realized_pnl)),
            ("total_unrealized_pnl", F64(self.total_unrealized_pnl)),
            ("total_commission", F64(self.total_commission)),
            ("total_funding", F64(self.total_funding)),
            ("initial_balance", F64(self.initial_balance)),
            ("final_balance", F64(self.final_balance)),
            ("net_pnl", F64(self.net_pnl)),
            ("return_pct", F64(self.return_pct)),
            ("max_drawdown", F64(self.max_drawdown)),
            ("max_drawdown_pct", F64(self.max_drawdown_pct)),
            ("max_drawdown_duration", U64(self.max_drawdown_duration)),
            ("sharpe_ratio", F64(self.sharpe_ratio)),
            ("sortino_ratio", F64(self.sortino_ratio)),
            ("calmar_ratio", OptF64(self.calmar_ratio)),
            ("profit_factor", OptF64(self.profit_factor)),
            ("total_volume", F64(self.total_volume)),
            ("turnover", F64(self.turnover)),
            ("long_trades", U64(self.long_trades)),
            ("short_trades", U64(self.short_trades)),
            ("long_pnl", F64(self.long_pnl)),
            ("short_pnl", F64(self.short_pnl)),
            ("peak_im", F64(self.peak_im)),
            ("peak_mm", F64(self.peak_mm)),
            ("peak_imr_pct", F64(self.peak_imr_pct)),
            ("peak_mmr_pct", F64(self.peak_mmr_pct)),
            ("round_trips", U64(self.round_trips)),
            ("time_in_market_pct", F64(self.time_in_market_pct)),
            ("orders_rejected", U64(self.orders_rejected)),
            ("rejection_events", U64(self.rejection_events)),
            ("liquidated", Bool(self.liquidated)),
            ("liquidation_ts_ms", OptI64(self.liquidation_ts_ms)),
            ("min_liq_distance_pct", OptF64(self.min_liq_distance_pct)),
            ("liquidation_trigger_price", OptF64(self.liquidation_trigger_price)),
            ("bankruptcy_price", OptF64(self.bankruptcy_price)),
            ("liquidation_tick_price", OptF64(self.liquidation_tick_price)),
            ("liquidation_price_source", Text(self.liquidation_price_source.as_str())),
            ("final_long_size", F64(self.final_long_size)),
            ("final_long_entry", F64(self.final_long_entry)),
            ("final_short_size", F64(self.final_short_size)),
            ("final_short_entry", F64(self.final_short_entry)),
            ("ticks", U64(self.ticks)),
            ("first_ts_ms", OptI64(self.first_ts_ms)),
            ("last_ts_ms", OptI64(self.last_ts_ms)),
        ]
    }
}
