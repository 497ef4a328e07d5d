//! Issue 14 item 9: a candle file truncated or rewritten while it is being decoded gives a
//! clean error (or, when the change came too late to matter, the right candles), never a
//! signal. With the memory-mapped reader, truncation during decode killed the process with
//! SIGBUS in 27 of 40 trials; here a crash fails the whole test binary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gridsweep::candles::parquet_io::{read_parquet, write_parquet, WriteMeta};
use gridsweep::candles::{CandleError, Candles, Columns};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-tg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` valid one-minute candles, uncompressed (the file is mostly raw page bytes).
fn write_big(path: &Path, n: usize) -> String {
    let mut c = Columns::with_capacity(n);
    for i in 0..n {
        let o = 20.0 + (i % 331) as f64 * 0.01;
        c.push(1_600_000_000_000 + i as i64 * 60_000, o, o + 0.03, o - 0.02, o + 0.01, 3.0);
    }
    let c = Candles::try_new(c, None, path).unwrap();
    write_parquet(path, &c, &WriteMeta::default()).unwrap();
    c.fingerprint().to_string()
}

/// Cheap xorshift for the delays; deterministic.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Runs `trials` decodes of `path` while another thread applies `change` after a random
/// delay within the decode time; every outcome must be the original candles or a clean error
/// naming the file. Returns how many trials ended in an error.
fn race(
    path: &Path,
    original: &[u8],
    fingerprint: &str,
    trials: u32,
    change: fn(&Path, &[u8]),
) -> u32 {
    // The fastest of three warm decodes; the change comes within its first three quarters.
    let decode_us = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            let c = read_parquet(path).unwrap();
            let us = t0.elapsed().as_micros() as u64;
            assert_eq!(c.fingerprint(), fingerprint);
            us
        })
        .min()
        .unwrap()
        .max(200)
        * 3
        / 4;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut errors = 0;
    for trial in 0..trials {
        std::fs::write(path, original).unwrap();
        // Let the restored file's timestamps settle, so the change below always moves them.
        std::thread::sleep(Duration::from_millis(15));
        let delay = Duration::from_micros(rng.below(decode_us));
        let result = std::thread::scope(|s| {
            let reader = s.spawn(|| read_parquet(path));
            std::thread::sleep(delay);
            change(path, original);
            reader.join().expect("the decoding thread panicked")
        });
        match result {
            Ok(c) => assert_eq!(c.fingerprint(), fingerprint, "trial {trial}: wrong candles"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with(&path.display().to_string()), "trial {trial}: {text}");
                assert!(
                    matches!(
                        e,
                        CandleError::Changed { .. }
                            | CandleError::Corrupt { .. }
                            | CandleError::Parquet { .. }
                            | CandleError::Invalid { .. }
                            | CandleError::Empty { .. }
                    ),
                    "trial {trial}: {text}"
                );
                errors += 1;
            }
        }
    }
    errors
}

#[test]
fn test_truncation_during_decode_is_a_clean_error() {
    let d = tmpdir("trunc");
    let p = d.join("c.parquet");
    let fp = write_big(&p, 400_000);
    let original = std::fs::read(&p).unwrap();
    // Truncate to a random length (often inside the pages being read), as `truncate -s`.
    let errors = race(&p, &original, &fp, 40, |p, orig| {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        let keep = (orig.len() as u64 * 3) / 7;
        f.set_len(keep).unwrap();
    });
    println!("truncation: {errors} of 40 trials ended in a clean error");
    // A truncation after the decode has finished is harmless; one in the middle is not.
    assert!(errors > 0, "no trial overlapped a decode; the test proves nothing");
}

#[test]
fn test_rewrite_in_place_during_decode_is_a_clean_error() {
    let d = tmpdir("rewrite");
    let p = d.join("c.parquet");
    let fp = write_big(&p, 400_000);
    let original = std::fs::read(&p).unwrap();
    // Rewrite in place as a careless tool does (open with O_TRUNC, write new contents): here
    // the same bytes with every price page zeroed, then the original footer.
    let errors = race(&p, &original, &fp, 40, |p, orig| {
        let mut v = orig.to_vec();
        let n = v.len();
        v[64..n - 4096].fill(0);
        std::fs::write(p, v).unwrap();
    });
    println!("rewrite: {errors} of 40 trials ended in a clean error");
    assert!(errors > 0, "no trial overlapped a decode; the test proves nothing");
}
