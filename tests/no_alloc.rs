//! The engine allocates nothing per tick, nor per run once its buffers have grown: a
//! counting global allocator watches a second run over a real month of candles.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsweep::candles::Candles;
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn second_run_allocates_nothing() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet");
    let candles = Candles::open_parquet(&[&path]).unwrap();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    for model in [Model::Bybit, Model::Origin] {
        let mut p = RunParams::default();
        p.account.model = model;
        p.grid.grid_count = 50;
        p.grid.grid_step = 0.3;
        p.grid.amount = Amount::parse("x0.002").unwrap();
        let mut engine = Engine::new();
        let first = engine.run_candles(candles.slice(), &p, &ctx, &mut NoRecorder).unwrap();
        assert!(first.total_trades > 1000, "the month must exercise the engine");
        let before = ALLOCS.load(Ordering::Relaxed);
        let second = engine.run_candles(candles.slice(), &p, &ctx, &mut NoRecorder).unwrap();
        let allocs = ALLOCS.load(Ordering::Relaxed) - before;
        assert_eq!(allocs, 0, "{model:?}: {allocs} allocations in a steady-state run");
        assert_eq!(first, second, "a reused engine must give the same result");
    }
}
