//! The report's contents, from values already read: which charts, their data and captions.
//! Pure: the CLI reads the files and re-runs the top runs, this module only computes and
//! lays out.

use super::agg::{cell_grid, liquidated_share, merge_on_raster, thin_min_max, underwater_pct, Agg};
use super::chart::{self, fmt2, Heatmap, Mark, Scatter, Series};
use super::html::{self, Figure, Section};
use super::rows::SweepRows;
use crate::config::fields::ParamValue;
use crate::engine::{FillRecord, Side};
use crate::sweep::{folds, Axis};

/// Points kept per line of an equity or underwater chart.
pub const LINE_POINTS: usize = 1200;

/// One re-run: its equity curve (and fills, for single-run reports).
#[derive(Clone, Debug, Default)]
pub struct RunTrace {
    /// Run id (`None` for a `backtest` run).
    pub run_id: Option<u64>,
    /// A short description (its axis values).
    pub label: String,
    /// `(ts_ms, equity)` per tick.
    pub equity: Vec<(i64, f64)>,
    /// Every fill (only drawn by [`single_run`]).
    pub fills: Vec<FillRecord>,
}

/// The selection issue's numbers, when the sweep recorded periods.
#[derive(Clone, Debug)]
pub struct Validation {
    /// The objective of PBO (`sharpe`, …).
    pub objective: String,
    /// Probability of backtest overfitting.
    pub pbo: f64,
    /// One logit per split.
    pub logits: Vec<f64>,
    /// `(in-sample, out-of-sample)` objective of each split's in-sample winner.
    pub is_oos: Vec<(f64, f64)>,
}

/// The walk-forward folds file's columns the report draws, each taken by name from
/// [`folds::COLUMNS`] (a column renamed or dropped there fails the build here).
pub const FOLD_COLUMNS: [&str; 12] = [
    folds_column("fold"),
    folds_column("train_start_ms"),
    folds_column("train_end_ms"),
    folds_column("test_start_ms"),
    folds_column("test_end_ms"),
    folds_column("run_id"),
    folds_column("in_sample"),
    folds_column("oos_redeployed"),
    folds_column("oos_continuous"),
    folds_column("oos_rank"),
    folds_column("oos_return_pct"),
    folds_column("oos_continuous_return_pct"),
];

/// The column of [`folds::COLUMNS`] named `name`; panics (in a `const`: a compile error)
/// when the folds file has no such column.
const fn folds_column(name: &str) -> &'static str {
    let mut i = 0;
    while i < folds::COLUMNS.len() {
        let (c, n) = (folds::COLUMNS[i].as_bytes(), name.as_bytes());
        let mut same = c.len() == n.len();
        let mut k = 0;
        while same && k < c.len() {
            same = c[k] == n[k];
            k += 1;
        }
        if same {
            return folds::COLUMNS[i];
        }
        i += 1;
    }
    panic!("report::build::FOLD_COLUMNS names a column that sweep::folds::COLUMNS does not have");
}

/// The walk-forward folds: one row per fold, values in [`FOLD_COLUMNS`] order, or why the
/// panel is skipped.
#[derive(Clone, Debug)]
pub enum Folds {
    /// The rows.
    Rows(Vec<[f64; 12]>),
    /// A note saying why there is no fold panel.
    Skipped(String),
}

/// Everything the sweep report shows.
#[derive(Clone, Debug)]
pub struct SweepReport<'a> {
    /// Page title.
    pub title: String,
    /// The provenance header `(term, value)`.
    pub provenance: Vec<(String, String)>,
    /// The sweep's axes in enumeration order.
    pub axes: &'a [Axis],
    /// The result rows.
    pub rows: &'a SweepRows,
    /// Objective name and whether lower is better.
    pub objective: (&'a str, bool),
    /// The top-N table as the CLI prints it: header and rows (run_id first).
    pub top: (Vec<String>, Vec<Vec<String>>),
    /// Re-runs of the top runs, best first.
    pub runs: Vec<RunTrace>,
    /// `pareto_rank` per row (aligned with `rows`), when the selection file exists.
    pub pareto_rank: Option<Vec<Option<u32>>>,
    /// PBO numbers, when the periods file exists.
    pub validation: Option<Validation>,
    /// Walk-forward folds, when the folds file exists.
    pub folds: Option<Folds>,
    /// The axis pairs of the heatmaps (indices into `axes`); `None`: every pair.
    pub pairs: Option<Vec<(usize, usize)>>,
    /// Each row's value index on every axis (`coords[axis][row]`) when it is not the grid's
    /// ([`axis_coords`]): a sampled sweep's bins ([`super::bins`]).
    pub coords: Option<Vec<Vec<usize>>>,
    /// The cross-symbol ranking of a sweep over several symbols: header, rows and a note.
    pub across: Option<(Vec<String>, Vec<Vec<String>>, String)>,
}

/// An axis name with its unit, for axis labels.
pub fn axis_desc(name: &str) -> String {
    match name {
        "grid_step" => "grid_step (% between levels)".into(),
        "leverage" => "leverage (×)".into(),
        "amount" => "amount (per order; x = share of equity)".into(),
        "grid_count" => "grid_count (levels)".into(),
        "initial_balance" => "initial_balance (USDT)".into(),
        other => other.to_string(),
    }
}

fn value_label(v: &ParamValue) -> String {
    match v {
        ParamValue::Text(t) => t.clone(),
        other => other.to_string(),
    }
}

/// The value index on every axis of each row (`coords[axis][row]`), from its `run_id` (the
/// first axis varies slowest, as [`crate::sweep::Space::coords`]).
pub fn axis_coords(axes: &[Axis], run_ids: &[u64]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::with_capacity(run_ids.len()); axes.len()];
    for &id in run_ids {
        let mut r = id;
        for (i, a) in axes.iter().enumerate().rev() {
            let n = a.values.len() as u64;
            out[i].push((r % n) as usize);
            r /= n;
        }
    }
    out
}

/// The two axes of the liquidation map: `grid_step` × `leverage` when both are axes, else
/// the first two (a single axis is paired with itself, drawn as one row).
pub fn liquidation_axes(axes: &[Axis]) -> (usize, usize) {
    let find = |n: &str| axes.iter().position(|a| a.name == n);
    match (find("grid_step"), find("leverage")) {
        (Some(x), Some(y)) => (x, y),
        _ if axes.len() >= 2 => (0, 1),
        _ => (0, 0),
    }
}

/// The pairs of axes with at least two values each, in file order.
pub fn heatmap_pairs(axes: &[Axis]) -> Vec<(usize, usize)> {
    let many: Vec<usize> = (0..axes.len()).filter(|&i| axes[i].values.len() > 1).collect();
    let mut out = Vec::new();
    for (k, &i) in many.iter().enumerate() {
        for &j in &many[k + 1..] {
            out.push((i, j));
        }
    }
    if out.is_empty() && !axes.is_empty() {
        let only = many.first().copied().unwrap_or(0);
        out.push((only, only));
    }
    out
}

/// Parses `--pairs` (`a:b,c:d`, axis names) into index pairs of `axes`.
///
/// # Errors
/// An unknown axis name or a malformed pair, with the axes to choose from.
pub fn parse_pairs(text: &str, axes: &[Axis]) -> Result<Vec<(usize, usize)>, String> {
    let names = || axes.iter().map(|a| a.name).collect::<Vec<_>>().join(", ");
    let find = |n: &str| {
        axes.iter().position(|a| a.name == n.trim()).ok_or_else(|| {
            format!(
                "--pairs: `{}` is not an axis of this sweep; its axes are {}",
                n.trim(),
                names()
            )
        })
    };
    text.split(',')
        .map(|p| match p.split_once(':') {
            Some((a, b)) => Ok((find(a)?, find(b)?)),
            None => Err(format!(
                "--pairs: `{p}` is not a pair; write AXIS:AXIS, e.g. grid_step:leverage"
            )),
        })
        .collect()
}

/// Days since `t0` (for time axes).
fn days(t: i64, t0: i64) -> f64 {
    (t - t0) as f64 / 86_400_000.0
}

/// `(x, y)` grid coordinates of a pair: the y axis `None` when the pair is one axis.
fn pair_xy<'c>(
    coords: &'c [Vec<usize>],
    ax: usize,
    ay: usize,
    zeros: &'c [usize],
) -> (&'c [usize], &'c [usize]) {
    (&coords[ax], if ax == ay { zeros } else { &coords[ay] })
}

fn labels(axis: &Axis) -> Vec<String> {
    axis.values.iter().map(value_label).collect()
}

/// The sweep report as one HTML page.
///
/// # Errors
/// A drawing error.
pub fn sweep_page(r: &SweepReport<'_>) -> Result<String, String> {
    let rows = r.rows;
    let coords = r.coords.clone().unwrap_or_else(|| axis_coords(r.axes, &rows.run_id));
    let zeros = vec![0usize; rows.len()];
    let one = vec!["all".to_string()];
    let (obj, asc) = r.objective;
    let mut sections = Vec::new();

    let (header, top_rows) = &r.top;
    sections.push(Section {
        title: format!("Top {} runs by {obj} ({})", top_rows.len(), if asc { "lower is better" } else { "higher is better" }),
        notes: vec!["The table the sweep prints; a run id links to that run's equity and underwater charts below.".into()],
        table_html: Some(html::table(header, top_rows, Some(0))),
        ..Section::default()
    });
    if let Some((header, rows, note)) = &r.across {
        sections.push(Section {
            title: format!(
                "Across symbols: top {} combinations by the worst, then the median, {obj}",
                rows.len()
            ),
            notes: vec![note.clone()],
            table_html: Some(html::table(header, rows, None)),
            ..Section::default()
        });
    }

    // Pairwise heatmaps.
    let mut figs = Vec::new();
    let best_agg = if asc { Agg::Min } else { Agg::Max };
    let pairs = r.pairs.clone().unwrap_or_else(|| heatmap_pairs(r.axes));
    for (ax, ay) in pairs {
        let (xs, ys) = pair_xy(&coords, ax, ay, &zeros);
        let (nx, ny) =
            (r.axes[ax].values.len(), if ax == ay { 1 } else { r.axes[ay].values.len() });
        let (xl, yl) =
            (labels(&r.axes[ax]), if ax == ay { one.clone() } else { labels(&r.axes[ay]) });
        let others: Vec<&str> = r
            .axes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != ax && *i != ay)
            .map(|(_, a)| a.name)
            .collect();
        let over = if others.is_empty() { "no other axis".to_string() } else { others.join(", ") };
        for agg in [best_agg, Agg::Median] {
            let grid = cell_grid(xs, ys, nx, ny, &rows.objective, &rows.ok, agg);
            let title = format!("{obj}: {} over {over}", agg.as_str());
            let x_desc = axis_desc(r.axes[ax].name);
            let y_desc = if ax == ay { String::new() } else { axis_desc(r.axes[ay].name) };
            let value_desc = format!("{obj} ({})", agg.as_str());
            let svg = chart::heatmap(&Heatmap {
                title: &title,
                x_desc: &x_desc,
                y_desc: &y_desc,
                x_labels: &xl,
                y_labels: &yl,
                grid: &grid,
                best: grid.best(asc),
                value_desc: &value_desc,
                range: None,
                fmt: &fmt2,
            })?;
            figs.push(Figure {
                kind: "heatmap",
                svg,
                caption: format!(
                    "Each cell is the {} {obj} of the ok runs with these two values (over {over}); \
                     brighter is {}, the red box marks the best cell, grey cells have no ok run.",
                    agg.as_str(),
                    if asc { "worse" } else { "better" }
                ),
            });
        }
    }
    sections.push(Section {
        title: "Where the good grids lie: pairwise heatmaps".into(),
        notes: {
            let mut n = vec![format!("The {} shows what the best setting of the other axes can reach; the median shows how forgiving the pair is.", best_agg.as_str())];
            if r.coords.is_some() {
                n.push(format!("This sweep sampled its runs at random, so each axis is cut into bins: {} equal bins for a uniform axis, equal bins of the logarithm for a log-uniform one, one per integer (or equal integer ranges) for an integer one, one per value for a list.", super::bins::BINS));
            }
            n
        },
        figures: figs,
        ..Section::default()
    });

    // Liquidation map.
    let (lx, ly) = liquidation_axes(r.axes);
    if !r.axes.is_empty() {
        let (xs, ys) = pair_xy(&coords, lx, ly, &zeros);
        let (nx, ny) =
            (r.axes[lx].values.len(), if lx == ly { 1 } else { r.axes[ly].values.len() });
        let (xl, yl) =
            (labels(&r.axes[lx]), if lx == ly { one.clone() } else { labels(&r.axes[ly]) });
        let x_desc = axis_desc(r.axes[lx].name);
        let y_desc = if lx == ly { String::new() } else { axis_desc(r.axes[ly].name) };
        let share = liquidated_share(xs, ys, nx, ny, &rows.liquidated, &rows.ok);
        let pct = |v: f64| format!("{:.0} %", v * 100.0);
        let share_svg = chart::heatmap(&Heatmap {
            title: "Liquidated share of runs",
            x_desc: &x_desc,
            y_desc: &y_desc,
            x_labels: &xl,
            y_labels: &yl,
            grid: &share,
            best: None,
            value_desc: "liquidated (%)",
            range: Some((0.0, 1.0)),
            fmt: &pct,
        })?;
        let dist = cell_grid(xs, ys, nx, ny, &rows.min_liq_distance_pct, &rows.ok, Agg::Median);
        let dist_svg = chart::heatmap(&Heatmap {
            title: "Median minimum distance to liquidation",
            x_desc: &x_desc,
            y_desc: &y_desc,
            x_labels: &xl,
            y_labels: &yl,
            grid: &dist,
            best: None,
            value_desc: "liq. distance (%)",
            range: None,
            fmt: &fmt2,
        })?;
        sections.push(Section {
            title: "Where liquidation lies".into(),
            notes: vec![format!(
                "{} liquidated of {} ok runs.",
                rows.liquidated.iter().zip(&rows.ok).filter(|(l, o)| **l && **o).count(),
                rows.ok.iter().filter(|o| **o).count()
            )],
            figures: vec![
                Figure { kind: "liquidation", svg: share_svg, caption: "Share of the ok runs in each cell that were liquidated (all other axes pooled); dark is safe, yellow is 100 % liquidated.".into() },
                Figure { kind: "liquidation", svg: dist_svg, caption: "Median over the cell's runs of the closest the price came to the liquidation price, in % of price; small (dark) is close to liquidation, grey: no run ever had a liquidation price.".into() },
            ],
            ..Section::default()
        });
    }

    // Pareto scatter.
    let front: Vec<bool> = match &r.pareto_rank {
        Some(p) => p.iter().map(|r| *r == Some(0)).collect(),
        None => vec![false; rows.len()],
    };
    let mut order: Vec<usize> = (0..rows.len()).filter(|&i| rows.ok[i]).collect();
    order.sort_by_key(|&i| !front[i]);
    let xy: Vec<(f64, f64)> =
        order.iter().map(|&i| (rows.max_drawdown_pct[i], rows.return_pct[i])).collect();
    let xb = chart::padded(xy.iter().map(|p| p.0));
    let yb = chart::padded(xy.iter().map(|p| p.1));
    let kept = merge_on_raster(
        &xy,
        [xb.0, xb.1, yb.0, yb.1],
        chart::SCATTER_PLOT_PX.0,
        chart::SCATTER_PLOT_PX.1,
        3,
    );
    let kept_rows: Vec<usize> = kept.iter().map(|&k| order[k]).collect();
    let points: Vec<(f64, f64, Option<f64>)> = kept_rows
        .iter()
        .map(|&i| {
            let d = rows.min_liq_distance_pct[i];
            (rows.max_drawdown_pct[i], rows.return_pct[i], d.is_finite().then_some(d))
        })
        .collect();
    let highlight: Vec<usize> = (0..kept_rows.len()).filter(|&k| front[kept_rows[k]]).collect();
    let merged = order.len() - kept_rows.len();
    let svg = chart::scatter(&Scatter {
        title: "Return against maximum drawdown",
        x_desc: "max drawdown (% of peak equity)",
        y_desc: "return (% of initial balance)",
        c_desc: "liq. distance (%)",
        points: &points,
        highlight: &highlight,
        highlight_label: if r.pareto_rank.is_some() { "Pareto front (validate)" } else { "" },
    })?;
    let mut caption = "One dot per ok run: up is more return, left is less drawdown; colour is the closest it came to liquidation (dark = close, grey = never exposed).".to_string();
    if r.pareto_rank.is_some() {
        caption.push_str(" Ringed: the Pareto front of `gridsweep validate`.");
    }
    if merged > 0 {
        caption
            .push_str(&format!(" {merged} runs within 3 px of a drawn dot are not drawn again."));
    }
    sections.push(Section {
        title: "Return and risk: Pareto scatter".into(),
        figures: vec![Figure { kind: "pareto", svg, caption }],
        ..Section::default()
    });

    // Equity and underwater of the top runs.
    for (rank, run) in r.runs.iter().enumerate() {
        let (eq_svg, uw_svg) = equity_pair(run)?;
        let id = run.run_id.map_or_else(String::new, |i| i.to_string());
        sections.push(Section {
            id: Some(format!("run-{id}")),
            title: format!("#{} run {id}: {}", rank + 1, run.label),
            figures: vec![
                Figure { kind: "equity", svg: eq_svg, caption: "Account equity (USDT) at every tick of the re-run, against days since the window's start.".into() },
                Figure { kind: "underwater", svg: uw_svg, caption: "How far equity is below its running peak, in % of that peak: the depth and length of each drawdown.".into() },
            ],
            ..Section::default()
        });
    }

    // Validation panels.
    if let Some(v) = &r.validation {
        let hist = chart::histogram(
            &format!("PBO logits ({} splits)", v.logits.len()),
            "logit of the winner's out-of-sample rank",
            &v.logits,
            30,
            Some(0.0),
        )?;
        let pts: Vec<(f64, f64, Option<f64>)> =
            v.is_oos.iter().map(|&(a, b)| (a, b, None)).collect();
        let is_label = format!("in-sample {} of the winner", v.objective);
        let oos_label = format!("out-of-sample {} (same run)", v.objective);
        let sc = chart::scatter(&Scatter {
            title: "In-sample against out-of-sample",
            x_desc: &is_label,
            y_desc: &oos_label,
            c_desc: "",
            points: &pts,
            highlight: &[],
            highlight_label: "",
        })?;
        sections.push(Section {
            title: format!("Will the winner hold up? PBO {:.3}", v.pbo),
            notes: vec!["From the periods file, as `gridsweep validate` computes them.".into()],
            figures: vec![
                Figure { kind: "pbo", svg: hist, caption: "One count per split of the periods: left of the red line (logit < 0) the in-sample winner ranked in the bottom half out of sample; PBO is that share.".into() },
                Figure { kind: "degradation", svg: sc, caption: "Each dot is one split's in-sample winner: a cloud falling to the right means in-sample success does not carry over.".into() },
            ],
            ..Section::default()
        });
    }
    if let Some(f) = &r.folds {
        sections.push(folds_section(f)?);
    }
    Ok(html::page(&r.title, &r.provenance, &sections))
}

fn folds_section(f: &Folds) -> Result<Section, String> {
    let rows = match f {
        Folds::Skipped(note) => {
            return Ok(Section {
                title: "Walk-forward folds".into(),
                notes: vec![note.clone()],
                ..Section::default()
            })
        }
        Folds::Rows(rows) => rows,
    };
    let iso = |ms: f64| crate::time::format_iso(ms as i64);
    let header: Vec<String> = [
        "fold",
        "train",
        "test",
        "run_id",
        "in-sample",
        "OOS redeployed",
        "OOS continuous",
        "OOS rank",
    ]
    .map(String::from)
    .to_vec();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}", r[0]),
                format!("{} .. {}", iso(r[1]), iso(r[2])),
                format!("{} .. {}", iso(r[3]), iso(r[4])),
                format!("{}", r[5]),
                fmt2(r[6]),
                fmt2(r[7]),
                fmt2(r[8]),
                format!("{}", r[9]),
            ]
        })
        .collect();
    let t0 = rows.first().map_or(0, |r| r[3] as i64);
    // The start's 100 % compounded by each fold's return: what re-choosing every fold and
    // trading its test window would have made (a missing return leaves the equity flat).
    let stitched = |k: usize| -> Vec<(f64, f64)> {
        let mut eq = 100.0;
        let mut pts = Vec::new();
        for r in rows {
            pts.push((days(r[3] as i64, t0), eq));
            if r[k].is_finite() {
                eq *= 1.0 + r[k] / 100.0;
            }
            pts.push((days(r[4] as i64, t0), eq));
        }
        pts
    };
    let c = chart::series_colours(2);
    let svg = chart::lines(
        "Stitched out-of-sample equity",
        "days since the first test window",
        "equity, % of the start",
        &[
            Series {
                name: "redeployed".into(),
                points: stitched(10),
                colour: c[0],
                mark: Mark::Line,
            },
            Series {
                name: "continuous".into(),
                points: stitched(11),
                colour: c[1],
                mark: Mark::Line,
            },
        ],
        (720, 320),
    )?;
    Ok(Section {
        title: "Walk-forward folds".into(),
        table_html: Some(html::table(&header, &cells, Some(3))),
        figures: vec![Figure { kind: "folds", svg, caption: "The start's 100 % compounded by each fold's out-of-sample return (flat between test windows): the record of choosing in-sample and trading the next window, restarted flat (redeployed) or carried on (continuous).".into() }],
        ..Section::default()
    })
}

/// The equity and the underwater chart of one run.
fn equity_pair(run: &RunTrace) -> Result<(String, String), String> {
    let t0 = run.equity.first().map_or(0, |p| p.0);
    let eq = thin_min_max(&run.equity, LINE_POINTS);
    let uw = thin_min_max(&underwater_pct(&run.equity), LINE_POINTS);
    let c = chart::series_colours(3);
    let to_days =
        |pts: &[(i64, f64)]| pts.iter().map(|&(t, v)| (days(t, t0), v)).collect::<Vec<_>>();
    let eq_svg = chart::lines(
        "Equity",
        "days since the window's start",
        "equity (USDT)",
        &[Series { name: String::new(), points: to_days(&eq), colour: c[0], mark: Mark::Line }],
        (620, 300),
    )?;
    let uw_svg = chart::lines(
        "Underwater",
        "days since the window's start",
        "below peak (%)",
        &[Series { name: String::new(), points: to_days(&uw), colour: c[1], mark: Mark::Area }],
        (620, 300),
    )?;
    Ok((eq_svg, uw_svg))
}

/// The report of one backtest: equity, underwater, position sizes and fills on the price.
///
/// # Errors
/// A drawing error.
pub fn single_run(
    title: &str,
    provenance: &[(String, String)],
    run: &RunTrace,
    price: &[(i64, f64)],
) -> Result<String, String> {
    let (eq_svg, uw_svg) = equity_pair(run)?;
    let t0 = price.first().or(run.equity.first()).map_or(0, |p| p.0);
    let c = chart::series_colours(3);
    let pos = super::agg::positions(&run.fills);
    let step = |get: fn(&(i64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        let mut pts = vec![(0.0, 0.0)];
        for p in &pos {
            let x = days(p.0, t0);
            let last = pts.last().map_or(0.0, |l| l.1);
            pts.push((x, last));
            pts.push((x, get(p)));
        }
        thin_pts(pts)
    };
    let pos_svg = chart::lines(
        "Position sizes",
        "days since the window's start",
        "position (base currency)",
        &[
            Series { name: "long".into(), points: step(|p| p.1), colour: c[0], mark: Mark::Line },
            Series { name: "short".into(), points: step(|p| p.2), colour: c[1], mark: Mark::Line },
        ],
        (620, 300),
    )?;
    let px = thin_min_max(price, LINE_POINTS);
    let fill_pts = |side: Side| -> Vec<(f64, f64)> {
        let pts: Vec<(i64, f64)> =
            run.fills.iter().filter(|f| f.side == side).map(|f| (f.ts_ms, f.price)).collect();
        let every = pts.len().div_ceil(1500).max(1);
        pts.iter().step_by(every).map(|&(t, p)| (days(t, t0), p)).collect()
    };
    let price_svg = chart::lines(
        "Fills on the price",
        "days since the window's start",
        "price (USDT)",
        &[
            Series {
                name: "close".into(),
                points: px.iter().map(|&(t, p)| (days(t, t0), p)).collect(),
                colour: RGBGrey::C,
                mark: Mark::Line,
            },
            Series {
                name: "buy".into(),
                points: fill_pts(Side::Buy),
                colour: c[0],
                mark: Mark::Up,
            },
            Series {
                name: "sell".into(),
                points: fill_pts(Side::Sell),
                colour: c[1],
                mark: Mark::Down,
            },
        ],
        (1260, 380),
    )?;
    let sections = [Section {
        title: run.label.clone(),
        figures: vec![
            Figure { kind: "equity", svg: eq_svg, caption: "Account equity (USDT) at every tick.".into() },
            Figure { kind: "underwater", svg: uw_svg, caption: "How far equity is below its running peak, in % of that peak.".into() },
            Figure { kind: "positions", svg: pos_svg, caption: "Long and short position sizes after each fill.".into() },
            Figure { kind: "fills", svg: price_svg, caption: "Close price with the fills: up triangles buys, down triangles sells (at most 1,500 of each drawn, evenly spaced).".into() },
        ],
        ..Section::default()
    }];
    Ok(html::page(title, provenance, &sections))
}

/// Grey for a price line.
struct RGBGrey;
impl RGBGrey {
    const C: plotters::style::RGBColor = plotters::style::RGBColor(120, 120, 120);
}

fn thin_pts(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let every = pts.len().div_ceil(4 * LINE_POINTS).max(1);
    if every == 1 {
        return pts;
    }
    let last = pts.last().copied();
    let mut out: Vec<(f64, f64)> = pts.into_iter().step_by(every).collect();
    out.extend(last);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fields::ParamKind;
    use crate::sweep::space::AxisForm;

    #[test]
    fn test_fold_columns_are_looked_up_in_the_folds_file_columns() {
        assert_eq!(folds_column("oos_rank"), "oos_rank");
        for c in FOLD_COLUMNS {
            assert!(folds::COLUMNS.contains(&c), "{c}");
        }
    }

    #[test]
    #[should_panic(expected = "sweep::folds::COLUMNS does not have")]
    fn test_a_fold_column_the_folds_file_lacks_is_refused() {
        // Called at run time here; in `FOLD_COLUMNS` the same panic is a compile error.
        folds_column("oos_return");
    }

    fn axis(name: &'static str, n: usize) -> Axis {
        Axis {
            name,
            kind: ParamKind::Float,
            form: AxisForm::List,
            values: (0..n).map(|i| ParamValue::Float(i as f64 + 1.0)).collect(),
        }
    }

    #[test]
    fn test_coords_follow_mixed_radix_and_liquidation_axes_prefer_step_by_leverage() {
        let axes = [axis("amount", 2), axis("grid_step", 3), axis("leverage", 2)];
        let c = axis_coords(&axes, &[0, 1, 2, 7, 11]);
        assert_eq!(c[0], [0, 0, 0, 1, 1]);
        assert_eq!(c[1], [0, 0, 1, 0, 2]);
        assert_eq!(c[2], [0, 1, 0, 1, 1]);
        assert_eq!(liquidation_axes(&axes), (1, 2));
        assert_eq!(liquidation_axes(&axes[..2]), (0, 1));
        assert_eq!(heatmap_pairs(&axes), [(0, 1), (0, 2), (1, 2)]);
        assert_eq!(heatmap_pairs(&[axis("leverage", 1), axis("grid_step", 4)]), [(1, 1)]);
        assert_eq!(
            parse_pairs("leverage:grid_step, amount:leverage", &axes),
            Ok(vec![(2, 1), (0, 2)])
        );
        let e = parse_pairs("leverage:spacing", &axes).unwrap_err();
        assert!(e.contains("`spacing`") && e.contains("amount, grid_step, leverage"), "{e}");
        assert!(parse_pairs("leverage", &axes).unwrap_err().contains("AXIS:AXIS"));
    }
}
