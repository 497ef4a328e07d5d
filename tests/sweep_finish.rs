//! Finishing a sweep (issue 14 items 7 and 10): a result file already in place is never
//! recomputed, whatever was left of `<out>.parts`; concurrent identical commands never
//! compute at the same time; and a `<out>.parts` that gridsweep did not create (a symbolic
//! link, a file, someone else's directory) is refused and left untouched.

mod sweep_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use gridsweep::sweep::setup::Identity;
use gridsweep::sweep::writer::{open_results, write_segment};
use gridsweep::sweep::{SizeLimit, SweepSetup, SweepSpec};
use sweep_common::{bin, data, tmpdir};

const BLOCK_RUNS: u64 = 4;

/// 2 × 2 × 6 = 24 runs over one day: 6 blocks of 4.
fn sweep_file(dir: &Path) -> PathBuf {
    let text = format!(
        "name = \"fin\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\n\
         end = \"2026-02-04\"\ntiers = \"builtin\"\n[params]\ngrid_count = 20\n[axes]\n\
         grid_step = [0.3, 0.55]\nleverage = [5, 20]\n\
         amount = [\"x0.005\", \"x0.01\", \"x0.02\", \"x0.03\", \"x0.04\", \"x0.05\"]\n",
        data().display().to_string()
    );
    let p = dir.join("fin.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn sweep(file: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.args(["sweep", file.to_str().unwrap(), "--json", "--block-runs", "4", "-o"]).arg(out);
    c
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn parts_of(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.parts", out.display()))
}

/// Recreates what a sweep leaves when it is killed after its result file is in place but
/// while its partial results are being removed: the manifest and the blocks `keep` of the
/// finished result file.
fn leave_parts(file: &Path, out: &Path, keep: &[u64]) {
    let spec = SweepSpec::load(file, SizeLimit::default()).unwrap();
    let setup = SweepSetup::resolve(spec).unwrap();
    let ident: Identity = setup.identity(BLOCK_RUNS);
    let dir = parts_of(out);
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = serde_json::Map::new();
    for (k, v) in ident.to_kv() {
        manifest.insert(k, v.into());
    }
    manifest.insert("gridsweep.shard".into(), "1/1".into());
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap())
        .unwrap();
    for (b, batch) in open_results(out, BLOCK_RUNS).unwrap().enumerate() {
        let b = b as u64;
        if keep.contains(&b) {
            let kv = vec![
                ("gridsweep.sweep_sha256".to_string(), ident.sweep_sha256.clone()),
                ("gridsweep.block".to_string(), b.to_string()),
            ];
            write_segment(&dir.join(format!("block-{b:06}.parquet")), &batch.unwrap(), kv).unwrap();
        }
    }
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
}

#[test]
fn test_finished_result_with_leftover_parts_is_not_recomputed() {
    let d = tmpdir("leftover");
    let f = sweep_file(&d);
    let out = d.join("fin.parquet");
    let first = json(&sweep(&f, &out).output().unwrap());
    assert_eq!(
        (first["total_runs"].as_u64(), first["computed_runs"].as_u64()),
        (Some(24), Some(24))
    );
    assert!(!parts_of(&out).exists());
    let reference = std::fs::read(&out).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    // Every block, half of them, none: the kill came at some point of the removal.
    for keep in [&[0u64, 1, 2, 3, 4, 5][..], &[3, 4, 5], &[]] {
        leave_parts(&f, &out, keep);
        set_mtime(&out, old);
        let j = json(&sweep(&f, &out).output().unwrap());
        let brief = (&j["already_complete"], &j["computed_runs"], &j["resumed_runs"]);
        assert_eq!(j["already_complete"], true, "kept {keep:?}: {brief:?}");
        assert_eq!(j["computed_runs"], 0, "kept {keep:?}: recomputed");
        assert_eq!(j["resumed_runs"], 24);
        assert_eq!(j["ok_runs"].as_u64().unwrap() + j["failed_runs"].as_u64().unwrap(), 24);
        assert_eq!(j["top"], first["top"]);
        assert_eq!(
            std::fs::metadata(&out).unwrap().modified().unwrap(),
            old,
            "kept {keep:?}: the result file was rewritten"
        );
        assert_eq!(std::fs::read(&out).unwrap(), reference);
        assert!(!parts_of(&out).exists(), "kept {keep:?}: leftover parts not removed");
    }
}

#[test]
fn test_concurrent_identical_commands_never_compute_twice() {
    let d = tmpdir("concurrent");
    let f = sweep_file(&d);
    let reference = d.join("reference.parquet");
    json(&sweep(&f, &reference).output().unwrap());
    let reference = std::fs::read(&reference).unwrap();
    for round in 0..4 {
        let out = d.join(format!("c{round}.parquet"));
        let children: Vec<_> = (0..3)
            .map(|_| {
                sweep(&f, &out)
                    .args(["--threads", "1"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> =
            children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let mut computing = 0;
        let mut computed = 0;
        for o in &outputs {
            let stderr = String::from_utf8_lossy(&o.stderr);
            match o.status.code() {
                Some(0) => {
                    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                    let c = j["computed_runs"].as_u64().unwrap();
                    computed += c;
                    computing += usize::from(c > 0);
                    assert_eq!(j["resumed_runs"].as_u64().unwrap() + c, 24, "round {round}");
                }
                Some(2) => assert!(
                    stderr.contains("another gridsweep process is writing")
                        && stderr.contains("wait for it to finish"),
                    "round {round}: {stderr}"
                ),
                other => panic!("round {round}: exit {other:?}: {stderr}"),
            }
        }
        assert_eq!(computing, 1, "round {round}: {computing} processes computed");
        assert_eq!(computed, 24, "round {round}: runs computed twice or not at all");
        assert_eq!(std::fs::read(&out).unwrap(), reference, "round {round}");
        assert!(!parts_of(&out).exists(), "round {round}: parts left behind");
    }
}

/// Files a planted link or a foreign directory must not lose.
fn victim(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let files = ["precious.tmp", "block-000000.parquet", "result.parquet.tmp", "manifest.json"];
    files
        .iter()
        .map(|n| {
            let p = dir.join(n);
            std::fs::write(&p, format!("keep {n}")).unwrap();
            p
        })
        .collect()
}

fn assert_untouched(files: &[PathBuf]) {
    for p in files {
        let n = p.file_name().unwrap().to_string_lossy();
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            format!("keep {n}"),
            "{} changed",
            p.display()
        );
    }
}

#[test]
fn test_parts_symlink_is_refused_and_its_target_untouched() {
    let d = tmpdir("symlink");
    let f = sweep_file(&d);
    let target = d.join("elsewhere");
    let files = victim(&target);
    let out = d.join("fin.parquet");
    std::os::unix::fs::symlink(&target, parts_of(&out)).unwrap();
    let o = sweep(&f, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(&format!("{} is a symbolic link", parts_of(&out).display())), "{e}");
    assert!(e.contains("choose another --out"), "{e}");
    assert_untouched(&files);
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        files.len(),
        "files added to the target"
    );
    assert!(!out.exists());
}

#[test]
fn test_parts_path_not_created_by_gridsweep_is_refused() {
    let d = tmpdir("foreign");
    let f = sweep_file(&d);
    // A directory of someone else's files.
    let out = d.join("a.parquet");
    let files = victim(&parts_of(&out));
    let o = sweep(&f, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(&format!(
            "{} exists but was not created by gridsweep (it has no .gridsweep-parts file)",
            parts_of(&out).display()
        )),
        "{e}"
    );
    assert_untouched(&files);
    assert!(!out.exists());
    // A regular file.
    let out = d.join("b.parquet");
    std::fs::write(parts_of(&out), "not a directory").unwrap();
    let o = sweep(&f, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(&format!("{} exists and is not a directory", parts_of(&out).display())),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(parts_of(&out)).unwrap(), "not a directory");
    // An empty directory holds nothing to lose: it is used, then removed.
    let out = d.join("c.parquet");
    std::fs::create_dir(parts_of(&out)).unwrap();
    let j = json(&sweep(&f, &out).output().unwrap());
    assert_eq!(j["computed_runs"], 24);
    assert!(!parts_of(&out).exists());
}
