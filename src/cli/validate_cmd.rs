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
use gridsweep::selection::dsr::{
    annualised_sharpe, deflated_sharpe_of_matrix, min_btl_report, periods_per_year,
};
use gridsweep::selection::pbo::full_sample_metrics;
use gridsweep::selection::{
    pareto_ranks, pbo, plateau_scores, Direction, Neighbourhood, Objective, ReturnsMatrix,
};
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
    #[arg(long, default_value = "return_pct,max_drawdown_pct:asc,min_liq_distance_pct")]
    pub pareto: String,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Replace an existing selection file that is not one.
    #[arg(long)]
    pub force: bool,
}

/// `<results without .parquet>.selection.parquet`.
fn selection_path(results: &Path) -> PathBuf {
    let name = results.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    results.with_file_name(format!("{stem}.selection.parquet"))
}

fn parse_pareto(text: &str) -> anyhow::Result<Vec<(String, Direction)>> {
    let list: Vec<(String, Direction)> = text
        .split(',')
        .map(|item| {
            let (name, dir) = item.trim().split_once(':').unwrap_or((item.trim(), "desc"));
            match dir {
                "asc" => Ok((name.to_string(), Direction::Min)),
                "desc" => Ok((name.to_string(), Direction::Max)),
                d => bail!("--pareto: {name}:{d}: the direction must be `asc` (lower is better) or `desc` (higher is better)"),
            }
        })
        .collect::<anyhow::Result<_>>()?;
    if !(2..=4).contains(&list.len()) {
        bail!(
            "--pareto takes 2 to 4 metrics (got {}), e.g. return_pct,max_drawdown_pct:asc",
            list.len()
        );
    }
    let known = gridsweep::sweep::results::numeric_metrics();
    if let Some((bad, _)) = list.iter().find(|(n, _)| !known.contains(&n.as_str())) {
        bail!("--pareto: `{bad}` is not a numeric metric; choose from {}", known.join(", "));
    }
    Ok(list)
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
    let p = pbo(&matrix, args.splits, objective).with_context(|| {
        format!("{} periods of {} ms, {} splits", t, input.period_ms, args.splits)
    })?;
    let d = deflated_sharpe_of_matrix(&matrix, objective)?;
    let per_year = periods_per_year(input.period_ms);
    let annual = annualised_sharpe(d.dsr.input.sharpe, per_year);
    let data_years = t as f64 / per_year;
    let btl = min_btl_report(n_ok, annual, data_years);

    // Pareto ranks over the ok runs, plateau scores over the whole grid (by run_id).
    let ok_rows: Vec<usize> = (0..input.run_ids.len()).filter(|&i| input.ok[i]).collect();
    let columns: Vec<Vec<f64>> =
        names.iter().map(|n| ok_rows.iter().map(|&i| input.metrics[*n][i]).collect()).collect();
    let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let dirs: Vec<Direction> = pareto.iter().map(|p| p.1).collect();
    let ranks = pareto_ranks(&slices, &dirs)?;
    let full = full_sample_metrics(&matrix, objective);
    let whole_grid = input.run_ids.len() as u64 == input.total_runs
        && input.run_ids.iter().enumerate().all(|(i, &id)| id == i as u64);
    let plateau = if whole_grid {
        let mut by_id = vec![f64::NAN; input.run_ids.len()];
        for (k, &i) in ok_rows.iter().enumerate() {
            by_id[input.run_ids[i] as usize] = full[k];
        }
        Some(plateau_scores(&input.axis_sizes, &by_id, Neighbourhood::Box)?)
    } else {
        None
    };
    let sel = selection_path(&args.results);
    write_selection(&args, &input, &ok_rows, &ranks, &full, plateau.as_deref(), &sel)?;

    let front = ranks.iter().filter(|&&r| r == 0).count();
    let out = &mut super::stdout();
    if args.json {
        let doc = json!({
            "results": args.results.display().to_string(),
            "objective": objective.as_str(),
            "pbo": p.pbo,
            "splits": p.splits,
            "n_combinations": p.n_combinations,
            "periods": t,
            "periods_dropped": p.periods_dropped,
            "period_ms": input.period_ms,
            "n_trials": n_ok,
            "selected_run_id": d.selected_run_id,
            "sharpe_selected": d.dsr.input.sharpe,
            "sharpe_selected_annualised": annual,
            "expected_max_sharpe": d.dsr.expected_max_sharpe,
            "deflated_sharpe": d.dsr.deflated_sharpe,
            "min_backtest_length_years": btl.min_backtest_length_years,
            "data_years": data_years,
            "verdict": btl.verdict,
            "degradation_slope": p.degradation_slope,
            "degradation_intercept": p.degradation_intercept,
            "prob_oos_loss": p.prob_oos_loss,
            "logits": p.logits,
            "pareto": { "objectives": args.pareto, "front_size": front },
            "plateau": plateau.is_some(),
            "selection_file": sel.display().to_string(),
        });
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
    writeln!(out, "  PBO                      {:.3}   (share of {} splits whose in-sample winner ranks in the bottom half out of sample; 0.5 = a coin toss)", p.pbo, p.n_combinations)?;
    writeln!(out, "  P(out-of-sample loss)    {:.3}", p.prob_oos_loss)?;
    writeln!(out, "  degradation              slope {} , intercept {}   (out-of-sample metric on in-sample metric)", opt(p.degradation_slope), opt(p.degradation_intercept))?;
    writeln!(
        out,
        "  selected run             {}   (Sharpe {:.4} per period, {:.2} a year)",
        d.selected_run_id, d.dsr.input.sharpe, annual
    )?;
    writeln!(out, "  deflated Sharpe ratio    {}   (probability that its Sharpe is real, given {n_ok} trials; trust ≥ 0.95)", opt(d.dsr.deflated_sharpe))?;
    writeln!(
        out,
        "  minimum backtest length  {} years, data {:.3} years",
        opt(btl.min_backtest_length_years),
        data_years
    )?;
    writeln!(out, "  {}", btl.verdict)?;
    writeln!(out, "  Pareto front             {front} runs over {}", args.pareto)?;
    writeln!(
        out,
        "  plateau scores           {}",
        if plateau.is_some() {
            "min and median over each run's grid neighbours"
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
