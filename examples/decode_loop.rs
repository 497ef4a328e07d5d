//! Profiling aid: decode a candle Parquet file many times (`perf record` this).
fn main() {
    let path = std::env::args().nth(1).expect("path to a candle parquet file");
    let t = std::time::Instant::now();
    let n = 40;
    let mut rows = 0;
    for _ in 0..n {
        rows = gridsweep::candles::Candles::open_parquet(&[&path]).unwrap().len();
    }
    println!("{rows} rows, {:.3} ms per decode", t.elapsed().as_secs_f64() * 1e3 / f64::from(n));
}
