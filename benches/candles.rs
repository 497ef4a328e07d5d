//! Candle decode bench (issue 5 item 4): decoding a year of 1-minute candles (525,600 rows)
//! from Parquet through the memory-mapped reader, against a raw memory scan of the same six
//! columns.
//!
//! Workloads, in one criterion group `candles_1y` (`Throughput::Elements(525_600)`):
//! - `decode_mmap`: `Candles::open_parquet` on the file: map, decode the six columns into
//!   owned `Vec`s, validate every row.
//! - `scan_sum`: a read-only pass over the six decoded columns (sum of every value).
//! - `copy_columns`: copying the six decoded columns into fresh `Vec`s (a memcpy of the same
//!   byte count, allocation included: the least any decode into owned columns must do).
//!
//! Set-up happens outside the timed closures: the 525,600 rows are real months from
//! `../shared/data/candles/binance-usdm-1m/` when present (NEARUSDT, then FILUSDT, in time
//! order, cut to 525,600 rows), else a synthetic random walk; they are written once to a
//! Parquet file in a temporary directory with the crate's writer.
//!
//! Run: `cargo bench --bench candles -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gridsweep::candles::import::parse_binance_csv;
use gridsweep::candles::parquet_io::{write_parquet, WriteMeta};
use gridsweep::candles::{Candles, Columns};

const ROWS: usize = 525_600;

fn real_columns() -> Option<(Columns, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/candles/binance-usdm-1m");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("NEARUSDT"))
        })
        .collect();
    names.sort();
    let mut cols = Columns::with_capacity(ROWS);
    for p in &names {
        let text = std::fs::read_to_string(p).ok()?;
        let part = parse_binance_csv(p, &text).ok()?;
        cols.append(&part);
        if cols.len() >= ROWS {
            break;
        }
    }
    if cols.len() < ROWS {
        return None;
    }
    for v in [&mut cols.open, &mut cols.high, &mut cols.low, &mut cols.close, &mut cols.volume] {
        v.truncate(ROWS);
    }
    cols.ts_ms.truncate(ROWS);
    Some((cols, format!("real NEARUSDT months from {}", dir.display())))
}

fn synthetic_columns() -> Columns {
    // xorshift random walk on a 0.001 tick grid; deterministic.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut cols = Columns::with_capacity(ROWS);
    let mut px: i64 = 5_000;
    for i in 0..ROWS {
        let o = px;
        let c = (o + (next() % 21) as i64 - 10).max(100);
        let h = o.max(c) + (next() % 5) as i64;
        let l = (o.min(c) - (next() % 5) as i64).max(50);
        let t = |v: i64| v as f64 / 1000.0;
        cols.push(
            1_704_067_200_000 + i as i64 * 60_000,
            t(o),
            t(h),
            t(l),
            t(c),
            (next() % 100_000) as f64 / 10.0,
        );
        px = c;
    }
    cols
}

fn bench_decode(c: &mut Criterion) {
    let (cols, origin) = real_columns().unwrap_or_else(|| {
        println!("note: ../shared candles not found; benchmarking synthetic candles");
        (synthetic_columns(), "synthetic random walk".to_string())
    });
    let dir = std::env::temp_dir().join(format!("gridsweep-bench-candles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("candles-1y.parquet");
    let candles = Candles::try_new(cols, None, Path::new("bench")).expect("valid candles");
    write_parquet(
        &path,
        &candles,
        &WriteMeta { symbol: None, source: origin.clone(), zstd: false },
    )
    .expect("write parquet");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "candles bench: {ROWS} rows ({origin}), parquet {size} bytes, raw {} bytes",
        ROWS * 48
    );

    let mut g = c.benchmark_group("candles_1y");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("decode_mmap", |b| {
        b.iter(|| Candles::open_parquet(&[black_box(&path)]).expect("decode"))
    });
    let decoded = Candles::open_parquet(&[&path]).expect("decode");
    assert_eq!(decoded.close(), candles.close());
    g.bench_function("scan_sum", |b| {
        b.iter(|| {
            let d = black_box(&decoded);
            let t = d.ts_ms().iter().fold(0i64, |a, &v| a.wrapping_add(v));
            let mut f = 0.0;
            for col in [d.open(), d.high(), d.low(), d.close(), d.volume()] {
                f += col.iter().sum::<f64>();
            }
            (t, f)
        })
    });
    g.bench_function("copy_columns", |b| {
        b.iter(|| {
            let d = black_box(&decoded);
            (
                d.ts_ms().to_vec(),
                d.open().to_vec(),
                d.high().to_vec(),
                d.low().to_vec(),
                d.close().to_vec(),
                d.volume().to_vec(),
            )
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
