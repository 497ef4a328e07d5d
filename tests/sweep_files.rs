//! Every shipped sweep file (`sweeps/*.toml`) parses, validates and stays within the size
//! guard; the two documented ones have the sizes the README promises.

use std::path::Path;

use gridsweep::sweep::{SizeLimit, SweepSpec};

#[test]
fn test_every_shipped_sweep_file_validates_within_the_size_guard() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let spec = SweepSpec::load(&path, SizeLimit::default()).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(spec.name, stem, "{}: name should match the file name", path.display());
        assert!(!spec.space.is_empty());
        for c in spec.symbols.iter().flat_map(|d| &d.candles) {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(c).exists(),
                "{}: candle file {} is not in the repository",
                path.display(),
                c.display()
            );
        }
        seen.push((stem, spec.runs(), spec));
    }
    let size = |name: &str| seen.iter().find(|s| s.0 == name).map(|s| s.1);
    let example = size("example").expect("sweeps/example.toml");
    assert!((100..1000).contains(&example), "example has {example} runs, want a few hundred");
    let big = size("spacing_leverage").expect("sweeps/spacing_leverage.toml");
    assert!((1000..100_000).contains(&big), "spacing_leverage has {big} runs, want thousands");
    let ex = &seen.iter().find(|s| s.0 == "example").unwrap().2;
    let axes: Vec<&str> = ex.space.axes().iter().map(|a| a.name).collect();
    assert_eq!(axes, ["grid_step", "leverage", "amount"]);
}
