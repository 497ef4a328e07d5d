//! The HTML report of a sweep (`gridsweep report`, docs/report.md): pure aggregations
//! ([`agg`]), SVG charts ([`chart`]) and the page ([`html`]). The CLI reads the files and
//! re-runs the top runs; everything here takes values and returns text.

pub mod agg;
/// Heatmap bins for the axes of a sampled sweep.
pub mod bins;
pub mod build;
pub mod chart;
pub mod html;
pub mod rows;
