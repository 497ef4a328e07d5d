//! Helpers shared by the command-line tests of sweeps, reports and backtests: the binary, the
//! shipped month, fresh temp directories, sweep files, result files read back, and a sweep
//! interrupted after some blocks.
#![allow(dead_code)] // each test file uses some of them

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The `gridsweep` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridsweep"))
}

/// The shipped month of LTCUSDT 1-minute candles.
pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet")
}

/// An empty directory `<test>-<name>` under Cargo's temp dir for tests, `<test>` being the
/// test file's name (emptied first when a run before left it behind).
pub fn tmpdir(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", env!("CARGO_CRATE_NAME")));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `gridsweep` run with `args`, whatever its exit status.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// `gridsweep` run with `args`, which must exit 0 or 1 (1: some runs failed).
pub fn run_ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{args:?}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The JSON on stdout of a run that exited 0 or 1.
pub fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Writes `<dir>/<name>.toml`: a sweep named `name` over the shipped month from 2026-02-03
/// for `days` days with the built-in tiers, then `body` (params, axes, …).
pub fn sweep_file(dir: &Path, name: &str, days: u32, body: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
         end = \"2026-02-{:02}\"\ntiers = \"builtin\"\n{body}",
        data().display().to_string(),
        3 + days
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// The first 12 hex digits of the SHA-256 of `text` (computed here with `sha2`, not by
/// gridsweep).
pub fn sha12(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Every record batch of the Parquet file `path`.
pub fn read(path: &Path) -> Vec<RecordBatch> {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    b.build().unwrap().map(Result::unwrap).collect()
}

/// The finished result blocks (`block-*.parquet`) in the parts directory `parts` (0 when it
/// does not exist).
pub fn block_files(parts: &Path) -> usize {
    std::fs::read_dir(parts)
        .map(|r| {
            r.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("block-") && n.ends_with(".parquet")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Starts `gridsweep` with `args`, kills it once its parts directory `parts` holds `blocks`
/// finished result blocks (or after 120 s), and waits for it.
pub fn kill_after_blocks(args: &[&str], parts: &Path, blocks: usize) {
    let mut child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    let done = || {
        std::fs::read_dir(parts).map_or(0, |r| {
            r.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("block-")).count()
        })
    };
    while done() < blocks && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
