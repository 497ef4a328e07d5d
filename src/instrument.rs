//! Instrument facts a run needs: symbol, price tick and quantity step.

use crate::decimal::Dec;

/// A linear perpetual's symbol, price tick and quantity step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Price tick.
    pub tick_size: Dec,
    /// Quantity step (lot size).
    pub qty_step: Dec,
}

/// Built-in `(tick_size, qty_step)` for common Bybit symbols (docs/backtest.md).
pub fn default_steps(symbol: &str) -> Option<(Dec, Dec)> {
    let (t, q) = match symbol {
        "BTCUSDT" => ("0.1", "0.001"),
        "ETHUSDT" => ("0.01", "0.01"),
        "LTCUSDT" => ("0.01", "0.1"),
        "NEARUSDT" => ("0.001", "0.1"),
        "FILUSDT" => ("0.001", "0.1"),
        _ => return None,
    };
    Some((Dec::parse(t).ok()?, Dec::parse(q).ok()?))
}

impl Instrument {
    /// The instrument with explicit steps, or the built-in defaults for the symbol.
    ///
    /// # Errors
    /// A sentence naming the missing field when the symbol has no defaults.
    pub fn resolve(
        symbol: &str,
        tick_size: Option<Dec>,
        qty_step: Option<Dec>,
    ) -> Result<Instrument, String> {
        let defaults = default_steps(symbol);
        let tick_size = match (tick_size, defaults) {
            (Some(t), _) => t,
            (None, Some((t, _))) => t,
            (None, None) => {
                return Err(format!("tick_size: no built-in default for {symbol}; set tick_size"))
            }
        };
        let qty_step = match (qty_step, defaults) {
            (Some(q), _) => q,
            (None, Some((_, q))) => q,
            (None, None) => {
                return Err(format!("qty_step: no built-in default for {symbol}; set qty_step"))
            }
        };
        if tick_size.mantissa() <= 0 {
            return Err(format!("tick_size must be > 0 (was {tick_size})"));
        }
        if qty_step.mantissa() <= 0 {
            return Err(format!("qty_step must be > 0 (was {qty_step})"));
        }
        Ok(Instrument { symbol: symbol.to_string(), tick_size, qty_step })
    }

    /// Refuses data (candles) labelled `data_symbol` when it is another symbol; unlabelled
    /// data (`None`) passes. `files` and `whose` ("config", "sweep") name the inputs to fix.
    ///
    /// # Errors
    /// A sentence naming both symbols, the files and what to fix.
    pub fn check_data_symbol(
        &self,
        data_symbol: Option<&str>,
        files: &[std::path::PathBuf],
        whose: &str,
    ) -> Result<(), String> {
        match data_symbol {
            Some(s) if s != self.symbol => Err(format!(
                "the candles in {} are {s}, but the {whose}'s symbol is {}; fix `symbol` or \
                 `candles` in the {whose} file",
                files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                self.symbol
            )),
            _ => Ok(()),
        }
    }
}
