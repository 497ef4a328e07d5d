//! The configuration front end shared by `backtest` configs and sweep files: the data
//! section (`symbol`, `tick_size`, `qty_step`, `candles`, `start`, `end`, `tiers`) and the
//! parameters, parsed by the same code with the same messages, and one loader of the
//! candles, the tier table and the instrument.
//!
//! A problem is a [`Problem`]: the field path and a sentence that does not repeat it. The
//! backtest prints `file: field: message` per line, the sweep `  field: message` under a
//! heading, so the same mistake reads the same in both.

use std::path::{Path, PathBuf};

use super::backtest::TierChoice;
use super::fields::{self, ParamKind, ParamValue};
#[cfg(feature = "parquet")]
use crate::candles::{CandleSlice, Candles};
use crate::decimal::Dec;
use crate::engine::RunParams;
use crate::instrument::Instrument;
use crate::tiers::note::Note;
use crate::tiers::source::resolve;
use crate::tiers::{SharedTiers, TierLayer};
use crate::time::{format_iso, nonexistent_day, parse_iso};

/// The keys of the data section, shared by backtest configs and sweep files.
pub const DATA_KEYS: &[&str] = &[
    "symbol",
    "tick_size",
    "qty_step",
    "candles",
    "mark_candles",
    "start",
    "end",
    "tiers",
    "funding",
];

/// Where a run's funding rates come from (`funding`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FundingChoice {
    /// The constant `funding_rate` parameter on the funding clock (the default).
    #[default]
    Constant,
    /// A funding series (`funding = { file = "FILE.parquet" }`) applied at its own times.
    File(PathBuf),
}

/// One problem in a config or sweep file: where (`tick_size`, `axes.leverage.step`) and
/// what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `axes.leverage.step`; empty for the file as a whole.
    pub path: String,
    /// A sentence saying what is wrong and how to fix it (without the path).
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Reads a decimal from a TOML string, integer or float (floats by their shortest repr).
pub fn toml_dec(v: &toml::Value) -> Option<Dec> {
    match v {
        toml::Value::String(s) => Dec::parse(s).ok(),
        toml::Value::Integer(i) => Some(Dec::from_int(*i)),
        toml::Value::Float(f) => Dec::from_f64_shortest(*f),
        _ => None,
    }
}

/// Parses a `tiers` value: `"builtin"`, `"origin"`, `{ cache = "path" }` or `{ file = "path" }`.
///
/// # Errors
/// A sentence (without the field name) saying which forms are accepted.
pub fn parse_tiers(v: &toml::Value) -> Result<TierChoice, String> {
    let help = "must be \"builtin\" (shipped Bybit snapshots), \"origin\" (the origin's hard-coded tables), { cache = \"conf/risk_limits_cache.json\" } or { file = \"tiers.json\" }";
    match v {
        toml::Value::String(s) if s == "builtin" => Ok(TierChoice::Builtin),
        toml::Value::String(s) if s == "origin" => Ok(TierChoice::Origin),
        toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
            Some((k, toml::Value::String(p))) if k == "cache" => {
                Ok(TierChoice::Cache(PathBuf::from(p)))
            }
            Some((k, toml::Value::String(p))) if k == "file" => {
                Ok(TierChoice::File(PathBuf::from(p)))
            }
            _ => Err(help.to_string()),
        },
        _ => Err(help.to_string()),
    }
}

/// Parses a list of paths given as a string or an array of strings.
///
/// # Errors
/// A sentence (without the field name).
pub fn parse_paths(v: &toml::Value) -> Result<Vec<PathBuf>, String> {
    let bad = || "must be a path or a list of paths".to_string();
    match v {
        toml::Value::String(s) => Ok(vec![PathBuf::from(s)]),
        toml::Value::Array(a) => {
            a.iter().map(|x| x.as_str().map(PathBuf::from).ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

/// Parses an ISO-8601 UTC time.
///
/// # Errors
/// A sentence (without the field name) naming the accepted formats.
pub fn parse_time(v: &toml::Value) -> Result<i64, String> {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => {
            return Err(
                "must be a UTC time like \"2026-02-01\" or \"2026-02-01T12:00:00Z\"".to_string()
            )
        }
    };
    parse_iso(&s).ok_or_else(|| match nonexistent_day(&s) {
        Some(why) => format!("{s:?} is not a date: {why}"),
        None => format!("{s:?} is not a UTC time like \"2026-02-01\" or \"2026-02-01T12:00:00Z\""),
    })
}

/// Funding entries `(ts_ms, rate)`, strictly ascending.
pub type FundingEvents = Vec<(i64, f64)>;

/// Longest funding interval Bybit uses (8 h): a series with a longer stretch without an
/// entry is missing payments.
pub const MAX_FUNDING_INTERVAL_MS: i64 = 8 * 3_600_000;

/// The entries of a funding series (`(ts_ms, rate)`, strictly ascending) that fall in the
/// candle window `[first_ms, last_ms]` (open times of the first and last candle), checked
/// to cover it: `file` names the series in messages. Returns the entries and a warning
/// for stretches inside the window longer than 8 h without an entry.
///
/// # Errors
/// A series with no entry in the window, or one that starts more than 8 h after the
/// window's start or ends more than 8 h before its end (payments would be missing).
pub fn funding_in_window(
    events: &[(i64, f64)],
    first_ms: i64,
    last_ms: i64,
    file: &Path,
) -> Result<(FundingEvents, Option<String>), String> {
    let f = file.display();
    let span = |a: i64, b: i64| format!("{} .. {}", format_iso(a), format_iso(b));
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(format!("{f}: the funding series is empty"));
    };
    let window = span(first_ms, last_ms);
    let inside: Vec<(i64, f64)> =
        events.iter().copied().filter(|e| e.0 >= first_ms && e.0 <= last_ms + 59_999).collect();
    let covers = span(first.0, last.0);
    if inside.is_empty() {
        return Err(format!(
            "{f}: every funding timestamp lies outside the candle window {window} (the series \
             covers {covers}); fetch the funding of the window (`gridsweep fetch funding \
             SYMBOL --start … --end …`) or fix `start`/`end`"
        ));
    }
    if first.0 > first_ms + MAX_FUNDING_INTERVAL_MS || last.0 < last_ms - MAX_FUNDING_INTERVAL_MS {
        return Err(format!(
            "{f}: the funding series covers {covers}, not the whole candle window {window} \
             (payments more than 8 h from its ends would be missing); fetch the funding of \
             the whole window or narrow `start`/`end`"
        ));
    }
    let gaps: Vec<(i64, i64)> = inside
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 > MAX_FUNDING_INTERVAL_MS)
        .map(|w| (w[0].0, w[1].0))
        .collect();
    let warning = (!gaps.is_empty()).then(|| {
        let shown: Vec<String> = gaps.iter().take(3).map(|&(a, b)| span(a, b)).collect();
        format!(
            "{f}: {} stretch(es) of more than 8 h without a funding entry inside the window \
             ({}{}): no funding is paid there",
            gaps.len(),
            shown.join(", "),
            if gaps.len() > 3 { ", …" } else { "" }
        )
    });
    Ok((inside, warning))
}

/// Reads `funding`: `"constant"` or `{ file = "FILE.parquet" }`.
fn parse_funding(v: &toml::Value) -> Result<FundingChoice, String> {
    const HOW: &str = "must be \"constant\" (the funding_rate parameter) or a funding series, \
                       funding = { file = \"FUNDING.parquet\" } (from `gridsweep fetch funding` \
                       or `gridsweep import`)";
    match v {
        toml::Value::String(s) if s == "constant" => Ok(FundingChoice::Constant),
        toml::Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| k.as_str() != "file") {
                return Err(format!("unknown key `{k}`; {HOW}"));
            }
            match t.get("file").and_then(|f| f.as_str()) {
                Some(f) if !f.is_empty() => Ok(FundingChoice::File(PathBuf::from(f))),
                _ => Err(HOW.to_string()),
            }
        }
        _ => Err(HOW.to_string()),
    }
}

/// The data section: instrument, candle files, window and tier source.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSection {
    /// Symbol, tick size and quantity step (`symbol`, `tick_size`, `qty_step`).
    pub instrument: Instrument,
    /// Candle Parquet files (`candles`; empty when not given and not required).
    pub candles: Vec<PathBuf>,
    /// Mark-price candle files (`mark_candles`; empty: liquidation follows the last price).
    pub mark_candles: Vec<PathBuf>,
    /// Window start (`start`, UTC epoch ms, inclusive).
    pub start_ms: Option<i64>,
    /// Window end (`end`, UTC epoch ms, exclusive).
    pub end_ms: Option<i64>,
    /// Tier source (`tiers`, default builtin).
    pub tiers: TierChoice,
    /// Funding source (`funding`, default the constant rate).
    pub funding: FundingChoice,
}

impl DataSection {
    /// Reads the data keys of `table`, pushing every problem to `problems`;
    /// `candles_required` makes a missing or empty `candles` a problem (sweeps).
    /// Returns the section when its own keys had no problem.
    pub fn parse(
        table: &toml::Table,
        candles_required: bool,
        problems: &mut Vec<Problem>,
    ) -> Option<DataSection> {
        let before = problems.len();
        let mut push = |path: &str, m: String| problems.push(Problem::new(path, m));
        let symbol = match table.get("symbol") {
            None => {
                push("symbol", "is required, e.g. symbol = \"BTCUSDT\"".into());
                None
            }
            Some(v) => match v.as_str() {
                Some(s) if !s.is_empty() => Some(s.to_string()),
                _ => {
                    push("symbol", "must be a non-empty string like \"BTCUSDT\"".into());
                    None
                }
            },
        };
        let mut dec_field = |key: &str, example: &str| {
            table.get(key).and_then(|v| {
                let d = toml_dec(v);
                if d.is_none() {
                    push(key, format!("must be a decimal number like \"{example}\""));
                }
                d
            })
        };
        let tick = dec_field("tick_size", "0.1");
        let step = dec_field("qty_step", "0.001");
        let instrument =
            symbol.as_deref().and_then(|s| match Instrument::resolve_configured(s, tick, step) {
                Ok(i) => Some(i),
                Err(e) => {
                    push("", e.to_string());
                    None
                }
            });
        let candles = match table.get("candles").map(parse_paths) {
            Some(Err(e)) => {
                push("candles", e);
                Vec::new()
            }
            Some(Ok(p)) if p.is_empty() && candles_required => {
                push("candles", "must name at least one Parquet file".into());
                p
            }
            None if candles_required => {
                push(
                    "candles",
                    "is required: one Parquet file or a list, e.g. \
                     candles = \"data/BTCUSDT-1m-2026-02.parquet\""
                        .into(),
                );
                Vec::new()
            }
            Some(Ok(p)) => p,
            None => Vec::new(),
        };
        let mark_candles = match table.get("mark_candles").map(parse_paths) {
            Some(Err(e)) => {
                push("mark_candles", e);
                Vec::new()
            }
            Some(Ok(p)) => p,
            None => Vec::new(),
        };
        let funding = match table.get("funding") {
            None => FundingChoice::Constant,
            Some(v) => parse_funding(v).unwrap_or_else(|e| {
                push("funding", e);
                FundingChoice::Constant
            }),
        };
        let mut time_field = |key: &str| {
            table.get(key).and_then(|v| match parse_time(v) {
                Ok(t) => Some(t),
                Err(e) => {
                    push(key, e);
                    None
                }
            })
        };
        let start_ms = time_field("start");
        let end_ms = time_field("end");
        if let (Some(a), Some(b)) = (start_ms, end_ms) {
            if a >= b {
                push("end", "must be later than start (the window is [start, end))".into());
            }
        }
        let tiers = match table.get("tiers") {
            None => TierChoice::Builtin,
            Some(v) => parse_tiers(v).unwrap_or_else(|e| {
                push("tiers", e);
                TierChoice::Builtin
            }),
        };
        match instrument {
            Some(instrument) if problems.len() == before => Some(DataSection {
                instrument,
                candles,
                mark_candles,
                start_ms,
                end_ms,
                tiers,
                funding,
            }),
            _ => None,
        }
    }

    /// The files the section reads, each with its role ("a candle file", "the tier cache"),
    /// for the output guard (outputs never replace an input); `candles` overrides the
    /// section's candle files.
    pub fn input_files<'a>(
        &'a self,
        candles: Option<&'a [PathBuf]>,
    ) -> Vec<(&'static str, &'a Path)> {
        let mut out: Vec<(&'static str, &Path)> = Vec::new();
        out.extend(candles.unwrap_or(&self.candles).iter().map(|p| ("a candle file", p.as_path())));
        out.extend(self.mark_candles.iter().map(|p| ("a mark-price file", p.as_path())));
        match &self.tiers {
            TierChoice::Builtin | TierChoice::Origin => {}
            TierChoice::Cache(p) => out.push(("the tier cache", p)),
            TierChoice::File(p) => out.push(("the tier file", p)),
        }
        if let FundingChoice::File(p) = &self.funding {
            out.push(("the funding file", p));
        }
        out
    }

    /// Resolves the tier table of the section's symbol (before any run, once).
    ///
    /// # Errors
    /// A sentence naming the symbol and the tier problem.
    pub fn resolve_tiers(&self) -> Result<ResolvedTiers, String> {
        let symbol = &self.instrument.symbol;
        let r = resolve(&self.tiers.to_source(), symbol)
            .map_err(|e| format!("cannot resolve risk-limit tiers for {symbol}: {e}"))?;
        Ok(ResolvedTiers { tiers: std::sync::Arc::new(r.table), layer: r.layer, notes: r.notes })
    }

    /// Opens the candle files `paths` (the section's own unless overridden), refuses
    /// candles of another symbol and an empty window, and attaches the mark-price path of
    /// `mark_candles` when given (the candles are then cut to the window); `whose`
    /// ("config", "sweep") names the file to fix.
    ///
    /// # Errors
    /// Unreadable or invalid candles, another symbol's candles, an empty window, a candle
    /// of the window without a mark candle.
    #[cfg(feature = "parquet")]
    pub fn open_candles(&self, paths: &[PathBuf], whose: &str) -> Result<Candles, String> {
        let list = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let candles =
            Candles::open_parquet(paths).map_err(|e| format!("cannot open candles {list}: {e}"))?;
        self.instrument
            .check_data_symbol(crate::instrument::DataKind::Candles, candles.symbol(), paths, whose)
            .map_err(|e| e.to_string())?;
        if candles.window(self.start_ms, self.end_ms).is_empty() {
            let range = match (candles.first_ts_ms(), candles.last_ts_ms()) {
                (Some(a), Some(b)) => format!("{} .. {}", format_iso(a), format_iso(b)),
                _ => "nothing".into(),
            };
            return Err(format!(
                "no candles between start and end in {list}; the data covers {range}: fix \
                 `start`/`end` in the {whose} file"
            ));
        }
        for p in paths {
            if crate::candles::parquet_io::price_kind(p).as_deref() == Some("mark") {
                log::warn!(
                    "{} holds mark prices (fetched with --price mark), given as `candles`: \
                     orders fill on them; give it as `mark_candles` and the last-price candles \
                     as `candles`",
                    p.display()
                );
            }
        }
        for p in &self.mark_candles {
            if crate::candles::parquet_io::price_kind(p).as_deref() == Some("last") {
                log::warn!(
                    "{} holds last traded prices (fetched with --price last), given as \
                     `mark_candles`: liquidation follows them; fetch the mark prices with \
                     `gridsweep fetch klines SYMBOL --price mark`",
                    p.display()
                );
            }
        }
        if self.mark_candles.is_empty() {
            return Ok(candles);
        }
        let files = &self.mark_candles;
        let list = files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let mark = Candles::open_parquet(files)
            .map_err(|e| format!("cannot open mark_candles {list}: {e}"))?;
        self.instrument
            .check_data_symbol(
                crate::instrument::DataKind::MarkCandles,
                mark.symbol(),
                files,
                whose,
            )
            .map_err(|e| e.to_string())?;
        candles
            .with_mark(&mark, self.start_ms, self.end_ms, files)
            .map_err(|e| format!("mark_candles: {e}"))
    }

    /// The one loader: the tier table, then the candles of the section (or `paths`).
    ///
    /// # Errors
    /// As [`DataSection::resolve_tiers`] and [`DataSection::open_candles`].
    #[cfg(feature = "parquet")]
    pub fn load(&self, paths: Option<&[PathBuf]>, whose: &str) -> Result<LoadedData, String> {
        let tiers = self.resolve_tiers()?;
        let candles = self.open_candles(paths.unwrap_or(&self.candles), whose)?;
        let window = candles.window(self.start_ms, self.end_ms);
        let gap_warning = window.gaps().warning();
        let (funding, funding_warning) = match &self.funding {
            FundingChoice::Constant => (None, None),
            FundingChoice::File(path) => {
                let (first, last) = (window.ts_ms[0], window.ts_ms[window.len() - 1]);
                let (events, warning) = self.open_funding(path, first, last, whose)?;
                (Some(events), warning)
            }
        };
        Ok(LoadedData {
            instrument: self.instrument.clone(),
            candles,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            tiers,
            gap_warning,
            funding,
            funding_warning,
        })
    }

    /// Reads the funding series `path`, refuses another symbol's, and keeps its entries in
    /// the candle window `[first_ms, last_ms]` (open times; see [`funding_in_window`]).
    ///
    /// # Errors
    /// An unreadable or invalid series, another symbol's, one that does not cover the window.
    #[cfg(feature = "parquet")]
    pub fn open_funding(
        &self,
        path: &Path,
        first_ms: i64,
        last_ms: i64,
        whose: &str,
    ) -> Result<(FundingEvents, Option<String>), String> {
        let series = crate::funding::read_funding_parquet(path).map_err(|e| e.to_string())?;
        if let Ok(Some(symbol)) = crate::funding::read_funding_symbol(path) {
            let files = [path.to_path_buf()];
            self.instrument
                .check_data_symbol(
                    crate::instrument::DataKind::Funding,
                    Some(&symbol),
                    &files,
                    whose,
                )
                .map_err(|e| e.to_string())?;
        }
        funding_in_window(&series.events, first_ms, last_ms, path)
    }
}

/// A resolved tier table: frozen, with its layer and the notes emitted on the way.
#[derive(Clone, Debug)]
pub struct ResolvedTiers {
    /// The frozen table.
    pub tiers: SharedTiers,
    /// Where it came from.
    pub layer: TierLayer,
    /// Notes (already logged), e.g. the fallback to the origin's table.
    pub notes: Vec<Note>,
}

#[cfg(feature = "parquet")]
/// What the loader returns: instrument, candles (with their window) and tiers.
#[derive(Debug)]
pub struct LoadedData {
    /// The instrument.
    pub instrument: Instrument,
    /// All candles of the files, decoded once.
    pub candles: Candles,
    /// Window start (inclusive).
    pub start_ms: Option<i64>,
    /// Window end (exclusive).
    pub end_ms: Option<i64>,
    /// The tier table.
    pub tiers: ResolvedTiers,
    /// The gap warning of the window, if it has gaps (print it as `warning: …`).
    pub gap_warning: Option<String>,
    /// The funding series of the window (`funding = { file = … }`), `None` for the constant
    /// rate.
    pub funding: Option<FundingEvents>,
    /// A warning about stretches of the funding series without entries.
    pub funding_warning: Option<String>,
}

#[cfg(feature = "parquet")]
impl LoadedData {
    /// The candles of the window (never empty).
    pub fn window(&self) -> CandleSlice<'_> {
        self.candles.window(self.start_ms, self.end_ms)
    }
}

/// The message for an unknown parameter name (without the name).
pub fn unknown_param(k: &str) -> String {
    if k == "long_koef" {
        return "was renamed to early_imbalance_multiplier; rename it".into();
    }
    if let Some(w) = fields::ignored_param(k) {
        return format!("{}; remove it", w.trim_start_matches(k).trim_start());
    }
    format!("unknown parameter; valid parameters are: {}", fields::names())
}

/// The word for a parameter kind in messages.
pub fn kind_word(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Int => "whole number",
        ParamKind::Float => "number",
        ParamKind::Bool => "true or false",
        ParamKind::Text => "string",
    }
}

/// Drops a leading `"name "` / `"name: "` from registry messages (the path names it already).
pub fn strip_name(msg: &str, name: &str) -> String {
    msg.strip_prefix(name)
        .map(|r| r.trim_start_matches(':').trim_start())
        .filter(|r| !r.is_empty())
        .unwrap_or(msg)
        .to_string()
}

/// Sets parameter `key` of `params` from a TOML value; returns its registry name.
///
/// # Errors
/// A sentence (without the name): unknown parameter, wrong type or bad value.
pub fn set_toml_param(
    params: &mut RunParams,
    key: &str,
    v: &toml::Value,
) -> Result<&'static str, String> {
    let Some(spec) = fields::spec(key) else { return Err(unknown_param(key)) };
    let Some(pv) = ParamValue::from_toml(v) else {
        return Err(format!("must be a single {}", kind_word(spec.kind)));
    };
    fields::set_param(params, key, &pv).map_err(|e| strip_name(&e, key))?;
    Ok(spec.name)
}

/// Pushes the problems of `params.validate` (leverage is checked against the tier table
/// later) for the fields `keep` accepts, each at `prefix` + field.
pub fn validate_params(
    params: &RunParams,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) {
    if let Err(list) = params.validate(f64::INFINITY) {
        for e in list.into_iter().filter(|e| keep(e.field)) {
            problems.push(Problem::new(format!("{prefix}{}", e.field), e.message));
        }
    }
}
