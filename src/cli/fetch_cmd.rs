//! `gridsweep fetch`: Bybit public market data (1-minute klines, funding history,
//! instrument info) into gridsweep's files, resumable (docs/data.md).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridsweep::bybit::job::{self, Dataset, FetchJob, Observer};
use gridsweep::bybit::klines::PriceKind;
use gridsweep::bybit::{self, instrument, FetchConfig, FetchError, MarketClient};
use gridsweep::instrument::{saved_dir, SavedInstrument};
use gridsweep::output::guard::{self, Kind, Output};
use gridsweep::tiers::rest::{RestConfig, MAINNET, TESTNET};
use gridsweep::time::format_iso;

/// `gridsweep fetch` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum FetchCommand {
    /// 1-minute candles (last or mark price) into a candle Parquet file.
    Klines(KlinesArgs),
    /// Funding-rate history into a funding Parquet file.
    Funding(FundingArgs),
    /// Print (and with --save, store) a symbol's tick size, quantity step, minimum notional,
    /// funding interval and maximum leverage.
    Instrument(InstrumentArgs),
}

/// Where to fetch from.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Bybit REST base URL [default: https://api.bybit.com].
    #[arg(long, value_name = "URL", conflicts_with = "testnet")]
    pub base_url: Option<String>,
    /// Use Bybit's testnet (https://api-testnet.bybit.com).
    #[arg(long)]
    pub testnet: bool,
}

/// The window and output of a fetch into a file.
#[derive(clap::Args, Debug, Clone)]
pub struct RangeArgs {
    /// Symbol, e.g. BTCUSDT (a linear USDT perpetual).
    #[arg(value_name = "SYMBOL")]
    pub symbol: String,
    /// Window start (inclusive), UTC: `2026-02-01` or `2026-02-01T12:00:00Z`.
    #[arg(long, value_name = "DATE")]
    pub start: String,
    /// Window end (exclusive), UTC.
    #[arg(long, value_name = "DATE")]
    pub end: String,
    /// Parquet file to write (atomically; the pages of an unfinished fetch wait in
    /// FILE.parquet.fetch/).
    #[arg(long, short = 'o', value_name = "FILE.parquet")]
    pub out: PathBuf,
    /// Replace an existing --out file that is not of the kind written.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Arguments of `gridsweep fetch klines`.
#[derive(clap::Args, Debug)]
pub struct KlinesArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// Which price: last traded (`/v5/market/kline`) or mark (`/v5/market/mark-price-kline`,
    /// no volume: written as 0).
    #[arg(long, value_enum, default_value_t = PriceArg::Last)]
    pub price: PriceArg,
}

/// Arguments of `gridsweep fetch funding`.
#[derive(clap::Args, Debug)]
pub struct FundingArgs {
    #[command(flatten)]
    pub range: RangeArgs,
}

/// Arguments of `gridsweep fetch instrument`.
#[derive(clap::Args, Debug)]
pub struct InstrumentArgs {
    /// Symbol, e.g. BTCUSDT.
    #[arg(value_name = "SYMBOL")]
    pub symbol: String,
    /// Store it as conf/instruments/SYMBOL.json ($GRIDSWEEP_INSTRUMENT_DIR overrides the
    /// directory); backtests and sweeps then use its steps unless the config sets them.
    #[arg(long)]
    pub save: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `--price` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceArg {
    /// Last traded price.
    Last,
    /// Mark price.
    Mark,
}

/// Runs a fetch subcommand; returns the exit code.
///
/// # Errors
/// Bad arguments, network or API failures after retries, malformed pages, file errors.
pub fn run(cmd: FetchCommand) -> anyhow::Result<i32> {
    match cmd {
        FetchCommand::Klines(a) => {
            let kind = match a.price {
                PriceArg::Last => PriceKind::Last,
                PriceArg::Mark => PriceKind::Mark,
            };
            run_range(a.range, Dataset::Klines(kind))
        }
        FetchCommand::Funding(a) => run_range(a.range, Dataset::Funding),
        FetchCommand::Instrument(a) => run_instrument(a),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let parsed = v.trim().parse::<u64>().ok();
    if parsed.is_none() {
        errln!("warning: {name}={v:?} is not a whole number; ignored");
    }
    parsed
}

/// The client configuration: the tier client's defaults, with `GRIDSWEEP_FETCH_TIMEOUT_MS`,
/// `GRIDSWEEP_FETCH_BACKOFF_MS` (first delay; the cap is 16×), `GRIDSWEEP_FETCH_RETRIES` and
/// `GRIDSWEEP_FETCH_RPS` overrides (tests make them fast).
fn client(source: &SourceArgs) -> MarketClient {
    let base = match (&source.base_url, source.testnet) {
        (Some(u), _) => u.clone(),
        (None, true) => TESTNET.to_string(),
        (None, false) => MAINNET.to_string(),
    };
    let mut rest = RestConfig::with_base_url(base);
    if let Some(ms) = env_u64("GRIDSWEEP_FETCH_TIMEOUT_MS") {
        rest.timeout = Duration::from_millis(ms.max(1));
    }
    if let Some(ms) = env_u64("GRIDSWEEP_FETCH_BACKOFF_MS") {
        rest.backoff_initial = Duration::from_millis(ms);
        rest.backoff_max = Duration::from_millis(ms.saturating_mul(16));
    }
    if let Some(n) = env_u64("GRIDSWEEP_FETCH_RETRIES") {
        rest.max_retries = u32::try_from(n).unwrap_or(u32::MAX);
    }
    let mut config = FetchConfig { rest, ..FetchConfig::default() };
    if let Some(rps) = env_u64("GRIDSWEEP_FETCH_RPS") {
        config.max_rps = rps as f64;
    }
    MarketClient::new(config)
}

/// The wall clock, or `GRIDSWEEP_FETCH_NOW_MS` (tests).
fn now_ms() -> i64 {
    env_u64("GRIDSWEEP_FETCH_NOW_MS")
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or_else(bybit::now_ms)
}

fn parse_date(flag: &str, s: &str) -> anyhow::Result<i64> {
    gridsweep::config::common::parse_time(&toml::Value::String(s.to_string()))
        .map_err(|e| anyhow::anyhow!("{flag} {e}"))
}

fn check_symbol(s: &str) -> anyhow::Result<()> {
    let ok = s.len() >= 2
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_uppercase());
    anyhow::ensure!(
        ok,
        "symbol {s:?} is not a Bybit symbol: upper-case letters and digits, e.g. BTCUSDT"
    );
    Ok(())
}

fn install_ctrlc(cancel: Arc<AtomicBool>) {
    let handler = move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        errln!("\nstopping after the request in flight (Ctrl-C again to stop at once)…");
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        log::warn!(
            "cannot catch Ctrl-C ({e}); an interrupted fetch still resumes from its saved pages"
        );
    }
}

fn run_range(a: RangeArgs, dataset: Dataset) -> anyhow::Result<i32> {
    check_symbol(&a.symbol)?;
    let start_ms = parse_date("--start", &a.start)?;
    let end_ms = parse_date("--end", &a.end)?;
    let now = now_ms();
    bybit::check_window(start_ms, end_ms, now)?;
    let kind = if dataset == Dataset::Funding { Kind::Funding } else { Kind::Candles };
    guard::check(&[], &[Output { flag: "--out", path: &a.out, kind }], a.force)?;
    for stale in gridsweep::durable::remove_stale_temps(&a.out) {
        errln!("note: removed {}, left by a fetch that was killed", stale.display());
    }
    let mut client = client(&a.source);
    let cancel = Arc::new(AtomicBool::new(false));
    client.set_cancel(cancel.clone());
    let job = FetchJob { dataset, symbol: a.symbol.clone(), start_ms, end_ms, out: a.out.clone() };
    install_ctrlc(cancel.clone());
    let mut obs = Progress::new();
    let result = job::run(&client, &job, now, &cancel, &mut obs);
    obs.finish();
    let report = match result {
        Ok(r) => r,
        Err(FetchError::Interrupted { saved, total, dir }) => {
            errln!(
                "interrupted: {saved} of {total} request window(s) are saved in {}.\nTo \
                 continue, run the same command again (only the missing windows are fetched):\n  {}",
                dir.display(),
                command_line()
            );
            return Ok(130);
        }
        Err(e) => {
            let dir = job::resume_dir(&a.out);
            if dir.is_dir() {
                errln!(
                    "note: the windows fetched so far are kept in {}; rerun the same command to \
                     continue",
                    dir.display()
                );
            }
            return Err(e.into());
        }
    };
    let what = match dataset {
        Dataset::Klines(k) => format!("candles (1m, {} price)", k.name()),
        Dataset::Funding => "funding events".to_string(),
    };
    if report.dropped_open > 0 {
        errln!(
            "note: dropped {} candle(s) still open at fetch time ({} UTC)",
            report.dropped_open,
            format_iso(report.fetched_at_ms.max(now))
        );
    }
    if let Some(g) = report.gaps.as_ref().filter(|g| !g.is_empty()) {
        if let Some(w) = g.warning() {
            errln!("warning: {w}");
        }
        for gap in &g.first {
            errln!("  {gap}");
        }
        if g.gaps as usize > g.first.len() {
            errln!("  … and {} more gap(s)", g.gaps as usize - g.first.len());
        }
    }
    let mut w = super::stdout();
    writeln!(w, "fetched {} {what} of {} from Bybit", report.rows, a.symbol)?;
    writeln!(
        w,
        "  window       {} .. {} UTC ({} request window(s): {} fetched, {} resumed; {} request(s))",
        format_iso(start_ms),
        format_iso(end_ms),
        report.windows,
        report.fetched,
        report.resumed,
        report.requests
    )?;
    writeln!(w, "  first        {} UTC", format_iso(report.span.0))?;
    writeln!(w, "  last         {} UTC", format_iso(report.span.1))?;
    if let Some(g) = &report.gaps {
        writeln!(w, "  gaps         {g}")?;
    }
    writeln!(w, "  wrote        {} ({} bytes)", a.out.display(), report.bytes)?;
    Ok(0)
}

fn run_instrument(a: InstrumentArgs) -> anyhow::Result<i32> {
    check_symbol(&a.symbol)?;
    let client = client(&a.source);
    let s = instrument::fetch_instrument(&client, &a.symbol, now_ms())?;
    let mut w = super::stdout();
    writeln!(w, "{} (linear) from {}", s.symbol, s.source)?;
    writeln!(w, "  tick size         {}", s.tick_size)?;
    writeln!(w, "  quantity step     {}", s.qty_step)?;
    writeln!(
        w,
        "  min notional      {}",
        s.min_notional.as_deref().map_or("-".into(), |m| format!("{m} USDT"))
    )?;
    writeln!(
        w,
        "  funding interval  {}",
        s.funding_interval_min
            .map_or("-".into(), |m| format!("{m} min ({} h)", f64::from(m) / 60.0))
    )?;
    writeln!(w, "  max leverage      {}", s.max_leverage.as_deref().unwrap_or("-"))?;
    if a.save {
        let dir = saved_dir();
        let path = s.save(&dir).map_err(|e| anyhow::anyhow!("cannot save the instrument: {e}"))?;
        writeln!(
            w,
            "saved {}: backtests and sweeps of {} now take tick_size and qty_step from it \
             (explicit config keys still win)",
            path.display(),
            s.symbol
        )?;
    } else {
        let path = SavedInstrument::path_in(&saved_dir(), &s.symbol);
        writeln!(w, "(not saved; --save stores it as {})", path.display())?;
    }
    Ok(0)
}

fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.is_empty() || a.chars().any(|c| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bar on a terminal; on a pipe or file, one line every `GRIDSWEEP_PROGRESS_SECS` (10 s).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    every: Duration,
    last_line: Instant,
    started: Instant,
    first: usize,
}

impl Progress {
    fn new() -> Progress {
        let every = std::env::var("GRIDSWEEP_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
            .map_or(Duration::from_secs(10), Duration::from_secs_f64);
        Progress { bar: None, every, last_line: Instant::now(), started: Instant::now(), first: 0 }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn begin(&mut self, total: usize, resumed: usize) {
        self.first = resumed;
        self.started = Instant::now();
        self.last_line = Instant::now();
        if resumed > 0 {
            errln!("resuming: {resumed} of {total} request window(s) already saved");
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} windows · {per_sec} · ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_position(resumed as u64);
            bar.reset_eta();
            self.bar = Some(bar);
        }
    }

    fn window_done(&mut self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
        } else if self.last_line.elapsed() >= self.every {
            self.last_line = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            errln!(
                "fetch: {done}/{total} windows ({:.1} windows/s)",
                (done - self.first) as f64 / secs
            );
        }
    }

    fn note(&mut self, message: &str) {
        errln!("note: {message}");
    }
}
