//! The report's charts as SVG text, drawn by plotters' SVG backend: heatmaps with a
//! viridis colour bar, a scatter, line and point charts, a histogram. Pure: no I/O.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use super::agg::CellGrid;

/// Chart text font (the browser's sans-serif: no font file is read or embedded).
const FONT: &str = "sans-serif";

/// A plotters error as text.
fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the chart: {e:?}")
}

/// A number as the CLI's tables print metrics: two decimals.
pub fn fmt2(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "—".into()
    }
}

/// The viridis colour of `v` in `[lo, hi]` (the middle of the scale when `lo == hi`).
pub fn viridis(v: f64, lo: f64, hi: f64) -> RGBColor {
    let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
    ViridisRGB::get_color(t as f32)
}

/// A vertical viridis colour bar from `lo` to `hi` labelled `label`, in `area`.
fn colour_bar(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
    fmt: &dyn Fn(f64) -> String,
) -> Result<(), String> {
    let hi_ = if hi > lo { hi } else { lo + 1.0 };
    let mut c = ChartBuilder::on(area)
        .caption(label, (FONT, 11))
        .margin_top(14)
        .margin_bottom(48)
        .margin_right(4)
        .y_label_area_size(0)
        .right_y_label_area_size(52)
        .build_cartesian_2d(0.0..1.0, lo..hi_)
        .map_err(err)?;
    c.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| fmt(*v))
        .y_label_style((FONT, 11))
        .draw()
        .map_err(err)?;
    let steps = 64;
    c.draw_series((0..steps).map(|i| {
        let a = lo + (hi_ - lo) * i as f64 / steps as f64;
        let b = lo + (hi_ - lo) * (i + 1) as f64 / steps as f64;
        Rectangle::new([(0.0, a), (1.0, b)], viridis((a + b) / 2.0, lo, hi_).filled())
    }))
    .map_err(err)?;
    Ok(())
}

/// What a heatmap shows.
#[derive(Clone)]
pub struct Heatmap<'a> {
    /// Title.
    pub title: &'a str,
    /// X-axis label (with unit).
    pub x_desc: &'a str,
    /// Y-axis label (with unit).
    pub y_desc: &'a str,
    /// One label per x cell.
    pub x_labels: &'a [String],
    /// One label per y cell.
    pub y_labels: &'a [String],
    /// The cells.
    pub grid: &'a CellGrid,
    /// The cell to mark as the best, if any.
    pub best: Option<(usize, usize)>,
    /// Colour-bar label (with unit).
    pub value_desc: &'a str,
    /// Fixed colour range (e.g. 0–1 for shares), else the grid's range.
    pub range: Option<(f64, f64)>,
    /// Formats a cell value.
    pub fmt: &'a dyn Fn(f64) -> String,
}

/// A heatmap over two categorical axes with a colour bar; empty cells are light grey and
/// the best cell has a red outline.
///
/// # Errors
/// A drawing error (not expected with the SVG backend).
pub fn heatmap(h: &Heatmap<'_>) -> Result<String, String> {
    let (w, hgt) = (560u32, 400u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, hgt)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (main, bar) = root.split_horizontally(w - 120);
        let (nx, ny) = (h.grid.nx, h.grid.ny);
        let mut c = ChartBuilder::on(&main)
            .caption(h.title, (FONT, 15))
            .margin(6)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)
            .map_err(err)?;
        let xl = h.x_labels;
        let yl = h.y_labels;
        c.configure_mesh()
            .disable_mesh()
            .x_labels(nx * 2 + 1)
            .y_labels(ny * 2 + 1)
            .x_label_formatter(&|v| centre_label(*v, xl))
            .y_label_formatter(&|v| centre_label(*v, yl))
            .x_label_style((FONT, 11))
            .y_label_style((FONT, 11))
            .x_desc(h.x_desc)
            .y_desc(h.y_desc)
            .draw()
            .map_err(err)?;
        let (lo, hi) = h.range.or_else(|| h.grid.range()).unwrap_or((0.0, 1.0));
        let cells = (0..ny).flat_map(|y| (0..nx).map(move |x| (x, y)));
        c.draw_series(cells.clone().map(|(x, y)| {
            let (x0, y0) = (x as f64, y as f64);
            let colour = match h.grid.get(x, y) {
                Some(v) => viridis(v, lo, hi),
                None => RGBColor(225, 225, 225),
            };
            Rectangle::new([(x0, y0), (x0 + 1.0, y0 + 1.0)], colour.filled())
        }))
        .map_err(err)?;
        if nx * ny <= 150 {
            let size = if nx <= 8 { 11 } else { 9 };
            c.draw_series(cells.filter_map(|(x, y)| {
                let v = h.grid.get(x, y)?;
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                let style = TextStyle::from((FONT, size).into_font())
                    .color(if t > 0.6 { &BLACK } else { &WHITE })
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ));
                Some(Text::new((h.fmt)(v), (x as f64 + 0.5, y as f64 + 0.5), style))
            }))
            .map_err(err)?;
        }
        if let Some((bx, by)) = h.best {
            let (x0, y0) = (bx as f64, by as f64);
            c.draw_series(std::iter::once(Rectangle::new(
                [(x0 + 0.04, y0 + 0.04), (x0 + 0.96, y0 + 0.96)],
                ShapeStyle::from(&RGBColor(220, 20, 60)).stroke_width(3),
            )))
            .map_err(err)?;
        }
        colour_bar(&bar, lo, hi, h.value_desc, h.fmt)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The label of the cell whose centre is at `v` (`i + 0.5`), empty elsewhere.
fn centre_label(v: f64, labels: &[String]) -> String {
    let i = (v - 0.5).round();
    if (v - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// What a scatter shows: points `(x, y)` coloured by `c` (grey when `None`), some
/// highlighted.
#[derive(Clone, Debug)]
pub struct Scatter<'a> {
    /// Title.
    pub title: &'a str,
    /// X-axis label (with unit).
    pub x_desc: &'a str,
    /// Y-axis label (with unit).
    pub y_desc: &'a str,
    /// Colour-bar label (with unit).
    pub c_desc: &'a str,
    /// The points: x, y, colour value.
    pub points: &'a [(f64, f64, Option<f64>)],
    /// Points drawn larger with a black ring (e.g. the Pareto front), listed by index.
    pub highlight: &'a [usize],
    /// Legend text of the highlighted points (none drawn when empty).
    pub highlight_label: &'a str,
}

/// Draws the light grid and the axes of an x/y chart ([`scatter`], [`lines`], [`histogram`]):
/// 11 px labels, x labels by [`fmt2`], y labels by `y_fmt`, each axis described.
fn draw_axes(
    c: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x_desc: &str,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<(), String> {
    c.configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|v| fmt2(*v))
        .y_label_formatter(y_fmt)
        .x_label_style((FONT, 11))
        .y_label_style((FONT, 11))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)
}

/// Bounds `[lo, hi]` of finite values with 5 % padding (±1 around a single value).
pub fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Plot-area size of [`scatter`] in pixels (for merging points on its raster).
pub const SCATTER_PLOT_PX: (u32, u32) = (560, 400);

/// A scatter plot with a viridis colour bar.
///
/// # Errors
/// A drawing error.
pub fn scatter(s: &Scatter<'_>) -> Result<String, String> {
    let (w, h) = (SCATTER_PLOT_PX.0 + 190, SCATTER_PLOT_PX.1 + 90);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (main, bar) = root.split_horizontally(w - 120);
        let xr = padded(s.points.iter().map(|p| p.0));
        let yr = padded(s.points.iter().map(|p| p.1));
        let (clo, chi) = {
            let (a, b) = padded(s.points.iter().filter_map(|p| p.2));
            let pad = (b - a) / 1.1 * 0.05;
            (a + pad, b - pad)
        };
        let mut c = ChartBuilder::on(&main)
            .caption(s.title, (FONT, 15))
            .margin(6)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(err)?;
        draw_axes(&mut c, s.x_desc, s.y_desc, &|v| fmt2(*v))?;
        c.draw_series(s.points.iter().map(|&(x, y, v)| {
            let colour = v.map_or(RGBColor(170, 170, 170), |v| viridis(v, clo, chi));
            Circle::new((x, y), 3, colour.filled())
        }))
        .map_err(err)?;
        if !s.highlight.is_empty() {
            let ring = ShapeStyle::from(&BLACK).stroke_width(2);
            let series = c
                .draw_series(
                    s.highlight
                        .iter()
                        .filter_map(|&i| s.points.get(i))
                        .map(|&(x, y, _)| Circle::new((x, y), 5, ring)),
                )
                .map_err(err)?;
            if !s.highlight_label.is_empty() {
                series.label(s.highlight_label).legend(move |(x, y)| Circle::new((x, y), 5, ring));
                c.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font((FONT, 12))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(err)?;
            }
        }
        colour_bar(&bar, clo, chi, s.c_desc, &fmt2)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A line through the points.
    Line,
    /// The area between the line and zero.
    Area,
    /// Small triangles pointing up.
    Up,
    /// Small triangles pointing down.
    Down,
}

/// One series of a [`lines`] chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points `(x, y)`.
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub colour: RGBColor,
    /// How it is drawn.
    pub mark: Mark,
}

/// Colours of up to 6 series: samples of viridis (first dark blue, last yellow-green).
pub fn series_colours(n: usize) -> Vec<RGBColor> {
    (0..n).map(|i| viridis(i as f64, 0.0, (n.max(2) - 1) as f64 * 1.15)).collect()
}

/// A chart of lines, areas and points over a common x axis with a legend.
///
/// # Errors
/// A drawing error.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    size: (u32, u32),
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let all = || series.iter().flat_map(|s| s.points.iter());
        let xr = padded(all().map(|p| p.0));
        let any_area = series.iter().any(|s| s.mark == Mark::Area);
        let yr = padded(all().map(|p| p.1).chain(any_area.then_some(0.0)));
        let mut c = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(err)?;
        draw_axes(&mut c, x_desc, y_desc, &|v| fmt2(*v))?;
        for s in series {
            let colour = s.colour;
            let drawn = match s.mark {
                Mark::Line => c
                    .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                    .map_err(err)?,
                Mark::Area => c
                    .draw_series(
                        AreaSeries::new(s.points.iter().copied(), 0.0, colour.mix(0.35))
                            .border_style(colour),
                    )
                    .map_err(err)?,
                Mark::Up => c
                    .draw_series(
                        s.points.iter().map(|&p| TriangleMarker::new(p, 4, colour.filled())),
                    )
                    .map_err(err)?,
                Mark::Down => c
                    .draw_series(s.points.iter().map(|&p| {
                        EmptyElement::at(p)
                            + Polygon::new(vec![(-4, -3), (4, -3), (0, 4)], colour.filled())
                    }))
                    .map_err(err)?,
            };
            drawn.label(s.name.as_str()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 4), (x + 14, y + 4)], colour.filled())
            });
        }
        if series.len() > 1 || series.iter().any(|s| !s.name.is_empty()) {
            c.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .label_font((FONT, 12))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A histogram of `values` over `bins` equal bins, with a vertical marker line at
/// `marker` (e.g. 0) when given.
///
/// # Errors
/// A drawing error.
pub fn histogram(
    title: &str,
    x_desc: &str,
    values: &[f64],
    bins: usize,
    marker: Option<f64>,
) -> Result<String, String> {
    let (lo, hi) = padded(values.iter().copied().chain(marker));
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(err)?;
        draw_axes(&mut c, x_desc, "splits (count)", &|v| format!("{v:.0}"))?;
        let fill = viridis(0.3, 0.0, 1.0);
        c.draw_series(counts.iter().enumerate().map(|(i, &n)| {
            let a = lo + i as f64 * width;
            Rectangle::new([(a, 0.0), (a + width, n as f64)], fill.filled())
        }))
        .map_err(err)?;
        if let Some(m) = marker {
            c.draw_series(LineSeries::new([(m, 0.0), (m, top)], RED.stroke_width(2)))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_heatmap_svg_has_one_rectangle_per_cell_and_labels() {
        let grid = CellGrid {
            nx: 3,
            ny: 2,
            values: vec![Some(1.0), None, Some(3.0), Some(4.0), Some(5.0), Some(6.0)],
        };
        let xl: Vec<String> = ["0.2", "0.3", "0.4"].map(String::from).to_vec();
        let yl: Vec<String> = ["2", "5"].map(String::from).to_vec();
        let svg = heatmap(&Heatmap {
            title: "t",
            x_desc: "grid_step (%)",
            y_desc: "leverage (x)",
            x_labels: &xl,
            y_labels: &yl,
            grid: &grid,
            best: grid.best(false),
            value_desc: "v",
            range: None,
            fmt: &fmt2,
        })
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for l in ["grid_step (%)", "leverage (x)", "0.3", "6.00", "1.00"] {
            assert!(svg.contains(l), "{l}");
        }
        // Empty cell grey; the lowest cell is viridis' first colour #440154; the highest
        // within 2 of viridis' last, (253, 231, 37), per channel.
        assert!(svg.contains("#E1E1E1"));
        assert!(svg.contains("#440154"), "lowest cell");
        let top = viridis(6.0, 1.0, 6.0);
        for (got, want) in [(top.0, 253u8), (top.1, 231), (top.2, 37)] {
            assert!(got.abs_diff(want) <= 2, "{top:?}");
        }
        assert!(svg.contains(&format!("#{:02X}{:02X}{:02X}", top.0, top.1, top.2)), "highest cell");
    }

    #[test]
    fn test_numbers_print_like_the_cli_tables() {
        assert_eq!(fmt2(24.2156), "24.22");
        assert_eq!(fmt2(f64::NAN), "—");
    }
}
