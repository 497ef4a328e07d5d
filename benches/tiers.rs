//! Tier cache cost: one locked read-modify-write of a 50-symbol cache file.
//!
//! Workloads (each symbol holds 30 tiers, like LTCUSDT in the origin's cache; the file is
//! about 130 KB):
//! - `rmw_write_50_symbols`: lock, read and parse the file, replace one symbol's tiers
//!   (alternating between two tables so every iteration really writes), write the temp
//!   file, `fsync`, rename, unlock;
//! - `rmw_unchanged_50_symbols`: the same with identical tiers (the write is skipped);
//! - `read_entry_50_symbols`: the provider's lock-free read of one entry.
//!
//! Set-up (temp dir, filling the cache) happens outside the timed closures.
//! Run: `cargo bench --bench tiers -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gridsweep::decimal::Dec;
use gridsweep::tiers::cache::CacheFile;
use gridsweep::tiers::config::CacheConfig;
use gridsweep::tiers::Tier;

const SYMBOLS: usize = 50;
const TIERS: usize = 30;

fn table(seed: i64) -> Vec<Tier> {
    (0..TIERS as i64)
        .map(|i| {
            let cap = (i + 1 < TIERS as i64).then(|| Dec::from_int(200_000 * (i + 1) + seed));
            let mmr = Dec::new(100 + i128::from(i) * 13, 4);
            let ded = Dec::from_int(i * 7_000 + seed);
            let imr = Dec::new(200 + i128::from(i) * 26, 4);
            Tier::new(cap, mmr, ded, imr)
        })
        .collect()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bench_cache(c: &mut Criterion) {
    let dir =
        Dir(std::env::temp_dir().join(format!("gridsweep-tiers-bench-{}", std::process::id())));
    let config = CacheConfig {
        cache_path: dir.0.join("conf/risk_limits_cache.json"),
        allowed_root: Some(dir.0.join("conf")),
        ttl: Duration::from_secs(3600),
        max_size: 10_000_000,
    };
    let cache = CacheFile::new(&config).expect("cache location");
    let all: Vec<(String, Vec<Tier>)> =
        (0..SYMBOLS).map(|s| (format!("SYM{s}USDT"), table(s as i64))).collect();
    cache.update(&all).expect("fill cache");
    let size = std::fs::metadata(cache.path()).map(|m| m.len()).unwrap_or(0);
    eprintln!("cache file: {size} bytes, {SYMBOLS} symbols x {TIERS} tiers");

    let (a, b) = (table(1), table(2));
    let mut flip = false;
    c.bench_function("rmw_write_50_symbols", |bch| {
        bch.iter(|| {
            flip = !flip;
            let t = if flip { &a } else { &b };
            black_box(cache.save("SYM7USDT", t).expect("write"));
        })
    });
    cache.save("SYM7USDT", &a).expect("write");
    c.bench_function("rmw_unchanged_50_symbols", |bch| {
        bch.iter(|| black_box(cache.save("SYM7USDT", &a).expect("write")))
    });
    c.bench_function("read_entry_50_symbols", |bch| {
        bch.iter(|| black_box(cache.read_entry("SYM7USDT").expect("read")))
    });
}

criterion_group!(benches, bench_cache);
criterion_main!(benches);
