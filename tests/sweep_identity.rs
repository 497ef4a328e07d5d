//! Issue 14 item 19: one identity check for exec (an existing result file), resume (a
//! partial-results manifest) and merge (shard parts), its message naming both values in
//! order: the stored results' first, this run's second.

mod sweep_common;

use std::path::Path;

use gridsweep::sweep::{execute, ExecOptions, SizeLimit, SweepSetup, SweepSpec};
use sweep_common::{data, sha12, tmpdir};

/// Parses, resolves and runs `text` into `out`.
fn run(text: &str, file: &Path, out: &Path) -> Result<(), String> {
    std::fs::write(file, text).unwrap();
    let spec = SweepSpec::load(file, SizeLimit::default()).map_err(|e| e.to_string())?;
    let setup = SweepSetup::resolve(spec).map_err(|e| e.to_string())?;
    let mut opts = ExecOptions::new(out);
    opts.threads = Some(1);
    opts.block_runs = 2;
    execute(&setup, &opts).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn an_existing_result_file_of_another_sweep_names_both_sweep_files_in_order() {
    let ltc = data();
    assert!(ltc.is_file(), "fixture {} is missing", ltc.display());
    let d = tmpdir("exec");
    let file = d.join("ident.toml");
    let out = d.join("ident.parquet");
    let first = format!(
        "symbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-03\"\nend = \"2026-02-04\"\n\
         [params]\ngrid_count = 20\n[axes]\nleverage = [5, 10]\n",
        ltc.display().to_string()
    );
    run(&first, &file, &out).unwrap();
    // The same sweep again: already complete, not an error.
    run(&first, &file, &out).unwrap();
    let second = format!("{first}# edited\n");
    let e = run(&second, &file, &out).unwrap_err();
    let want = format!(
        "{} already exists and holds other results: the sweep files differ (sha256 {}… and \
         {}…), the file's first and this run's second",
        out.display(),
        sha12(&first),
        sha12(&second)
    );
    assert!(e.starts_with(&want), "{want}\nnot at the start of\n{e}");
}
