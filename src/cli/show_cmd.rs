//! `gridsweep show`: the drill-down from one sweep row to its trades. Re-runs the row from
//! the sweep file and data recorded in the result file, checks that its metrics equal the
//! row's bit for bit, and prints the backtest summary.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use gridsweep::engine::VecRecorder;
use gridsweep::output::guard::{self, Input};
use gridsweep::output::{write_equity, write_trades};
use gridsweep::report::build::{single_run, RunTrace};
use gridsweep::sweep::rerun::{differing_columns, Recorded};
use gridsweep::sweep::results::{RunEnd, RunOutcome};
use gridsweep::time::format_iso;

/// Arguments of `gridsweep show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A sweep result file (its candle files must still be where the sweep read them).
    #[arg(value_name = "RESULTS.parquet")]
    pub results: PathBuf,
    /// The row to re-run.
    #[arg(value_name = "RUN_ID")]
    pub run_id: u64,
    /// Write every fill (`.csv` or `.parquet`).
    #[arg(long, value_name = "OUT")]
    pub trades: Option<PathBuf>,
    /// Write the per-tick equity curve (`.csv` or `.parquet`).
    #[arg(long, value_name = "OUT")]
    pub equity: Option<PathBuf>,
    /// Print the metrics as one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write an HTML report of the run (equity, underwater, positions, fills on the price).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Replace existing output files of another kind (inputs are never overwritten).
    #[arg(long)]
    pub force: bool,
}

/// Runs `gridsweep show`.
///
/// # Errors
/// Not a result file, a run id it does not hold, data that moved or changed, a re-run
/// whose metrics differ from the row (named column by column), output problems.
pub fn run(args: ShowArgs) -> anyhow::Result<i32> {
    let outputs =
        super::run_outputs(args.trades.as_deref(), args.equity.as_deref(), args.report.as_deref())?;
    let inputs = [Input { role: "the result file", path: &args.results }];
    guard::check(&inputs, &outputs, args.force)?;

    let recorded = Recorded::open(&args.results)?;
    let params = recorded.params(args.run_id).map_err(anyhow::Error::msg)?;
    let row = recorded.row(args.run_id)?;
    let keep_equity = args.equity.is_some() || args.report.is_some();
    let mut rec = VecRecorder { keep_equity, ..Default::default() };
    let id = args.run_id;
    let setup = &recorded.setup;
    let labels = setup.labels();
    let sym = setup.spec.slot(id).symbol;
    let tier_layer = setup.symbols[sym].tier_layer;
    let row_end = gridsweep::sweep::rerun::row_end(&row);
    let (params, m, pruned) = match recorded.run(id, row_end.window_end_ms, &mut rec) {
        Ok(r) => (r.params, r.metrics, r.pruned),
        Err(e) => {
            let outcome = RunOutcome {
                run_id: id,
                params,
                result: Err(e.clone()),
                tier_layer,
                periods: Vec::new(),
                walk: Vec::new(),
                end: row_end,
            };
            let differs = differing_columns(&row, &outcome, &labels);
            let same = if differs.is_empty() { "as its row says" } else { "and its row differs" };
            anyhow::bail!("run {id} fails when re-run ({same}): {e}");
        }
    };
    let outcome = RunOutcome {
        run_id: id,
        params,
        result: Ok(m),
        tier_layer,
        periods: Vec::new(),
        walk: Vec::new(),
        end: RunEnd { pruned, ..row_end },
    };
    let differs = differing_columns(&row, &outcome, &labels);
    if !differs.is_empty() {
        anyhow::bail!(
            "the re-run of run {id} does not reproduce its row in {}: {}; was the result file \
             written by another gridsweep version (it says {})?",
            args.results.display(),
            differs.join(", "),
            recorded.identity.version
        );
    }
    let symbol = setup.spec.symbols[sym].instrument.symbol.clone();
    let meta = vec![
        ("gridsweep.results".to_string(), args.results.display().to_string()),
        ("gridsweep.run_id".to_string(), id.to_string()),
        ("gridsweep.symbol".to_string(), symbol.clone()),
        ("gridsweep.model".to_string(), params.account.model.as_str().to_string()),
        ("gridsweep.tier_layer".to_string(), tier_layer.as_str().to_string()),
        ("gridsweep.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
    if let Some(p) = &args.trades {
        write_trades(p, &rec.fills, &meta)?;
    }
    if let Some(p) = &args.equity {
        write_equity(p, &rec.equity, &meta)?;
    }
    let w = setup.window(sym);
    let source = format!(
        "run {id} of sweep {}, {} candles {} .. {}",
        recorded.identity.name,
        w.len(),
        format_iso(w.ts_ms[0]),
        format_iso(w.ts_ms[w.len() - 1])
    );
    if let Some(path) = &args.report {
        let axes: Vec<String> = setup
            .spec
            .space
            .axes()
            .iter()
            .map(|a| {
                let v = gridsweep::config::fields::get_param(&params, a.name);
                format!("{} {}", a.name, v.map_or("?".into(), |v| v.to_string()))
            })
            .collect();
        let provenance = vec![
            ("result file".to_string(), args.results.display().to_string()),
            ("data".to_string(), source.clone()),
            ("data fingerprint".to_string(), recorded.identity.data_fingerprint.clone()),
            (
                "return".to_string(),
                format!("{:.2} %, max drawdown {:.2} %", m.return_pct, m.max_drawdown_pct),
            ),
        ];
        let run = RunTrace {
            run_id: Some(id),
            label: format!("run {id}: {}", axes.join(", ")),
            equity: std::mem::take(&mut rec.equity),
            fills: std::mem::take(&mut rec.fills),
        };
        let price: Vec<(i64, f64)> = w.ts_ms.iter().copied().zip(w.close.iter().copied()).collect();
        let title = format!("gridsweep show — sweep {} run {id}", recorded.identity.name);
        let html = single_run(&title, &provenance, &run, &price).map_err(anyhow::Error::msg)?;
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let out = &mut super::stdout();
    if args.json {
        let mut v = serde_json::to_value(m)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("run_id".into(), id.into());
            o.insert("symbol".into(), symbol.into());
            o.insert("tier_layer".into(), tier_layer.as_str().into());
            o.insert("matches_row".into(), true.into());
        }
        writeln!(out, "{v}")?;
    } else {
        let layer = tier_layer.as_str();
        super::backtest_cmd::print_summary(out, "show", &symbol, &params, &m, &source, layer)?;
        writeln!(out, "  metrics equal the result row bit for bit")?;
    }
    Ok(0)
}
