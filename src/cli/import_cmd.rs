//! `gridsweep import`: candle files (Binance kline CSV, Bybit kline JSON) or funding files
//! (Binance fundingRate CSV, Bybit funding-history JSON) to one Parquet file.

use std::io::Write;
use std::path::PathBuf;

use gridsweep::candles::import::{import_files, InputFormat};
use gridsweep::candles::parquet_io::{write_parquet, WriteMeta};
use gridsweep::candles::validate::{interval_label, MINUTE_MS};
use gridsweep::funding::import::{detect_funding, import_funding_files, FundingFormat};
use gridsweep::funding::write_funding_parquet;
use gridsweep::output::guard::{self, Input, Kind, Output};
use gridsweep::time::format_iso;

/// Arguments of `gridsweep import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Parquet file to write (replaced atomically: written beside it, then renamed).
    #[arg(long, short = 'o', value_name = "FILE.parquet")]
    pub out: PathBuf,
    /// Symbol to record [default: from Binance file names or the Bybit response].
    #[arg(long, value_name = "SYMBOL")]
    pub symbol: Option<String>,
    /// Input format; `auto` decides per file: funding data (a `calc_time,…` CSV header, JSON
    /// items with `fundingRate`) → a funding file, `.json` or JSON text → bybit-json, else CSV.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Compression of the written file: `none` loads fastest, `zstd` is about 4× smaller.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// Replace an existing --out file that is not a gridsweep candle file (an input is never
    /// overwritten).
    #[arg(long)]
    pub force: bool,
    /// Input files, in any order: they are sorted by time and must not overlap.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

/// `--compression` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionArg {
    /// Uncompressed PLAIN columns (a year of 1-minute candles: 25 MB).
    None,
    /// Zstd at a fast level (a year: about 6.7 MB).
    Zstd,
}

/// `--format` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// Binance USD-M monthly kline CSV (header row optional).
    BinanceCsv,
    /// Bybit `/v5/market/kline` response JSON, or a bare `list` array.
    BybitJson,
    /// Binance `fundingRate` CSV (`calc_time,funding_interval_hours,last_funding_rate`).
    BinanceFunding,
    /// Bybit `/v5/market/funding/history` response JSON.
    BybitFunding,
    /// Decide per file.
    Auto,
}

impl From<FormatArg> for InputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::BinanceCsv => InputFormat::BinanceCsv,
            FormatArg::BybitJson => InputFormat::BybitJson,
            FormatArg::BinanceFunding | FormatArg::BybitFunding | FormatArg::Auto => {
                InputFormat::Auto
            }
        }
    }
}

/// Runs the import: reads and validates every input, writes the Parquet file, prints a
/// summary (rows, time range, gaps) on stdout and gap warnings on stderr. Returns exit code 0.
///
/// # Errors
/// Unreadable or invalid input (the message names the file and line or row), an output path
/// that is also an input, or a failed write.
pub fn run(args: ImportArgs) -> anyhow::Result<i32> {
    let funding = match args.format {
        FormatArg::BinanceFunding => Some(Some(FundingFormat::BinanceCsv)),
        FormatArg::BybitFunding => Some(Some(FundingFormat::BybitJson)),
        FormatArg::Auto => {
            let kinds: Vec<bool> = args.inputs.iter().map(|p| sniff_funding(p)).collect();
            match (kinds.iter().any(|&f| f), kinds.iter().all(|&f| f)) {
                (true, true) => Some(None),
                (false, _) => None,
                (true, false) => {
                    let f = args.inputs.iter().zip(&kinds).find(|(_, &k)| k).map(|(p, _)| p);
                    let c = args.inputs.iter().zip(&kinds).find(|(_, &k)| !k).map(|(p, _)| p);
                    anyhow::bail!(
                        "{} holds funding rates but {} does not; import candles and funding \
                         into separate files",
                        f.map(|p| p.display().to_string()).unwrap_or_default(),
                        c.map(|p| p.display().to_string()).unwrap_or_default()
                    );
                }
            }
        }
        _ => None,
    };
    if let Some(format) = funding {
        return run_funding(&args, format);
    }
    let inputs: Vec<Input<'_>> =
        args.inputs.iter().map(|p| Input { role: "an input file", path: p }).collect();
    let out = Output { flag: "--out", path: &args.out, kind: Kind::Candles };
    guard::check(&inputs, &[out], args.force)?;
    for stale in gridsweep::durable::remove_stale_temps(&args.out) {
        errln!("note: removed {}, left by an import that was killed", stale.display());
    }
    let imported = import_files(&args.inputs, args.format.into(), args.symbol.as_deref())?;
    let meta = WriteMeta {
        symbol: imported.symbol.clone(),
        source: imported.source(),
        zstd: args.compression == CompressionArg::Zstd,
    };
    write_parquet(&args.out, &imported.candles, &meta)?;

    let c = &imported.candles;
    let (first, last) = (c.first_ts_ms().unwrap_or(0), c.last_ts_ms().unwrap_or(0));
    let interval = imported.gaps.interval_ms;
    if interval != MINUTE_MS {
        errln!(
            "warning: candles are {} apart, not 1 minute; gridsweep's engine expects 1-minute candles",
            interval_label(interval)
        );
    }
    if !imported.gaps.is_empty() {
        errln!("warning: {}", imported.gaps);
    }
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let mut w = super::stdout();
    writeln!(
        w,
        "imported {} candles ({}) of {} from {} file(s)",
        c.len(),
        interval_label(interval),
        imported.symbol.as_deref().unwrap_or("unknown symbol"),
        imported.files.len()
    )?;
    writeln!(w, "  first        {} UTC", format_iso(first))?;
    writeln!(w, "  last         {} UTC", format_iso(last))?;
    writeln!(w, "  gaps         {}", imported.gaps)?;
    writeln!(w, "  fingerprint  {}", c.fingerprint())?;
    writeln!(w, "  wrote        {} ({size} bytes)", args.out.display())?;
    Ok(0)
}

/// Whether the start of `path` is funding data (see [`detect_funding`]); unreadable files are
/// left to the importer's own error.
fn sniff_funding(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    let Ok(f) = std::fs::File::open(path) else { return false };
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return t.contains("\"fundingRate\"");
    }
    detect_funding(t.lines().next().unwrap_or_default()).is_some()
}

/// `gridsweep import` of funding files: merged, validated, written as a funding Parquet file.
fn run_funding(args: &ImportArgs, format: Option<FundingFormat>) -> anyhow::Result<i32> {
    let inputs: Vec<Input<'_>> =
        args.inputs.iter().map(|p| Input { role: "an input file", path: p }).collect();
    let out = Output { flag: "--out", path: &args.out, kind: Kind::Funding };
    guard::check(&inputs, &[out], args.force)?;
    for stale in gridsweep::durable::remove_stale_temps(&args.out) {
        errln!("note: removed {}, left by an import that was killed", stale.display());
    }
    let imported = import_funding_files(&args.inputs, format, args.symbol.as_deref())?;
    let mut meta = Vec::new();
    if let Some(s) = &imported.symbol {
        meta.push(("gridsweep.symbol".to_string(), s.clone()));
    }
    write_funding_parquet(&args.out, &imported.series, &meta)?;
    let (first, last) = imported.series.span().unwrap_or((0, 0));
    let n = imported.series.events.len();
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let mut w = super::stdout();
    writeln!(
        w,
        "imported {n} funding events of {} from {} file(s) ({} read, {} duplicate(s) dropped)",
        imported.symbol.as_deref().unwrap_or("unknown symbol"),
        args.inputs.len(),
        imported.read,
        imported.read - n
    )?;
    writeln!(w, "  first        {} UTC", format_iso(first))?;
    writeln!(w, "  last         {} UTC", format_iso(last))?;
    writeln!(w, "  wrote        {} ({size} bytes)", args.out.display())?;
    Ok(0)
}
