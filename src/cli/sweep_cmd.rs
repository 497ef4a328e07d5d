//! `gridsweep sweep` and `gridsweep merge`: arguments, human and JSON output, exit codes
//! (0 every run ok, 1 some runs failed, 2 fatal error — returned as `Err` to `main`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::sweep::merge::merge;
use crate::sweep::report::{RankBy, Report};
use crate::sweep::spec::{fmt_count, DEFAULT_MAX_RUNS};
use crate::sweep::{execute, ExecOptions, Shard, SizeLimit, SweepSetup, SweepSpec};
use crate::time::format_iso;

/// Arguments of `gridsweep sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Sweep file (see sweeps/example.toml).
    #[arg(value_name = "SWEEP.toml")]
    pub file: PathBuf,
    /// Result file [default: results/NAME.parquet, or results/NAME.shard-K-of-N.parquet].
    #[arg(long, short = 'o', value_name = "FILE.parquet")]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Run only slice K of N (1-based) for a job array; join the parts with `gridsweep merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Ranking and output format of the summary.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Run sweeps above the size guard (1,000,000 runs) and overwrite a result file that
    /// holds other results.
    #[arg(long)]
    pub force: bool,
    /// Runs per block: the unit of durability on interrupt, of row groups and of shards.
    /// Resume and merge need the same value.
    #[arg(long, value_name = "N", default_value_t = crate::sweep::DEFAULT_BLOCK_RUNS)]
    pub block_runs: u64,
}

/// Summary options shared by `sweep` and `merge`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Objective of the top-10 table: a numeric metric, optionally `:asc`/`:desc`
    /// (drawdowns, fees, rejections rank ascending by default, everything else descending).
    #[arg(long, value_name = "METRIC", default_value = "calmar_ratio")]
    pub rank_by: RankBy,
    /// Rows in the top table.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document (summary and top rows) on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `gridsweep merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard result files (any order), all shards 1/N … N/N of one sweep.
    #[arg(required = true, value_name = "PART.parquet")]
    pub parts: Vec<PathBuf>,
    /// Merged result file.
    #[arg(long, short = 'o', value_name = "FILE.parquet")]
    pub out: PathBuf,
    /// Ranking and output format of the summary.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// Peak resident memory of this process in KiB (`VmHWM`), where /proc is available.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `gridsweep sweep`; returns 0 when every run succeeded, 1 when some failed.
///
/// # Errors
/// Fatal problems (bad sweep file, unreadable data or tiers, unresumable partial results,
/// I/O): `main` prints them and exits 2.
pub fn run_sweep(args: SweepArgs) -> anyhow::Result<i32> {
    let limit = SizeLimit { max_runs: DEFAULT_MAX_RUNS, force: args.force };
    let spec = SweepSpec::load(&args.file, limit)?;
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let out = args.out.clone().unwrap_or_else(|| {
        let name = if shard.is_whole() {
            format!("{}.parquet", spec.name)
        } else {
            format!("{}.shard-{}-of-{}.parquet", spec.name, shard.index, shard.count)
        };
        PathBuf::from("results").join(name)
    });
    let setup = SweepSetup::resolve(spec)?;
    let spec = &setup.spec;
    let window = setup.window();
    let sizes: Vec<String> =
        spec.space.axes().iter().map(|a| format!("{} {}", a.name, a.values.len())).collect();
    if !args.report.json {
        eprintln!(
            "sweep {}: {} runs ({}) over {} candles {} .. {}",
            spec.name,
            fmt_count(spec.space.len()),
            sizes.join(" × "),
            fmt_count(window.len() as u64),
            format_iso(window.ts_ms[0]),
            format_iso(window.ts_ms[window.len() - 1]),
        );
        eprintln!(
            "{} tiers: {} (max leverage {}); output {}{}",
            spec.instrument.symbol,
            setup.tier_layer.as_str(),
            setup.tiers.max_leverage(),
            out.display(),
            if shard.is_whole() { String::new() } else { format!(" (shard {shard})") }
        );
    }
    if let Some(w) = window.gaps().warning() {
        eprintln!("warning: {w}");
    }
    if let Some((over, max)) = setup.leverage_over_max() {
        eprintln!(
            "warning: leverage {} above the tier table's maximum {max} for {}; those runs \
             will fail with an error row",
            over.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
            spec.instrument.symbol
        );
    }
    let opts = ExecOptions {
        out,
        threads: args.threads,
        shard,
        block_runs: args.block_runs,
        rank: args.report.rank_by,
        top_n: args.report.top,
        progress: !args.report.json,
        force: args.force,
    };
    let s = execute(&setup, &opts).with_context(|| format!("sweep {} failed", spec.name))?;
    let r = &s.report;
    if args.report.json {
        let doc = json!({
            "sweep": spec.name,
            "file": args.file.display().to_string(),
            "out": s.out.display().to_string(),
            "symbol": spec.instrument.symbol,
            "sweep_sha256": spec.text_sha256,
            "data_fingerprint": setup.data_fingerprint,
            "tier_layer": setup.tier_layer.as_str(),
            "axes": s.axes,
            "total_runs": s.total_runs,
            "shard": s.shard.to_string(),
            "shard_runs": s.shard_runs,
            "computed_runs": s.computed_runs,
            "resumed_runs": s.resumed_runs,
            "already_complete": s.already_complete,
            "ok_runs": r.ok,
            "failed_runs": r.failed,
            "liquidated_runs": r.liquidated,
            "first_errors": errors_json(r),
            "threads": s.threads,
            "elapsed_s": s.elapsed_s,
            "runs_per_s": if s.elapsed_s > 0.0 { s.computed_runs as f64 / s.elapsed_s } else { 0.0 },
            "peak_rss_kib": peak_rss_kib(),
            "rank_by": { "metric": r.rank.metric, "direction": r.rank.direction() },
            "top": r.top_json(&s.axes),
        });
        writeln!(std::io::stdout().lock(), "{doc}")?;
    } else {
        if s.already_complete {
            eprintln!(
                "nothing to compute: {} already holds all {} runs of this sweep{}",
                s.out.display(),
                fmt_count(r.rows),
                if shard.is_whole() { String::new() } else { format!(" shard {shard}") }
            );
        } else {
            let rate = if s.elapsed_s > 0.0 { s.computed_runs as f64 / s.elapsed_s } else { 0.0 };
            let kept = if s.resumed_runs > 0 {
                format!(", {} kept from the interrupted run", fmt_count(s.resumed_runs))
            } else {
                String::new()
            };
            eprintln!(
                "done in {:.1} s on {} threads ({rate:.1} runs/s): {} runs computed{kept}; wrote {}",
                s.elapsed_s,
                s.threads,
                fmt_count(s.computed_runs),
                s.out.display()
            );
        }
        print_report(r, &s.axes)?;
    }
    Ok(i32::from(r.failed > 0))
}

/// Runs `gridsweep merge`; returns 0 when every merged run succeeded, 1 when some failed.
///
/// # Errors
/// Parts that cannot be merged (the message says why and how to fix it) or I/O errors.
pub fn run_merge(args: MergeArgs) -> anyhow::Result<i32> {
    let m = merge(&args.parts, &args.out, args.report.rank_by, args.report.top, args.force)?;
    let axes: Vec<&str> = m.axes.iter().map(String::as_str).collect();
    let r = &m.report;
    if args.report.json {
        let doc = json!({
            "sweep": m.name,
            "out": m.out.display().to_string(),
            "parts": m.parts,
            "total_runs": m.total_runs,
            "ok_runs": r.ok,
            "failed_runs": r.failed,
            "liquidated_runs": r.liquidated,
            "first_errors": errors_json(r),
            "rank_by": { "metric": r.rank.metric, "direction": r.rank.direction() },
            "top": r.top_json(&axes),
        });
        writeln!(std::io::stdout().lock(), "{doc}")?;
    } else {
        eprintln!(
            "merged {} shards of sweep {} ({} runs) into {}",
            m.parts,
            m.name,
            fmt_count(m.total_runs),
            m.out.display()
        );
        print_report(r, &axes)?;
    }
    Ok(i32::from(r.failed > 0))
}

fn errors_json(r: &Report) -> serde_json::Value {
    r.first_errors.iter().map(|(id, e)| json!({ "run_id": id, "error": e })).collect()
}

/// Counts on stderr, the top table on stdout (a closed pipe surfaces as an I/O error, which
/// `main` treats as success).
fn print_report(r: &Report, axes: &[&str]) -> std::io::Result<()> {
    eprintln!(
        "{} ok, {} failed, {} liquidated",
        fmt_count(r.ok),
        fmt_count(r.failed),
        fmt_count(r.liquidated)
    );
    for (id, e) in &r.first_errors {
        eprintln!("  run {id} failed: {e}");
    }
    let mut out = std::io::stdout().lock();
    if r.top.is_empty() {
        return writeln!(out, "no run has a value for {}", r.rank.metric);
    }
    writeln!(out, "top {} by {} ({}):", r.top.len(), r.rank.metric, r.rank.direction())?;
    write!(out, "{}", r.table(axes))
}
