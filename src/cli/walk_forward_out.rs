//! The walk-forward part of `sweep` and `merge` output: the plan before the runs, the fold
//! table and the overall figures after them (from the report stored in the folds file).

use std::io::Write;

use serde_json::Value;

use gridsweep::sweep::walk_forward::WalkPlan;
use gridsweep::time::format_iso;

/// A UTC time as `YYYY-MM-DD HH:MM`, or `YYYY-MM-DD` at midnight.
fn when(ms: i64) -> String {
    let s = format_iso(ms).replace('T', " ");
    match s.strip_suffix(" 00:00:00") {
        Some(day) => day.to_string(),
        None => s.trim_end_matches(":00").to_string(),
    }
}

/// One line before the runs: the folds, and what is dropped.
pub fn plan_line(plan: &WalkPlan) -> String {
    let w = &plan.spec;
    let f = &plan.folds;
    let mut line = format!(
        "walk-forward: {} folds (train {}, test {}, step {}, {}; objective {}, select {}); \
         3 runs per combination per fold besides the whole window",
        f.folds.len(),
        w.written[0],
        w.written[1],
        w.written[2],
        if w.anchored { "anchored" } else { "rolling" },
        w.objective,
        w.select.as_str(),
    );
    if let Some(d) = f.dropped {
        line.push_str(&format!(
            "\nwalk-forward: the next fold (test {} .. {}) runs past the data's end and is dropped",
            when(d.test.start_ms),
            when(d.test.end_ms)
        ));
    }
    if f.untested_tail_ms > 0 {
        line.push_str(&format!(
            "\nwalk-forward: {:.1} days after {} are not tested",
            f.untested_tail_ms as f64 / 86_400_000.0,
            f.folds.last().map_or_else(String::new, |l| when(l.test.end_ms))
        ));
    }
    line
}

/// The warning for overlapping test windows (`step` < `test`), if any.
pub fn overlap_warning(plan: &WalkPlan) -> Option<String> {
    let w = &plan.spec;
    (w.step_ms < w.test_ms).then(|| {
        format!(
            "walk_forward.step ({}) is shorter than test ({}): test windows overlap, so the \
             stitched out-of-sample equity counts the overlap more than once; set step = test \
             for a stitched figure",
            w.written[2], w.written[1]
        )
    })
}

fn num(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

/// Prints the fold table of the chosen method and both methods' overall figures.
pub fn print(out: &mut impl Write, report: &Value) -> std::io::Result<()> {
    let methods = report["methods"].as_array().cloned().unwrap_or_default();
    let Some(chosen) = methods.first() else { return Ok(()) };
    writeln!(
        out,
        "walk-forward by {} (select {}), out of sample = the test window:",
        report["objective"].as_str().unwrap_or("?"),
        report["select"].as_str().unwrap_or("?")
    )?;
    writeln!(
        out,
        "{:>4}  {:<24}  {:<24}  {:>7}  {:>10}  {:>10}  {:>10}  {:>11}  params",
        "fold", "train", "test", "run_id", "in-sample", "redeployed", "continuous", "OOS rank"
    )?;
    for f in chosen["folds"].as_array().into_iter().flatten() {
        let ms = |k: &str| f[k].as_i64().unwrap_or(0);
        writeln!(
            out,
            "{:>4}  {:<24}  {:<24}  {:>7}  {:>10}  {:>10}  {:>10}  {:>11}  {}",
            f["fold"].to_string(),
            format!("{} .. {}", when(ms("train_start_ms")), when(ms("train_end_ms"))),
            format!("{} .. {}", when(ms("test_start_ms")), when(ms("test_end_ms"))),
            f["run_id"].as_u64().map_or_else(|| "-".into(), |r| r.to_string()),
            num(&f["in_sample"]),
            num(&f["oos_redeployed"]),
            num(&f["oos_continuous"]),
            f["oos_rank"]
                .as_f64()
                .map_or_else(|| "-".into(), |r| format!("{r} of {}", f["oos_ranked"])),
            f["params"].as_str().unwrap_or("{}"),
        )?;
    }
    for m in &methods {
        let eq = m["stitched_equity"].as_array().cloned().unwrap_or_default();
        let last = eq.last().and_then(|p| p[1].as_f64()).unwrap_or(f64::NAN);
        writeln!(
            out,
            "{:<8} stitched out-of-sample return {:+.2} % (equity {:.2} at the end), \
             walk-forward efficiency {}, choice changed {} times, mean OOS rank {}",
            format!("{}:", m["select"].as_str().unwrap_or("?")),
            m["stitched_return_pct"].as_f64().unwrap_or(f64::NAN),
            last,
            m["efficiency"].as_f64().map_or_else(|| "-".into(), |e| format!("{e:.2}")),
            m["choice_changes"],
            m["mean_oos_rank"].as_f64().map_or_else(|| "-".into(), |r| format!("{r:.1}")),
        )?;
    }
    Ok(())
}
