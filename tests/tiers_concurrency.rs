//! Many processes (and threads) writing and reading one cache file at once: no reader
//! ever sees a partial or corrupt file, and no writer's entry is lost.
//!
//! The parent test spawns this test binary again, once per worker, running only
//! `stress_worker` with `TIERS_STRESS_*` set; without them `stress_worker` is one worker
//! alone on a fresh cache (so it never passes without doing the work).

mod tiers_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridsweep::decimal::Dec;
use gridsweep::tiers::cache::CacheFile;
use gridsweep::tiers::cache_format::tiers_from_dict;
use gridsweep::tiers::config::CacheConfig;
use gridsweep::tiers::Tier;
use tiers_common::*;

const PROCESSES: usize = 8;
const WRITES_PER_PROCESS: usize = 150;
/// Each worker rotates over its own symbols, so the last write of each must survive.
const SYMBOLS_PER_WORKER: usize = 10;

fn cfg(dir: &Path) -> CacheConfig {
    CacheConfig {
        cache_path: dir.join("conf/risk_limits_cache.json"),
        allowed_root: Some(dir.join("conf")),
        ttl: Duration::from_secs(3600),
        max_size: 50_000_000,
    }
}

/// A distinct two-tier table per (worker, op), with the deduction Bybit's rule gives
/// (cap × (0.025 − 0.01)), so the reader's checks accept it.
fn table(worker: usize, op: usize) -> Vec<Tier> {
    let cap = Dec::from_int((worker * 10_000 + op + 1) as i64);
    let deduction = cap.checked_mul(Dec::parse("0.015").unwrap()).unwrap();
    vec![
        Tier::new(Some(cap), Dec::parse("0.01").unwrap(), Dec::ZERO, Dec::parse("0.02").unwrap()),
        Tier::new(None, Dec::parse("0.025").unwrap(), deduction, Dec::parse("0.05").unwrap()),
    ]
}

fn symbol(worker: usize, op: usize) -> String {
    format!("P{worker}S{}", op % SYMBOLS_PER_WORKER)
}

/// One worker, 3 operations per round: a locked write, a full read that must parse with
/// every entry valid and hold the entry just written, and a read of another worker's entry.
fn run_worker(dir: &Path, worker: usize) -> Result<(), String> {
    let cache = CacheFile::new(&cfg(dir)).map_err(|e| e.to_string())?;
    for op in 0..WRITES_PER_PROCESS {
        let sym = symbol(worker, op);
        let entries = if op % 4 == 0 {
            vec![(sym.clone(), table(worker, op)), ("SHARED".to_string(), table(worker, op))]
        } else {
            vec![(sym.clone(), table(worker, op))]
        };
        cache.update(&entries).map_err(|e| format!("write {op}: {e}"))?;
        let snap = cache.read_all().map_err(|e| format!("read after write {op}: {e}"))?;
        let root = snap.ok_or(format!("cache missing after write {op}"))?.root;
        for (k, v) in root.iter() {
            tiers_from_dict(&v["tiers"])
                .map_err(|e| format!("entry {k} unreadable after write {op}: {e}"))?;
        }
        let mine =
            tiers_from_dict(&root.get(&sym).ok_or(format!("own entry {sym} lost"))?["tiers"])
                .map_err(|e| e.to_string())?;
        if mine != table(worker, op) {
            return Err(format!("own entry {sym} has wrong tiers"));
        }
        let other = symbol((worker + 1) % PROCESSES, op);
        cache.read_entry(&other).map_err(|e| format!("read of {other}: {e}"))?;
    }
    Ok(())
}

/// What a worker process prints when its work is done; the parent looks for it, so a child
/// that ran the standalone branch (variables lost) cannot count as a worker.
const WORKER_DONE: &str = "tiers stress worker done:";

/// Worker `TIERS_STRESS_ID` on the cache in `TIERS_STRESS_DIR`, when
/// `many_processes_write_and_read_one_cache` runs this binary as a child; run on its own
/// (neither variable set), worker 0 alone on a fresh cache, with the final checks.
#[test]
fn stress_worker() {
    use std::env::{var, VarError::NotPresent};
    match (var("TIERS_STRESS_DIR"), var("TIERS_STRESS_ID")) {
        (Ok(dir), Ok(id)) => {
            let id: usize = id.parse().unwrap_or_else(|e| panic!("TIERS_STRESS_ID {id:?}: {e}"));
            if let Err(e) = run_worker(&PathBuf::from(dir), id) {
                panic!("worker {id}: {e}");
            }
            println!("{WORKER_DONE} {id}");
        }
        (Err(NotPresent), Err(NotPresent)) => {
            let dir = TempDir::new("alone");
            dir.conf();
            if let Err(e) = run_worker(dir.path(), 0) {
                panic!("worker 0 alone: {e}");
            }
            check_final(dir.path(), 1);
        }
        (d, i) => panic!("set both TIERS_STRESS_DIR and TIERS_STRESS_ID or neither: {d:?}, {i:?}"),
    }
}

fn check_final(dir: &Path, workers: usize) {
    let cache = CacheFile::new(&cfg(dir)).unwrap();
    let root = cache.read_all().unwrap().unwrap().root;
    assert_eq!(root.len(), workers * SYMBOLS_PER_WORKER + 1, "entries lost or extra");
    for w in 0..workers {
        // The last write to each of the worker's symbols is the one that must be there.
        for op in WRITES_PER_PROCESS - SYMBOLS_PER_WORKER..WRITES_PER_PROCESS {
            let got = cache.read_entry(&symbol(w, op)).unwrap().expect("entry lost");
            assert_eq!(got.tiers, table(w, op), "{} lost its last update", symbol(w, op));
        }
    }
    let shared = cache.read_entry("SHARED").unwrap().unwrap();
    assert!((0..workers)
        .any(|w| (0..WRITES_PER_PROCESS).step_by(4).any(|op| shared.tiers == table(w, op))));
    assert_eq!(mode_of(cache.path()), 0o600);
    assert!(!dir.join("conf/risk_limits_cache.tmp").exists());
}

#[test]
fn many_processes_write_and_read_one_cache() {
    let dir = TempDir::new("procs");
    dir.conf();
    let t0 = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "stress_worker", "--nocapture", "--test-threads=1"])
                .env("TIERS_STRESS_DIR", dir.path())
                .env("TIERS_STRESS_ID", i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let done = format!("{WORKER_DONE} {i}\n");
        if !out.status.success() || !stdout.contains("1 passed") || !stdout.contains(&done) {
            failures
                .push(format!("worker {i}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    check_final(dir.path(), PROCESSES);
    eprintln!(
        "{PROCESSES} processes x {} ops ({WRITES_PER_PROCESS} locked writes) in {:?}",
        WRITES_PER_PROCESS * 3,
        t0.elapsed()
    );
}

#[test]
fn many_threads_write_and_read_one_cache() {
    let dir = TempDir::new("threads");
    dir.conf();
    let path = dir.path();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|i| s.spawn(move || run_worker(path, i))).collect();
        for h in hs {
            h.join().unwrap().unwrap();
        }
    });
    check_final(dir.path(), 4);
}
