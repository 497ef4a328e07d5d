//! `[search]` of a sweep file: `method = "grid"` (the default, every run over the whole
//! window) or `method = "halving"` (successive halving over the data window, docs/sweeps.md
//! "Successive halving") or `method = "random"` (`samples` runs drawn from the axes,
//! "Sampled spaces"); halving draws its runs with `sampler = "random"`.

use crate::config::common::Problem;
use crate::metrics::{MetricValue, Metrics};

use super::space::Sampler;

/// Keys of `[search]`.
pub const SEARCH_KEYS: &[&str] = &[
    "method",
    "eta",
    "min_window",
    "objective",
    "probes",
    "seed",
    "min_spearman",
    "samples",
    "sampler",
];

/// Smallest probe set (unless the sweep has fewer runs).
pub const MIN_PROBES: u64 = 32;

/// A successive-halving search.
#[derive(Clone, Debug, PartialEq)]
pub struct Halving {
    /// Keep the best 1/η at each rung (η ≥ 2).
    pub eta: u32,
    /// Length of the first rung's window, ms; rung r covers `min_window · η^r`.
    pub min_window_ms: i64,
    /// Ranking metric (`None`: the `--rank-by` of the invocation), `METRIC[:asc|:desc]`.
    pub objective: Option<String>,
    /// Share of runs always taken to the full window (at least [`MIN_PROBES`]).
    pub probes: f64,
    /// Seed of the probe choice.
    pub seed: u64,
    /// Below this Spearman correlation on the probes a rung keeps twice the survivors.
    pub min_spearman: f64,
}

/// Parses a duration `"<n>m"`, `"<n>h"`, `"<n>d"` or `"<n>w"` into ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = num.parse().ok().filter(|&n| n > 0)?;
    let ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

/// True when `name` (without a direction) is a numeric metric.
fn numeric_metric(name: &str) -> bool {
    Metrics::default()
        .fields()
        .iter()
        .any(|(n, v)| *n == name && !matches!(v, MetricValue::Bool(_) | MetricValue::Text(_)))
}

/// Reads `[search]`: the halving (`None` for the grid or random search) and the sampler
/// (`None`: enumerate the grid); problems are pushed with their path.
pub fn parse(
    v: &toml::Value,
    top: &toml::Table,
    errs: &mut Vec<Problem>,
) -> (Option<Halving>, Option<Sampler>) {
    let Some(t) = v.as_table() else {
        errs.push(Problem::new("search", "must be a table, e.g. [search] method = \"halving\""));
        return (None, None);
    };
    let random = matches!(t.get("method").and_then(toml::Value::as_str), Some("random"));
    let sampler = match t.get("sampler") {
        None => random.then(|| sampler(t, errs)),
        Some(toml::Value::String(s)) if s == "random" && !random => Some(sampler(t, errs)),
        Some(toml::Value::String(s)) if s == "grid" && !random => None,
        Some(other) => {
            errs.push(Problem::new(
                "search.sampler",
                format!(
                    "{other} is not a sampler here; method = \"halving\" takes sampler = \"grid\" \
                     (the default) or \"random\" (method = \"random\" needs no sampler key)"
                ),
            ));
            None
        }
    };
    if random {
        for k in t.keys().filter(|k| !["method", "samples", "seed"].contains(&k.as_str())) {
            errs.push(Problem::new(
                format!("search.{k}"),
                "does not apply to method = \"random\" (it takes samples and seed; for halving \
                 over sampled runs use method = \"halving\" with sampler = \"random\")",
            ));
        }
        return (None, sampler);
    }
    if sampler.is_none() && t.contains_key("samples") {
        errs.push(Problem::new(
            "search.samples",
            "only applies to sampled runs: method = \"random\", or sampler = \"random\" with halving",
        ));
    }
    (halving(t, top, errs), sampler)
}

/// Reads `samples` (required, ≥ 1; the run-count guard applies to it) and `seed`.
fn sampler(t: &toml::Table, errs: &mut Vec<Problem>) -> Sampler {
    let samples = match t.get("samples") {
        Some(toml::Value::Integer(i)) if *i >= 1 => *i as u64,
        Some(other) => {
            errs.push(Problem::new(
                "search.samples",
                format!("must be a whole number ≥ 1 (the number of runs drawn), was {other}"),
            ));
            1
        }
        None => {
            errs.push(Problem::new(
                "search.samples",
                "is required for sampled runs: the number of runs to draw, e.g. samples = 1000",
            ));
            1
        }
    };
    let random = t.get("method").and_then(toml::Value::as_str) == Some("random");
    let seed = match t.get("seed") {
        None => 1,
        Some(toml::Value::Integer(i)) if *i >= 0 => *i as u64,
        Some(other) => {
            // Under halving the halving reader reports a bad seed.
            if random {
                errs.push(Problem::new(
                    "search.seed",
                    format!("must be a whole number ≥ 0, was {other}"),
                ));
            }
            1
        }
    };
    Sampler { samples, seed }
}

/// Reads the halving keys of `[search]`: `None` for the grid (or on a problem).
fn halving(t: &toml::Table, top: &toml::Table, errs: &mut Vec<Problem>) -> Option<Halving> {
    for k in t.keys().filter(|k| !SEARCH_KEYS.contains(&k.as_str())) {
        errs.push(Problem::new(
            format!("search.{k}"),
            format!("unknown key; [search] takes {}", SEARCH_KEYS.join(", ")),
        ));
    }
    match t.get("method").map(toml::Value::as_str) {
        None | Some(Some("grid")) => {
            if let Some(k) = t.keys().find(|k| k.as_str() != "method") {
                errs.push(Problem::new(
                    format!("search.{k}"),
                    "only applies to method = \"halving\"",
                ));
            }
            return None;
        }
        Some(Some("halving")) => {}
        Some(other) => {
            errs.push(Problem::new(
                "search.method",
                format!(
                    "{other:?} is not a search method; use \"grid\", \"halving\" or \"random\""
                ),
            ));
            return None;
        }
    }
    let n0 = errs.len();
    if top.contains_key("walk_forward") {
        errs.push(Problem::new(
            "search.method",
            "\"halving\" cannot be combined with [walk_forward] (halving ranks runs on growing \
             windows of the data, walk-forward on folds); remove one of the two",
        ));
    }
    if top.contains_key("record") {
        errs.push(Problem::new(
            "search.method",
            "\"halving\" cannot be combined with [record] (eliminated runs do not reach the \
             period ends); remove [record] or use method = \"grid\"",
        ));
    }
    let eta = match t.get("eta") {
        None => 3,
        Some(toml::Value::Integer(i)) if (2..=100).contains(i) => *i as u32,
        Some(other) => {
            errs.push(Problem::new(
                "search.eta",
                format!("must be a whole number from 2 to 100 (the share kept per rung is 1/eta), was {other}"),
            ));
            3
        }
    };
    let min_window_ms = match t.get("min_window").map(toml::Value::as_str) {
        Some(Some(s)) => parse_duration(s).unwrap_or_else(|| {
            errs.push(Problem::new(
                "search.min_window",
                format!("{s:?} is not a duration; write e.g. \"3d\", \"12h\", \"90m\" or \"1w\""),
            ));
            0
        }),
        _ => {
            errs.push(Problem::new(
                "search.min_window",
                "is required: the first rung's window, e.g. min_window = \"3d\"",
            ));
            0
        }
    };
    let objective = match t.get("objective") {
        None => None,
        Some(toml::Value::String(s)) => {
            let name = s.split_once(':').map_or(s.as_str(), |(n, _)| n);
            if !numeric_metric(name) {
                errs.push(Problem::new(
                    "search.objective",
                    format!("{s:?} is not a numeric metric (see docs/metrics.md); e.g. \"calmar_ratio\""),
                ));
            }
            Some(s.clone())
        }
        Some(_) => {
            errs.push(Problem::new("search.objective", "must be a metric name string"));
            None
        }
    };
    let probes = match t.get("probes") {
        None => 0.02,
        Some(toml::Value::Float(x)) if (0.0..=1.0).contains(x) => *x,
        Some(toml::Value::Integer(0)) => 0.0,
        Some(toml::Value::Integer(1)) => 1.0,
        Some(other) => {
            errs.push(Problem::new(
                "search.probes",
                format!("must be a share from 0 to 1 (e.g. 0.02), was {other}"),
            ));
            0.02
        }
    };
    let seed = match t.get("seed") {
        None => 1,
        Some(toml::Value::Integer(i)) if *i >= 0 => *i as u64,
        Some(other) => {
            errs.push(Problem::new(
                "search.seed",
                format!("must be a whole number ≥ 0, was {other}"),
            ));
            1
        }
    };
    let min_spearman = match t.get("min_spearman") {
        None => 0.6,
        Some(toml::Value::Float(x)) if (-1.0..=1.0).contains(x) => *x,
        Some(toml::Value::Integer(i)) if (-1..=1).contains(i) => *i as f64,
        Some(other) => {
            errs.push(Problem::new(
                "search.min_spearman",
                format!("must be a correlation from -1 to 1, was {other}"),
            ));
            0.6
        }
    };
    (errs.len() == n0).then_some(Halving {
        eta,
        min_window_ms,
        objective,
        probes,
        seed,
        min_spearman,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> (Option<Halving>, Vec<Problem>) {
        let top: toml::Table = toml::from_str(s).unwrap();
        let mut errs = Vec::new();
        (parse(&top["search"], &top, &mut errs).0, errs)
    }

    #[test]
    fn the_issue_example_parses() {
        let (h, errs) = parse_str(
            "[search]\nmethod = \"halving\"\neta = 3\nmin_window = \"3d\"\n\
             objective = \"calmar_ratio\"\nprobes = 0.02\nseed = 1\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let h = h.unwrap();
        assert_eq!((h.eta, h.min_window_ms, h.seed), (3, 3 * 86_400_000, 1));
        assert_eq!(h.min_spearman, 0.6);
    }

    #[test]
    fn bad_eta_window_and_walk_forward_are_refused() {
        let (h, errs) = parse_str(
            "[search]\nmethod = \"halving\"\neta = 1\nmin_window = \"3x\"\n[walk_forward]\n",
        );
        assert!(h.is_none());
        let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["search.method", "search.eta", "search.min_window"], "{errs:?}");
        assert!(errs[0].message.contains("walk_forward"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Some(90 * 60_000));
        assert_eq!(parse_duration("1w"), Some(7 * 86_400_000));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration(""), None);
    }
}
