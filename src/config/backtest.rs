//! The backtest config: a flat TOML table with the origin's field names.
//!
//! Parsing is two-stage: the TOML table is read key by key into [`BacktestConfig`],
//! collecting every problem (with its field name) before reporting them all at once.

use std::path::{Path, PathBuf};

use super::common::{set_toml_param, validate_params, DataSection, Problem, DATA_KEYS};
use super::fields;
use crate::engine::RunParams;

/// Where a run's tier table comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TierChoice {
    /// The shipped snapshot of the symbol's real Bybit table (else the origin's, warned).
    Builtin,
    /// The origin's hard-coded tables (BTCUSDT, ETHUSDT, DEFAULT), as the origin used them.
    Origin,
    /// The risk-limit cache file, read through the provider without a client.
    Cache(PathBuf),
    /// An explicit JSON file: a Bybit API response or a cache-format entry.
    File(PathBuf),
}

impl TierChoice {
    /// The tier provider's source for this choice.
    pub fn to_source(&self) -> crate::tiers::source::TierSource {
        use crate::tiers::source::TierSource;
        match self {
            TierChoice::Builtin => TierSource::Builtin,
            TierChoice::Origin => TierSource::Origin,
            TierChoice::Cache(p) => TierSource::CacheFile(p.clone()),
            TierChoice::File(p) => TierSource::ExplicitJson(p.clone()),
        }
    }
}

/// Why a backtest config was refused ([`BacktestConfig::load`], [`BacktestConfig::parse`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("{}: not valid TOML: {source}", path.display())]
    Toml {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's error (with line and column).
        source: toml::de::Error,
    },
    /// The TOML is read but fields are wrong: every problem, each naming its field.
    #[error("{}", problem_lines(path, problems))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// One sentence per problem, each starting with the field it is about.
        problems: Vec<String>,
    },
}

impl ConfigError {
    /// The config file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Toml { path, .. }
            | ConfigError::Invalid { path, .. } => path,
        }
    }
}

/// `path: problem`, one per line.
fn problem_lines(path: &Path, problems: &[String]) -> String {
    problems.iter().map(|e| format!("{}: {e}", path.display())).collect::<Vec<_>>().join("\n")
}

/// Keys the origin accepts that gridsweep reads and ignores.
pub const IGNORED_KEYS: &[&str] = &[
    "strat_id",
    "max_margin",
    "hedge_smaller_buffer_factor",
    "database_url",
    "instrument_cache_ttl_hours",
];

/// A validated backtest configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestConfig {
    /// The data section: instrument, candle files (may be empty when ticks are given on
    /// the command line), mark-price files, window, tier and funding sources.
    pub data: DataSection,
    /// Strategy and account parameters.
    pub params: RunParams,
    /// Things that are allowed but probably not meant (e.g. an `amount` below the 5-USDT
    /// order floor), one sentence each naming the file and field; print them as
    /// `warning: …` before the run.
    pub warnings: Vec<String>,
}

pub use super::common::{parse_paths, parse_tiers, parse_time, toml_dec};

impl BacktestConfig {
    /// Parses and validates config text; `origin` names the file in messages.
    ///
    /// # Errors
    /// [`ConfigError::Toml`], or [`ConfigError::Invalid`] with every problem found, each
    /// naming its field.
    pub fn parse(text: &str, origin: &Path) -> Result<BacktestConfig, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|source| ConfigError::Toml { path: origin.to_path_buf(), source })?;
        let mut problems: Vec<Problem> = Vec::new();
        let data = DataSection::parse(&table, false, &mut problems);
        let mut params = RunParams::default();
        let mut cache_path = None;
        let mut ignored: Vec<String> = Vec::new();
        for (key, v) in &table {
            match key.as_str() {
                k if DATA_KEYS.contains(&k) || IGNORED_KEYS.contains(&k) => {}
                "risk_limits_cache_path" => match v.as_str() {
                    Some(p) => cache_path = Some(PathBuf::from(p)),
                    None => problems.push(Problem::new(key, "must be a path")),
                },
                k if fields::ignored_param(k).is_some() => {
                    ignored.extend(fields::ignored_param(k).map(String::from));
                }
                k => {
                    if let Err(e) = set_toml_param(&mut params, k, v) {
                        problems.push(Problem::new(k, e));
                    }
                }
            }
        }
        // Every parameter of a backtest is fixed: defaults and set values alike.
        validate_params(&params, "", |_| true, &mut problems);
        let warnings = config_warnings(&params, ignored, origin);
        match data {
            Some(mut data) if problems.is_empty() => {
                // The origin's key for the cache file; an explicit `tiers` wins.
                if let (Some(p), false) = (cache_path, table.contains_key("tiers")) {
                    data.tiers = TierChoice::Cache(p);
                }
                Ok(BacktestConfig { data, params, warnings })
            }
            _ => Err(ConfigError::Invalid {
                path: origin.to_path_buf(),
                problems: problems.iter().map(ToString::to_string).collect(),
            }),
        }
    }

    /// Refuses candles labelled with another symbol than the config's (the check sweeps
    /// make); `files` names the candle files in the message.
    ///
    /// # Errors
    /// A sentence naming both symbols and the files.
    pub fn check_candle_symbol(
        &self,
        candle_symbol: Option<&str>,
        files: &[PathBuf],
    ) -> Result<(), crate::instrument::InstrumentError> {
        self.data.instrument.check_data_symbol(
            crate::instrument::DataKind::Candles,
            candle_symbol,
            files,
            "config",
        )
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, or [`BacktestConfig::parse`]'s.
    pub fn load(path: &Path) -> Result<BacktestConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        BacktestConfig::parse(&text, path)
    }
}

/// Warnings about a valid config, each prefixed with `origin`.
fn config_warnings(params: &RunParams, ignored: Vec<String>, origin: &Path) -> Vec<String> {
    ignored
        .into_iter()
        .chain(fields::amount_warning(&params.grid.amount))
        .map(|w| format!("{}: {w}", origin.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Model, WindDown};

    fn parse(s: &str) -> Result<BacktestConfig, String> {
        BacktestConfig::parse(s, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_are_typed() {
        // Issue 14 item 20: config errors were bare Strings.
        let e = BacktestConfig::load(Path::new("/nonexistent/c.toml")).unwrap_err();
        match &e {
            ConfigError::Read { path, source } => {
                assert_eq!(path, Path::new("/nonexistent/c.toml"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("cannot read config /nonexistent/c.toml: "), "{e}");
        let e = BacktestConfig::parse("x = ", Path::new("t.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Toml { .. }), "{e:?}");
        assert!(e.to_string().starts_with("t.toml: not valid TOML: "), "{e}");
        let e = BacktestConfig::parse("grid_step = \"a\"", Path::new("t.toml")).unwrap_err();
        let ConfigError::Invalid { problems, .. } = &e else { panic!("{e:?}") };
        assert_eq!(problems.len(), 2, "{problems:?}"); // grid_step, and the missing symbol
        assert!(problems.iter().any(|p| p.starts_with("grid_step")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("symbol: is required")), "{problems:?}");
        assert_eq!(e.path(), Path::new("t.toml"));
        assert_eq!(e.to_string().lines().count(), 2);
        assert!(e.to_string().lines().all(|l| l.starts_with("t.toml: ")), "{e}");
    }

    #[test]
    fn parses_origin_field_names() {
        let c = parse(
            r#"
            symbol = "BTCUSDT"
            tick_size = "0.1"
            grid_count = 50
            grid_step = 0.2
            amount = "x0.001"
            commission_rate = 0.0002
            enable_risk_multipliers = false
            initial_balance = 10000
            enable_funding = true
            funding_rate = 0.0001
            wind_down_mode = "close_all"
            model = "origin"
            leverage = 20
            strat_id = "ignored"
            candles = ["a.parquet", "b.parquet"]
            start = "2026-02-01"
            tiers = { cache = "conf/risk_limits_cache.json" }
            "#,
        )
        .unwrap();
        assert_eq!(c.data.instrument.qty_step.to_string(), "0.001");
        assert_eq!(c.params.account.model, Model::Origin);
        assert_eq!(c.params.account.wind_down, WindDown::CloseAll);
        assert_eq!(c.params.account.leverage, 20.0);
        assert!(!c.params.grid.enable_risk_multipliers);
        assert_eq!(c.data.candles.len(), 2);
        assert_eq!(c.data.start_ms, Some(1_769_904_000_000));
        assert_eq!(c.data.tiers, TierChoice::Cache("conf/risk_limits_cache.json".into()));
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let e = parse("grid_count = 2\ngrid_stepp = 1\namount = \"b1\"\nwind_down_mode = \"x\"")
            .unwrap_err();
        for needle in [
            "grid_count",
            "grid_stepp",
            "amount",
            "wind_down_mode",
            "symbol: is required",
            "t.toml",
        ] {
            assert!(e.contains(needle), "{needle} missing in:\n{e}");
        }
        assert!(parse("symbol = \"ZZZUSDT\"").unwrap_err().contains("tick_size"));
        assert!(parse("symbol = \"BTCUSDT\"\nstart = \"2026-02-02\"\nend = \"2026-02-01\"")
            .unwrap_err()
            .contains("start"));
        assert!(parse("not toml =").unwrap_err().contains("not valid TOML"));
    }

    #[test]
    fn nonexistent_dates_are_refused_with_the_reason() {
        // Regression: `end = "2026-02-30"` was accepted (as 2026-03-02).
        let e = parse("symbol = \"BTCUSDT\"\nend = \"2026-02-30\"").unwrap_err();
        assert!(
            e.contains("t.toml: end: \"2026-02-30\" is not a date: day 30 does not exist in 2026-02, which has 28 days"),
            "{e}"
        );
        let e = parse("symbol = \"BTCUSDT\"\nstart = \"2025-02-29T00:00:00Z\"").unwrap_err();
        assert!(e.contains("start") && e.contains("2025-02"), "{e}");
        // 2024-02-29 exists: 19 782 days after 1970-01-01.
        let c = parse("symbol = \"BTCUSDT\"\nstart = \"2024-02-29\"").unwrap();
        assert_eq!(c.data.start_ms, Some(19_782 * 86_400_000));
    }

    #[test]
    fn huge_initial_balance_is_refused() {
        // Regression: initial_balance = 1e300 ran, and every money figure came out 0.
        let e = parse("symbol = \"BTCUSDT\"\ninitial_balance = 1e300").unwrap_err();
        assert!(
            e.contains("t.toml: initial_balance: must be at most 1e12 USDT (was 1e300)"),
            "{e}"
        );
        let c = parse("symbol = \"BTCUSDT\"\ninitial_balance = 1_000_000_000_000").unwrap();
        assert_eq!(c.params.account.initial_balance, 1e12);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn amount_below_the_floor_is_a_warning_naming_the_field() {
        // Regression: "0.01" (meant as "x0.01") silently became 5-USDT orders.
        let c = parse("symbol = \"BTCUSDT\"\namount = \"0.01\"").unwrap();
        assert_eq!(c.warnings.len(), 1);
        let w = &c.warnings[0];
        assert!(w.starts_with("t.toml: amount = \"0.01\" is 0.01 USDT per order"), "{w}");
        assert!(w.contains("amount = \"x0.01\""), "{w}");
        // A bare number is the same amount.
        assert_eq!(parse("symbol = \"BTCUSDT\"\namount = 0.5").unwrap().warnings.len(), 1);
        assert!(parse("symbol = \"BTCUSDT\"\namount = \"x0.01\"").unwrap().warnings.is_empty());
    }

    #[test]
    fn maintenance_margin_rate_loads_with_a_warning() {
        // Regression: maintenance_margin_rate was validated and written to every result row
        // but never read by the engine (the tier table sets the MMR).
        let c = parse("symbol = \"BTCUSDT\"\nmaintenance_margin_rate = 0.005").unwrap();
        assert_eq!(
            c.warnings,
            ["t.toml: maintenance_margin_rate is ignored (the tier table sets the MMR)"]
        );
        assert_eq!(c.params, parse("symbol = \"BTCUSDT\"").unwrap().params);
        // Ignored whatever its value, as the origin's configs set it.
        assert_eq!(
            parse("symbol = \"BTCUSDT\"\nmaintenance_margin_rate = -1").unwrap().warnings.len(),
            1
        );
    }

    #[test]
    fn candles_of_another_symbol_are_refused() {
        let c = parse("symbol = \"BTCUSDT\"").unwrap();
        let files = [PathBuf::from("data/LTCUSDT-1m-2026-02.parquet")];
        let e = c.check_candle_symbol(Some("LTCUSDT"), &files).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the candles in data/LTCUSDT-1m-2026-02.parquet are LTCUSDT, but the config's \
             symbol is BTCUSDT; fix `symbol` or `candles` in the config file"
        );
        assert_eq!(c.check_candle_symbol(Some("BTCUSDT"), &files), Ok(()));
        // Files without a symbol label cannot be checked and are accepted, as in sweeps.
        assert_eq!(c.check_candle_symbol(None, &files), Ok(()));
    }
}
