//! Fetch speed against the local simulated Bybit (tests/fetch_common): what the client,
//! the page validation and the resumable job cost per 1000-candle page, without a network.
//!
//! Workloads:
//! - `kline_page`: one `GET /v5/market/kline` of 1000 candles (HTTP on 127.0.0.1, JSON
//!   parse, row validation), the limiter off;
//! - `klines_job_20_pages`: a whole `bybit::job::run` of 20 windows (20,000 candles): pages
//!   fetched, durably written to `<out>.fetch/`, assembled, validated and written as Parquet,
//!   the directory removed.
//!
//! Server and temp dir are set up outside the timed closures. `Throughput::Elements` counts
//! pages, so criterion reports pages per second.
//! Run: `cargo bench --bench fetch -- --warm-up-time 1 --measurement-time 5`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "../tests/fetch_common/mod.rs"]
mod fetch_common;

use std::hint::black_box;
use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gridsweep::bybit::job::{self, Dataset, FetchJob, Quiet};
use gridsweep::bybit::klines::{self, PriceKind};
use gridsweep::bybit::{FetchConfig, MarketClient, Window};

/// 2026-02-01T00:00:00Z.
const FEB1: i64 = 1_769_904_000_000;

fn bench_fetch(c: &mut Criterion) {
    let server = fetch_common::Server::start();
    let mut config = FetchConfig::default();
    config.rest.base_url = server.base_url.clone();
    config.max_rps = 0.0;
    let client = MarketClient::new(config);
    let dir = fetch_common::TempDir::new("bench");
    let mut g = c.benchmark_group("fetch");
    g.throughput(Throughput::Elements(1));
    g.bench_function("kline_page", |b| {
        let w = Window { start_ms: FEB1, end_ms: FEB1 + 1000 * fetch_common::MINUTE };
        b.iter(|| {
            let p = klines::fetch_window(&client, "BTCUSDT", PriceKind::Last, w, i64::MAX).unwrap();
            black_box(p.candles.len())
        })
    });
    g.throughput(Throughput::Elements(20));
    g.sample_size(10);
    g.bench_function("klines_job_20_pages", |b| {
        let job = FetchJob {
            dataset: Dataset::Klines(PriceKind::Last),
            symbol: "BTCUSDT".into(),
            start_ms: FEB1,
            end_ms: FEB1 + 20 * 1000 * fetch_common::MINUTE,
            out: dir.path().join("bench.parquet"),
        };
        let cancel = AtomicBool::new(false);
        b.iter(|| {
            let r = job::run(&client, &job, FEB1 + 400 * 86_400_000, &cancel, &mut Quiet).unwrap();
            black_box(r.rows)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_fetch);
criterion_main!(benches);
