//! What people read at the end: counts, the first errors, and the top runs by an objective
//! (`--rank-by`), as a table or one JSON document. Built from result batches as they
//! stream past, so memory stays constant.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::{Map, Value};

use super::results::{numeric_metrics, ERROR, PARAM_HASH, RUN_ID, STATUS};
use crate::config::fields::PARAMS;

/// Metrics where a smaller value is better (they rank ascending by default).
pub const LOWER_IS_BETTER: &[&str] = &[
    "max_drawdown",
    "max_drawdown_pct",
    "max_drawdown_duration",
    "total_commission",
    "losing_trades",
    "orders_rejected",
    "peak_im",
    "peak_mm",
    "peak_imr_pct",
    "peak_mmr_pct",
];

/// The ranking objective: a numeric metric and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankBy {
    /// Metric column name.
    pub metric: &'static str,
    /// True when smaller is better.
    pub ascending: bool,
}

impl Default for RankBy {
    fn default() -> Self {
        RankBy { metric: "calmar_ratio", ascending: false }
    }
}

impl std::str::FromStr for RankBy {
    type Err = String;
    /// `METRIC` (natural direction) or `METRIC:asc` / `METRIC:desc`.
    fn from_str(s: &str) -> Result<RankBy, String> {
        let (name, dir) = match s.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        let metrics = numeric_metrics();
        let Some(metric) = metrics.iter().copied().find(|m| *m == name) else {
            return Err(format!(
                "--rank-by {name:?} is not a numeric metric; choose one of: {} (append :asc or \
                 :desc to override the direction)",
                metrics.join(", ")
            ));
        };
        let ascending = match dir {
            None => LOWER_IS_BETTER.contains(&metric),
            Some("asc") => true,
            Some("desc") => false,
            Some(d) => return Err(format!("--rank-by direction must be asc or desc (was {d:?})")),
        };
        Ok(RankBy { metric, ascending })
    }
}

impl RankBy {
    /// `"higher is better"` or `"lower is better"`.
    pub fn direction(&self) -> &'static str {
        if self.ascending {
            "lower is better"
        } else {
            "higher is better"
        }
    }
}

/// One ranked run: its key and the whole row as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    /// Run id.
    pub run_id: u64,
    /// Objective value.
    pub key: f64,
    /// Every column of the row.
    pub row: Map<String, Value>,
}

/// Counts and the top-N, fed batch by batch.
#[derive(Clone, Debug)]
pub struct Report {
    /// Objective.
    pub rank: RankBy,
    /// How many rows to keep.
    pub n: usize,
    /// Best first.
    pub top: Vec<TopRow>,
    /// Rows seen.
    pub rows: u64,
    /// Rows with status ok.
    pub ok: u64,
    /// Rows with status error.
    pub failed: u64,
    /// Rows stopped by a constraint (`status = "pruned"`).
    pub pruned: u64,
    /// Rows eliminated by a halving search (`status = "eliminated"`).
    pub eliminated: u64,
    /// Ok rows that were liquidated.
    pub liquidated: u64,
    /// The first few errors `(run_id, text)`.
    pub first_errors: Vec<(u64, String)>,
    /// The cross-symbol summary of a sweep over several symbols.
    pub across: Option<super::across::Across>,
}

/// A parameter value as JSON (the result row's cell: floats stay floats, `2.0`).
pub fn param_json(v: &crate::config::fields::ParamValue) -> Value {
    use crate::config::fields::ParamValue;
    match v {
        ParamValue::Int(i) => (*i).into(),
        ParamValue::Float(x) => serde_json::json!(x),
        ParamValue::Bool(b) => (*b).into(),
        ParamValue::Text(t) => t.clone().into(),
    }
}

/// A parameter value as the top table shows it (floats with a decimal point: `2.0`).
pub fn param_text(v: &crate::config::fields::ParamValue) -> String {
    match param_json(v) {
        Value::String(t) => t,
        other => other.to_string(),
    }
}

/// `header` and `rows` as an aligned text table: right-aligned columns two spaces apart, a
/// rule under the header.
pub fn text_table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut grid = vec![header.to_vec()];
    grid.extend(rows.iter().cloned());
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|c| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, r) in grid.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{}{s}", " ".repeat(w - s.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    out
}

/// The value of `col` at `row` as JSON (null for nulls and non-finite floats).
pub fn cell_json(col: &dyn Array, row: usize) -> Value {
    if col.is_null(row) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).into(),
        DataType::Float64 => {
            serde_json::Number::from_f64(col.as_primitive::<Float64Type>().value(row))
                .map_or(Value::Null, Value::Number)
        }
        DataType::Boolean => col.as_boolean().value(row).into(),
        DataType::Utf8 => col.as_string::<i32>().value(row).into(),
        _ => Value::Null,
    }
}

fn cell_f64(col: &dyn Array, row: usize) -> Option<f64> {
    if col.is_null(row) {
        return None;
    }
    let v = match col.data_type() {
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(row) as f64,
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row) as f64,
        DataType::Float64 => col.as_primitive::<Float64Type>().value(row),
        _ => return None,
    };
    v.is_finite().then_some(v)
}

impl Report {
    /// An empty report keeping the best `n` rows by `rank`.
    pub fn new(rank: RankBy, n: usize) -> Report {
        Report {
            rank,
            n,
            top: Vec::new(),
            rows: 0,
            ok: 0,
            failed: 0,
            pruned: 0,
            eliminated: 0,
            liquidated: 0,
            first_errors: Vec::new(),
            across: None,
        }
    }

    /// This report with a cross-symbol summary when `spec` sweeps several symbols.
    pub fn across_symbols(mut self, spec: &super::SweepSpec) -> Report {
        if spec.symbols.len() > 1 {
            self.across = Some(super::across::Across::new(spec.symbol_names(), spec.space.len()));
        }
        self
    }

    fn better(&self, key: f64, run_id: u64, than: &TopRow) -> bool {
        let ord = key.total_cmp(&than.key);
        let ord = if self.rank.ascending { ord } else { ord.reverse() };
        ord.then(run_id.cmp(&than.run_id)).is_lt()
    }

    /// Feeds one batch of result rows.
    pub fn observe(&mut self, batch: &RecordBatch) {
        let (Some(ids), Some(status), Some(error), Some(key)) = (
            batch.column_by_name(RUN_ID),
            batch.column_by_name(STATUS),
            batch.column_by_name(ERROR),
            batch.column_by_name(self.rank.metric),
        ) else {
            return;
        };
        let ids = ids.as_primitive::<UInt64Type>();
        let status = status.as_string::<i32>();
        let liq = batch.column_by_name("liquidated");
        for r in 0..batch.num_rows() {
            self.rows += 1;
            let run_id = ids.value(r);
            if let Some(a) = self.across.as_mut() {
                let ok = status.value(r) == "ok";
                a.observe(run_id, if ok { cell_f64(key.as_ref(), r) } else { None });
            }
            match status.value(r) {
                "pruned" => {
                    self.pruned += 1;
                    continue;
                }
                "eliminated" => {
                    self.eliminated += 1;
                    continue;
                }
                _ => {}
            }
            if status.value(r) != "ok" {
                self.failed += 1;
                if self.first_errors.len() < 3 {
                    let text = match cell_json(error.as_ref(), r) {
                        Value::String(s) => s,
                        _ => String::new(),
                    };
                    self.first_errors.push((run_id, text));
                }
                continue;
            }
            self.ok += 1;
            if liq.is_some_and(|c| cell_json(c.as_ref(), r) == Value::Bool(true)) {
                self.liquidated += 1;
            }
            let Some(k) = cell_f64(key.as_ref(), r) else { continue };
            if self.top.len() == self.n
                && !self.top.last().is_some_and(|w| self.better(k, run_id, w))
            {
                continue;
            }
            let mut row = Map::new();
            for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
                row.insert(f.name().clone(), cell_json(col.as_ref(), r));
            }
            let at =
                self.top.iter().position(|t| self.better(k, run_id, t)).unwrap_or(self.top.len());
            self.top.insert(at, TopRow { run_id, key: k, row });
            self.top.truncate(self.n);
        }
    }

    /// The top rows as JSON: rank, run_id, param_hash, the axis parameters, every metric.
    pub fn top_json(&self, axes: &[&str]) -> Value {
        let metrics: Vec<&str> =
            crate::metrics::Metrics::default().fields().map(|(n, _)| n).to_vec();
        let rows: Vec<Value> = self
            .top
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let pick = |names: &[&str]| -> Map<String, Value> {
                    names
                        .iter()
                        .map(|n| (n.to_string(), t.row.get(*n).cloned().unwrap_or(Value::Null)))
                        .collect()
                };
                serde_json::json!({
                    "rank": i + 1,
                    "run_id": t.run_id,
                    "param_hash": t.row.get(PARAM_HASH).cloned().unwrap_or(Value::Null),
                    "params": pick(axes),
                    "metrics": pick(&metrics),
                })
            })
            .collect();
        Value::Array(rows)
    }

    /// The top rows as an aligned text table with the columns a trader reads first.
    pub fn table(&self, axes: &[&str]) -> String {
        let (header, rows) = self.table_cells(axes);
        text_table(&header, &rows)
    }

    /// The cross-symbol ranking ([`super::across`]) as table cells: the header and, per
    /// ranked combination, its number, axis values, worst, median and per-symbol values;
    /// with the ranking itself. `None` for a sweep of one symbol.
    pub fn across_cells(
        &self,
        space: &super::Space,
    ) -> Option<(Vec<String>, Vec<Vec<String>>, super::across::AcrossRanking)> {
        let a = self.across.as_ref()?;
        let ranking = a.ranking(self.n, self.rank.ascending);
        let axes: Vec<&str> = space.axes().iter().map(|x| x.name).collect();
        let mut header: Vec<String> = vec!["combo".into()];
        header.extend(axes.iter().map(|s| s.to_string()));
        header.extend(["worst".into(), "median".into()]);
        header.extend(a.symbols.iter().cloned());
        let rows = ranking
            .top
            .iter()
            .map(|t| {
                let mut row = vec![t.combo.to_string()];
                let params = space.params(t.combo).ok();
                for n in &axes {
                    let v = params.as_ref().and_then(|p| crate::config::fields::get_param(p, n));
                    row.push(v.map_or("?".into(), |v| param_text(&v)));
                }
                row.push(format!("{:.2}", t.worst));
                row.push(format!("{:.2}", t.median));
                row.extend(t.values.iter().map(|v| format!("{v:.2}")));
                row
            })
            .collect();
        Some((header, rows, ranking))
    }

    /// The cells of [`Report::table`]: the header and one row of formatted values per top
    /// run (the first column is the `run_id`).
    pub fn table_cells(&self, axes: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut cols: Vec<(String, String)> = vec![("run_id".into(), RUN_ID.into())];
        cols.extend(axes.iter().map(|a| (a.to_string(), a.to_string())));
        for (label, name) in [
            ("return %", "return_pct"),
            ("max DD %", "max_drawdown_pct"),
            ("Calmar", "calmar_ratio"),
            ("Sharpe", "sharpe_ratio"),
            ("trades", "total_trades"),
            ("liquidated", "liquidated"),
        ] {
            cols.push((label.into(), name.into()));
        }
        if !cols.iter().any(|(_, n)| n == self.rank.metric) {
            cols.push((self.rank.metric.into(), self.rank.metric.into()));
        }
        let fmt = |name: &str, v: &Value| -> String {
            match v {
                Value::Null => "—".into(),
                Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
                Value::String(s) => s.clone(),
                Value::Number(n) if n.is_f64() && !PARAMS.iter().any(|p| p.name == name) => {
                    format!("{:.2}", n.as_f64().unwrap_or(f64::NAN))
                }
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            }
        };
        let header = cols.iter().map(|(l, _)| l.clone()).collect();
        let rows = self
            .top
            .iter()
            .map(|t| {
                cols.iter()
                    .map(|(_, n)| fmt(n, t.row.get(n.as_str()).unwrap_or(&Value::Null)))
                    .collect()
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RunParams;
    use crate::metrics::Metrics;
    use crate::sweep::results::{to_batch, RowLabels, RunOutcome};

    static L: std::sync::LazyLock<RowLabels> =
        std::sync::LazyLock::new(|| RowLabels::one("s", "BTCUSDT"));

    fn outcome(run_id: u64, calmar: Option<f64>, dd: f64) -> RunOutcome {
        let m = Metrics { calmar_ratio: calmar, max_drawdown_pct: dd, ..Metrics::default() };
        RunOutcome {
            run_id,
            params: RunParams::default(),
            result: Ok(m),
            tier_layer: crate::tiers::TierLayer::Snapshot,
            periods: Vec::new(),
            walk: Vec::new(),
            end: Default::default(),
        }
    }

    #[test]
    fn test_rank_by_parses_direction() {
        assert_eq!("calmar_ratio".parse::<RankBy>().unwrap(), RankBy::default());
        assert!("max_drawdown_pct".parse::<RankBy>().unwrap().ascending);
        assert!(!"max_drawdown_pct:desc".parse::<RankBy>().unwrap().ascending);
        let e = "liquidated".parse::<RankBy>().unwrap_err();
        assert!(e.contains("not a numeric metric") && e.contains("return_pct"), "{e}");
    }

    #[test]
    fn test_top_n_orders_and_skips_nulls_and_errors() {
        let mut r = Report::new(RankBy::default(), 2);
        r.observe(&to_batch(
            &[
                outcome(0, Some(1.0), 5.0),
                outcome(1, None, 1.0),
                outcome(2, Some(3.0), 2.0),
                RunOutcome {
                    run_id: 3,
                    params: RunParams::default(),
                    result: Err("bad".into()),
                    tier_layer: crate::tiers::TierLayer::Snapshot,
                    periods: Vec::new(),
                    walk: Vec::new(),
                    end: Default::default(),
                },
                outcome(4, Some(3.0), 9.0),
            ],
            &L,
        ));
        let ids: Vec<u64> = r.top.iter().map(|t| t.run_id).collect();
        assert_eq!(ids, [2, 4]);
        assert_eq!((r.rows, r.ok, r.failed), (5, 4, 1));
        assert_eq!(r.first_errors, [(3, "bad".to_string())]);
        let mut asc = Report::new("max_drawdown_pct".parse().unwrap(), 1);
        asc.observe(&to_batch(&[outcome(0, None, 5.0), outcome(1, None, 1.0)], &L));
        assert_eq!(asc.top[0].run_id, 1);
        let t = r.table(&["leverage"]);
        assert!(t.lines().next().unwrap().contains("leverage"), "{t}");
        assert_eq!(t.lines().count(), 4);
    }
}
