//! The `gridsweep` command line: thin dispatch over the library.

use std::io::Write;
use std::process::ExitCode;

mod cli;

use clap::{Parser, Subcommand};
use cli::{
    backtest_cmd, fetch_cmd, import_cmd, report_cmd, show_cmd, sweep_cmd, tiers_cmd, validate_cmd,
};

/// Parallel sweep and optimisation harness for grid trading strategies on Bybit USDT perpetuals.
#[derive(Parser, Debug)]
#[command(name = "gridsweep", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Backtest one configuration on candles (or a tick CSV) and print a summary.
    Backtest(backtest_cmd::BacktestArgs),
    /// Convert Binance kline/funding CSVs or Bybit kline/funding JSON into gridsweep's Parquet.
    Import(import_cmd::ImportArgs),
    /// Fetch Bybit candles, funding history or instrument info (resumable).
    #[command(subcommand)]
    Fetch(fetch_cmd::FetchCommand),
    /// Run a parameter sweep from a sweep file (resumable, shardable) into one Parquet file.
    Sweep(sweep_cmd::SweepArgs),
    /// Join the shard result files of one sweep into the file an unsharded run writes.
    Merge(sweep_cmd::MergeArgs),
    /// How far a sweep's winner can be trusted: PBO, deflated Sharpe, minimum backtest length, Pareto ranks, plateaus.
    Validate(validate_cmd::ValidateArgs),
    /// One self-contained HTML report of a sweep's results: heatmaps, liquidation map, Pareto scatter, equity of the top runs.
    Report(report_cmd::ReportArgs),
    /// Re-run one row of a sweep from its recorded sweep file and data: summary, trades, equity, HTML.
    Show(show_cmd::ShowArgs),
    /// Bybit risk-limit tiers: show, refresh from the API into the cache, diff against built-ins.
    #[command(subcommand)]
    Tiers(tiers_cmd::TiersCommand),
}

fn main() -> ExitCode {
    cli::init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(a) => backtest_cmd::run(a),
        Command::Import(a) => import_cmd::run(a),
        Command::Fetch(c) => fetch_cmd::run(c),
        Command::Sweep(a) => sweep_cmd::run_sweep(a),
        Command::Merge(a) => sweep_cmd::run_merge(a),
        Command::Validate(a) => validate_cmd::run(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Show(a) => show_cmd::run(a),
        Command::Tiers(c) => tiers_cmd::run(c),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
        // A closed stdout (`| head`) ends the command quietly with status 0, as in ripgrep.
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {}", cli::error_text(&e));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
