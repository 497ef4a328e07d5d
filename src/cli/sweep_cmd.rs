//! `gridsweep sweep` and `gridsweep merge`: arguments, human and JSON output, exit codes
//! (0 every run ok, 1 some runs failed, 2 fatal error — returned as `Err` to `main`).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use gridsweep::output::guard::{self, Input, Kind, Output};
use gridsweep::sweep::exec::MAX_BLOCK_RUNS;
use gridsweep::sweep::merge::merge;
use gridsweep::sweep::report::{RankBy, Report};
use gridsweep::sweep::resume::parts_dir_of;
use gridsweep::sweep::shard::{block_count, block_runs_range};
use gridsweep::sweep::spec::{fmt_count, DEFAULT_MAX_RUNS};
use gridsweep::sweep::{execute, ExecOptions, Shard, SizeLimit, SweepSetup, SweepSpec};
use gridsweep::time::format_iso;

/// Arguments of `gridsweep sweep`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Progress: a bar on a terminal; when stderr is a file or a pipe (Slurm, \
    Kubernetes), a `progress:` line every 10 s (GRIDSWEEP_PROGRESS_SECS sets the interval).\n\
    Interrupts: Ctrl-C prints how many runs are saved and the command that resumes (exit \
    130); finished blocks survive any kill, and running the same command again resumes.")]
pub struct SweepArgs {
    /// Sweep file (see sweeps/example.toml).
    #[arg(value_name = "SWEEP.toml")]
    pub file: PathBuf,
    /// Result file [default: results/NAME.parquet, or results/NAME.shard-K-of-N.parquet].
    #[arg(long, short = 'o', value_name = "FILE.parquet")]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]; more than 4 per core are capped at that, with
    /// a warning (they only add overhead).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Run only slice K of N (1-based) for a job array; join the parts with `gridsweep merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Ranking and output format of the summary.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Run sweeps above the size guard (1,000,000 runs) and overwrite a result file that
    /// holds other results, or a file of another kind (an input is never overwritten).
    #[arg(long)]
    pub force: bool,
    /// Runs per block: the unit of durability, of row groups and of shards. An interrupt
    /// (Ctrl-C, a kill, a lost node) keeps every finished block and loses at most the blocks
    /// in flight, about 2 × threads (at least 4) blocks of N runs; running the same command again
    /// resumes. Resume and merge need the same value.
    #[arg(long, value_name = "N", default_value_t = gridsweep::sweep::DEFAULT_BLOCK_RUNS)]
    pub block_runs: u64,
    /// At the end, write the HTML report of the result file beside it (`NAME.html`, as
    /// `gridsweep report` with the same --rank-by and --top).
    #[arg(long = "report")]
    pub write_report: bool,
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
    /// Overwrite an existing output file (never a part, nor a file the sweep read).
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
    check_counts(&args.report, Some(args.block_runs))?;
    let limit = SizeLimit { max_runs: DEFAULT_MAX_RUNS, force: args.force };
    let spec = SweepSpec::load(&args.file, limit)?;
    for w in &spec.warnings {
        eprintln!("warning: {}: {w}", args.file.display());
    }
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let out = args.out.clone().unwrap_or_else(|| {
        let name = if shard.is_whole() {
            format!("{}.parquet", spec.name)
        } else {
            format!("{}.shard-{}-of-{}.parquet", spec.name, shard.index, shard.count)
        };
        PathBuf::from("results").join(name)
    });
    check_sweep_output(&args, &spec, &out)?;
    let threads = capped_threads(args.threads)?;
    let setup = SweepSetup::resolve(spec)?;
    let spec = &setup.spec;
    let sizes: Vec<String> =
        spec.space.axes().iter().map(|a| format!("{} {}", a.name, a.values.len())).collect();
    let several = spec.symbols.len() > 1;
    if !args.report.json {
        let shard_note = if shard.is_whole() { String::new() } else { format!(" (shard {shard})") };
        let window_text = |i: usize| {
            let w = setup.window(i);
            format!(
                "{} candles {} .. {}",
                fmt_count(w.len() as u64),
                format_iso(w.ts_ms[0]),
                format_iso(w.ts_ms[w.len() - 1])
            )
        };
        let tiers_text = |i: usize| {
            let s = &setup.symbols[i];
            format!("tiers: {} (max leverage {})", s.tier_layer.as_str(), s.tiers.max_leverage())
        };
        let runs = fmt_count(spec.runs());
        if several {
            let n = spec.symbols.len();
            errln!(
                "sweep {}: {runs} runs ({} on each of {n} symbols)",
                spec.name,
                sizes.join(" × ")
            );
            for (i, d) in spec.symbols.iter().enumerate() {
                errln!("{} over {}; {}", d.instrument.symbol, window_text(i), tiers_text(i));
            }
            errln!("output {}{shard_note}", out.display());
        } else {
            errln!(
                "sweep {}: {runs} runs ({}) over {}",
                spec.name,
                sizes.join(" × "),
                window_text(0)
            );
            let symbol = &spec.symbols[0].instrument.symbol;
            errln!("{symbol} {}; output {}{shard_note}", tiers_text(0), out.display());
        }
    }
    for (i, d) in spec.symbols.iter().enumerate() {
        let who = if several { format!("{}: ", d.instrument.symbol) } else { String::new() };
        if let Some(w) = setup.window(i).gaps().warning() {
            eprintln!("warning: {who}{w}");
        }
        if let Some(w) = &setup.symbols[i].funding_warning {
            eprintln!("warning: {who}{w}");
        }
    }
    if let Some(plan) = setup.walk.as_ref() {
        if !args.report.json {
            errln!("{}", super::walk_forward_out::plan_line(plan));
        }
        if let Some(w) = super::walk_forward_out::overlap_warning(plan) {
            errln!("warning: {w}");
        }
    }
    for (symbol, over, max) in setup.leverage_over_max() {
        errln!(
            "warning: leverage {} above the tier table's maximum {max} for {symbol}; those \
             runs will fail with an error row",
            over.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        );
    }
    let opts = ExecOptions {
        out,
        threads,
        shard,
        block_runs: args.block_runs,
        rank: args.report.rank_by,
        top_n: args.report.top,
        progress: !args.report.json,
        force: args.force,
    };
    let total = spec.runs();
    on_interrupt(Interrupted { out: opts.out.clone(), total, shard, block_runs: args.block_runs });
    let s = execute(&setup, &opts).with_context(|| format!("sweep {} failed", spec.name))?;
    let r = &s.report;
    let walk = walk_forward_json(setup.walk.is_some(), &s.out, shard.is_whole())?;
    if args.report.json {
        let doc = json!({
            "sweep": spec.name,
            "file": args.file.display().to_string(),
            "out": s.out.display().to_string(),
            "symbol": spec.symbol_names().join(","),
            "symbols": symbols_json(&setup),
            "sweep_sha256": spec.text_sha256,
            "data_fingerprint": setup.data_fingerprint,
            "tier_layer": setup.symbols[0].tier_layer.as_str(),
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
            "pruned_runs": r.pruned,
            "eliminated_runs": r.eliminated,
            "candle_runs_evaluated": s.search.as_ref().map(|h| h.candle_runs_evaluated),
            "candle_runs_exhaustive": s.search.as_ref().map(|h| h.candle_runs_exhaustive),
            "halving": s.search,
            "first_errors": errors_json(r),
            "threads": s.threads,
            "elapsed_s": s.elapsed_s,
            "runs_per_s": if s.elapsed_s > 0.0 { s.computed_runs as f64 / s.elapsed_s } else { 0.0 },
            "peak_rss_kib": peak_rss_kib(),
            "rank_by": { "metric": r.rank.metric, "direction": r.rank.direction() },
            "top": r.top_json(&s.axes),
            "walk_forward": walk,
            "across_symbols": across_json(r, spec),
        });
        writeln!(super::stdout(), "{doc}")?;
    } else {
        if s.already_complete {
            errln!(
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
            errln!(
                "done in {:.1} s on {} threads ({rate:.1} runs/s): {} runs computed{kept}; wrote {}",
                s.elapsed_s,
                s.threads,
                fmt_count(s.computed_runs),
                s.out.display()
            );
        }
        if let Some(h) = &s.search {
            errln!(
                "halving: {} candle·runs evaluated of {} exhaustive ({:.1}× fewer), {} probes",
                fmt_count(h.candle_runs_evaluated),
                fmt_count(h.candle_runs_exhaustive),
                h.candle_runs_exhaustive as f64 / h.candle_runs_evaluated.max(1) as f64,
                h.probes
            );
        }
        print_report(r, &s.axes)?;
        print_across(r, spec, shard.is_whole())?;
        print_walk_forward(&walk, setup.walk.is_some())?;
    }
    if args.write_report {
        let html = super::report_cmd::default_html(&s.out);
        let started = Instant::now();
        let bytes = super::report_cmd::write_report(
            &s.out,
            &html,
            args.report.top,
            args.report.rank_by,
            None,
            args.force,
        )?;
        errln!(
            "wrote {} ({} bytes) in {:.1} s",
            html.display(),
            fmt_count(bytes as u64),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(i32::from(r.failed > 0))
}

/// The walk-forward report of a finished sweep or merge (`null` without `[walk_forward]`, or
/// for one shard: folds are chosen when the shards are merged).
fn walk_forward_json(walk: bool, out: &Path, whole: bool) -> anyhow::Result<serde_json::Value> {
    if !walk || !whole {
        return Ok(serde_json::Value::Null);
    }
    Ok(gridsweep::sweep::folds::stored_report(out)?)
}

fn print_walk_forward(walk: &serde_json::Value, asked: bool) -> std::io::Result<()> {
    if walk.is_null() {
        if asked {
            errln!(
                "walk-forward: this shard's per-fold figures are in its .walk.parquet; the folds \
                 are chosen when `gridsweep merge` joins every shard"
            );
        }
        return Ok(());
    }
    super::walk_forward_out::print(&mut super::stdout(), walk)
}

/// `--top` and `--block-runs`, checked before anything is loaded.
fn check_counts(report: &ReportArgs, block_runs: Option<u64>) -> anyhow::Result<()> {
    if report.top == 0 {
        anyhow::bail!("--top must be at least 1 (the number of rows in the top table)");
    }
    if let Some(b) = block_runs {
        if !(1..=MAX_BLOCK_RUNS).contains(&b) {
            anyhow::bail!(
                "--block-runs must be between 1 and {} (was {b}); the default is {}",
                fmt_count(MAX_BLOCK_RUNS),
                gridsweep::sweep::DEFAULT_BLOCK_RUNS
            );
        }
    }
    Ok(())
}

/// The output rules (see [`guard`]) for the sweep's result file, checked before any data is
/// loaded or any run computed.
fn check_sweep_output(args: &SweepArgs, spec: &SweepSpec, out: &Path) -> anyhow::Result<()> {
    let mut inputs = vec![Input { role: "the sweep file", path: &args.file }];
    inputs.extend(
        spec.symbols
            .iter()
            .flat_map(|d| d.input_files(None))
            .map(|(role, path)| Input { role, path }),
    );
    let output = Output { flag: "--out", path: out, kind: Kind::SweepResult };
    let periods = gridsweep::sweep::periods::periods_path(out);
    let walk = gridsweep::sweep::companion::CompanionKind::Walk.path(out);
    let folds = gridsweep::sweep::folds::folds_path(out);
    let mut outputs = vec![output];
    if spec.record_ms.is_some() {
        outputs.push(Output {
            flag: "--out (its periods file)",
            path: &periods,
            kind: Kind::SweepResult,
        });
    }
    if spec.walk_forward.is_some() {
        outputs.push(Output {
            flag: "--out (its walk record)",
            path: &walk,
            kind: Kind::SweepResult,
        });
        outputs.push(Output {
            flag: "--out (its folds file)",
            path: &folds,
            kind: Kind::SweepResult,
        });
    }
    guard::check(&inputs, &outputs, args.force)?;
    Ok(())
}

/// Most worker threads per core: beyond this, threads only add scheduling and memory
/// overhead (and a mistyped `--threads 100000` would not finish starting).
pub const MAX_THREADS_PER_CORE: usize = 4;

/// `--threads`, refused when 0 and capped at [`MAX_THREADS_PER_CORE`] × the cores with a
/// warning.
fn capped_threads(threads: Option<usize>) -> anyhow::Result<Option<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = MAX_THREADS_PER_CORE * cores;
    match threads {
        Some(0) => anyhow::bail!("--threads must be at least 1 (leave it out for one per core)"),
        Some(n) if n > max => {
            errln!(
                "warning: --threads {n} capped at {max} ({MAX_THREADS_PER_CORE} per core on \
                 {cores} cores); more threads only add overhead"
            );
            Ok(Some(max))
        }
        other => Ok(other),
    }
}

/// What the Ctrl-C handler needs to say what was saved.
struct Interrupted {
    out: PathBuf,
    total: u64,
    shard: Shard,
    block_runs: u64,
}

impl Interrupted {
    /// Runs (and runs of this shard) held by finished block files in the parts directory.
    fn saved_runs(&self) -> (u64, u64) {
        let b_runs = self.block_runs.max(1);
        let blocks = self.shard.blocks(block_count(self.total, b_runs));
        let shard_runs =
            (blocks.end * b_runs).min(self.total) - (blocks.start * b_runs).min(self.total);
        let Ok(entries) = std::fs::read_dir(parts_dir_of(&self.out)) else {
            return (0, shard_runs);
        };
        let saved = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("block-")?.strip_suffix(".parquet")?.parse::<u64>().ok()
            })
            .filter(|b| blocks.contains(b))
            .map(|b| {
                let r = block_runs_range(b, b_runs, self.total);
                r.end - r.start
            })
            .sum();
        (saved, shard_runs)
    }
}

/// The command line as typed, quoted for a POSIX shell.
fn command_line(args: impl IntoIterator<Item = OsString>) -> String {
    let quote = |a: OsString| {
        let a = a.to_string_lossy().into_owned();
        let plain = !a.is_empty()
            && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
        if plain {
            a
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    args.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// On Ctrl-C (SIGINT): lets the writer finish the block it is storing, says how
/// many runs are saved and the command that resumes, and exits with 130.
fn on_interrupt(state: Interrupted) {
    let handler = move || {
        // Let the writer store what it holds: wait until no block file has appeared for
        // 100 ms (at most 0.5 s).
        let started = Instant::now();
        let (mut saved, shard_runs) = state.saved_runs();
        let mut stable_since = Instant::now();
        while started.elapsed() < Duration::from_millis(500)
            && stable_since.elapsed() < Duration::from_millis(100)
        {
            std::thread::sleep(Duration::from_millis(25));
            let now = state.saved_runs().0;
            if now != saved {
                saved = now;
                stable_since = Instant::now();
            }
        }
        if state.out.is_file() && !parts_dir_of(&state.out).exists() {
            errln!(
                "\ninterrupted after the result file was written: {} is complete",
                state.out.display()
            );
            std::process::exit(130);
        }
        let shard = if state.shard.is_whole() {
            String::new()
        } else {
            format!(" of shard {}", state.shard)
        };
        errln!(
            "\ninterrupted: {} of {} runs{shard} are saved in {} (the blocks in flight are \
             lost).\nTo resume, run the same command again from the same directory:\n  {}",
            fmt_count(saved),
            fmt_count(shard_runs),
            parts_dir_of(&state.out).display(),
            command_line(std::env::args_os())
        );
        std::process::exit(130);
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        log::warn!(
            "cannot catch Ctrl-C ({e}); an interrupted sweep still resumes from its saved blocks"
        );
    }
}

/// Runs `gridsweep merge`; returns 0 when every merged run succeeded, 1 when some failed.
///
/// # Errors
/// Parts that cannot be merged (the message says why and how to fix it) or I/O errors.
pub fn run_merge(args: MergeArgs) -> anyhow::Result<i32> {
    check_counts(&args.report, None)?;
    let m = merge(&args.parts, &args.out, args.report.rank_by, args.report.top, args.force)?;
    let axes: Vec<&str> = m.axes.iter().map(String::as_str).collect();
    let r = &m.report;
    let walk =
        walk_forward_json(gridsweep::sweep::folds::folds_path(&m.out).exists(), &m.out, true)?;
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
            "walk_forward": walk,
            "across_symbols": across_json(r, &m.spec),
        });
        writeln!(super::stdout(), "{doc}")?;
    } else {
        errln!(
            "merged {} shards of sweep {} ({} runs) into {}",
            m.parts,
            m.name,
            fmt_count(m.total_runs),
            m.out.display()
        );
        print_report(r, &axes)?;
        print_across(r, &m.spec, true)?;
        print_walk_forward(&walk, false)?;
    }
    Ok(i32::from(r.failed > 0))
}

/// Per symbol: its name, tier layer, data fingerprint and window.
fn symbols_json(setup: &SweepSetup) -> serde_json::Value {
    let spec = &setup.spec;
    let combos = spec.space.len();
    (0..spec.symbols.len())
        .map(|i| {
            let w = setup.window(i);
            let s = &setup.symbols[i];
            json!({
                "symbol": spec.symbols[i].instrument.symbol,
                "run_ids": [i as u64 * combos, (i as u64 + 1) * combos],
                "tier_layer": s.tier_layer.as_str(),
                "max_leverage": s.tiers.max_leverage(),
                "data_fingerprint": s.data_fingerprint,
                "candles": w.len(),
                "first_candle": format_iso(w.ts_ms[0]),
                "last_candle": format_iso(w.ts_ms[w.len() - 1]),
            })
        })
        .collect()
}

/// The axis values of combination `combo` as JSON (`{"leverage": 5, …}`).
fn combo_params_json(spec: &SweepSpec, combo: u64) -> serde_json::Value {
    let Ok(p) = spec.space.params(combo) else { return serde_json::Value::Null };
    spec.space
        .axes()
        .iter()
        .map(|a| {
            let v = gridsweep::config::fields::get_param(&p, a.name);
            (
                a.name.to_string(),
                v.map_or(serde_json::Value::Null, |v| gridsweep::sweep::report::param_json(&v)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The cross-symbol summary as JSON (`null` for one symbol).
fn across_json(r: &Report, spec: &SweepSpec) -> serde_json::Value {
    let Some(a) = &r.across else { return serde_json::Value::Null };
    let ranking = a.ranking(r.n, r.rank.ascending);
    let finite =
        |v: f64| serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into);
    let top: Vec<serde_json::Value> = ranking
        .top
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "rank": i + 1,
                "combo": t.combo,
                "params": combo_params_json(spec, t.combo),
                "worst": finite(t.worst),
                "median": finite(t.median),
                "per_symbol": a.symbols.iter().zip(&t.values)
                    .map(|(s, v)| (s.clone(), finite(*v)))
                    .collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    json!({
        "objective": r.rank.metric,
        "direction": r.rank.direction(),
        "symbols": a.symbols,
        "ranked_combos": ranking.ranked,
        "unranked_combos": ranking.unranked,
        "top": top,
    })
}

/// The cross-symbol table on stdout (nothing for one symbol).
fn print_across(r: &Report, spec: &SweepSpec, whole: bool) -> std::io::Result<()> {
    let Some((header, rows, ranking)) = r.across_cells(&spec.space) else { return Ok(()) };
    let mut out = super::stdout();
    writeln!(
        out,
        "\nacross {} symbols: top {} combinations by the worst, then the median, {} ({}):",
        spec.symbols.len(),
        rows.len(),
        r.rank.metric,
        r.rank.direction()
    )?;
    write!(out, "{}", gridsweep::sweep::report::text_table(&header, &rows))?;
    if ranking.unranked > 0 {
        let why = if whole {
            "a run failed, was pruned or has no value"
        } else {
            "this shard lacks a symbol's run, or a run failed, was pruned or has no value"
        };
        errln!(
            "{} of {} combinations not ranked across symbols ({why})",
            fmt_count(ranking.unranked),
            fmt_count(ranking.ranked + ranking.unranked)
        );
    }
    Ok(())
}

fn errors_json(r: &Report) -> serde_json::Value {
    r.first_errors.iter().map(|(id, e)| json!({ "run_id": id, "error": e })).collect()
}

/// Counts on stderr, the top table on stdout (a closed pipe surfaces as an I/O error, which
/// `main` treats as success).
fn print_report(r: &Report, axes: &[&str]) -> std::io::Result<()> {
    errln!(
        "{} ok, {} failed, {} liquidated",
        fmt_count(r.ok),
        fmt_count(r.failed),
        fmt_count(r.liquidated)
    );
    if r.pruned + r.eliminated > 0 {
        errln!(
            "{} pruned by [constraints], {} eliminated by halving",
            fmt_count(r.pruned),
            fmt_count(r.eliminated)
        );
    }
    for (id, e) in &r.first_errors {
        errln!("  run {id} failed: {e}");
    }
    let mut out = super::stdout();
    if r.top.is_empty() {
        return writeln!(out, "no run has a value for {}", r.rank.metric);
    }
    writeln!(out, "top {} by {} ({}):", r.top.len(), r.rank.metric, r.rank.direction())?;
    write!(out, "{}", r.table(axes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_quotes_only_what_a_shell_would_split_or_expand() {
        let args = ["gridsweep", "sweep", "my sweep.toml", "-o", "it's.parquet", "--shard", "2/8"];
        assert_eq!(
            command_line(args.map(OsString::from)),
            "gridsweep sweep 'my sweep.toml' -o 'it'\\''s.parquet' --shard 2/8"
        );
    }
}
