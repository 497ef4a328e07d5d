//! Helpers shared by the sweep tests that interrupt a sweep.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `gridsweep` with `args`, kills it once its parts directory `parts` holds `blocks`
/// finished result blocks (or after 120 s), and waits for it.
pub fn kill_after_blocks(args: &[&str], parts: &Path, blocks: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
