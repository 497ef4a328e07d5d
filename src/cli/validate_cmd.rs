//! `gridsweep validate`: how far a sweep's winner can be trusted (docs/selection.md): PBO,
//! the deflated Sharpe ratio, the minimum backtest length, Pareto ranks and plateau scores.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow_array::builder::{Float64Builder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use clap::Args;
use serde_json::json;

use gridsweep::output::guard::{self, Input, Kind, Output};
use gridsweep::selection::dsr::periods_per_year;
use gridsweep::selection::pareto::{parse_objectives, DEFAULT_OBJECTIVES};
use gridsweep::selection::pbo::full_sample_metrics;
use gridsweep::selection::{
    pareto_ranks, plateau_scores, summarise, Direction, Neighbourhood, Objective, ReturnsMatrix,
};
use gridsweep::sweep::periods::companion_path;
use gridsweep::sweep::selection_input::SelectionInput;
use gridsweep::sweep::writer::Assembler;

/// Arguments of `gridsweep validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// A sweep result file whose sweep recorded periods (`[record] period = "1d"`).
    pub results: PathBuf,
    /// What ranks and selects runs: `sharpe`, `return` (mean period return) or `sortino`.
    #[arg(long, default_value = "sharpe")]
    pub objective: String,
    /// Number of blocks S for PBO (even, 2–32); C(S, S/2) splits.
    #[arg(long, default_value_t = 16)]
    pub splits: usize,
    /// Pareto objectives: 2–4 metric columns, each `name` (higher is better), `name:asc`
    /// (lower is better) or `name:desc`.
    #[arg(long, default_value = DEFAULT_OBJECTIVES)]
    pub pareto: String,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Replace an existing selection file that is not one.
    #[arg(long)]
    pub force: bool,
}

/// The `--pareto` list: 2–4 numeric metric columns with directions.
fn parse_pareto(text: &str) -> anyhow::Result<Vec<(String, Direction)>> {
    let list = parse_objectives(text).map_err(|e| anyhow::anyhow!("--pareto: {e}"))?;
    let known = gridsweep::sweep::results::numeric_metrics();
    if let Some((bad, _)) = list.iter().find(|(n, _)| !known.contains(n)) {
        bail!("--pareto: `{bad}` is not a numeric metric; choose from {}", known.join(", "));
    }
    Ok(list.into_iter().map(|(n, d)| (n.to_string(), d)).collect())
}

/// Runs `validate`; returns the exit code.
///
/// # Errors
/// Unreadable or unsuitable result files, bad options.
pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let Some(objective) = Objective::parse(&args.objective) else {
        bail!("--objective {}: use sharpe, return or sortino", args.objective);
    };
    let pareto = parse_pareto(&args.pareto)?;
    let names: Vec<&str> = pareto.iter().map(|(n, _)| n.as_str()).collect();
    let input = SelectionInput::read(&args.results, &names)
        .with_context(|| format!("cannot validate {}", args.results.display()))?;
    let (n_ok, t) = (input.ok_run_ids.len(), input.n_periods());
    if n_ok < 2 {
        bail!(
            "{}: {n_ok} run(s) with status ok; validation compares at least 2",
            args.results.display()
        );
    }
    let matrix = ReturnsMatrix::from_equity(&input.equity, n_ok, t, &input.initial_balance)?
        .with_run_ids(input.ok_run_ids.clone())?;
    let v = summarise(&matrix, args.splits, objective, periods_per_year(input.period_ms))
        .with_context(|| {
            format!("{t} periods of {} ms, {} splits", input.period_ms, args.splits)
        })?;

    // Pareto ranks over the ok runs, plateau scores over the whole grid (by run_id).
    let ok_rows: Vec<usize> = (0..input.run_ids.len()).filter(|&i| input.ok[i]).collect();
    let columns: Vec<Vec<f64>> =
        names.iter().map(|n| ok_rows.iter().map(|&i| input.metrics[*n][i]).collect()).collect();
    let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let dirs: Vec<Direction> = pareto.iter().map(|p| p.1).collect();
    let ranks = pareto_ranks(&slices, &dirs)?;
    let full = full_sample_metrics(&matrix, objective);
    let whole_grid = !input.sampled
        && input.run_ids.len() as u64 == input.total_runs
        && input.run_ids.iter().enumerate().all(|(i, &id)| id == i as u64);
    let plateau = if whole_grid {
        let mut by_id = vec![f64::NAN; input.run_ids.len()];
        for (k, &i) in ok_rows.iter().enumerate() {
            by_id[input.run_ids[i] as usize] = full[k];
        }
        // Over several symbols the grid repeats per symbol: each run's neighbours are its
        // own symbol's.
        let combos: usize = input.axis_sizes.iter().product::<usize>().max(1);
        let mut scores = Vec::with_capacity(by_id.len());
        for chunk in by_id.chunks(combos) {
            scores.extend(plateau_scores(&input.axis_sizes, chunk, Neighbourhood::Box)?);
        }
        Some(scores)
    } else {
        None
    };
    let sel = companion_path(&args.results, "selection");
    write_selection(&args, &input, &ok_rows, &ranks, &full, plateau.as_deref(), &sel)?;

    let front = ranks.iter().filter(|&&r| r == 0).count();
    let out = &mut super::stdout();
    if args.json {
        let mut doc = serde_json::to_value(&v)?;
        if let Some(o) = doc.as_object_mut() {
            o.insert("results".into(), args.results.display().to_string().into());
            o.insert("periods".into(), t.into());
            o.insert("period_ms".into(), input.period_ms.into());
            o.insert("pareto".into(), json!({ "objectives": args.pareto, "front_size": front }));
            o.insert("plateau".into(), plateau.is_some().into());
            o.insert("selection_file".into(), sel.display().to_string().into());
        }
        writeln!(out, "{doc}")?;
        return Ok(0);
    }
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.4}"));
    writeln!(
        out,
        "validate {}: {n_ok} ok runs × {t} periods, objective {}",
        args.results.display(),
        objective.as_str()
    )?;
    writeln!(out, "  PBO                      {:.3}   (share of {} splits whose in-sample winner ranks in the bottom half out of sample; 0.5 = a coin toss)", v.pbo, v.n_combinations)?;
    writeln!(out, "  P(out-of-sample loss)    {:.3}", v.prob_oos_loss)?;
    writeln!(out, "  degradation              slope {} , intercept {}   (out-of-sample metric on in-sample metric)", opt(v.degradation_slope), opt(v.degradation_intercept))?;
    writeln!(
        out,
        "  selected run             {}   (Sharpe {:.4} per period, {:.2} a year)",
        v.selected_run_id, v.sharpe_selected, v.sharpe_selected_annualised
    )?;
    writeln!(out, "  deflated Sharpe ratio    {}   (probability that its Sharpe is real, given {n_ok} trials; trust ≥ 0.95)", opt(v.deflated_sharpe))?;
    writeln!(
        out,
        "  minimum backtest length  {} years, data {:.3} years",
        opt(v.min_backtest_length_years),
        v.data_years
    )?;
    writeln!(out, "  {}", v.verdict)?;
    writeln!(out, "  Pareto front             {front} runs over {}", args.pareto)?;
    writeln!(
        out,
        "  plateau scores           {}",
        if plateau.is_some() {
            "min and median over each run's grid neighbours"
        } else if input.sampled {
            "not computed: a sampled sweep has no grid neighbours"
        } else {
            "not computed: the file is not a whole sweep (a shard?)"
        }
    )?;
    writeln!(out, "  written                  {}", sel.display())?;
    Ok(0)
}

/// Writes the per-run selection columns: run_id, objective, pareto_rank, plateau_min,
/// plateau_median (nulls for runs that failed).
fn write_selection(
    args: &ValidateArgs,
    input: &SelectionInput,
    ok_rows: &[usize],
    ranks: &[u32],
    full: &[f64],
    plateau: Option<&[gridsweep::selection::PlateauScore]>,
    dest: &Path,
) -> anyhow::Result<()> {
    let inputs = [
        Input { role: "the result file", path: &input.results },
        Input { role: "the periods file", path: &input.periods },
    ];
    guard::check(
        &inputs,
        &[Output { flag: "(selection file)", path: dest, kind: Kind::SweepResult }],
        args.force,
    )?;
    let n = input.run_ids.len();
    let mut at = vec![None; n];
    for (k, &i) in ok_rows.iter().enumerate() {
        at[i] = Some(k);
    }
    let (mut id, mut obj, mut rank, mut pmin, mut pmed) = (
        UInt64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        UInt32Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
    );
    for (&run_id, &at) in input.run_ids.iter().zip(&at) {
        id.append_value(run_id);
        obj.append_option(at.map(|k| full[k]));
        rank.append_option(at.map(|k| ranks[k]));
        let p = plateau.and_then(|p| p.get(run_id as usize));
        pmin.append_option(p.and_then(|p| p.min));
        pmed.append_option(p.and_then(|p| p.median));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::UInt64, false),
        Field::new("objective", DataType::Float64, true),
        Field::new("pareto_rank", DataType::UInt32, true),
        Field::new("plateau_min", DataType::Float64, true),
        Field::new("plateau_median", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(obj.finish()),
        Arc::new(rank.finish()),
        Arc::new(pmin.finish()),
        Arc::new(pmed.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols)?;
    let mut kv = gridsweep::sweep::writer::read_kv(&input.results)?;
    kv.retain(|(k, _)| k == "gridsweep.sweep_name" || k == "gridsweep.sweep_sha256");
    kv.push(("gridsweep.table".into(), "selection".into()));
    kv.push(("gridsweep.objective".into(), args.objective.clone()));
    kv.push(("gridsweep.pareto".into(), args.pareto.clone()));
    let tmp = dest.with_extension("parquet.tmp");
    let mut a = Assembler::create_with(&tmp, schema, n.max(1) as u64, kv)?;
    a.append(&batch)?;
    a.finish(dest)?;
    Ok(())
}
