//! The sweep file (`sweeps/*.toml`): parsed in two stages, raw TOML first, then a validated
//! [`SweepSpec`] with every problem reported at once, each with its field path.
//!
//! Axis order is the order of the keys in the file. The `toml` crate sorts table keys, so the
//! order is recovered from the source positions of the `[axes]` keys (`toml::de::DeTable`
//! spans); it does not depend on the `preserve_order` feature.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::space::{Axis, AxisForm, Space};
use crate::config::common::{
    kind_word, set_toml_param, strip_name, toml_dec, unknown_param, validate_params, DataSection,
    Problem, DATA_KEYS,
};
use crate::config::fields::{self, ParamKind, ParamValue};
use crate::decimal::Dec;
use crate::engine::RunParams;

/// Default size guard: a sweep with more runs is refused unless forced.
pub const DEFAULT_MAX_RUNS: u64 = 1_000_000;

/// No axis may hold more values than this, even when forced (it would not fit in memory).
pub const HARD_MAX_AXIS_VALUES: u64 = 10_000_000;

/// Top-level keys of a sweep file besides the data section's ([`DATA_KEYS`]).
pub const SWEEP_KEYS: &[&str] = &[
    "name",
    "description",
    "params",
    "axes",
    "record",
    "walk_forward",
    "constraints",
    "search",
    "symbols",
];

/// Accepted `[record] period` values and their length in ms.
pub const RECORD_PERIODS: &[(&str, i64)] =
    &[("1h", 3_600_000), ("4h", 14_400_000), ("1d", 86_400_000), ("7d", 604_800_000)];

/// Reads `[record]`: `period = "1h" | "4h" | "1d" | "7d"`, the period length in ms.
fn parse_record(v: &toml::Value, errs: &mut Collector) -> Option<i64> {
    let names: Vec<String> = RECORD_PERIODS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let how = format!("one of {}", names.join(", "));
    let Some(t) = v.as_table() else {
        errs.push("record", format!("must be a table, e.g. [record] period = \"1d\" ({how})"));
        return None;
    };
    for k in t.keys().filter(|k| k.as_str() != "period") {
        errs.push(format!("record.{k}"), "unknown key; [record] takes only `period`");
    }
    match t.get("period").map(|p| p.as_str()) {
        Some(Some(p)) => match RECORD_PERIODS.iter().find(|(n, _)| *n == p) {
            Some(&(_, ms)) => Some(ms),
            None => {
                errs.push("record.period", format!("{p:?} is not a period; use {how}"));
                None
            }
        },
        _ => {
            errs.push("record.period", format!("is required: {how}"));
            None
        }
    }
}

/// Every top-level key of a sweep file, in the order the refusal lists them.
pub fn top_keys() -> Vec<&'static str> {
    let (head, tail) = SWEEP_KEYS.split_at(2);
    let tail = &tail[..2];
    head.iter().chain(DATA_KEYS).chain(tail).chain(&SWEEP_KEYS[4..]).copied().collect()
}

/// Keys of an axis table.
pub const AXIS_KEYS: &[&str] = &["values", "start", "stop", "step", "count", "dist", "low", "high"];

/// One problem in a sweep file: where (`axes.leverage.step`) and what to change (the
/// problem type shared with backtest configs).
pub type SpecProblem = Problem;

/// Every problem found in a sweep file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The file (as given on the command line).
    pub origin: PathBuf,
    /// The problems, in file order.
    pub problems: Vec<SpecProblem>,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {} problem{} in the sweep file",
            self.origin.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            if p.path.is_empty() {
                write!(f, "\n  {}", p.message)?;
            } else {
                write!(f, "\n  {}: {}", p.path, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// How large a sweep may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeLimit {
    /// Largest accepted number of runs.
    pub max_runs: u64,
    /// `--force`: accept any size (axes are still capped at [`HARD_MAX_AXIS_VALUES`]).
    pub force: bool,
}

impl Default for SizeLimit {
    fn default() -> Self {
        SizeLimit { max_runs: DEFAULT_MAX_RUNS, force: false }
    }
}

/// A validated sweep: data, instrument, tier source, fixed parameters and axes.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// Sweep name (the file stem unless `name` is set); names the default output file.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The data section of each symbol, in file order (one for a `symbol` sweep; one per
    /// `[symbols.NAME]` table): instrument, candle files (relative paths are relative to the
    /// working directory), mark-price files, window, tier and funding sources.
    pub symbols: Vec<DataSection>,
    /// Period length of the per-period record (`[record] period`), if asked for.
    pub record_ms: Option<i64>,
    /// The walk-forward section (`[walk_forward]`), if any.
    pub walk_forward: Option<super::walk_forward::WalkForwardSpec>,
    /// The parameter space: base parameters (defaults + `[params]`) and the axes.
    pub space: Space,
    /// `[constraints]`: limits that stop a run at the first tick breaking one.
    pub constraints: crate::engine::StopLimits,
    /// `[search] method = "halving"` (`None`: the exhaustive grid).
    pub search: Option<super::search::Halving>,
    /// The file text, exactly as read (stored in the result metadata).
    pub text: String,
    /// SHA-256 (hex) of the file text: identifies the sweep for resume and merge.
    pub text_sha256: String,
    /// Things that are allowed but probably not meant (e.g. an `amount` below the 5-USDT
    /// order floor), one sentence each naming the field; print them as `warning: …`.
    pub warnings: Vec<String>,
}

impl SweepSpec {
    /// Runs in the whole sweep: every parameter combination on every symbol.
    pub fn runs(&self) -> u64 {
        self.space.len() * self.symbols.len() as u64
    }

    /// The symbol and the parameter combination of `run_id`.
    pub fn slot(&self, run_id: u64) -> super::symbols::RunSlot {
        super::symbols::slot(run_id, self.space.len())
    }

    /// The parameters of `run_id` (its combination's; the symbol does not change them).
    ///
    /// # Errors
    /// As [`Space::params`].
    pub fn params(&self, run_id: u64) -> Result<RunParams, String> {
        self.space.params(self.slot(run_id).combo)
    }

    /// The columns that tell runs apart in the top tables: `symbol` first when the sweep has
    /// several symbols, then the axes in enumeration order.
    pub fn shown_axes(&self) -> Vec<&'static str> {
        let several = (self.symbols.len() > 1).then_some(super::symbols::SYMBOL_COLUMN);
        several.into_iter().chain(self.space.axes().iter().map(|a| a.name)).collect()
    }

    /// The symbol names, in file order.
    pub fn symbol_names(&self) -> Vec<String> {
        self.symbols.iter().map(|d| d.instrument.symbol.clone()).collect()
    }
}

/// Warnings for the sweep's amounts: the base one and every `amount` axis value.
fn amount_warnings(space: &Space) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(w) = fields::amount_warning(&space.base().grid.amount) {
        out.push(format!("params.amount: {w}"));
    }
    for axis in space.axes().iter().filter(|a| a.name == "amount") {
        for v in &axis.values {
            let text = match v {
                ParamValue::Text(t) => t.clone(),
                other => other.to_string(),
            };
            if let Some(w) =
                crate::engine::Amount::parse(&text).ok().as_ref().and_then(fields::amount_warning)
            {
                out.push(format!("axes.amount: {w}"));
            }
        }
    }
    out
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

struct Collector(Vec<SpecProblem>);

impl Collector {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }
}

impl SweepSpec {
    /// Reads and validates a sweep file.
    ///
    /// # Errors
    /// The file cannot be read (one problem), or every problem [`SweepSpec::parse`] finds.
    pub fn load(path: &Path, limit: SizeLimit) -> Result<SweepSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            origin: path.to_path_buf(),
            problems: vec![SpecProblem {
                path: String::new(),
                message: format!("cannot read the sweep file: {e}"),
            }],
        })?;
        SweepSpec::parse(&text, path, limit)
    }

    /// Parses and validates sweep-file text; `origin` names the file in messages and gives
    /// the default sweep name (its stem).
    ///
    /// # Errors
    /// Every problem found, each with its field path and a sentence saying how to fix it.
    pub fn parse(text: &str, origin: &Path, limit: SizeLimit) -> Result<SweepSpec, SpecError> {
        let fail =
            |problems: Vec<SpecProblem>| SpecError { origin: origin.to_path_buf(), problems };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            fail(vec![SpecProblem {
                path: String::new(),
                message: format!("not valid TOML: {}", e.to_string().trim_end()),
            }])
        })?;
        let mut errs = Collector(Vec::new());

        for key in table.keys() {
            if !top_keys().contains(&key.as_str()) {
                let hint = if fields::spec(key).is_some() {
                    format!(
                        "unknown key; `{key}` is a parameter: put it under [params] \
                         (fixed) or [axes] (swept)"
                    )
                } else {
                    format!("unknown key; valid keys are: {}", top_keys().join(", "))
                };
                errs.push(key.as_str(), hint);
            }
        }

        let default_name = origin.file_stem().map(|s| s.to_string_lossy().into_owned());
        let name = match table.get("name") {
            None => default_name.unwrap_or_else(|| "sweep".into()),
            Some(v) => match v.as_str() {
                Some(s) if valid_name(s) => s.to_string(),
                _ => {
                    errs.push(
                        "name",
                        "must be a non-empty string of letters, digits, '.', '_' or '-' \
                         (it names the output file results/<name>.parquet)",
                    );
                    String::new()
                }
            },
        };
        let description = match table.get("description") {
            None => None,
            Some(v) => match v.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    errs.push("description", "must be a string");
                    None
                }
            },
        };

        let symbols = super::symbols::parse(text, &table, &mut errs.0);
        let record_ms = table.get("record").and_then(|v| parse_record(v, &mut errs));
        let walk_forward = table.get("walk_forward").and_then(|v| {
            super::walk_forward::parse(v)
                .map_err(|problems| problems.into_iter().for_each(|(k, m)| errs.push(k, m)))
                .ok()
        });

        // [params]: fixed values over the defaults.
        let mut base = RunParams::default();
        let mut fixed: Vec<&'static str> = Vec::new();
        match table.get("params") {
            None => {}
            Some(toml::Value::Table(t)) => {
                for (k, v) in t {
                    match set_toml_param(&mut base, k, v) {
                        Ok(name) => fixed.push(name),
                        Err(e) => errs.push(format!("params.{k}"), e),
                    }
                }
                validate_params(&base, "params.", |f| fixed.contains(&f), &mut errs.0);
            }
            Some(_) => errs.push(
                "params",
                "must be a table of fixed parameters, e.g. [params] with grid_count = 40",
            ),
        }

        // [axes], in file order.
        let mut axes: Vec<Axis> = Vec::new();
        match table.get("axes") {
            None => errs.push(
                "axes",
                "is required: add an [axes] table with at least one axis, e.g. \
                 leverage = [5, 10, 20]; for a single run use `gridsweep backtest`",
            ),
            Some(toml::Value::Table(t)) => {
                if t.is_empty() {
                    errs.push(
                        "axes",
                        "holds no axis: add one, e.g. leverage = [5, 10, 20]; for a single \
                         run use `gridsweep backtest`",
                    );
                }
                for k in super::symbols::table_order(text, "axes", t) {
                    let path = format!("axes.{k}");
                    let Some(spec) = fields::spec(&k) else {
                        errs.push(path, unknown_param(&k));
                        continue;
                    };
                    if fixed.contains(&spec.name) {
                        errs.push(
                            path,
                            format!("{k} is also fixed in [params]; remove it from one of the two"),
                        );
                        continue;
                    }
                    if let Some(axis) = parse_axis(&path, spec, &t[&k], &base, limit, &mut errs) {
                        axes.push(axis);
                    }
                }
            }
            Some(_) => errs
                .push("axes", "must be a table of axes, e.g. [axes] with leverage = [5, 10, 20]"),
        }

        // [search] (docs/sweeps.md, "Successive halving", "Sampled spaces").
        let (search, sampler) = table
            .get("search")
            .map_or((None, None), |v| super::search::parse(v, &table, &mut errs.0));
        if sampler.is_none() {
            for a in axes.iter().filter(|a| a.form.is_dist()) {
                errs.push(
                    format!("axes.{}", a.name),
                    "is a distribution, which only a sampled search can draw from: add \
                     [search] method = \"random\" with samples = N (or method = \"halving\" \
                     with sampler = \"random\"), or give the axis a list or range",
                );
            }
        }
        if sampler.is_some()
            && walk_forward
                .as_ref()
                .is_some_and(|w| w.select == crate::selection::walk_forward::Select::Plateau)
        {
            errs.push(
                "walk_forward.select",
                "\"plateau\" scores a run by its grid neighbours, and a sampled search has no \
                 grid; use select = \"best\" or method = \"grid\"",
            );
        }
        let space = match sampler {
            Some(s) => Space::sampled(base, axes, s),
            None => Space::new(base, axes),
        };
        // [constraints] (docs/sweeps.md, "Constraints").
        let constraints = table
            .get("constraints")
            .map(|v| super::constraints::parse(v, &space, &mut errs.0))
            .unwrap_or_default();
        if symbols.len() > 1 {
            let several = "a sweep over several symbols";
            let alone = "run one sweep per symbol for it";
            if walk_forward.is_some() {
                errs.push(
                    "walk_forward",
                    format!("{several} has no walk-forward folds yet; {alone}"),
                );
            }
        }
        if errs.0.is_empty() {
            check_size(&space, symbols.len() as u64, limit, &mut errs);
        }
        match (errs.0.is_empty(), symbols.is_empty()) {
            (true, false) => Ok(SweepSpec {
                name,
                description,
                symbols,
                record_ms,
                walk_forward,
                constraints,
                search,
                warnings: amount_warnings(&space),
                space,
                text: text.to_string(),
                text_sha256: sha256_hex(text.as_bytes()),
            }),
            _ => Err(fail(errs.0)),
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads one axis; problems go to `errs` under `path`.
fn parse_axis(
    path: &str,
    spec: &'static fields::ParamSpec,
    v: &toml::Value,
    base: &RunParams,
    limit: SizeLimit,
    errs: &mut Collector,
) -> Option<Axis> {
    let name = spec.name;
    let (form, raw): (AxisForm, Vec<ParamValue>) = match v {
        toml::Value::Array(items) => (AxisForm::List, list_values(path, spec, items, errs)?),
        toml::Value::Table(t) => {
            let mut ok = true;
            for k in t.keys() {
                if !AXIS_KEYS.contains(&k.as_str()) {
                    errs.push(
                        format!("{path}.{k}"),
                        "unknown key; an axis is a list [..], { values = [..] }, a linear \
                         range { start, stop, step } or a log range { start, stop, count }",
                    );
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            if let Some(values) = t.get("values") {
                if t.len() > 1 {
                    errs.push(
                        path,
                        "give either values = [..] or a range (start, stop, step/count), \
                         not both",
                    );
                    return None;
                }
                let Some(items) = values.as_array() else {
                    errs.push(format!("{path}.values"), "must be a list, e.g. [5, 10, 20]");
                    return None;
                };
                (AxisForm::List, list_values(&format!("{path}.values"), spec, items, errs)?)
            } else if t.contains_key("dist") || t.contains_key("low") || t.contains_key("high") {
                dist_values(path, spec, t, errs)?
            } else {
                range_values(path, spec, t, limit, errs)?
            }
        }
        _ => {
            errs.push(
                path,
                format!(
                    "an axis needs several values: a list like {name} = [a, b, c], a linear \
                     range {{ start, stop, step }} or a log range {{ start, stop, count }}; \
                     a single value belongs in [params]"
                ),
            );
            return None;
        }
    };
    if raw.is_empty() {
        errs.push(path, "is empty; give at least one value (or remove the axis)");
        return None;
    }
    if form == AxisForm::List && !count_ok(path, "list", raw.len() as u64, limit, errs) {
        return None;
    }
    // Each value must set and validate on its own; the stored value is the canonical one
    // read back from the registry, i.e. exactly what the result column holds.
    let mut values: Vec<ParamValue> = Vec::with_capacity(raw.len());
    // Value → its position, so the duplicate check is linear in the axis length.
    let mut seen: HashMap<ValueKey, usize> = HashMap::with_capacity(raw.len());
    let mut ok = true;
    for (i, rv) in raw.iter().enumerate() {
        let at = match form {
            AxisForm::List => format!("{path}[{i}]"),
            _ => path.to_string(),
        };
        let mut p = *base;
        if let Err(e) = fields::set_param(&mut p, name, rv) {
            errs.push(at, strip_name(&e, name));
            ok = false;
            continue;
        }
        if let Err(list) = p.validate(f64::INFINITY) {
            if let Some(e) = list.iter().find(|e| e.field == name) {
                let what = match form {
                    AxisForm::List => e.message.clone(),
                    _ => format!("value {rv} of the range: {}", e.message),
                };
                errs.push(at, what);
                ok = false;
                continue;
            }
        }
        let canon = fields::get_param(&p, name).expect("registry parameter");
        if let Some(&j) = seen.get(&ValueKey::of(&canon)) {
            errs.push(
                at,
                format!("value {canon} repeats value #{} of the axis; remove the duplicate", j + 1),
            );
            ok = false;
            continue;
        }
        seen.insert(ValueKey::of(&canon), values.len());
        values.push(canon);
    }
    ok.then_some(Axis { name, kind: spec.kind, form, values })
}

/// Reads a distribution `{ dist, low, high }`: its form and `[low, high]` (each end is then
/// validated as the parameter's own value, like a list's).
fn dist_values(
    path: &str,
    spec: &'static fields::ParamSpec,
    t: &toml::Table,
    errs: &mut Collector,
) -> Option<(AxisForm, Vec<ParamValue>)> {
    let name = spec.name;
    if let Some(k) =
        ["values", "start", "stop", "step", "count"].iter().find(|k| t.contains_key(**k))
    {
        errs.push(format!("{path}.{k}"), "does not go with dist/low/high; give one axis form");
        return None;
    }
    let form = match t.get("dist").map(toml::Value::as_str) {
        Some(Some("uniform")) => AxisForm::Uniform,
        Some(Some("log_uniform")) => AxisForm::LogUniform,
        Some(Some("int_uniform")) => AxisForm::IntUniform,
        Some(_) => {
            errs.push(
                format!("{path}.dist"),
                "is not a distribution; use \"uniform\", \"log_uniform\" or \"int_uniform\" \
                 (or values = [..] for a uniform choice)",
            );
            return None;
        }
        None => {
            errs.push(
                format!("{path}.dist"),
                "is required with low/high: dist = \"uniform\", \"log_uniform\" or \"int_uniform\"",
            );
            return None;
        }
    };
    if !matches!(spec.kind, ParamKind::Int | ParamKind::Float) {
        errs.push(path, format!("{name} is not numeric; give its values as a list to draw from"));
        return None;
    }
    if spec.kind == ParamKind::Int && form != AxisForm::IntUniform {
        errs.push(
            format!("{path}.dist"),
            format!("{name} is a whole number; use dist = \"int_uniform\""),
        );
        return None;
    }
    let end = |k: &str, errs: &mut Collector| -> Option<f64> {
        let v = match t.get(k) {
            Some(toml::Value::Integer(i)) => Some(*i as f64),
            Some(toml::Value::Float(x)) if form != AxisForm::IntUniform && x.is_finite() => {
                Some(*x)
            }
            _ => None,
        };
        if v.is_none() {
            let what =
                if form == AxisForm::IntUniform { "a whole number" } else { "a finite number" };
            errs.push(format!("{path}.{k}"), format!("is required and must be {what}"));
        }
        v
    };
    let (lo, hi) = (end("low", errs), end("high", errs));
    let (lo, hi) = (lo?, hi?);
    if lo >= hi {
        errs.push(path, format!("low ({lo}) must be below high ({hi})"));
        return None;
    }
    if form == AxisForm::LogUniform && lo <= 0.0 {
        errs.push(format!("{path}.low"), format!("must be above 0 for log_uniform, was {lo}"));
        return None;
    }
    let val = |x: f64| match spec.kind {
        ParamKind::Int => ParamValue::Int(x as i64),
        _ => ParamValue::Float(x),
    };
    Some((form, vec![val(lo), val(hi)]))
}

/// A hashable stand-in for a [`ParamValue`] that is equal exactly when the values are
/// (`==` on `f64`: `0.0` and `-0.0` are one value).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ValueKey {
    Int(i64),
    Float(u64),
    Bool(bool),
    Text(String),
}

impl ValueKey {
    fn of(v: &ParamValue) -> ValueKey {
        match v {
            ParamValue::Int(i) => ValueKey::Int(*i),
            ParamValue::Float(f) if *f == 0.0 => ValueKey::Float(0.0f64.to_bits()),
            ParamValue::Float(f) => ValueKey::Float(f.to_bits()),
            ParamValue::Bool(b) => ValueKey::Bool(*b),
            ParamValue::Text(t) => ValueKey::Text(t.clone()),
        }
    }
}

fn list_values(
    path: &str,
    spec: &fields::ParamSpec,
    items: &[toml::Value],
    errs: &mut Collector,
) -> Option<Vec<ParamValue>> {
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match ParamValue::from_toml(item) {
            Some(v) => out.push(v),
            None => {
                errs.push(format!("{path}[{i}]"), format!("must be a {}", kind_word(spec.kind)));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A linear `{start, stop, step}` or log `{start, stop, count}` range.
fn range_values(
    path: &str,
    spec: &fields::ParamSpec,
    t: &toml::Table,
    limit: SizeLimit,
    errs: &mut Collector,
) -> Option<(AxisForm, Vec<ParamValue>)> {
    let name = spec.name;
    if !matches!(spec.kind, ParamKind::Int | ParamKind::Float) {
        errs.push(
            path,
            format!(
                "a range needs a numeric parameter, and {name} takes {}; use a list like \
                 {name} = [a, b]",
                kind_word(spec.kind)
            ),
        );
        return None;
    }
    let has_step = t.contains_key("step");
    let has_count = t.contains_key("count");
    if has_step && has_count {
        errs.push(path, "give either step (linear range) or count (log range), not both");
        return None;
    }
    if !has_step && !has_count {
        errs.push(
            path,
            "a range needs step (linear: start, stop, step) or count (log: start, stop, count)",
        );
        return None;
    }
    let mut num = |key: &str| -> Option<Dec> {
        match t.get(key) {
            None => {
                errs.push(format!("{path}.{key}"), "is required");
                None
            }
            Some(v @ (toml::Value::Integer(_) | toml::Value::Float(_))) => match toml_dec(v) {
                Some(d) => Some(d),
                None => {
                    errs.push(format!("{path}.{key}"), "must be a finite number");
                    None
                }
            },
            Some(_) => {
                errs.push(format!("{path}.{key}"), "must be a number");
                None
            }
        }
    };
    let start = num("start");
    let stop = num("stop");
    if has_step {
        let step = num("step");
        let (start, stop, step) = (start?, stop?, step?);
        linear(path, spec.kind, start, stop, step, limit, errs).map(|v| (AxisForm::Linear, v))
    } else {
        let count = match t.get("count") {
            Some(toml::Value::Integer(c)) if *c >= 2 => Some(*c as u64),
            _ => {
                errs.push(
                    format!("{path}.count"),
                    "must be a whole number ≥ 2 (the number of values, both ends included); \
                     for one value put the parameter in [params]",
                );
                None
            }
        };
        let (start, stop, count) = (start?, stop?, count?);
        log_range(path, spec.kind, start, stop, count, limit, errs).map(|v| (AxisForm::Log, v))
    }
}

/// `m × 10^-s` rescaled to scale `to ≥ s`.
fn at_scale(d: Dec, to: u32) -> Option<i128> {
    d.mantissa().checked_mul(10i128.checked_pow(to - d.scale())?)
}

fn linear(
    path: &str,
    kind: ParamKind,
    start: Dec,
    stop: Dec,
    step: Dec,
    limit: SizeLimit,
    errs: &mut Collector,
) -> Option<Vec<ParamValue>> {
    if step.mantissa() <= 0 {
        errs.push(
            format!("{path}.step"),
            format!("must be > 0 (was {step}); use a list axis for a single value"),
        );
        return None;
    }
    if stop < start {
        errs.push(
            format!("{path}.stop"),
            format!("must be ≥ start (was {stop} < {start}); ranges go upwards"),
        );
        return None;
    }
    let scale = start.scale().max(stop.scale()).max(step.scale());
    let overflow = |errs: &mut Collector| {
        errs.push(path, "the range has too many digits; use a list");
        None
    };
    let (Some(a), Some(b), Some(s)) =
        (at_scale(start, scale), at_scale(stop, scale), at_scale(step, scale))
    else {
        return overflow(errs);
    };
    let Some(span) = b.checked_sub(a) else {
        return overflow(errs);
    };
    if span % s != 0 {
        // below ≤ stop always fits; above may not (then only below is suggested).
        let below = Dec::new(a + span / s * s, scale).normalized();
        let above = (span / s)
            .checked_add(1)
            .and_then(|k| k.checked_mul(s))
            .and_then(|d| a.checked_add(d))
            .map(|m| format!(" or {}", Dec::new(m, scale).normalized()))
            .unwrap_or_default();
        let width = Dec::new(span, scale).normalized();
        errs.push(
            format!("{path}.step"),
            format!(
                "{step} does not divide stop − start = {width}, so stop would be missed; \
                 use stop = {below}{above}, a step that divides {width}, or a list"
            ),
        );
        return None;
    }
    // span and s are positive, so span / s ≥ 0; a count past u64 is refused, never wrapped.
    let Some(count) = u64::try_from(span / s).ok().and_then(|n| n.checked_add(1)) else {
        errs.push(
            path,
            format!(
                "the range has {} values (stop − start is {} steps of {step}), far more than \
                 any sweep can run; use a larger step or a smaller range",
                (span / s).saturating_add(1),
                span / s
            ),
        );
        return None;
    };
    if !count_ok(path, "range", count, limit, errs) {
        return None;
    }
    if kind == ParamKind::Int && scale > 0 {
        let whole = |d: Dec| d.normalized().scale() == 0;
        if !(whole(start) && whole(stop) && whole(step)) {
            errs.push(path, "takes whole numbers: start, stop and step must be integers");
            return None;
        }
    }
    Some(
        (0..count as i128)
            .map(|k| {
                let d = Dec::new(a + k * s, scale);
                match kind {
                    ParamKind::Int => ParamValue::Int(d.to_f64() as i64),
                    _ => ParamValue::Float(d.to_f64()),
                }
            })
            .collect(),
    )
}

fn log_range(
    path: &str,
    kind: ParamKind,
    start: Dec,
    stop: Dec,
    count: u64,
    limit: SizeLimit,
    errs: &mut Collector,
) -> Option<Vec<ParamValue>> {
    let (a, b) = (start.to_f64(), stop.to_f64());
    let mut ok = true;
    for (key, v) in [("start", a), ("stop", b)] {
        if !(v > 0.0 && v.is_finite()) {
            errs.push(format!("{path}.{key}"), format!("must be > 0 for a log range (was {v})"));
            ok = false;
        }
    }
    if ok && b <= a {
        errs.push(format!("{path}.stop"), format!("must be > start (was {b} ≤ {a})"));
        ok = false;
    }
    if !ok || !count_ok(path, "range", count, limit, errs) {
        return None;
    }
    let (la, lb) = (a.ln(), b.ln());
    let n = count - 1;
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let v = match i {
            0 => a,
            _ if i == n => b,
            _ => round_sig((la + (lb - la) * i as f64 / n as f64).exp()),
        };
        out.push(match kind {
            ParamKind::Int => ParamValue::Int(v.round() as i64),
            _ => ParamValue::Float(v),
        });
    }
    if kind == ParamKind::Int && out.windows(2).any(|w| w[0] == w[1]) {
        errs.push(
            format!("{path}.count"),
            format!(
                "{count} log-spaced whole numbers between {a} and {b} repeat after rounding; \
                 lower count or use a list"
            ),
        );
        return None;
    }
    Some(out)
}

/// Rounds to 12 significant digits, so log-spaced values print cleanly (1.0, not
/// 0.9999999999999998).
fn round_sig(v: f64) -> f64 {
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// The per-axis cap: no axis may have more values than the run guard allows (or, with
/// `--force`, than [`HARD_MAX_AXIS_VALUES`]); `what` is "range" or "list".
fn count_ok(path: &str, what: &str, count: u64, limit: SizeLimit, errs: &mut Collector) -> bool {
    let cap = if limit.force { HARD_MAX_AXIS_VALUES } else { limit.max_runs };
    if count > cap {
        let fix = if what == "list" {
            "shorten the list"
        } else {
            "use a larger step or a smaller range"
        };
        errs.push(
            path,
            format!(
                "the {what} has {} values, more than {} allowed{}; {fix}",
                fmt_count(count),
                fmt_count(cap),
                if limit.force { " for one axis even with --force" } else { "" }
            ),
        );
        return false;
    }
    true
}

fn check_size(space: &Space, symbols: u64, limit: SizeLimit, errs: &mut Collector) {
    let runs = space.checked_len().and_then(|n| n.checked_mul(symbols));
    let too_big = match runs {
        None => true,
        Some(n) => !limit.force && n > limit.max_runs,
    };
    if !too_big {
        return;
    }
    let largest = space
        .axes()
        .iter()
        .max_by_key(|a| a.values.len())
        .map(|a| format!("{} with {} values", a.name, a.values.len()))
        .unwrap_or_default();
    let size = runs.map_or_else(|| "more than 2^64".to_string(), fmt_count);
    errs.push(
        "axes",
        format!(
            "the sweep has {size} runs{}, more than the limit of {}; shorten an axis (the \
             largest is {largest}), or pass --force to run it anyway",
            if symbols > 1 { format!(" ({symbols} symbols)") } else { String::new() },
            fmt_count(limit.max_runs)
        ),
    );
}

/// `1234567` → `1,234,567`.
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "symbol = \"LTCUSDT\"\ncandles = \"x.parquet\"\n";

    fn parse(body: &str) -> Result<SweepSpec, SpecError> {
        SweepSpec::parse(&format!("{HEAD}{body}"), Path::new("t.toml"), SizeLimit::default())
    }

    fn problems(body: &str) -> Vec<(String, String)> {
        parse(body).unwrap_err().problems.into_iter().map(|p| (p.path, p.message)).collect()
    }

    #[test]
    fn test_axis_order_is_file_order() {
        let s = parse(
            "[axes]\nleverage = [5, 10]\namount = [\"x0.001\", \"x0.002\"]\n\
             grid_step = { start = 0.1, stop = 0.3, step = 0.1 }\n",
        )
        .unwrap();
        let names: Vec<_> = s.space.axes().iter().map(|a| a.name).collect();
        assert_eq!(names, ["leverage", "amount", "grid_step"]);
        assert_eq!(
            s.space.axes()[2].values,
            [ParamValue::Float(0.1), ParamValue::Float(0.2), ParamValue::Float(0.3)]
        );
        assert_eq!(s.space.len(), 12);
        assert_eq!(s.name, "t");
    }

    #[test]
    fn test_amounts_below_the_order_floor_warn() {
        // "0.01" meant as "x0.01": 0.01 USDT orders become 5-USDT orders, so say so.
        let s = parse("[params]\namount = \"0.01\"\n[axes]\nleverage = [5, 10]\n").unwrap();
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("params.amount: amount = \"0.01\""), "{:?}", s.warnings);
        assert!(s.warnings[0].contains("amount = \"x0.01\""), "{:?}", s.warnings);
        let s = parse("[axes]\namount = [\"x0.01\", \"2\", \"100\"]\n").unwrap();
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("axes.amount: amount = \"2\""), "{:?}", s.warnings);
        assert!(parse("[axes]\nleverage = [5, 10]\n").unwrap().warnings.is_empty());
    }

    #[test]
    fn test_maintenance_margin_rate_is_no_parameter() {
        // Regression: it was swept and written to every row, never read by the engine.
        let p = problems("[params]\nmaintenance_margin_rate = 0.01\n[axes]\nleverage = [5, 10]\n");
        assert_eq!(
            p,
            [(
                "params.maintenance_margin_rate".to_string(),
                "is ignored (the tier table sets the MMR); remove it".to_string()
            )]
        );
        let p = problems("[axes]\nmaintenance_margin_rate = [0.005, 0.01]\n");
        assert_eq!(p[0].0, "axes.maintenance_margin_rate");
        assert!(p[0].1.starts_with("is ignored (the tier table sets the MMR)"), "{}", p[0].1);
    }

    #[test]
    fn test_axis_order_with_subtables() {
        let s = parse(
            "[axes.grid_step]\nstart = 0.5\nstop = 1.0\nstep = 0.25\n\
             [axes.amount]\nvalues = [\"x0.01\"]\n",
        )
        .unwrap();
        let names: Vec<_> = s.space.axes().iter().map(|a| a.name).collect();
        assert_eq!(names, ["grid_step", "amount"]);
    }

    #[test]
    fn test_log_range_and_int_range() {
        let s = parse(
            "[axes]\ncommission_rate = { start = 0.0001, stop = 0.01, count = 3 }\n\
             grid_count = { start = 20, stop = 40, step = 10 }\n",
        )
        .unwrap();
        assert_eq!(
            s.space.axes()[0].values,
            [ParamValue::Float(0.0001), ParamValue::Float(0.001), ParamValue::Float(0.01)]
        );
        assert_eq!(
            s.space.axes()[1].values,
            [ParamValue::Int(20), ParamValue::Int(30), ParamValue::Int(40)]
        );
    }

    #[test]
    fn test_step_that_does_not_divide_names_fixes() {
        let p = problems("[axes]\nleverage = { start = 1, stop = 10, step = 4 }\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "axes.leverage.step");
        assert!(p[0].1.contains("does not divide stop − start = 9"), "{}", p[0].1);
        assert!(p[0].1.contains("use stop = 9 or 13"), "{}", p[0].1);
    }

    #[test]
    fn test_every_problem_reported_with_its_path() {
        let e = SweepSpec::parse(
            "nme = 1\ncandles = 3\n[params]\ngrid_count = 2\ngird_step = 1\n\
             [axes]\nleverage = []\ngrid_step = { start = 0.1, stop = 0.5, step = 0 }\n\
             model = { start = 1, stop = 2, step = 1 }\namount = [\"b1\"]\n\
             grid_count = [10]\nwind_down_mode = { start = 1, stop = 2, stpe = 1 }\n",
            Path::new("bad.toml"),
            SizeLimit::default(),
        )
        .unwrap_err();
        let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "nme",
            "symbol",
            "candles",
            "params.grid_count",
            "params.gird_step",
            "axes.leverage",
            "axes.grid_step.step",
            "axes.model",
            "axes.amount[0]",
            "axes.grid_count",
            "axes.wind_down_mode.stpe",
        ] {
            assert!(paths.contains(&want), "{want} missing in {e}");
        }
        let text = e.to_string();
        assert!(text.starts_with("bad.toml: "), "{text}");
        assert!(text.contains("valid keys are: name, description"), "{text}");
        assert!(text.contains("use a list axis for a single value"), "{text}");
    }

    #[test]
    fn test_size_guard_and_force() {
        let body = "[axes]\ngrid_step = { start = 0.01, stop = 10, step = 0.01 }\n\
                    leverage = { start = 1, stop = 20, step = 1 }\n\
                    initial_balance = { start = 1000, stop = 100000, step = 1000 }\n";
        let p = problems(body);
        assert_eq!(p[0].0, "axes");
        assert!(p[0].1.contains("2,000,000 runs, more than the limit of 1,000,000"), "{}", p[0].1);
        assert!(p[0].1.contains("--force"), "{}", p[0].1);
        let forced = SweepSpec::parse(
            &format!("{HEAD}{body}"),
            Path::new("t.toml"),
            SizeLimit { force: true, ..SizeLimit::default() },
        )
        .unwrap();
        assert_eq!(forced.space.len(), 2_000_000);
    }

    #[test]
    fn test_duplicates_and_fixed_conflicts_refused() {
        let p = problems("[params]\nleverage = 5\n[axes]\nleverage = [5, 10]\namount = [\"x0.001\", \"x0.001\"]\n");
        assert!(p.iter().any(|(path, m)| path == "axes.leverage" && m.contains("also fixed")));
        assert!(p.iter().any(|(path, m)| path == "axes.amount[1]" && m.contains("repeats")));
    }

    #[test]
    fn test_million_value_range_validates_in_linear_time() {
        // docs/sweeps.md, "The sweep file": the duplicate check was O(n²) (no answer after 300 s). 1,000,000
        // values is exactly the default guard, so the axis is accepted.
        let t = std::time::Instant::now();
        let s = parse("[axes]\ninitial_balance = { start = 1000, stop = 1000999, step = 1 }\n")
            .unwrap();
        assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
        let v = &s.space.axes()[0].values;
        assert_eq!(v.len(), 1_000_000);
        assert_eq!(
            (v[0].clone(), v[999_999].clone()),
            (ParamValue::Float(1000.0), ParamValue::Float(1_000_999.0))
        );
        assert_eq!(s.space.len(), 1_000_000);
    }

    #[test]
    fn test_duplicates_found_far_apart_and_zero_signs_equal() {
        let p = problems("[axes]\ngrid_step = [0.1, 0.2, 0.3, 0.4, 0.2]\n");
        assert_eq!(
            p,
            [(
                "axes.grid_step[4]".to_string(),
                "value 0.2 repeats value #2 of the axis; remove the duplicate".to_string()
            )]
        );
        let p = problems("[axes]\nfunding_rate = [0.0, 0.001, -0.0]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "axes.funding_rate[2]");
        assert!(p[0].1.contains("repeats value #1"), "{}", p[0].1);
    }

    #[test]
    fn test_list_axes_obey_the_run_guard() {
        // 1,001 listed values × 1,000 range values = 1,001,000 runs > 1,000,000.
        let list: Vec<String> = (0..1001).map(|i| (1000 + i).to_string()).collect();
        let body = format!(
            "[axes]\ninitial_balance = [{}]\nleverage = {{ start = 1, stop = 1000, step = 1 }}\n",
            list.join(", ")
        );
        let p = problems(&body);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "axes");
        assert!(p[0].1.contains("1,001,000 runs, more than the limit of 1,000,000"), "{}", p[0].1);
        // One list longer than the guard is refused on its own, before its values are checked
        // (a guard of 100 runs keeps the file small).
        let list: Vec<String> = (0..101).map(|i| (1000 + i).to_string()).collect();
        let e = SweepSpec::parse(
            &format!("{HEAD}[axes]\ninitial_balance = [{}]\n", list.join(",")),
            Path::new("t.toml"),
            SizeLimit { max_runs: 100, force: false },
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].path, "axes.initial_balance");
        assert_eq!(
            e.problems[0].message,
            "the list has 101 values, more than 100 allowed; shorten the list"
        );
    }

    #[test]
    fn test_range_count_past_u64_is_refused_not_wrapped() {
        // docs/sweeps.md, "The sweep file" (ranges): (1.8446744073709552e19 − 1) / 1 + 1 = 18446744073709552000
        // values > u64::MAX; `as u64` wrapped it to 384.
        let p = problems(
            "[axes]\ninitial_balance = { start = 1, stop = 1.8446744073709552e19, step = 1 }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "axes.initial_balance");
        assert!(p[0].1.starts_with("the range has 18446744073709552000 values"), "{}", p[0].1);
        // Just below the wrap it is the ordinary guard message.
        let p = problems("[axes]\ninitial_balance = { start = 1, stop = 1e19, step = 1 }\n");
        assert_eq!(p[0].0, "axes.initial_balance");
        assert!(
            p[0].1.starts_with("the range has 10,000,000,000,000,000,000 values"),
            "{}",
            p[0].1
        );
    }

    #[test]
    fn test_huge_bounds_never_overflow() {
        // stop − start past i128, and a suggested stop past i128: problems, never a wrap.
        let p = problems("[axes]\nfunding_rate = { start = -1.5e38, stop = 1.5e38, step = 1 }\n");
        assert_eq!(p[0].0, "axes.funding_rate", "{p:?}");
        assert!(p[0].1.contains("too many digits"), "{}", p[0].1);
        // span 1.5e38, step 1e38: below = 1e38; above = 2e38 does not fit, so only below.
        let p = problems("[axes]\nfunding_rate = { start = 0, stop = 1.5e38, step = 1e38 }\n");
        assert_eq!(p[0].0, "axes.funding_rate.step", "{p:?}");
        assert!(
            p[0].1.contains("use stop = 100000000000000000000000000000000000000, a step"),
            "{}",
            p[0].1
        );
        // With --force, four axes of 100,000 values each make 10^20 runs > u64::MAX.
        let body = "[axes]\ninitial_balance = { start = 1, stop = 100000, step = 1 }\n\
                    min_liq_ratio = { start = 1, stop = 100000, step = 1 }\n\
                    max_liq_ratio = { start = 1, stop = 100000, step = 1 }\n\
                    min_total_margin = { start = 1, stop = 100000, step = 1 }\n";
        let e = SweepSpec::parse(
            &format!("{HEAD}{body}"),
            Path::new("t.toml"),
            SizeLimit { force: true, ..SizeLimit::default() },
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert!(e.problems[0].message.starts_with("the sweep has more than 2^64 runs"), "{e}");
    }

    #[test]
    fn test_fmt_count() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
    }
}
