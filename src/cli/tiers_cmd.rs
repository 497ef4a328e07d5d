//! `gridsweep tiers`: show, refresh and diff risk-limit tiers.
//!
//! Exit codes: 0 success (for `diff`: no drift), 1 drift found (`diff`) or some symbols
//! failed (`refresh`), 2 fatal error (returned as `Err`). Tables go to stdout; the
//! provider's messages go to stderr (once: through the `log` logger when it shows them,
//! else printed here).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use gridsweep::tiers::cache::CacheFile;
use gridsweep::tiers::cache_format::tiers_to_json;
use gridsweep::tiers::config::{CacheConfig, DEFAULT_ALLOWED_ROOT, DEFAULT_CACHE_PATH};
use gridsweep::tiers::note::Note;
use gridsweep::tiers::rest::{BybitClient, RestConfig, MAINNET, TESTNET};
use gridsweep::tiers::source::read_tier_file;
use gridsweep::tiers::{Cap, RiskLimitProvider, Tier, TierLayer, TierTable};

/// `gridsweep tiers …` subcommands.
#[derive(Subcommand, Debug)]
pub enum TiersCommand {
    /// Print a symbol's tier table and the layer it came from (no network unless
    /// --base-url is given).
    Show {
        /// Symbol, e.g. BTCUSDT.
        symbol: String,
        /// Read this tier file (Bybit response or cache format) instead of the cache.
        #[arg(long, value_name = "PATH", conflicts_with = "base_url")]
        file: Option<PathBuf>,
        /// Print JSON (cache format plus layer) instead of a table.
        #[arg(long)]
        json: bool,
        /// Fetch through this Bybit REST base URL when the cache is not fresh.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Cache location and TTL.
        #[command(flatten)]
        cache: CacheArgs,
        /// Network options.
        #[command(flatten)]
        net: NetArgs,
    },
    /// Fetch tiers from Bybit and store them in the cache (one locked write).
    Refresh {
        /// Symbols to fetch.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        symbols: Vec<String>,
        /// Fetch every linear symbol (paginated).
        #[arg(long)]
        all: bool,
        /// Bybit REST base URL (default mainnet; see --testnet).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Cache location and TTL.
        #[command(flatten)]
        cache: CacheArgs,
        /// Network options.
        #[command(flatten)]
        net: NetArgs,
    },
    /// Compare the cached (or fetched) table with the built-in one; exit 1 when they
    /// differ (the scheduled drift check).
    Diff {
        /// Symbol, e.g. BTCUSDT.
        symbol: String,
        /// Fetch through this Bybit REST base URL when the cache is not fresh.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Fetch even when the cache is fresh (needs --base-url or --testnet).
        #[arg(long)]
        fetch: bool,
        /// Cache location and TTL.
        #[command(flatten)]
        cache: CacheArgs,
        /// Network options.
        #[command(flatten)]
        net: NetArgs,
    },
}

/// Where the cache lives.
#[derive(Args, Debug, Clone)]
pub struct CacheArgs {
    /// Cache file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CACHE_PATH)]
    pub cache: PathBuf,
    /// The cache must lie under this directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ALLOWED_ROOT)]
    pub cache_root: PathBuf,
    /// Cache entries older than this many hours are stale.
    #[arg(long, value_name = "HOURS", default_value_t = 24.0)]
    pub ttl_hours: f64,
}

/// How to reach Bybit.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// Use the Bybit testnet base URL.
    #[arg(long, conflicts_with = "base_url")]
    pub testnet: bool,
    /// Timeout of one HTTP request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Retries on rate limits and server errors.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// First retry delay in milliseconds (doubles each retry, at most 8 s).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub backoff_ms: u64,
}

/// Runs a `tiers` subcommand; returns the exit code.
///
/// # Errors
/// Invalid options, an invalid cache location, a failed cache write, or (for `diff`) no
/// table other than the built-in one to compare with.
pub fn run(cmd: TiersCommand) -> anyhow::Result<i32> {
    match cmd {
        TiersCommand::Show { symbol, file, json, base_url, cache, net } => {
            show(&symbol, file, json, client(base_url, &net, false)?, &cache)
        }
        TiersCommand::Refresh { symbols, all, base_url, cache, net } => {
            let client = client(base_url, &net, true)?.context("no Bybit client")?;
            refresh(&symbols, all, &client, &cache)
        }
        TiersCommand::Diff { symbol, base_url, fetch, cache, net } => {
            let client = client(base_url, &net, false)?;
            if fetch && client.is_none() {
                bail!("--fetch needs --base-url URL or --testnet");
            }
            diff(&symbol, fetch, client, &cache)
        }
    }
}

fn cache_config(a: &CacheArgs) -> anyhow::Result<CacheConfig> {
    if !(a.ttl_hours.is_finite() && a.ttl_hours > 0.0) {
        bail!("--ttl-hours must be a positive number of hours (was {})", a.ttl_hours);
    }
    Ok(CacheConfig {
        cache_path: a.cache.clone(),
        allowed_root: Some(a.cache_root.clone()),
        ttl: Duration::from_secs_f64(a.ttl_hours * 3600.0),
        ..CacheConfig::default()
    })
}

fn client(
    base_url: Option<String>,
    net: &NetArgs,
    default_mainnet: bool,
) -> anyhow::Result<Option<BybitClient>> {
    let base = match (base_url, net.testnet) {
        (Some(u), _) => u,
        (None, true) => TESTNET.to_string(),
        (None, false) if default_mainnet => MAINNET.to_string(),
        (None, false) => return Ok(None),
    };
    if !(net.timeout.is_finite() && net.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds (was {})", net.timeout);
    }
    Ok(Some(BybitClient::new(RestConfig {
        base_url: base,
        timeout: Duration::from_secs_f64(net.timeout),
        max_retries: net.retries,
        backoff_initial: Duration::from_millis(net.backoff_ms),
        ..RestConfig::default()
    })))
}

/// Prints Info/Warn notes the installed logger does not show (so each appears once).
fn print_notes(notes: &[Note]) {
    for n in notes {
        if n.level <= log::Level::Info && !log::log_enabled!(target: "gridsweep::tiers", n.level) {
            let text = super::cli_wording(&n.message).into_owned();
            errln!("{}: {text}", n.level.as_str().to_ascii_lowercase());
        }
    }
}

fn show(
    symbol: &str,
    file: Option<PathBuf>,
    json: bool,
    client: Option<BybitClient>,
    cache: &CacheArgs,
) -> anyhow::Result<i32> {
    let (table, layer, cached_at) = match file {
        Some(path) => (read_tier_file(&path, symbol)?, TierLayer::ExplicitFile, None),
        None => {
            let provider = RiskLimitProvider::new(&cache_config(cache)?, client)?;
            let r = provider.get(symbol);
            print_notes(&r.notes);
            (r.table, r.layer, r.cached_at)
        }
    };
    if json {
        let mut v = tiers_to_json(&table);
        v["layer"] = layer.as_str().into();
        if let Some(at) = &cached_at {
            v["cached_at"] = at.as_str().into();
        }
        writeln!(super::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let at = cached_at.map(|a| format!(", cached_at {a}")).unwrap_or_default();
        let mut w = super::stdout();
        writeln!(w, "{symbol}: {} tiers from {layer}{at}", table.tiers().len())?;
        write!(w, "{}", render(&table))?;
        w.flush()?;
    }
    Ok(0)
}

fn render(table: &TierTable) -> String {
    let mut out = format!(
        "{:>4}  {:>16}  {:>8}  {:>12}  {:>8}  {:>8}\n",
        "tier", "max_value", "mmr", "deduction", "imr", "max_lev"
    );
    for (i, t) in table.tiers().iter().enumerate() {
        out.push_str(&format!("{:>4}  {}\n", i + 1, tier_cells(t)));
    }
    out
}

fn tier_cells(t: &Tier) -> String {
    let lev = t.max_leverage.map(|l| l.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "{:>16}  {:>8}  {:>12}  {:>8}  {:>8}",
        t.cap.to_string(),
        t.mmr.to_string(),
        t.deduction.to_string(),
        t.imr.to_string(),
        lev
    )
}

fn refresh(
    symbols: &[String],
    all: bool,
    client: &BybitClient,
    cache: &CacheArgs,
) -> anyhow::Result<i32> {
    let file = CacheFile::new(&cache_config(cache)?)?;
    let mut ok: Vec<(String, Vec<Tier>)> = Vec::new();
    let mut failed = 0;
    let results: Vec<(String, Result<Vec<Tier>, gridsweep::tiers::TierError>)> = if all {
        client
            .get_all_risk_limits()
            .context("cannot fetch the risk limits of all symbols")?
            .into_iter()
            .collect()
    } else {
        symbols.iter().map(|s| (s.clone(), client.get_risk_limit(s))).collect()
    };
    for (symbol, r) in results {
        match r {
            Ok(tiers) => ok.push((symbol, tiers)),
            Err(e) => {
                failed += 1;
                errln!("error: {symbol}: {e}");
            }
        }
    }
    if !ok.is_empty() {
        let outcome =
            file.update(&ok).with_context(|| format!("cannot write {}", file.path().display()))?;
        print_notes(&outcome.notes);
        let mut w = super::stdout();
        for (symbol, tiers) in &ok {
            let state = if outcome.unchanged.contains(symbol) { "unchanged" } else { "written" };
            writeln!(w, "{symbol}: {} tiers ({state})", tiers.len())?;
        }
        writeln!(w, "cache: {}", file.path().display())?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn diff(
    symbol: &str,
    fetch: bool,
    client: Option<BybitClient>,
    cache: &CacheArgs,
) -> anyhow::Result<i32> {
    let provider = RiskLimitProvider::new(&cache_config(cache)?, client)?;
    let r = provider.get_with(symbol, fetch);
    print_notes(&r.notes);
    if matches!(r.layer, TierLayer::Snapshot | TierLayer::Origin | TierLayer::GenericDefault) {
        bail!(
            "no cached or fetched tiers for {symbol} to compare with the built-in table \
             (run `gridsweep tiers refresh {symbol}` or pass --base-url)"
        );
    }
    let builtin = gridsweep::tiers::snapshot::default_tiers(symbol).0;
    let lines = diff_lines(builtin.tiers(), r.table.tiers());
    let mut w = super::stdout();
    if lines.is_empty() {
        writeln!(
            w,
            "{symbol}: {} ({} tiers) matches the built-in table",
            r.layer,
            r.table.tiers().len()
        )?;
        return Ok(0);
    }
    writeln!(
        w,
        "{symbol}: {} ({} tiers) differs from the built-in table ({} tiers):",
        r.layer,
        r.table.tiers().len(),
        builtin.tiers().len()
    )?;
    for l in lines {
        writeln!(w, "{l}")?;
    }
    Ok(1)
}

/// Numeric equality of two tiers (`0.010` equals `0.01`); `max_leverage` is not compared.
fn same_tier(a: &Tier, b: &Tier) -> bool {
    let cap_eq = match (a.cap, b.cap) {
        (Cap::Infinity, Cap::Infinity) => true,
        (Cap::Value(x), Cap::Value(y)) => x.cmp(&y).is_eq(),
        _ => false,
    };
    cap_eq
        && a.mmr.cmp(&b.mmr).is_eq()
        && a.deduction.cmp(&b.deduction).is_eq()
        && a.imr.cmp(&b.imr).is_eq()
}

/// `-`/`+` lines for the tiers that differ, by position.
fn diff_lines(builtin: &[Tier], other: &[Tier]) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..builtin.len().max(other.len()) {
        let (a, b) = (builtin.get(i), other.get(i));
        if let (Some(a), Some(b)) = (a, b) {
            if same_tier(a, b) {
                continue;
            }
        }
        if let Some(a) = a {
            lines.push(format!("- {:>3}  {}  (built-in)", i + 1, tier_cells(a)));
        }
        if let Some(b) = b {
            lines.push(format!("+ {:>3}  {}", i + 1, tier_cells(b)));
        }
    }
    lines
}
