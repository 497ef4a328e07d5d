//! `gridsweep fetch` and funding import against a simulated Bybit on 127.0.0.1
//! (tests/fetch_common): pagination, newest-first pages, gaps and empty pages, malformed
//! rows, rate-limit answers, timeouts, kill and resume, funding paging, instruments.
//! Expected rows come from the server's formulas (`candle(m)`, `funding_rate(k)`), never
//! from program output. No network but the test's own server; backoff and timeouts are set
//! to milliseconds through `GRIDSWEEP_FETCH_*`.

mod fetch_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fetch_common::*;
use gridsweep::bybit::klines::{self, PriceKind};
use gridsweep::bybit::{FetchConfig, MarketClient, Window};
use gridsweep::candles::Candles;
use gridsweep::funding::{read_funding_parquet, FundingError, FundingSeries};

/// 2026-02-01T00:00:00Z.
const FEB1: i64 = 1_769_904_000_000;
const DAY: i64 = 86_400_000;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsweep"));
    c.env("GRIDSWEEP_FETCH_BACKOFF_MS", "1")
        .env("GRIDSWEEP_FETCH_TIMEOUT_MS", "400")
        .env("GRIDSWEEP_FETCH_RPS", "0")
        .env("GRIDSWEEP_FETCH_NOW_MS", (FEB1 + 60 * DAY).to_string())
        .env_remove("GRIDSWEEP_LOG")
        .stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let o: Output = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn iso(ms: i64) -> String {
    format!("{}Z", gridsweep::time::format_iso(ms))
}

fn klines_cmd(s: &Server, start: i64, end: i64, out: &Path) -> Command {
    let mut c = bin();
    c.args(["fetch", "klines", "BTCUSDT", "--start", &iso(start), "--end", &iso(end)])
        .arg("--out")
        .arg(out)
        .args(["--base-url", &s.base_url]);
    c
}

/// Every minute of `[start, end)` but `missing`, from the formula.
fn expected(start: i64, end: i64, skip: &dyn Fn(i64) -> bool) -> Vec<(i64, [f64; 5])> {
    (start / MINUTE..end / MINUTE)
        .filter(|m| !skip(*m))
        .map(|m| {
            let (o, h, l, c, v) = candle(m);
            (m * MINUTE, [o, h, l, c, v])
        })
        .collect()
}

fn rows(c: &Candles) -> Vec<(i64, [f64; 5])> {
    (0..c.len())
        .map(|i| {
            (c.ts_ms()[i], [c.open()[i], c.high()[i], c.low()[i], c.close()[i], c.volume()[i]])
        })
        .collect()
}

fn metadata(path: &Path) -> HashMap<String, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone().unwrap_or_default())).collect())
        .unwrap_or_default()
}

fn param(target: &str, key: &str) -> Option<i64> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

#[test]
fn test_klines_many_pages_newest_first_match_the_formula() {
    let s = Server::start();
    let d = TempDir::new("pages");
    let out = d.path().join("btc.parquet");
    let (start, end) = (FEB1, FEB1 + 10 * DAY); // 14,400 minutes: 15 windows
    let (code, stdout, stderr) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let c = Candles::open_parquet(&[&out]).unwrap();
    assert_eq!(rows(&c), expected(start, end, &|_| false));
    assert_eq!(c.symbol(), Some("BTCUSDT"));
    let m = metadata(&out);
    assert_eq!(m["gridsweep.source"], "bybit");
    assert_eq!(m["gridsweep.symbol"], "BTCUSDT");
    assert_eq!(m["gridsweep.endpoint"], "/v5/market/kline");
    assert_eq!(m["gridsweep.price"], "last");
    assert_eq!(m["gridsweep.fetched_at"], iso(FEB1 + 60 * DAY));
    assert_eq!(m["gridsweep.base_url"], s.base_url);
    // One request per aligned 1000-minute window, each once, with Bybit's parameters.
    let served = s.served();
    let starts: Vec<i64> = served.iter().filter_map(|r| param(&r.target, "start")).collect();
    let want: Vec<i64> = (0..15).map(|i| start + i * 1000 * MINUTE).collect();
    assert_eq!(starts, want);
    for r in &served {
        assert!(
            r.target.starts_with("/v5/market/kline?category=linear&symbol=BTCUSDT&interval=1&"),
            "{}",
            r.target
        );
        assert!(r.target.contains("&limit=1000"), "{}", r.target);
        let (a, b) = (param(&r.target, "start").unwrap(), param(&r.target, "end").unwrap());
        assert_eq!(b, (a + 1000 * MINUTE).min(end) - 1);
    }
    assert!(!d.path().join("btc.parquet.fetch").exists(), "the resume dir is removed");
    assert!(stdout.contains("fetched 14400 candles (1m, last price) of BTCUSDT"), "{stdout}");
    assert!(stdout.contains("15 request window(s): 15 fetched, 0 resumed"), "{stdout}");
    assert!(stdout.contains("gaps         no gaps"), "{stdout}");

    // Another fetch time: other metadata, the same candles and fingerprint.
    let out2 = d.path().join("btc2.parquet");
    let (code, _, e) = run(klines_cmd(&s, start, end, &out2)
        .env("GRIDSWEEP_FETCH_NOW_MS", (FEB1 + 61 * DAY).to_string()));
    assert_eq!(code, 0, "{e}");
    let c2 = Candles::open_parquet(&[&out2]).unwrap();
    assert_eq!(c2.fingerprint(), c.fingerprint());
    assert_ne!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
}

#[test]
fn test_mark_price_has_volume_zero() {
    let s = Server::start();
    let d = TempDir::new("mark");
    let out = d.path().join("mark.parquet");
    let (start, end) = (FEB1, FEB1 + 1500 * MINUTE);
    let (code, _, e) = run(klines_cmd(&s, start, end, &out).args(["--price", "mark"]));
    assert_eq!(code, 0, "{e}");
    let c = Candles::open_parquet(&[&out]).unwrap();
    let want: Vec<(i64, [f64; 5])> = (start / MINUTE..end / MINUTE)
        .map(|m| {
            let (o, h, l, c) = mark_candle(m);
            (m * MINUTE, [o, h, l, c, 0.0])
        })
        .collect();
    assert_eq!(rows(&c), want);
    assert_eq!(metadata(&out)["gridsweep.price"], "mark");
    assert_eq!(metadata(&out)["gridsweep.endpoint"], "/v5/market/mark-price-kline");
    assert!(s.served().iter().all(|r| r.target.starts_with("/v5/market/mark-price-kline?")));
}

#[test]
fn test_gaps_an_empty_page_and_the_edges_are_warned() {
    let s = Server::start();
    let d = TempDir::new("gaps");
    let out = d.path().join("gaps.parquet");
    let (start, end) = (FEB1, FEB1 + 3000 * MINUTE);
    let m0 = start / MINUTE;
    // The first 2 minutes, minutes 10..13, and the whole second window (an empty page).
    let skip = move |m: i64| {
        m < m0 + 2 || (m0 + 10..m0 + 13).contains(&m) || (m0 + 1000..m0 + 2000).contains(&m)
    };
    s.script.lock().unwrap().missing = (m0..m0 + 3000).filter(|&m| skip(m)).collect();
    let (code, stdout, stderr) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{stderr}");
    println!("{stdout}{stderr}"); // shown with --nocapture
    let c = Candles::open_parquet(&[&out]).unwrap();
    assert_eq!(rows(&c), expected(start, end, &skip));
    assert!(
        stderr.contains(
            "warning: 1005 candle(s) of 1m missing in 3 gap(s), the largest 1000 missing"
        ),
        "{stderr}"
    );
    assert!(stdout.contains("3 gap(s), 1005 candle(s) missing"), "{stdout}");
}

#[test]
fn test_malformed_row_names_the_window_the_row_and_the_field() {
    let s = Server::start();
    let d = TempDir::new("bad");
    let out = d.path().join("bad.parquet");
    let (start, end) = (FEB1, FEB1 + 3000 * MINUTE);
    s.script.lock().unwrap().malformed.insert(start + 1000 * MINUTE);
    let (code, _, stderr) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "/v5/market/kline window 2026-02-01T16:40:00 .. 2026-02-02T09:20:00 UTC (category=linear&symbol=BTCUSDT&interval=1&start={}&end={}&limit=1000): list[3] high: \"12.3.4\" is not a number",
            start + 1000 * MINUTE,
            start + 2000 * MINUTE - 1
        )),
        "{stderr}"
    );
    assert!(!out.exists());
    // The first window is kept for a rerun.
    assert!(d
        .path()
        .join("bad.parquet.fetch")
        .join(format!("{}-{}.json", start, start + 1000 * MINUTE))
        .exists());
    assert!(stderr.contains("rerun the same command to continue"), "{stderr}");
}

#[test]
fn test_rate_limit_answers_are_retried_with_and_without_the_reset_header() {
    let s = Server::start();
    let d = TempDir::new("rate");
    let out = d.path().join("r.parquet");
    let (start, end) = (FEB1, FEB1 + 2000 * MINUTE);
    let reset = gridsweep::bybit::now_ms() + 20; // a real reset time 20 ms ahead
    s.script.lock().unwrap().faults.insert(
        start,
        vec![
            Fault::Status(429, None),
            Fault::Status(403, Some(reset)),
            Fault::TooMany(Some(reset)),
            Fault::TooMany(None),
        ],
    );
    s.script.lock().unwrap().faults.insert(start + 1000 * MINUTE, vec![Fault::Status(503, None)]);
    let (code, _, stderr) =
        run(klines_cmd(&s, start, end, &out).env("GRIDSWEEP_FETCH_RETRIES", "5"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rows(&Candles::open_parquet(&[&out]).unwrap()), expected(start, end, &|_| false));
    let statuses: Vec<u16> = s.served().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 403, 200, 200, 200, 503, 200]);
    // Out of retries: a clear error, exit 2.
    s.script.lock().unwrap().faults.insert(start, vec![Fault::TooMany(None); 3]);
    let out2 = d.path().join("r2.parquet");
    let (code, _, stderr) =
        run(klines_cmd(&s, start, end, &out2).env("GRIDSWEEP_FETCH_RETRIES", "2"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Bybit answered retCode 10006 (\"Too many visits!\")"), "{stderr}");
}

#[test]
fn test_slow_answers_time_out_and_are_retried() {
    let s = Server::start();
    let d = TempDir::new("slow");
    let out = d.path().join("s.parquet");
    let (start, end) = (FEB1, FEB1 + 2000 * MINUTE);
    s.script
        .lock()
        .unwrap()
        .faults
        .insert(start + 1000 * MINUTE, vec![Fault::Slow(Duration::from_millis(1500))]);
    let t = Instant::now();
    let (code, _, stderr) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{stderr}");
    assert!(t.elapsed() < Duration::from_millis(1400), "the timeout cut the slow answer short");
    assert_eq!(rows(&Candles::open_parquet(&[&out]).unwrap()), expected(start, end, &|_| false));
    // Always slow: the error names the request and the timeout.
    s.script.lock().unwrap().faults.insert(start, vec![Fault::Slow(Duration::from_millis(800)); 3]);
    let (code, _, stderr) = run(klines_cmd(&s, start, end, &d.path().join("s2.parquet"))
        .env("GRIDSWEEP_FETCH_RETRIES", "1"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no answer within 400ms"), "{stderr}");
}

#[test]
fn test_killed_fetch_resumes_to_the_same_bytes_fetching_no_window_twice() {
    let s = Server::start();
    let d = TempDir::new("kill");
    let (start, end) = (FEB1, FEB1 + 12 * 1000 * MINUTE);
    let skip = |m: i64| m % 5000 == 17; // a few gaps too
    s.script.lock().unwrap().missing =
        (start / MINUTE..end / MINUTE).filter(|&m| skip(m)).collect();
    let whole = d.path().join("whole.parquet");
    let (code, _, e) = run(&mut klines_cmd(&s, start, end, &whole));
    assert_eq!(code, 0, "{e}");
    s.reset();

    let out = d.path().join("resumed.parquet");
    s.script.lock().unwrap().hang_after = Some(5);
    let mut child = klines_cmd(&s, start, end, &out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !s.hung.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(20), "the fetch never reached page 6");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let dir = d.path().join("resumed.parquet.fetch");
    let saved: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.json" && !n.starts_with('.'))
        .collect();
    assert_eq!(saved.len(), 5, "{saved:?}");
    assert!(!out.exists());
    let first_run = s.served();
    s.release_hung();

    // Another command into the same --out is refused while the pages wait.
    let (code, _, stderr) = run(&mut klines_cmd(&s, start, end - 1000 * MINUTE, &out));
    assert_eq!(code, 2);
    assert!(stderr.contains("holds a fetch of klines-last BTCUSDT"), "{stderr}");
    assert!(stderr.contains("delete the directory to start over"), "{stderr}");

    s.reset();
    let (code, stdout, stderr) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("12 request window(s): 7 fetched, 5 resumed"), "{stdout}");
    assert!(stderr.contains("resuming: 5 of 12 request window(s) already saved"), "{stderr}");
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&whole).unwrap(), "byte-identical");
    assert!(!dir.exists());
    let mut served_ok: HashMap<i64, usize> = HashMap::new();
    for r in first_run.iter().chain(s.served().iter()).filter(|r| r.ok_data) {
        *served_ok.entry(param(&r.target, "start").unwrap()).or_default() += 1;
    }
    assert_eq!(served_ok.len(), 12);
    assert!(served_ok.values().all(|&n| n == 1), "{served_ok:?}");
}

#[test]
fn test_bad_windows_and_unknown_symbols_fail_clearly() {
    let s = Server::start();
    let d = TempDir::new("win");
    let out = d.path().join("x.parquet");
    let (code, _, e) = run(&mut klines_cmd(&s, FEB1, FEB1, &out));
    assert_eq!(code, 2);
    assert!(e.contains("is not before --end"), "{e}");
    let (code, _, e) = run(&mut klines_cmd(&s, FEB1 + 70 * DAY, FEB1 + 71 * DAY, &out));
    assert_eq!(code, 2);
    assert!(e.contains("is in the future"), "{e}");
    let (code, _, e) = run(bin()
        .args([
            "fetch",
            "klines",
            "BTCUSDT",
            "--start",
            "2026-02-30",
            "--end",
            "2026-03-01",
            "--base-url",
            &s.base_url,
            "--out",
        ])
        .arg(&out));
    assert_eq!(code, 2);
    assert!(e.contains("day 30 does not exist"), "{e}");
    // A generous timeout: under load the 400 ms one can expire and be retried, which would
    // count as a second request without 10001 being retried.
    let (code, _, e) = run(bin()
        .env("GRIDSWEEP_FETCH_TIMEOUT_MS", "20000")
        .args([
            "fetch",
            "klines",
            "NOPEUSDT",
            "--start",
            "2026-02-01",
            "--end",
            "2026-02-02",
            "--base-url",
            &s.base_url,
            "--out",
        ])
        .arg(&out));
    assert_eq!(code, 2);
    assert!(e.contains("retCode 10001") && e.contains("check the symbol"), "{e}");
    assert!(
        s.served().iter().filter(|r| r.target.contains("NOPEUSDT")).count() == 1,
        "10001 is not retried"
    );
    // A window before any data: nothing at all is an error, no file.
    s.script.lock().unwrap().missing = (FEB1 / MINUTE..FEB1 / MINUTE + 1440).collect();
    let (code, _, e) = run(&mut klines_cmd(&s, FEB1, FEB1 + DAY, &out));
    assert_eq!(code, 2);
    assert!(e.contains("Bybit returned no candles of BTCUSDT"), "{e}");
    assert!(!out.exists() && !d.path().join("x.parquet.fetch").exists());
    // An open candle is dropped and reported.
    s.script.lock().unwrap().missing.clear();
    let now = FEB1 + 100 * MINUTE + 30_000;
    s.script.lock().unwrap().now_ms = Some(now);
    let (code, stdout, e) =
        run(klines_cmd(&s, FEB1, FEB1 + DAY, &out).env("GRIDSWEEP_FETCH_NOW_MS", now.to_string()));
    assert_eq!(code, 0, "{e}");
    assert!(e.contains("dropped 1 candle(s) still open at fetch time"), "{e}");
    assert_eq!(
        rows(&Candles::open_parquet(&[&out]).unwrap()),
        expected(FEB1, FEB1 + 100 * MINUTE, &|_| false)
    );
    assert!(stdout.contains("fetched 100 candles"), "{stdout}");
}

#[test]
fn test_funding_pages_inside_windows_by_moving_end_time() {
    let s = Server::start();
    let d = TempDir::new("funding");
    let out = d.path().join("f.parquet");
    let every = 30 * MINUTE; // 400 events per 200-hour window: two pages each
    s.script.lock().unwrap().funding_every = every;
    let (start, end) = (FEB1, FEB1 + 10 * DAY); // 240 h: windows of 200 h and 40 h
    let (code, stdout, e) = run(bin()
        .args([
            "fetch",
            "funding",
            "BTCUSDT",
            "--start",
            &iso(start),
            "--end",
            &iso(end),
            "--base-url",
            &s.base_url,
            "--out",
        ])
        .arg(&out));
    assert_eq!(code, 0, "{e}");
    let f = read_funding_parquet(&out).unwrap();
    let want: Vec<(i64, f64)> =
        (start / every..end / every).map(|k| (k * every, funding_rate(k))).collect();
    assert_eq!(f.events, want);
    assert_eq!(f.source, "bybit");
    assert_eq!(metadata(&out)["gridsweep.symbol"], "BTCUSDT");
    assert_eq!(metadata(&out)["gridsweep.endpoint"], "/v5/market/funding/history");
    let served = s.served();
    let ends: Vec<(i64, i64)> = served
        .iter()
        .map(|r| (param(&r.target, "startTime").unwrap(), param(&r.target, "endTime").unwrap()))
        .collect();
    let w2 = start + 200 * 3_600_000;
    // Window 1: 400 events → 200 newest, then endTime below the oldest received, then a
    // short page; window 2 (80 events) in one page.
    assert_eq!(ends, vec![(start, w2 - 1), (start, w2 - 200 * every - 1), (w2, end - 1),]);
    assert!(served
        .iter()
        .all(|r| r.target.contains("category=linear") && r.target.contains("limit=200")));
    assert!(
        stdout.contains(&format!("fetched {} funding events of BTCUSDT", want.len())),
        "{stdout}"
    );
}

#[test]
fn test_instrument_prints_saves_and_backtests_use_it() {
    let s = Server::start();
    let d = TempDir::new("inst");
    let dir = d.path().join("instruments");
    let (code, stdout, e) = run(bin().env("GRIDSWEEP_INSTRUMENT_DIR", &dir).args([
        "fetch",
        "instrument",
        "BTCUSDT",
        "--save",
        "--base-url",
        &s.base_url,
    ]));
    assert_eq!(code, 0, "{e}");
    for want in [
        "tick size         0.10",
        "quantity step     0.001",
        "min notional      5 USDT",
        "funding interval  480 min (8 h)",
        "max leverage      100.00",
    ] {
        assert!(stdout.contains(want), "{want:?} in {stdout}");
    }
    let saved = gridsweep::instrument::SavedInstrument::load(&dir, "BTCUSDT").unwrap().unwrap();
    assert_eq!((saved.tick_size.as_str(), saved.qty_step.as_str()), ("0.10", "0.001"));
    let (code, _, e) =
        run(bin().args(["fetch", "instrument", "ZZZUSDT", "--base-url", &s.base_url]));
    assert_eq!(code, 2);
    assert!(e.contains("Bybit lists no linear instrument ZZZUSDT"), "{e}");

    // A backtest of BTCUSDT without tick_size/qty_step takes them from the saved file.
    let candles = d.path().join("btc.parquet");
    let (code, _, e) = run(&mut klines_cmd(&s, FEB1, FEB1 + DAY, &candles));
    assert_eq!(code, 0, "{e}");
    let cfg = d.path().join("bt.toml");
    std::fs::write(
        &cfg,
        format!("symbol = \"BTCUSDT\"\ncandles = [{:?}]\ngrid_count = 10\ngrid_step = 0.5\namount = \"x0.01\"\nleverage = 2\n", candles.display().to_string()),
    )
    .unwrap();
    let (code, _, e) = run(bin()
        .env("GRIDSWEEP_INSTRUMENT_DIR", &dir)
        .env("GRIDSWEEP_LOG", "info")
        .args(["backtest", "--config"])
        .arg(&cfg));
    assert_eq!(code, 0, "{e}");
    assert!(e.contains("BTCUSDT: tick_size 0.10 and qty_step 0.001 from saved"), "{e}");
    std::fs::write(
        &cfg,
        format!("{}tick_size = \"0.5\"\n", std::fs::read_to_string(&cfg).unwrap()),
    )
    .unwrap();
    let (code, _, e) = run(bin()
        .env("GRIDSWEEP_INSTRUMENT_DIR", &dir)
        .env("GRIDSWEEP_LOG", "info")
        .args(["backtest", "--config"])
        .arg(&cfg));
    assert_eq!(code, 0, "{e}");
    assert!(
        e.contains("tick_size 0.5 and qty_step 0.001 from tick_size config, qty_step saved"),
        "{e}"
    );
    let (code, _, e) = run(bin()
        .env("GRIDSWEEP_INSTRUMENT_DIR", d.path().join("none"))
        .env("GRIDSWEEP_LOG", "info")
        .args(["backtest", "--config"])
        .arg(&cfg));
    assert_eq!(code, 0, "{e}");
    assert!(e.contains("from tick_size config, qty_step builtin"), "{e}");
}

#[test]
fn test_client_limiter_spaces_requests() {
    let s = Server::start();
    let mut config = FetchConfig::default();
    config.rest.base_url = s.base_url.clone();
    config.max_rps = 50.0;
    let client = MarketClient::new(config);
    let t = Instant::now();
    for i in 0..11 {
        let w = Window { start_ms: FEB1 + i * 10 * MINUTE, end_ms: FEB1 + (i + 1) * 10 * MINUTE };
        let p = klines::fetch_window(&client, "BTCUSDT", PriceKind::Last, w, i64::MAX).unwrap();
        assert_eq!(p.candles.len(), 10);
    }
    // 11 requests at 50/s: the last starts 10 × 20 ms after the first.
    assert!(t.elapsed() >= Duration::from_millis(195), "{:?}", t.elapsed());
    assert_eq!(client.requests_sent(), 11);
}

#[test]
fn test_saved_bybit_payloads_parse() {
    let read = |n: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(data(n)).unwrap()).unwrap()
    };
    // Bybit's docs mark-price sample: 5 strings, volume written as 0.
    let v = read("mark_price_kline_sample_docs.json");
    let w = Window { start_ms: 1_670_608_800_000, end_ms: 1_670_608_800_000 + MINUTE };
    let p = klines::parse_page(&v["result"], PriceKind::Mark, w, "q", i64::MAX).unwrap();
    assert_eq!(p.candles, vec![(1_670_608_800_000, 17164.16, 17164.16, 17121.5, 17131.64, 0.0)]);
    // The nautilus fixture's startTime 1709891679000 is not on a minute: refused, by name.
    let v = read("nautilus_http_get_klines_linear.json");
    let w = Window { start_ms: 1_709_891_640_000, end_ms: 1_709_891_700_000 };
    let e = klines::parse_page(&v["result"], PriceKind::Last, w, "q", i64::MAX).unwrap_err();
    assert!(
        e.to_string().contains("list[0] startTime: 1709891679000 is not on a whole minute"),
        "{e}"
    );
    // Instrument sample.
    let v = read("instruments_info_linear_sample_docs.json");
    let i =
        gridsweep::bybit::instrument::parse_instrument(&v["result"], "BTCUSDT", "u", 0).unwrap();
    assert_eq!(
        (i.min_notional.as_deref(), i.funding_interval_min, i.max_leverage.as_deref()),
        (Some("5"), Some(480), Some("100.00"))
    );
}

// ---- funding import ------------------------------------------------------------------

fn import(d: &TempDir, out: &str, args: &[&Path], extra: &[&str]) -> (i32, String, String) {
    let mut c = bin();
    c.arg("import").args(extra).arg("--out").arg(d.path().join(out)).args(args);
    run(&mut c)
}

#[test]
fn test_import_binance_and_bybit_funding_merge_sorted_and_deduped() {
    let d = TempDir::new("imp");
    // Binance: 2024-03-07 16:00, 2024-03-08 00:00 (with a 1 ms calc_time offset as Binance
    // ships them sometimes), 2024-03-08 08:00.
    let csv = d.path().join("BTCUSDT-fundingRate-2024-03.csv");
    std::fs::write(
        &csv,
        "calc_time,funding_interval_hours,last_funding_rate\n1709827200000,8,0.00012\n1709856000000,8,0.00015000\n1709884800000,8,0.0001\n",
    )
    .unwrap();
    // Bybit (the nautilus sample): 0.0001 @ 1709884800000, 0.00015 @ 1709856000000 — both
    // already in the CSV with the same rates.
    let json = data("nautilus_http_get_funding_history.json");
    // Headerless Binance rows: 2024-03-08 16:00.
    let bare = d.path().join("more.csv");
    std::fs::write(&bare, "1709913600000,8,-0.00002\n").unwrap();
    let (code, stdout, e) = import(&d, "f.parquet", &[&json, &csv, &bare], &[]);
    assert_eq!(code, 0, "{e}");
    assert!(
        stdout.contains(
            "imported 4 funding events of BTCUSDT from 3 file(s) (6 read, 2 duplicate(s) dropped)"
        ),
        "{stdout}"
    );
    let f = read_funding_parquet(&d.path().join("f.parquet")).unwrap();
    assert_eq!(
        f.events,
        vec![
            (1_709_827_200_000, 0.00012),
            (1_709_856_000_000, 0.00015),
            (1_709_884_800_000, 0.0001),
            (1_709_913_600_000, -0.00002)
        ]
    );
    assert_eq!(f.source, "bybit-funding:nautilus_http_get_funding_history.json,binance-funding:BTCUSDT-fundingRate-2024-03.csv,binance-funding:more.csv");
    assert_eq!(metadata(&d.path().join("f.parquet"))["gridsweep.kind"], "funding");

    // A conflicting rate at one time names both files.
    let other = d.path().join("BTCUSDT-fundingRate-x.csv");
    std::fs::write(
        &other,
        "calc_time,funding_interval_hours,last_funding_rate\n1709884800000,8,0.0002\n",
    )
    .unwrap();
    let (code, _, e) = import(&d, "g.parquet", &[&csv, &other], &[]);
    assert_eq!(code, 2);
    assert!(
        e.contains("funding at 2024-03-08T08:00:00 UTC (1709884800000 ms) is 0.0001 in")
            && e.contains("(line 4) but 0.0002 in"),
        "{e}"
    );
    // Percent instead of fraction.
    let pct = d.path().join("pct.csv");
    std::fs::write(
        &pct,
        "calc_time,funding_interval_hours,last_funding_rate\n1709827200000,8,1.5\n",
    )
    .unwrap();
    let (code, _, e) = import(&d, "h.parquet", &[&pct], &["--format", "binance-funding"]);
    assert_eq!(code, 2);
    assert!(e.contains("pct.csv, line 2") && e.contains("divide by 100"), "{e}");
    // Malformed field.
    std::fs::write(
        &pct,
        "calc_time,funding_interval_hours,last_funding_rate\n1709827200000,8,abc\n",
    )
    .unwrap();
    let (code, _, e) = import(&d, "h.parquet", &[&pct], &[]);
    assert_eq!(code, 2);
    assert!(e.contains("pct.csv, line 2: field last_funding_rate \"abc\" is not a number"), "{e}");
    // Bybit docs sample (ETHPERP) with --format, and a Bybit field error.
    let (code, stdout, e) = import(
        &d,
        "eth.parquet",
        &[&data("funding_history_sample_docs.json")],
        &["--format", "bybit-funding"],
    );
    assert_eq!(code, 0, "{e}");
    assert!(stdout.contains("imported 1 funding events of ETHPERP"), "{stdout}");
    let badj = d.path().join("bad.json");
    std::fs::write(&badj, r#"{"retCode":0,"result":{"list":[{"symbol":"X","fundingRate":"0.1","fundingRateTimestamp":"soon"}]}}"#).unwrap();
    let (code, _, e) = import(&d, "b.parquet", &[&badj], &[]);
    assert_eq!(code, 2);
    assert!(
        e.contains(
            "bad.json, list[0], field fundingRateTimestamp: \"soon\" is not an epoch-ms integer"
        ),
        "{e}"
    );
    // Candles and funding in one import are refused.
    let kl = d.path().join("BTCUSDT-1m-2024-03.csv");
    std::fs::write(&kl, "1709827200000,1,2,0.5,1.5,3,1709827259999\n").unwrap();
    let (code, _, e) = import(&d, "m.parquet", &[&csv, &kl], &[]);
    assert_eq!(code, 2);
    assert!(e.contains("import candles and funding into separate files"), "{e}");
}

#[test]
fn test_read_funding_parquet_refuses_candle_files() {
    let d = TempDir::new("readf");
    let s = Server::start();
    let out = d.path().join("c.parquet");
    let (code, _, e) = run(&mut klines_cmd(&s, FEB1, FEB1 + 10 * MINUTE, &out));
    assert_eq!(code, 0, "{e}");
    let e = read_funding_parquet(&out).unwrap_err();
    assert!(matches!(e, FundingError::NotFunding { .. }), "{e}");
    assert!(e.to_string().contains("no `rate` column"), "{e}");
    let f = d.path().join("f.parquet");
    let series = FundingSeries { events: vec![(0, 0.0001)], source: "t".into() };
    gridsweep::funding::write_funding_parquet(&f, &series, &[]).unwrap();
    assert_eq!(read_funding_parquet(&f).unwrap(), series);
    let _ = AtomicBool::new(false);
}

#[test]
fn test_ctrl_c_says_what_is_saved_and_how_to_continue() {
    let s = Server::start();
    let d = TempDir::new("sigint");
    let (start, end) = (FEB1, FEB1 + 12 * 1000 * MINUTE);
    let out = d.path().join("c.parquet");
    s.script.lock().unwrap().hang_after = Some(4);
    let child = klines_cmd(&s, start, end, &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !s.hung.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(20), "the fetch never reached page 5");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = i32::try_from(child.id()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(kill_int(pid), 0);
    std::thread::sleep(Duration::from_millis(50));
    s.release_hung(); // the request in flight fails and, cancelled, is not retried
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: 4 of 12 request window(s) are saved in"), "{stderr}");
    assert!(stderr.contains("To continue, run the same command again"), "{stderr}");
    s.reset();
    let (code, stdout, e) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{e}");
    assert!(stdout.contains("12 request window(s): 8 fetched, 4 resumed"), "{stdout}");

    // Ctrl-C during a long retry wait (rate limited) stops at once, not after the wait.
    s.reset();
    let out2 = d.path().join("c2.parquet");
    s.script
        .lock()
        .unwrap()
        .faults
        .insert(start + 2000 * MINUTE, vec![Fault::Status(429, None); 5]);
    let child = klines_cmd(&s, start, end, &out2)
        .env("GRIDSWEEP_FETCH_BACKOFF_MS", "5000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !s.served().iter().any(|r| r.status == 429) {
        assert!(t.elapsed() < Duration::from_secs(20), "no 429 served");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let signalled = Instant::now();
    assert_eq!(kill_int(i32::try_from(child.id()).unwrap()), 0);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(signalled.elapsed() < Duration::from_secs(2), "waited out the backoff: {stderr}");
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: 2 of 12 request window(s) are saved in"), "{stderr}");
}

/// SIGINT to `pid` through the `kill` command (the crate forbids unsafe code).
fn kill_int(pid: i32) -> i32 {
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}

#[test]
fn test_a_damaged_saved_page_is_fetched_again_and_outputs_are_guarded() {
    let s = Server::start();
    let d = TempDir::new("damaged");
    let (start, end) = (FEB1, FEB1 + 4 * 1000 * MINUTE);
    let out = d.path().join("d.parquet");
    s.script.lock().unwrap().hang_after = Some(2);
    let mut child = klines_cmd(&s, start, end, &out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !s.hung.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    s.release_hung();
    let page =
        d.path().join("d.parquet.fetch").join(format!("{}-{}.json", start, start + 1000 * MINUTE));
    std::fs::write(&page, "{\"window\": [1, 2]").unwrap();
    s.reset();
    let (code, stdout, e) = run(&mut klines_cmd(&s, start, end, &out));
    assert_eq!(code, 0, "{e}");
    assert!(e.contains("is damaged") && e.contains("fetching it again"), "{e}");
    assert!(stdout.contains("4 request window(s): 3 fetched, 1 resumed"), "{stdout}");
    assert_eq!(rows(&Candles::open_parquet(&[&out]).unwrap()), expected(start, end, &|_| false));
    // A candle file is not replaced by a funding fetch without --force, and vice versa.
    let args = |what: &str| {
        let mut c = bin();
        c.args([
            "fetch",
            what,
            "BTCUSDT",
            "--start",
            &iso(start),
            "--end",
            &iso(end),
            "--base-url",
            &s.base_url,
            "--out",
        ])
        .arg(&out);
        c
    };
    let (code, _, e) = run(&mut args("funding"));
    assert_eq!(code, 2);
    assert!(
        e.contains("already exists and is not a gridsweep funding file") && e.contains("--force"),
        "{e}"
    );
    let (code, _, e) = run(args("funding").arg("--force"));
    assert_eq!(code, 0, "{e}");
    let (code, _, e) = run(&mut args("klines"));
    assert_eq!(code, 2);
    assert!(e.contains("is not a gridsweep candle file"), "{e}");
}

/// The figures of docs/data.md, not run by default:
/// `cargo test --release --test fetch -- --ignored --nocapture measure_symbol_year`.
/// Fetches a symbol-year (525,600 candles, 526 requests) from the local server with the
/// limiter off and at its default 100 requests/s, and prints pages per second.
#[test]
#[ignore = "a measurement for docs/data.md (about 11 s); run with --ignored --nocapture"]
fn measure_symbol_year() {
    let s = Server::start();
    let d = TempDir::new("year");
    let (start, end) = (FEB1 - 365 * DAY, FEB1);
    for rps in ["0", "100"] {
        let out = d.path().join(format!("year-{rps}.parquet"));
        let t = Instant::now();
        let (code, stdout, e) =
            run(klines_cmd(&s, start, end, &out).env("GRIDSWEEP_FETCH_RPS", rps));
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(code, 0, "{e}");
        assert!(stdout.contains("fetched 525600 candles"), "{stdout}");
        let bytes = std::fs::metadata(&out).unwrap().len();
        println!(
            "limiter {rps} req/s: 526 pages in {secs:.2} s = {:.0} pages/s ({:.0} candles/s), file {bytes} bytes",
            526.0 / secs,
            525_600.0 / secs
        );
    }
}
