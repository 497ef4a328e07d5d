//! Output safety, one rule set for every writing command: an output is never one of the
//! command's inputs (compared by file identity, so symlinks and hard links count; `--force`
//! never covers this), two outputs of one command are never the same file, an output is
//! not a directory, and an existing file that is not of the kind being written is replaced
//! only with `--force`. The check runs before any work, so a bad `--out` fails at once.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

/// Header line of a trades CSV.
pub const TRADES_CSV_HEADER: &str = "ts,side,direction,price,qty,realized_pnl,commission,kind";
/// Header line of a trades CSV written before trades had a `kind` column.
const LEGACY_TRADES_CSV_HEADER: &str = "ts,side,direction,price,qty,realized_pnl,commission";
/// Header line of an equity CSV.
pub const EQUITY_CSV_HEADER: &str = "ts,equity";
const TRADES_COLUMNS: &[&str] =
    &["ts", "side", "direction", "price", "qty", "realized_pnl", "commission", "kind"];
/// The first line of every report gridsweep writes.
pub const REPORT_FIRST_LINE: &str = "<!DOCTYPE html>";
const EQUITY_COLUMNS: &[&str] = &["ts", "equity"];
const CANDLE_COLUMNS: &[&str] = &["ts_ms", "open", "high", "low", "close", "volume"];

/// What an output file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `backtest --trades` (CSV or Parquet).
    Trades,
    /// `backtest --equity` (CSV or Parquet).
    Equity,
    /// `import --out` candle Parquet.
    Candles,
    /// `sweep --out` / `merge --out` result Parquet.
    SweepResult,
    /// `import --out` / `fetch funding --out` funding Parquet.
    Funding,
    /// `report --out` / `--report` HTML report.
    Report,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Trades => "a trades file",
            Kind::Equity => "an equity file",
            Kind::Candles => "a gridsweep candle file",
            Kind::SweepResult => "a sweep result file",
            Kind::Funding => "a gridsweep funding file",
            Kind::Report => "a gridsweep HTML report",
        }
    }
}

/// One file a command reads, with what it is (for the message).
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// E.g. `"the candle file"`, `"the config file"`.
    pub role: &'a str,
    /// The path as given.
    pub path: &'a Path,
}

/// One file a command writes.
#[derive(Clone, Copy, Debug)]
pub struct Output<'a> {
    /// The option naming it, e.g. `"--trades"`.
    pub flag: &'a str,
    /// The path as given.
    pub path: &'a Path,
    /// What will be written there.
    pub kind: Kind,
}

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The output is one of the inputs.
    #[error(
        "{flag} {} is also an input: {role} ({}); writing it would destroy it: choose \
         another output file (--force never overwrites an input)",
        path.display(), input.display()
    )]
    IsInput {
        /// The output option.
        flag: String,
        /// The output path.
        path: PathBuf,
        /// What the input is.
        role: String,
        /// The input path as given.
        input: PathBuf,
    },
    /// Two outputs are one file.
    #[error(
        "{flag} {} and {other_flag} {} are the same file, so one would overwrite the other; \
         give each its own file",
        path.display(), other.display()
    )]
    SameOutput {
        /// The first option.
        flag: String,
        /// Its path.
        path: PathBuf,
        /// The second option.
        other_flag: String,
        /// Its path.
        other: PathBuf,
    },
    /// The output is a directory.
    #[error("{flag} {} is a directory; give a file name inside it, e.g. {}", path.display(), example.display())]
    IsDirectory {
        /// The output option.
        flag: String,
        /// The directory.
        path: PathBuf,
        /// A file name that would do.
        example: PathBuf,
    },
    /// The output's directory is a file.
    #[error("{flag} {}: {} is not a directory; choose an output path in a directory", path.display(), parent.display())]
    ParentNotDirectory {
        /// The output option.
        flag: String,
        /// The output path.
        path: PathBuf,
        /// The parent that is a file.
        parent: PathBuf,
    },
    /// The output exists and is a device, pipe or socket: never replaced, even with `--force`.
    #[error("{flag} {} is not a regular file (a device, pipe or socket); choose a file path", path.display())]
    NotAFile {
        /// The output option.
        flag: String,
        /// The path.
        path: PathBuf,
    },
    /// An existing file of another kind.
    #[error(
        "{flag} {} already exists and is not {kind} ({why}); choose another file, delete it, \
         or pass --force to replace it",
        path.display()
    )]
    OtherKind {
        /// The output option.
        flag: String,
        /// The path.
        path: PathBuf,
        /// What the command writes.
        kind: &'static str,
        /// What the file looks like.
        why: String,
    },
}

/// Identity of an existing file: device and inode on Unix, the canonical path elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(FileId::Inode(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        path.canonicalize().ok().map(FileId::Path)
    }
}

/// The path a not-yet-existing file would have: its parent canonicalised, if it exists.
fn normalised(path: &Path) -> PathBuf {
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match parent.canonicalize() {
        Ok(p) => p.join(name),
        Err(_) => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => normalised(a) == normalised(b),
        _ => false,
    }
}

/// Checks `outputs` against `inputs` and each other, and against what is already there.
///
/// # Errors
/// The first rule broken, as a [`GuardError`] naming the option, the file and the fix.
pub fn check(inputs: &[Input<'_>], outputs: &[Output<'_>], force: bool) -> Result<(), GuardError> {
    for (i, out) in outputs.iter().enumerate() {
        if out.path.is_dir() {
            let example = out.path.join(match out.kind {
                Kind::Trades => "trades.csv",
                Kind::Equity => "equity.csv",
                Kind::Candles => "candles.parquet",
                Kind::SweepResult => "results.parquet",
                Kind::Funding => "funding.parquet",
                Kind::Report => "report.html",
            });
            return Err(GuardError::IsDirectory {
                flag: out.flag.into(),
                path: out.path.into(),
                example,
            });
        }
        let mut parent = out.path.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if p.exists() {
                if !p.is_dir() {
                    return Err(GuardError::ParentNotDirectory {
                        flag: out.flag.into(),
                        path: out.path.into(),
                        parent: p.into(),
                    });
                }
                break;
            }
            parent = p.parent();
        }
        for input in inputs {
            if same_file(out.path, input.path) {
                return Err(GuardError::IsInput {
                    flag: out.flag.into(),
                    path: out.path.into(),
                    role: input.role.into(),
                    input: input.path.into(),
                });
            }
        }
        for other in &outputs[i + 1..] {
            if same_file(out.path, other.path) {
                return Err(GuardError::SameOutput {
                    flag: out.flag.into(),
                    path: out.path.into(),
                    other_flag: other.flag.into(),
                    other: other.path.into(),
                });
            }
        }
        if std::fs::metadata(out.path).is_ok_and(|m| !m.is_file()) {
            return Err(GuardError::NotAFile { flag: out.flag.into(), path: out.path.into() });
        }
        if !force {
            if let Some(why) = foreign(out.path, out.kind) {
                return Err(GuardError::OtherKind {
                    flag: out.flag.into(),
                    path: out.path.into(),
                    kind: out.kind.noun(),
                    why,
                });
            }
        }
    }
    Ok(())
}

/// Why the existing file at `path` is not of `kind` (`None`: absent, empty, or of `kind`).
fn foreign(path: &Path, kind: Kind) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() == 0 {
        return None;
    }
    if kind == Kind::Report {
        let mut first = String::new();
        let read = File::open(path).and_then(|f| BufReader::new(f).read_line(&mut first));
        return match read {
            Ok(_) if first.starts_with(REPORT_FIRST_LINE) => None,
            Ok(_) => Some(format!("its first line is not `{REPORT_FIRST_LINE}`")),
            Err(e) => Some(format!("it cannot be read: {e}")),
        };
    }
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let csv = ext.as_deref() == Some("csv");
    let expected_header = match kind {
        Kind::Trades => TRADES_CSV_HEADER,
        Kind::Equity => EQUITY_CSV_HEADER,
        Kind::Candles | Kind::SweepResult | Kind::Funding | Kind::Report => "",
    };
    if csv && !expected_header.is_empty() {
        let mut first = String::new();
        let read = File::open(path).and_then(|f| BufReader::new(f).read_line(&mut first));
        return match read {
            Ok(_) if first.trim_end() == expected_header => None,
            Ok(_) if kind == Kind::Trades && first.trim_end() == LEGACY_TRADES_CSV_HEADER => None,
            Ok(_) => Some(format!("its first line is not `{expected_header}`")),
            Err(e) => Some(format!("it cannot be read: {e}")),
        };
    }
    let Some((columns, kv)) = parquet_columns(path) else {
        return Some("it is not a Parquet file".into());
    };
    let is = |want: &[&str]| columns.iter().map(String::as_str).eq(want.iter().copied());
    let ok = match kind {
        Kind::Trades => is(TRADES_COLUMNS) || is(&TRADES_COLUMNS[..7]),
        Kind::Equity => is(EQUITY_COLUMNS),
        Kind::Candles => is(CANDLE_COLUMNS),
        Kind::SweepResult => kv.iter().any(|k| k == "gridsweep.sweep_name"),
        Kind::Funding => is(&["ts_ms", "rate"]),
        Kind::Report => false,
    };
    if ok {
        return None;
    }
    let shown: Vec<&str> = columns.iter().take(8).map(String::as_str).collect();
    Some(format!(
        "its columns are {}{}",
        shown.join(", "),
        if columns.len() > shown.len() { ", …" } else { "" }
    ))
}

/// Top-level column names and metadata keys of a Parquet file.
fn parquet_columns(path: &Path) -> Option<(Vec<String>, Vec<String>)> {
    let reader = SerializedFileReader::new(File::open(path).ok()?).ok()?;
    let meta = reader.metadata().file_metadata();
    let columns = meta.schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    let kv = meta
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| k.key.clone()).collect())
        .unwrap_or_default();
    Some((columns, kv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gridsweep-guard-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn out<'a>(flag: &'static str, path: &'a Path, kind: Kind) -> Output<'a> {
        Output { flag, path, kind }
    }

    #[test]
    fn refuses_an_input_even_with_force_and_through_a_symlink() {
        let d = dir("input");
        let cfg = d.join("bt.toml");
        std::fs::write(&cfg, "symbol = 1\n").unwrap();
        let inputs = [Input { role: "the config file", path: &cfg }];
        let e = check(&inputs, &[out("--trades", &cfg, Kind::Trades)], true).unwrap_err();
        assert!(matches!(e, GuardError::IsInput { .. }), "{e}");
        #[cfg(unix)]
        {
            let link = d.join("link.csv");
            std::os::unix::fs::symlink(&cfg, &link).unwrap();
            let e = check(&inputs, &[out("--trades", &link, Kind::Trades)], true).unwrap_err();
            assert!(matches!(e, GuardError::IsInput { .. }), "{e}");
            let hard = d.join("hard.csv");
            std::fs::hard_link(&cfg, &hard).unwrap();
            let e = check(&inputs, &[out("--trades", &hard, Kind::Trades)], true).unwrap_err();
            assert!(matches!(e, GuardError::IsInput { .. }), "{e}");
        }
    }

    #[test]
    fn two_outputs_one_file_even_before_it_exists() {
        let d = dir("same");
        let a = d.join("x.csv");
        let b = d.join(".").join("x.csv");
        let e = check(
            &[],
            &[out("--trades", &a, Kind::Trades), out("--equity", &b, Kind::Equity)],
            true,
        )
        .unwrap_err();
        assert!(matches!(e, GuardError::SameOutput { .. }), "{e}");
    }

    #[test]
    fn other_kinds_need_force_and_own_kinds_and_empty_files_do_not() {
        let d = dir("kind");
        let notes = d.join("notes.csv");
        std::fs::write(&notes, "a,b\n1,2\n").unwrap();
        let e = check(&[], &[out("--trades", &notes, Kind::Trades)], false).unwrap_err();
        assert!(matches!(e, GuardError::OtherKind { .. }), "{e}");
        check(&[], &[out("--trades", &notes, Kind::Trades)], true).unwrap();
        let trades = d.join("t.csv");
        std::fs::write(&trades, format!("{TRADES_CSV_HEADER}\n")).unwrap();
        check(&[], &[out("--trades", &trades, Kind::Trades)], false).unwrap();
        // A trades file is not an equity file.
        assert!(check(&[], &[out("--equity", &trades, Kind::Equity)], false).is_err());
        let toml = d.join("s.toml");
        std::fs::write(&toml, "x = 1\n").unwrap();
        let e = check(&[], &[out("--out", &toml, Kind::SweepResult)], false).unwrap_err();
        assert!(e.to_string().contains("not a Parquet file"), "{e}");
        let empty = d.join("empty.parquet");
        std::fs::write(&empty, "").unwrap();
        check(&[], &[out("--out", &empty, Kind::Candles)], false).unwrap();
        let e = check(&[], &[out("--out", &d, Kind::SweepResult)], true).unwrap_err();
        assert!(matches!(e, GuardError::IsDirectory { .. }), "{e}");
        #[cfg(unix)]
        {
            let dev = Path::new("/dev/null");
            let e = check(&[], &[out("--trades", dev, Kind::Trades)], true).unwrap_err();
            assert!(matches!(e, GuardError::NotAFile { .. }), "{e}");
        }
    }
}
