//! Golden snapshots of `gridsweep backtest --json` on the shipped month, one per account
//! model (tests/golden/README.md has the configs, the hand review and how to update).
//!
//! Every key is compared: integers, strings, booleans and nulls exactly, floats within
//! 1e-9 relative. A missing snapshot is a failure; `GRIDSWEEP_UPDATE_GOLDEN=1` rewrites the
//! snapshots from the current binary instead of comparing (review the diff before committing).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Largest accepted relative difference of two floats.
const REL_TOL: f64 = 1e-9;

/// The environment variable that turns comparing into rewriting.
const UPDATE_VAR: &str = "GRIDSWEEP_UPDATE_GOLDEN";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when the snapshots are to be rewritten; panics on a value other than unset, "" , "0"
/// or "1" (a typo must not silently compare, or silently rewrite).
fn updating() -> bool {
    match std::env::var(UPDATE_VAR) {
        Err(std::env::VarError::NotPresent) => false,
        Ok(v) if v.is_empty() || v == "0" => false,
        Ok(v) if v == "1" => true,
        other => panic!("{UPDATE_VAR} must be 1 (rewrite the snapshots) or unset; it is {other:?}"),
    }
}

/// Runs `backtest --json` on `tests/golden/backtest_<model>.toml` from the repository root
/// (the config's candle path is relative to it); returns its stdout, parsed and as text.
fn run_backtest(model: &str) -> (Value, String) {
    let cfg = Path::new("tests/golden").join(format!("backtest_{model}.toml"));
    assert!(
        repo().join(&cfg).is_file(),
        "config {} is missing; restore it from git",
        cfg.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .current_dir(repo())
        .args(["backtest", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "backtest --config {} failed: {stderr}", cfg.display());
    let text = String::from_utf8(out.stdout).expect("stdout of backtest --json is UTF-8");
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout of backtest --json is not JSON ({e}): {text}"));
    (v, text)
}

/// Compact JSON text re-indented by two spaces, every number and string kept as the binary
/// wrote it (parsing and printing again would move some floats by an ulp: serde_json's
/// default float parser is not exact).
fn pretty(compact: &str) -> String {
    let (mut out, mut depth, mut in_str, mut escaped) = (String::new(), 0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = compact.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    out.push(chars.next().unwrap());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// Reads a committed snapshot; panics (fails the test) when it is missing or unreadable.
fn read_snapshot(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "golden snapshot {} cannot be read ({e}); restore it from git, or create it with \
             {UPDATE_VAR}=1 cargo test --release --test golden and review it by hand \
             (tests/golden/README.md)",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("golden snapshot {} is not JSON: {e}", path.display()))
}

/// Every difference between `want` and `got`, one line each, named by its JSON path.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: missing (snapshot has {wv})")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: not in the snapshot (got {gv})"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                out.push(format!("{path}: {} elements, snapshot has {}", g.len(), w.len()));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            let same = match (w.is_f64(), g.is_f64()) {
                // Integers (counts, timestamps) exactly; an integer turning into a float
                // (or back) is a change of the output's type.
                (false, false) => w == g,
                (true, true) => {
                    let (a, b) = (w.as_f64().unwrap(), g.as_f64().unwrap());
                    (a - b).abs() <= REL_TOL * a.abs().max(b.abs())
                }
                _ => false,
            };
            if !same {
                out.push(format!("{path}: got {g}, snapshot has {w}"));
            }
        }
        (w, g) => {
            if w != g {
                out.push(format!("{path}: got {g}, snapshot has {w}"));
            }
        }
    }
}

/// Compares (or, with `GRIDSWEEP_UPDATE_GOLDEN=1`, rewrites) one model's snapshot.
fn check_golden(model: &str) {
    let (got, compact) = run_backtest(model);
    let path = repo().join(format!("tests/golden/backtest_{model}.json"));
    if updating() {
        let text = pretty(&compact);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, got, "the re-indented text reads back as the binary's output");
        std::fs::write(&path, text).unwrap();
        eprintln!("{UPDATE_VAR}=1: rewrote {}; review the diff by hand", path.display());
        return;
    }
    let want = read_snapshot(&path);
    let mut out = Vec::new();
    diff("$", &want, &got, &mut out);
    assert!(
        out.is_empty(),
        "backtest --json differs from {} in {} place(s):\n{}\nIf the change is intended, \
         rewrite it with {UPDATE_VAR}=1 cargo test --release --test golden, review the diff \
         and update tests/golden/README.md",
        path.display(),
        out.len(),
        out.join("\n")
    );
}

#[test]
fn golden_backtest_json_bybit() {
    check_golden("bybit");
}

#[test]
fn golden_backtest_json_origin() {
    check_golden("origin");
}

/// The committed snapshots keep the invariants the hand review checked, so a blind rewrite
/// that breaks one of them fails here (and in the rewriting run itself).
#[test]
fn golden_snapshots_keep_the_reviewed_invariants() {
    for (model, layers) in
        [("bybit", &["snapshot"][..]), ("origin", &["origin", "generic_default"])]
    {
        // While the snapshots are being rewritten (by the tests above, at the same time),
        // check what is being written instead of a file that may be half written.
        let v = if updating() {
            run_backtest(model).0
        } else {
            read_snapshot(&repo().join(format!("tests/golden/backtest_{model}.json")))
        };
        let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{model}: {k} is not a number"));
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{model}: {k} is not a count"));
        assert_eq!(v["model"], model);
        assert_eq!(v["symbol"], "LTCUSDT");
        let want = f("initial_balance") + f("total_realized_pnl") + f("total_unrealized_pnl")
            - f("total_commission")
            + f("total_funding");
        let fb = f("final_balance");
        assert!((want - fb).abs() <= 1e-9 * fb.abs(), "{model}: final_balance {fb} vs {want}");
        let (w, l) = (n("winning_trades"), n("losing_trades"));
        assert!(w + l > 0 && w + l <= n("round_trips"), "{model}: {w} wins + {l} losses");
        let rate = w as f64 / (w + l) as f64;
        assert!((f("win_rate") - rate).abs() <= 1e-12, "{model}: win_rate vs {w}/({w}+{l})");
        assert!(f("peak_mmr_pct") >= 0.0 && f("peak_imr_pct") >= 0.0, "{model}");
        assert!(n("orders_rejected") <= n("rejection_events"), "{model}");
        assert_eq!(n("long_trades") + n("short_trades"), n("total_trades"), "{model}");
        assert_eq!(n("ticks"), 4 * 40_320, "{model}: four ticks per candle of the month");
        assert_eq!(v["liquidated"], false, "{model}: the default grid is not liquidated");
        for k in [
            "liquidation_ts_ms",
            "liquidation_trigger_price",
            "liquidation_tick_price",
            "bankruptcy_price",
        ] {
            assert!(v[k].is_null(), "{model}: {k} must be null when not liquidated");
        }
        let layer = v["tier_layer"].as_str().unwrap();
        assert!(layers.contains(&layer), "{model}: tier_layer {layer}, want one of {layers:?}");
    }
}

/// The comparison itself: equal values pass; a float off by more than 1e-9 relative, any
/// integer or string change, a type change, a missing or an extra key each fail.
#[test]
fn golden_diff_finds_every_kind_of_change() {
    let base = serde_json::json!({
        "f": 100.0, "n": 7, "s": "snapshot", "z": null, "a": [{"x": 1.5}], "b": false
    });
    let count = |got: &Value| {
        let mut out = Vec::new();
        diff("$", &base, got, &mut out);
        out.len()
    };
    assert_eq!(count(&base), 0);
    let mut v = base.clone();
    v["f"] = serde_json::json!(100.0 * (1.0 + 5e-10));
    assert_eq!(count(&v), 0, "within 1e-9 relative");
    v["f"] = serde_json::json!(100.0 * (1.0 + 2e-9));
    assert_eq!(count(&v), 1, "beyond 1e-9 relative");
    for (k, changed) in [
        ("n", serde_json::json!(8)),
        ("n", serde_json::json!(7.0)),
        ("s", serde_json::json!("Snapshot")),
        ("z", serde_json::json!(0.0)),
        ("b", serde_json::json!(true)),
        ("a", serde_json::json!([{"x": 1.5}, {"x": 1.5}])),
        ("a", serde_json::json!([{"x": 1.6}])),
    ] {
        let mut v = base.clone();
        v[k] = changed.clone();
        assert_eq!(count(&v), 1, "{k} -> {changed}");
    }
    let mut v = base.clone();
    v.as_object_mut().unwrap().remove("s");
    assert_eq!(count(&v), 1, "missing key");
    v = base.clone();
    v["new"] = serde_json::json!(1);
    assert_eq!(count(&v), 1, "extra key");
}
