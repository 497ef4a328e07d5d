//! Issue 14 (hardening), the CLI layer: a closed stdout, outputs that would overwrite inputs
//! or each other, an output that is a directory, absurd `--threads`, stale temporary files
//! of killed writers, progress lines in batch logs, Ctrl-C, and error texts. The real
//! binary on the shipped LTCUSDT month; expected texts and counts are worked out by hand.

mod sweep_common;
mod tiers_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sweep_common::{block_files, data, tmpdir};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsweep"));
    c.env_remove("GRIDSWEEP_LOG").env_remove("GRIDSWEEP_PROGRESS_SECS");
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A copy of the candle month in `d` (so a failed guard cannot damage the shipped file).
fn candle_copy(d: &Path) -> PathBuf {
    let c = d.join("c.parquet");
    std::fs::copy(data(), &c).unwrap();
    c
}

fn backtest_config(d: &Path, candles: &Path) -> PathBuf {
    let p = d.join("bt.toml");
    std::fs::write(
        &p,
        format!(
            "symbol = \"LTCUSDT\"\ngrid_count = 40\ngrid_step = 0.4\namount = \"x0.005\"\n\
             leverage = 10\nend = \"2026-02-04\"\ncandles = {:?}\n",
            s(candles)
        ),
    )
    .unwrap();
    p
}

/// 12 runs (3 steps × 2 leverages × 2 amounts) over `days` days from 2026-02-03.
fn sweep_file(d: &Path, name: &str, candles: &Path, days: u32, axes: &str) -> PathBuf {
    let p = d.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
             end = \"2026-02-{:02}\"\ntiers = \"builtin\"\n[params]\ngrid_count = 20\n[axes]\n{axes}",
            s(candles),
            3 + days
        ),
    )
    .unwrap();
    p
}

/// Two Binance 1-minute klines of January 2026 (the file name gives the symbol).
fn kline_csv(d: &Path) -> PathBuf {
    let csv = d.join("LTCUSDT-1m-2026-01.csv");
    std::fs::write(
        &csv,
        "1767225600000,100,101,99,100.5,10,1767225659999,1000,5,5,500,0\n\
         1767225660000,100.5,102,100,101,12,1767225719999,1200,6,6,600,0\n",
    )
    .unwrap();
    csv
}

const AXES_12: &str = "grid_step = { start = 0.3, stop = 0.8, step = 0.25 }\n\
                       leverage = [5, 20]\namount = [\"x0.005\", \"x0.01\"]\n";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `cmd` with stdout a pipe whose reading end is already closed: every write to it
/// fails with EPIPE, deterministically.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped()).output().unwrap()
}

fn assert_quiet_end(o: &Output, code: i32, what: &str) {
    let e = stderr(o);
    assert!(!e.contains("panicked") && !e.contains("Broken pipe"), "{what}: {e}");
    assert_eq!(o.status.code(), Some(code), "{what}: {e}");
}

#[test]
fn closed_stdout_ends_every_printing_command_quietly_with_its_usual_status() {
    let d = tmpdir("pipe");
    let c = candle_copy(&d);
    let cfg = backtest_config(&d, &c);
    for json in [false, true] {
        let mut cmd = bin();
        cmd.args(["backtest", "--config", s(&cfg)]);
        if json {
            cmd.arg("--json");
        }
        // Twenty times: the panic was a race with the reader before the fix.
        for _ in 0..20 {
            assert_quiet_end(&with_closed_stdout(cmd_clone(&cmd)), 0, "backtest");
        }
    }
    let csv = kline_csv(&d);
    let mut cmd2 = bin();
    cmd2.args(["import", "--out", s(&d.join("imported.parquet")), s(&csv)]);
    assert_quiet_end(&with_closed_stdout(cmd2), 0, "import");
    assert!(d.join("imported.parquet").exists(), "the import still wrote its file");

    let mut cmd = bin();
    cmd.args(["tiers", "show", "BTCUSDT"]).current_dir(&d);
    assert_quiet_end(&with_closed_stdout(cmd), 0, "tiers show");
    // A cached table that differs from the built-in one: `diff` keeps its exit status 1.
    std::fs::create_dir_all(d.join("conf")).unwrap();
    // (The real cache's BTCUSDT table is the shipped snapshot, so tier 1's MMR is changed.)
    let text = std::fs::read_to_string(tiers_common::data(tiers_common::ORIGIN_CACHE)).unwrap();
    let text = text.replacen("\"0.005\"", "\"0.006\"", 1);
    std::fs::write(d.join("conf/risk_limits_cache.json"), text).unwrap();
    let mut cmd = bin();
    cmd.args(["tiers", "diff", "BTCUSDT"]).current_dir(&d);
    assert_quiet_end(&with_closed_stdout(cmd), 1, "tiers diff");

    let f = sweep_file(&d, "pipe", &c, 1, AXES_12);
    let mut cmd = bin();
    cmd.args(["sweep", s(&f), "-o", s(&d.join("pipe.parquet"))]);
    assert_quiet_end(&with_closed_stdout(cmd), 0, "sweep");
    assert!(d.join("pipe.parquet").exists());

    // `… 2>&1 | head -1`: stderr closed as well; messages on stderr must not panic either.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = bin()
        .args(["sweep", s(&f), "-o", s(&d.join("pipe2.parquet"))])
        .env("GRIDSWEEP_PROGRESS_SECS", "0.01")
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(o.code(), Some(0), "sweep with stdout and stderr closed");
    assert!(d.join("pipe2.parquet").exists());
}

fn cmd_clone(c: &Command) -> Command {
    let mut n = Command::new(c.get_program());
    n.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => n.env(k, v),
            None => n.env_remove(k),
        };
    }
    n
}

/// Runs and returns (exit code, stderr).
fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let o = cmd.stdout(Stdio::null()).output().unwrap();
    (o.status.code(), stderr(&o))
}

#[test]
fn backtest_never_writes_over_an_input_or_its_other_output() {
    let d = tmpdir("bt-guard");
    let c = candle_copy(&d);
    let cfg = backtest_config(&d, &c);
    let before = std::fs::read(&c).unwrap();
    let cfg_text = std::fs::read(&cfg).unwrap();

    // Its own candle file, even with --force.
    let (code, e) =
        run(bin().args(["backtest", "--config", s(&cfg), "--force", "--trades", s(&c)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("--trades") && e.contains("is also an input: a candle file"), "{e}");
    assert_eq!(std::fs::read(&c).unwrap(), before, "the candle file is untouched");

    // Through a symlink with a .csv name.
    #[cfg(unix)]
    {
        let link = d.join("link.csv");
        std::os::unix::fs::symlink(&cfg, &link).unwrap();
        let (code, e) =
            run(bin().args(["backtest", "--config", s(&cfg), "--force", "--equity", s(&link)]));
        assert_eq!(code, Some(2), "{e}");
        assert!(e.contains("is also an input: the config file"), "{e}");
        assert_eq!(std::fs::read(&cfg).unwrap(), cfg_text);
    }

    // --trades X --equity X: one would overwrite the other.
    let x = d.join("x.csv");
    let dot_x = d.join(".").join("x.csv");
    let (code, e) = run(bin().args([
        "backtest",
        "--config",
        s(&cfg),
        "--trades",
        s(&x),
        "--equity",
        s(&dot_x),
    ]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("are the same file"), "{e}");
    assert!(!x.exists(), "refused before anything was written");

    // A CSV that is not a trades file needs --force; a trades file from an earlier run not.
    let notes = d.join("notes.csv");
    std::fs::write(&notes, "name,phone\nann,123\n").unwrap();
    let (code, e) = run(bin().args(["backtest", "--config", s(&cfg), "--trades", s(&notes)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("is not a trades file") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "name,phone\nann,123\n");
    let t = d.join("t.csv");
    for _ in 0..2 {
        let (code, e) = run(bin().args(["backtest", "--config", s(&cfg), "--trades", s(&t)]));
        assert_eq!(code, Some(0), "{e}");
    }
    let (code, e) =
        run(bin().args(["backtest", "--config", s(&cfg), "--trades", s(&notes), "--force"]));
    assert_eq!(code, Some(0), "{e}");
    assert!(std::fs::read_to_string(&notes).unwrap().starts_with("ts,side,direction"));

    // A pipe (or device) is never replaced, even with --force: the rename would replace the
    // node itself.
    #[cfg(unix)]
    {
        let fifo = d.join("fifo.csv");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let (code, e) =
            run(bin().args(["backtest", "--config", s(&cfg), "--force", "--trades", s(&fifo)]));
        assert_eq!(code, Some(2), "{e}");
        assert!(e.contains("is not a regular file"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}

#[test]
fn import_sweep_and_merge_never_write_over_inputs_or_foreign_files() {
    let d = tmpdir("guard");
    let c = candle_copy(&d);
    let before = std::fs::read(&c).unwrap();
    let f = sweep_file(&d, "g", &c, 1, AXES_12);
    let sweep_text = std::fs::read(&f).unwrap();
    let r = d.join("r.parquet");
    let (code, e) = run(bin().args(["sweep", s(&f), "-o", s(&r)]));
    assert_eq!(code, Some(0), "{e}");
    let result = std::fs::read(&r).unwrap();

    // sweep --out <its candle file> --force, and --out <its sweep file> --force.
    for target in [&c, &f] {
        let (code, e) = run(bin().args(["sweep", s(&f), "--force", "-o", s(target)]));
        assert_eq!(code, Some(2), "{e}");
        assert!(e.contains("is also an input"), "{e}");
    }
    assert_eq!(std::fs::read(&c).unwrap(), before);
    assert_eq!(std::fs::read(&f).unwrap(), sweep_text);

    // import --out <a sweep result> and --out <the sweep file>: not candle files.
    let csv = kline_csv(&d);
    for target in [&r, &f] {
        let (code, e) = run(bin().args(["import", "--out", s(target), s(&csv)]));
        assert_eq!(code, Some(2), "{e}");
        assert!(e.contains("is not a gridsweep candle file") && e.contains("--force"), "{e}");
    }
    assert_eq!(std::fs::read(&r).unwrap(), result);
    // import --out <its input>, even with --force.
    let (code, e) = run(bin().args(["import", "--force", "--out", s(&csv), s(&csv)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("is also an input"), "{e}");
    // Re-importing over a candle file is fine.
    let imported = d.join("i.parquet");
    for _ in 0..2 {
        let (code, e) = run(bin().args(["import", "--out", s(&imported), s(&csv)]));
        assert_eq!(code, Some(0), "{e}");
    }

    // merge --out <the sweep's candle file / sweep file> --force.
    let (p1, p2) = (d.join("p1.parquet"), d.join("p2.parquet"));
    for (k, p) in [(1, &p1), (2, &p2)] {
        let shard = format!("{k}/2");
        let (code, e) = run(bin().args(["sweep", s(&f), "--shard", &shard, "-o", s(p)]));
        assert_eq!(code, Some(0), "{e}");
    }
    for target in [&c, &f, &p1] {
        let (code, e) = run(bin().args(["merge", s(&p1), s(&p2), "--force", "-o", s(target)]));
        assert_eq!(code, Some(2), "{e}");
        assert!(e.contains("is also an input"), "{e}");
    }
    assert_eq!(std::fs::read(&c).unwrap(), before);
    assert_eq!(std::fs::read(&f).unwrap(), sweep_text);
    // merge --out <a foreign file>: refused without --force.
    let notes = d.join("notes.parquet");
    std::fs::write(&notes, "not parquet").unwrap();
    let (code, e) = run(bin().args(["merge", s(&p1), s(&p2), "-o", s(&notes)]));
    assert_eq!(code, Some(2), "{e}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "not parquet");
    // The merged file is the unsharded one, byte for byte.
    let m = d.join("m.parquet");
    let (code, e) = run(bin().args(["merge", s(&p1), s(&p2), "-o", s(&m)]));
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(std::fs::read(&m).unwrap(), result);
}

#[test]
fn out_directory_fails_before_any_run_and_threads_are_capped() {
    let d = tmpdir("early");
    let c = candle_copy(&d);
    // 192 runs over 25 days: minutes of work if it were run before failing.
    let axes = "grid_step = { start = 0.2, stop = 1.3, step = 0.1 }\nleverage = [5, 10, 20, 50]\n\
                amount = [\"x0.005\", \"x0.01\", \"x0.02\", \"x0.04\"]\n";
    let f = sweep_file(&d, "early", &c, 25, axes);
    let t0 = Instant::now();
    // (--force: without it the directory was refused early as "not a result file", with it
    // every run was computed before the final rename failed.)
    let (code, e) = run(bin().args(["sweep", s(&f), "--threads", "1", "--force", "-o", s(&d)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("is a directory"), "{e}");
    assert!(!e.contains("runs ("), "no sweep header: nothing was loaded: {e}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let parts = PathBuf::from(format!("{}.parts", s(&d)));
    assert!(!parts.exists(), "no run was computed into {}", parts.display());
    let _ = std::fs::remove_dir_all(&parts);
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2, "c.parquet and early.toml only");

    let cores = std::thread::available_parallelism().unwrap().get();
    let small = sweep_file(&d, "small", &c, 1, AXES_12);
    let o = bin()
        .args(["sweep", s(&small), "--json", "--threads", "100000", "-o"])
        .arg(d.join("small.parquet"))
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    let want =
        format!("warning: --threads 100000 capped at {} (4 per core on {cores} cores)", 4 * cores);
    assert!(e.contains(&want), "{e}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["threads"].as_u64(), Some(4 * cores as u64));
    let zero = d.join("zero.parquet");
    // --block-runs 0 and --top 0 fail before the data is loaded, in plain numbers.
    let (code, e) = run(bin().args(["sweep", s(&small), "--block-runs", "0", "-o", s(&zero)]));
    assert_eq!(code, Some(2));
    assert!(e.contains("--block-runs must be between 1 and 1,000,000 (was 0)"), "{e}");
    assert!(!e.contains("runs (") && !e.contains("..="), "{e}");
    let (code, e) = run(bin().args(["sweep", s(&small), "--top", "0", "-o", s(&zero)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("--top must be at least 1"), "{e}");
    assert!(!zero.exists());
    let (code, e) = run(bin().args(["sweep", s(&small), "--threads", "0", "-o", s(&zero)]));
    assert_eq!(code, Some(2));
    assert!(e.contains("--threads must be at least 1"), "{e}");
}

/// A PID that runs no process: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn merge_import_and_backtest_remove_temp_files_of_killed_writers() {
    let d = tmpdir("stale");
    let c = candle_copy(&d);
    let f = sweep_file(&d, "st", &c, 1, AXES_12);
    let (p1, p2) = (d.join("p1.parquet"), d.join("p2.parquet"));
    for (k, p) in [(1, &p1), (2, &p2)] {
        let shard = format!("{k}/2");
        assert_eq!(run(bin().args(["sweep", s(&f), "--shard", &shard, "-o", s(p)])).0, Some(0));
    }
    let dead = dead_pid();
    let live = std::process::id(); // this test: a writer that is still running
    let stale = |name: &str| d.join(format!(".{name}.tmp-{dead}"));
    let alive = |name: &str| d.join(format!(".{name}.tmp-{live}"));
    for name in ["m.parquet", "i.parquet", "t.csv"] {
        std::fs::write(stale(name), "half-written").unwrap();
        std::fs::write(alive(name), "being written").unwrap();
    }
    let (code, e) = run(bin().args(["merge", s(&p1), s(&p2), "-o", s(&d.join("m.parquet"))]));
    assert_eq!(code, Some(0), "{e}");
    let csv = kline_csv(&d);
    let (code, e) = run(bin().args(["import", "-o", s(&d.join("i.parquet")), s(&csv)]));
    assert_eq!(code, Some(0), "{e}");
    let cfg = backtest_config(&d, &c);
    let (code, e) =
        run(bin().args(["backtest", "--config", s(&cfg), "--trades", s(&d.join("t.csv"))]));
    assert_eq!(code, Some(0), "{e}");
    for name in ["m.parquet", "i.parquet", "t.csv"] {
        assert!(!stale(name).exists(), "{name}: the dead writer's temp file is removed");
        assert!(alive(name).exists(), "{name}: a running writer's temp file is kept");
    }
}

#[test]
fn batch_logs_get_progress_lines() {
    let d = tmpdir("progress");
    let c = candle_copy(&d);
    let axes = "grid_step = { start = 0.2, stop = 1.3, step = 0.1 }\nleverage = [5, 10, 20, 50]\n\
                amount = [\"x0.005\", \"x0.01\", \"x0.02\", \"x0.04\"]\n";
    let f = sweep_file(&d, "prog", &c, 5, axes);
    let o = bin()
        .args(["sweep", s(&f), "--threads", "1", "--block-runs", "2", "-o"])
        .arg(d.join("prog.parquet"))
        .env("GRIDSWEEP_PROGRESS_SECS", "0.05")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("progress: ")).collect();
    assert!(!lines.is_empty(), "no progress line in a captured stderr: {e}");
    for l in &lines {
        // 12 steps × 4 leverages × 4 amounts = 192 runs.
        assert!(l.contains("/192 runs (") && l.contains(" runs/s, ETA "), "{l}");
    }
    // --json keeps stderr for errors only.
    let o = bin()
        .args(["sweep", s(&f), "--json", "--threads", "1", "-o"])
        .arg(d.join("prog2.parquet"))
        .env("GRIDSWEEP_PROGRESS_SECS", "0.05")
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("progress: "), "{}", stderr(&o));
}

#[test]
fn ctrl_c_says_what_is_saved_and_the_same_command_resumes_to_the_same_bytes() {
    let d = tmpdir("sigint");
    let c = candle_copy(&d);
    let axes = "grid_step = { start = 0.2, stop = 1.3, step = 0.1 }\nleverage = [5, 10, 20, 50]\n\
                amount = [\"x0.005\", \"x0.01\", \"x0.02\", \"x0.04\"]\n";
    let axes = format!("{axes}grid_count = [20, 30, 40, 60]\n");
    let f = sweep_file(&d, "int", &c, 10, &axes);
    // grid_count is an axis here, not a fixed parameter.
    std::fs::write(
        &f,
        std::fs::read_to_string(&f).unwrap().replace("grid_count = 20\n[axes]", "[axes]"),
    )
    .unwrap();
    let reference = d.join("reference.parquet");
    let (code, e) = run(bin().args(["sweep", s(&f), "--block-runs", "2", "-o", s(&reference)]));
    assert_eq!(code, Some(0), "{e}");

    let out = d.join("int.parquet");
    let parts = d.join("int.parquet.parts");
    let args = ["sweep", s(&f), "--threads", "1", "--block-runs", "2", "-o", s(&out)];
    let child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    while block_files(&parts) < 3 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert!(!out.exists(), "the sweep finished before the interrupt; make it longer");
    assert_eq!(o.status.code(), Some(130), "{e}");
    let on_disk = 2 * block_files(&parts);
    // 768 runs in blocks of 2; the message counts the block files on disk when it is printed
    // (at least the 3 seen before the interrupt, at most what is there after the exit).
    let said: usize = e
        .split("interrupted: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `interrupted: N` in {e}"));
    assert!((6..=on_disk).contains(&said), "said {said}, {on_disk} on disk: {e}");
    let want = format!("of 768 runs are saved in {} (the blocks in flight are lost)", s(&parts));
    assert!(e.contains(&want), "{want}\n{e}");
    assert!(e.contains("To resume, run the same command again"), "{e}");
    assert!(
        e.contains(&format!("sweep {} --threads 1 --block-runs 2 -o {}", s(&f), s(&out))),
        "{e}"
    );

    let o = bin().args(args).arg("--json").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["resumed_runs"].as_u64(), Some(on_disk as u64));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&reference).unwrap());
}

#[test]
fn error_causes_are_printed_once_and_in_the_cli_language() {
    let d = tmpdir("messages");
    let c = candle_copy(&d);
    let cfg = backtest_config(&d, &c);
    let missing = d.join("missing.parquet");
    let (code, e) = run(bin().args(["backtest", "--config", s(&cfg), "--candles", s(&missing)]));
    assert_eq!(code, Some(2), "{e}");
    assert_eq!(e.matches("no such file").count(), 1, "{e}");
    assert!(!e.contains("(os error 2)"), "{e}");

    let (code, e) = run(bin().args(["tiers", "show", "BTCUSDT"]).current_dir(&d));
    assert_eq!(code, Some(0), "{e}");
    assert!(!e.contains("BybitRestClient") && e.contains("--base-url"), "{e}");

    let old = d.join("old.toml");
    std::fs::write(&old, std::fs::read_to_string(&cfg).unwrap() + "long_koef = 2\n").unwrap();
    let (code, e) = run(bin().args(["backtest", "--config", s(&old)]));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("early_imbalance_multiplier") && !e.contains("feature 0028"), "{e}");
}

#[test]
fn merge_of_different_sweeps_names_each_files_hash_in_order() {
    let d = tmpdir("merge-order");
    let c = candle_copy(&d);
    let a = sweep_file(&d, "a", &c, 1, AXES_12);
    let (pa, pb) = (d.join("pa.parquet"), d.join("pb.parquet"));
    assert_eq!(run(bin().args(["sweep", s(&a), "--shard", "1/2", "-o", s(&pa)])).0, Some(0));
    std::fs::write(&a, std::fs::read_to_string(&a).unwrap() + "# edited\n").unwrap();
    assert_eq!(run(bin().args(["sweep", s(&a), "--shard", "2/2", "-o", s(&pb)])).0, Some(0));
    let sha = |p: &Path| {
        let b = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(p).unwrap())
            .unwrap();
        use parquet::file::reader::FileReader;
        let kv = b.metadata().file_metadata().key_value_metadata().unwrap().clone();
        kv.into_iter().find(|k| k.key == "gridsweep.sweep_sha256").unwrap().value.unwrap()
    };
    let (ha, hb) = (sha(&pa), sha(&pb));
    assert_ne!(ha, hb);
    let (code, e) = run(bin().args(["merge", s(&pa), s(&pb), "-o", s(&d.join("m.parquet"))]));
    assert_eq!(code, Some(2), "{e}");
    let ia = e.find(&ha[..12]).expect("first part's hash");
    let ib = e.find(&hb[..12]).expect("second part's hash");
    assert!(e.find("pa.parquet").unwrap() < e.find("pb.parquet").unwrap(), "{e}");
    assert!(ia < ib, "hashes in the order of the files: {e}");
    assert!(!e.contains(" then") && !e.contains(" now)"), "{e}");
}
