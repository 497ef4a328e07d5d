//! Instrument facts a run needs: symbol, price tick and quantity step, and where they came
//! from: explicit config keys first, then an instrument saved by `gridsweep fetch instrument
//! SYMBOL --save` ([`SavedInstrument`], one JSON file per symbol in [`saved_dir`]), then the
//! built-in defaults ([`default_steps`]).

use std::path::{Path, PathBuf};

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
    /// Funding interval in minutes, when known (a saved instrument; `None` for built-ins).
    pub funding_interval_min: Option<u32>,
    /// Smallest order value in quote coin, when known (a saved instrument's
    /// `lotSizeFilter.minNotionalValue`; `None` for built-ins).
    pub min_notional: Option<Dec>,
    /// Where `tick_size` and `qty_step` came from.
    pub steps_from: StepsFrom,
}

/// Where one instrument step came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepSource {
    /// gridsweep's built-in table ([`default_steps`]).
    Builtin,
    /// A saved instrument file ([`SavedInstrument`]).
    Saved,
    /// An explicit `tick_size`/`qty_step` key in the config or sweep file.
    Config,
}

impl StepSource {
    /// `builtin`, `saved` or `config`.
    pub fn name(self) -> &'static str {
        match self {
            StepSource::Builtin => "builtin",
            StepSource::Saved => "saved",
            StepSource::Config => "config",
        }
    }
}

/// Where `tick_size` and `qty_step` came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepsFrom {
    /// Source of `tick_size`.
    pub tick_size: StepSource,
    /// Source of `qty_step`.
    pub qty_step: StepSource,
}

impl StepsFrom {
    /// Both steps from one source.
    pub fn both(s: StepSource) -> StepsFrom {
        StepsFrom { tick_size: s, qty_step: s }
    }
}

impl std::fmt::Display for StepsFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tick_size == self.qty_step {
            f.write_str(self.tick_size.name())
        } else {
            write!(f, "tick_size {}, qty_step {}", self.tick_size.name(), self.qty_step.name())
        }
    }
}

/// Environment variable naming the directory of saved instruments (tests, other layouts).
pub const INSTRUMENT_DIR_ENV: &str = "GRIDSWEEP_INSTRUMENT_DIR";
/// Default directory of saved instruments, relative to the current directory (beside the
/// tier cache `conf/risk_limits_cache.json`).
pub const DEFAULT_INSTRUMENT_DIR: &str = "conf/instruments";

/// The directory of saved instruments: `$GRIDSWEEP_INSTRUMENT_DIR`, else `conf/instruments`.
pub fn saved_dir() -> PathBuf {
    match std::env::var_os(INSTRUMENT_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_INSTRUMENT_DIR),
    }
}

/// An instrument as fetched from Bybit's `/v5/market/instruments-info` and saved as
/// `SYMBOL.json`: numbers as decimal strings, exactly as Bybit sent them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedInstrument {
    /// Symbol.
    pub symbol: String,
    /// `priceFilter.tickSize`.
    pub tick_size: String,
    /// `lotSizeFilter.qtyStep`.
    pub qty_step: String,
    /// `lotSizeFilter.minNotionalValue`, if sent.
    pub min_notional: Option<String>,
    /// `fundingInterval`, minutes, if sent.
    pub funding_interval_min: Option<u32>,
    /// `leverageFilter.maxLeverage`, if sent.
    pub max_leverage: Option<String>,
    /// Where it was fetched from (URL).
    pub source: String,
    /// When it was fetched (UTC, ISO 8601).
    pub fetched_at: String,
}

impl SavedInstrument {
    /// The file of `symbol` in `dir`.
    pub fn path_in(dir: &Path, symbol: &str) -> PathBuf {
        dir.join(format!("{symbol}.json"))
    }

    /// Reads the saved instrument of `symbol` from `dir`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`InstrumentError::Saved`] for an unreadable or malformed file, another symbol inside,
    /// or steps that are not positive decimals.
    pub fn load(dir: &Path, symbol: &str) -> Result<Option<SavedInstrument>, InstrumentError> {
        let path = SavedInstrument::path_in(dir, symbol);
        let bad = |reason: String| InstrumentError::Saved { path: path.clone(), reason };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(e.to_string())),
        };
        let s: SavedInstrument = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if s.symbol != symbol {
            return Err(bad(format!("it holds {}, not {symbol}", s.symbol)));
        }
        s.steps().map_err(bad)?;
        Ok(Some(s))
    }

    /// Writes it as `SYMBOL.json` in `dir` (created), atomically; returns the path.
    ///
    /// # Errors
    /// The failing step and its I/O error.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = SavedInstrument::path_in(dir, &self.symbol);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        text.push('\n');
        crate::durable::replace_file(&path, &crate::durable::temp_beside(&path), text.as_bytes())
            .map_err(|(what, e)| format!("{what} {}: {e}", path.display()))?;
        Ok(path)
    }

    /// `(tick_size, qty_step, min_notional)` as decimals.
    ///
    /// # Errors
    /// A sentence naming the field that is not a positive decimal.
    pub fn steps(&self) -> Result<(Dec, Dec, Option<Dec>), String> {
        let dec = |field: &str, v: &str| match Dec::parse(v) {
            Ok(d) if d.mantissa() > 0 => Ok(d),
            _ => Err(format!("{field} {v:?} is not a positive decimal")),
        };
        let min = match &self.min_notional {
            Some(m) => {
                Some(Dec::parse(m).map_err(|_| format!("min_notional {m:?} is not a decimal"))?)
            }
            None => None,
        };
        Ok((dec("tick_size", &self.tick_size)?, dec("qty_step", &self.qty_step)?, min))
    }
}

/// The data files a symbol check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// `candles`.
    Candles,
    /// `mark_candles`.
    MarkCandles,
    /// `funding = { file }`.
    Funding,
}

impl DataKind {
    /// What the files hold, for messages.
    pub fn what(self) -> &'static str {
        match self {
            DataKind::Candles => "candles",
            DataKind::MarkCandles => "mark-price candles",
            DataKind::Funding => "funding rates",
        }
    }

    /// The config key that names them.
    pub fn key(self) -> &'static str {
        match self {
            DataKind::Candles => "candles",
            DataKind::MarkCandles => "mark_candles",
            DataKind::Funding => "funding",
        }
    }
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
    /// The data (candles, mark candles, funding rates) are labelled with another symbol.
    #[error(
        "the {} in {} are {data_symbol}, but the {whose}'s symbol is {symbol}; fix \
         `symbol` or `{}` in the {whose} file",
        data.what(),
        files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        data.key()
    )]
    SymbolMismatch {
        /// Which data.
        data: DataKind,
        /// The data files.
        files: Vec<std::path::PathBuf>,
        /// The data's symbol.
        data_symbol: String,
        /// The instrument's symbol.
        symbol: String,
        /// Whose symbol it is ("config", "sweep").
        whose: String,
    },
    /// A saved instrument file that cannot be used.
    #[error(
        "saved instrument {}: {reason}; fetch it again with `gridsweep fetch instrument SYMBOL \
         --save`, or delete the file to use the built-in defaults",
        path.display()
    )]
    Saved {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
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
        Instrument::resolve_with_saved(symbol, tick_size, qty_step, None)
    }

    /// Like [`Instrument::resolve`], with the saved instrument of `symbol` from
    /// [`saved_dir`] (if any) between the explicit steps and the built-in defaults; the
    /// source of the steps is logged at info level.
    ///
    /// # Errors
    /// As [`Instrument::resolve`], and [`InstrumentError::Saved`] for a saved file that
    /// cannot be used.
    pub fn resolve_configured(
        symbol: &str,
        tick_size: Option<Dec>,
        qty_step: Option<Dec>,
    ) -> Result<Instrument, InstrumentError> {
        let dir = saved_dir();
        // With both steps in the config, a broken saved file only costs its funding interval
        // and minimum notional: warn instead of refusing the config.
        let saved = match SavedInstrument::load(&dir, symbol) {
            Err(e) if tick_size.is_some() && qty_step.is_some() => {
                log::warn!("{e}; ignored, since the config sets tick_size and qty_step");
                None
            }
            other => other?,
        };
        let i = Instrument::resolve_with_saved(symbol, tick_size, qty_step, saved.as_ref())?;
        let file = match saved {
            Some(_) => {
                format!(" (saved instrument: {})", SavedInstrument::path_in(&dir, symbol).display())
            }
            None => String::new(),
        };
        log::info!(
            "{symbol}: tick_size {} and qty_step {} from {}{file}",
            i.tick_size,
            i.qty_step,
            i.steps_from
        );
        Ok(i)
    }

    /// The instrument from explicit steps, then `saved`, then the built-in defaults, field
    /// by field; funding interval and minimum notional come from `saved` only.
    ///
    /// # Errors
    /// As [`Instrument::resolve`], and [`InstrumentError::Saved`] when `saved` holds steps
    /// that are not positive decimals.
    pub fn resolve_with_saved(
        symbol: &str,
        tick_size: Option<Dec>,
        qty_step: Option<Dec>,
        saved: Option<&SavedInstrument>,
    ) -> Result<Instrument, InstrumentError> {
        let saved_steps = match saved {
            Some(s) => Some(s.steps().map_err(|reason| InstrumentError::Saved {
                path: SavedInstrument::path_in(&saved_dir(), symbol),
                reason,
            })?),
            None => None,
        };
        let defaults = default_steps(symbol);
        let pick = |given: Option<Dec>, saved: Option<Dec>, builtin: Option<Dec>, field| match (
            given, saved, builtin,
        ) {
            (Some(v), _, _) => Ok((v, StepSource::Config)),
            (None, Some(v), _) => Ok((v, StepSource::Saved)),
            (None, None, Some(v)) => Ok((v, StepSource::Builtin)),
            (None, None, None) => {
                Err(InstrumentError::NoDefault { field, symbol: symbol.to_string() })
            }
        };
        let (tick_size, tick_from) =
            pick(tick_size, saved_steps.map(|s| s.0), defaults.map(|d| d.0), "tick_size")?;
        let (qty_step, qty_from) =
            pick(qty_step, saved_steps.map(|s| s.1), defaults.map(|d| d.1), "qty_step")?;
        if tick_size.mantissa() <= 0 {
            return Err(InstrumentError::NotPositive { field: "tick_size", value: tick_size });
        }
        if qty_step.mantissa() <= 0 {
            return Err(InstrumentError::NotPositive { field: "qty_step", value: qty_step });
        }
        Ok(Instrument {
            symbol: symbol.to_string(),
            tick_size,
            qty_step,
            funding_interval_min: saved.and_then(|s| s.funding_interval_min),
            min_notional: saved_steps.and_then(|s| s.2),
            steps_from: StepsFrom { tick_size: tick_from, qty_step: qty_from },
        })
    }

    /// Refuses data (candles) labelled `data_symbol` when it is another symbol; unlabelled
    /// data (`None`) passes. `files` and `whose` ("config", "sweep") name the inputs to fix.
    ///
    /// # Errors
    /// [`InstrumentError::SymbolMismatch`], whose message names both symbols, the files and
    /// what to fix.
    pub fn check_data_symbol(
        &self,
        data: DataKind,
        data_symbol: Option<&str>,
        files: &[std::path::PathBuf],
        whose: &str,
    ) -> Result<(), InstrumentError> {
        match data_symbol {
            Some(s) if s != self.symbol => Err(InstrumentError::SymbolMismatch {
                data,
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
        let e =
            i.check_data_symbol(DataKind::Candles, Some("LTCUSDT"), &files, "sweep").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the candles in a.parquet, b.parquet are LTCUSDT, but the sweep's symbol is \
             BTCUSDT; fix `symbol` or `candles` in the sweep file"
        );
        assert_eq!(
            i.check_data_symbol(DataKind::Candles, Some("BTCUSDT"), &files, "sweep"),
            Ok(())
        );
        assert_eq!(i.check_data_symbol(DataKind::Candles, None, &files, "sweep"), Ok(()));
        // Mark candles and funding name their own key (the fix is in that key, not `candles`).
        let one = [std::path::PathBuf::from("m.parquet")];
        let e = i.check_data_symbol(DataKind::MarkCandles, Some("ETHUSDT"), &one, "config");
        assert_eq!(
            e.unwrap_err().to_string(),
            "the mark-price candles in m.parquet are ETHUSDT, but the config's symbol is \
             BTCUSDT; fix `symbol` or `mark_candles` in the config file"
        );
        let e = i.check_data_symbol(DataKind::Funding, Some("ETHUSDT"), &one, "sweep");
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("the funding rates in m.parquet are ETHUSDT"));
    }

    #[test]
    fn test_config_then_saved_then_builtin() {
        let saved = SavedInstrument {
            symbol: "BTCUSDT".into(),
            tick_size: "0.10".into(),
            qty_step: "0.005".into(),
            min_notional: Some("5".into()),
            funding_interval_min: Some(480),
            max_leverage: Some("100.00".into()),
            source: "test".into(),
            fetched_at: "2026-01-01T00:00:00Z".into(),
        };
        let d = |s| Dec::parse(s).ok();
        let i = Instrument::resolve_with_saved("BTCUSDT", d("0.5"), None, Some(&saved)).unwrap();
        assert_eq!((i.tick_size, i.qty_step), (d("0.5").unwrap(), d("0.005").unwrap()));
        assert_eq!(i.steps_from.to_string(), "tick_size config, qty_step saved");
        assert_eq!((i.funding_interval_min, i.min_notional), (Some(480), d("5")));
        let i = Instrument::resolve("BTCUSDT", None, None).unwrap();
        assert_eq!(i.steps_from.to_string(), "builtin");
        assert_eq!((i.funding_interval_min, i.min_notional), (None, None));
        // A symbol without built-ins resolves from its saved file alone.
        let mut other = saved.clone();
        other.symbol = "ZZZUSDT".into();
        let i = Instrument::resolve_with_saved("ZZZUSDT", None, None, Some(&other)).unwrap();
        assert_eq!(i.steps_from, StepsFrom::both(StepSource::Saved));
    }

    #[test]
    fn test_saved_file_round_trip_and_bad_file() {
        let dir = std::env::temp_dir().join(format!("gridsweep-inst-{}", std::process::id()));
        let s = SavedInstrument {
            symbol: "ETHUSDT".into(),
            tick_size: "0.01".into(),
            qty_step: "0.01".into(),
            min_notional: None,
            funding_interval_min: None,
            max_leverage: None,
            source: "test".into(),
            fetched_at: "x".into(),
        };
        let p = s.save(&dir).unwrap();
        assert_eq!(SavedInstrument::load(&dir, "ETHUSDT").unwrap(), Some(s));
        assert_eq!(SavedInstrument::load(&dir, "BTCUSDT").unwrap(), None);
        std::fs::write(&p, "{").unwrap();
        let e = SavedInstrument::load(&dir, "ETHUSDT").unwrap_err();
        assert!(e.to_string().contains("--save"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
