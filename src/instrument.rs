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

/// Why an instrument could not be resolved, or data does not belong to it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// A step is not given and the symbol has no built-in default.
    #[error("{field}: no built-in default for {symbol}; set {field}")]
    NoDefault {
        /// `tick_size` or `qty_step`.
        field: &'static str,
        /// The symbol.
        symbol: String,
    },
    /// A step is zero or negative.
    #[error("{field} must be > 0 (was {value})")]
    NotPositive {
        /// `tick_size` or `qty_step`.
        field: &'static str,
        /// The value given.
        value: Dec,
    },
    /// The data (candles) are labelled with another symbol.
    #[error(
        "the candles in {} are {data_symbol}, but the {whose}'s symbol is {symbol}; fix \
         `symbol` or `candles` in the {whose} file",
        files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    SymbolMismatch {
        /// The data files.
        files: Vec<std::path::PathBuf>,
        /// The data's symbol.
        data_symbol: String,
        /// The instrument's symbol.
        symbol: String,
        /// Whose symbol it is ("config", "sweep").
        whose: String,
    },
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
    /// [`InstrumentError::NoDefault`] naming the missing field when the symbol has no
    /// defaults; [`InstrumentError::NotPositive`] for a step ≤ 0.
    pub fn resolve(
        symbol: &str,
        tick_size: Option<Dec>,
        qty_step: Option<Dec>,
    ) -> Result<Instrument, InstrumentError> {
        let defaults = default_steps(symbol);
        let tick_size = match (tick_size, defaults) {
            (Some(t), _) => t,
            (None, Some((t, _))) => t,
            (None, None) => {
                let symbol = symbol.to_string();
                return Err(InstrumentError::NoDefault { field: "tick_size", symbol });
            }
        };
        let qty_step = match (qty_step, defaults) {
            (Some(q), _) => q,
            (None, Some((_, q))) => q,
            (None, None) => {
                let symbol = symbol.to_string();
                return Err(InstrumentError::NoDefault { field: "qty_step", symbol });
            }
        };
        if tick_size.mantissa() <= 0 {
            return Err(InstrumentError::NotPositive { field: "tick_size", value: tick_size });
        }
        if qty_step.mantissa() <= 0 {
            return Err(InstrumentError::NotPositive { field: "qty_step", value: qty_step });
        }
        Ok(Instrument { symbol: symbol.to_string(), tick_size, qty_step })
    }

    /// Refuses data (candles) labelled `data_symbol` when it is another symbol; unlabelled
    /// data (`None`) passes. `files` and `whose` ("config", "sweep") name the inputs to fix.
    ///
    /// # Errors
    /// [`InstrumentError::SymbolMismatch`], whose message names both symbols, the files and
    /// what to fix.
    pub fn check_data_symbol(
        &self,
        data_symbol: Option<&str>,
        files: &[std::path::PathBuf],
        whose: &str,
    ) -> Result<(), InstrumentError> {
        match data_symbol {
            Some(s) if s != self.symbol => Err(InstrumentError::SymbolMismatch {
                files: files.to_vec(),
                data_symbol: s.to_string(),
                symbol: self.symbol.clone(),
                whose: whose.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_typed_and_name_the_field() {
        // Issue 14 item 20: these were bare Strings.
        let e = Instrument::resolve("ZZZUSDT", None, None).unwrap_err();
        assert_eq!(e, InstrumentError::NoDefault { field: "tick_size", symbol: "ZZZUSDT".into() });
        assert_eq!(e.to_string(), "tick_size: no built-in default for ZZZUSDT; set tick_size");
        let tick = Dec::parse("0.1").ok();
        let e = Instrument::resolve("ZZZUSDT", tick, None).unwrap_err();
        assert_eq!(e.to_string(), "qty_step: no built-in default for ZZZUSDT; set qty_step");
        let zero = Dec::parse("0").ok();
        let e = Instrument::resolve("BTCUSDT", zero, None).unwrap_err();
        assert_eq!(e.to_string(), "tick_size must be > 0 (was 0)");
        let i = Instrument::resolve("BTCUSDT", None, None).unwrap();
        let files = [std::path::PathBuf::from("a.parquet"), std::path::PathBuf::from("b.parquet")];
        let e = i.check_data_symbol(Some("LTCUSDT"), &files, "sweep").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the candles in a.parquet, b.parquet are LTCUSDT, but the sweep's symbol is \
             BTCUSDT; fix `symbol` or `candles` in the sweep file"
        );
        assert_eq!(i.check_data_symbol(Some("BTCUSDT"), &files, "sweep"), Ok(()));
        assert_eq!(i.check_data_symbol(None, &files, "sweep"), Ok(()));
    }
}
