//! A simulated Bybit market-data server on 127.0.0.1 for the `fetch` tests and bench: it
//! generates 1-minute candles and funding events from formulas of the minute (event) index,
//! answers `/v5/market/kline`, `/v5/market/mark-price-kline`, `/v5/market/funding/history`
//! and `/v5/market/instruments-info` in Bybit's shapes (newest first, strings), and can be
//! told to fail, stall, leave gaps or hang after N good pages.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

pub const MINUTE: i64 = 60_000;
pub const FUNDING_EVERY: i64 = 8 * 3_600_000;

/// Last-price candle of minute `m` (ts = m · 60 000): `(open, high, low, close, volume)`.
pub fn candle(m: i64) -> (f64, f64, f64, f64, f64) {
    let open = 100.0 + (m % 97) as f64 * 0.5;
    let close = open + ((m % 7) - 3) as f64 * 0.1;
    let high = open.max(close) + 0.3;
    let low = open.min(close) - 0.2;
    let volume = (m % 13) as f64 + 0.5;
    (open, high, low, close, volume)
}

/// Mark-price candle of minute `m`: a little off the last price.
pub fn mark_candle(m: i64) -> (f64, f64, f64, f64) {
    let (o, h, l, c, _) = candle(m);
    (o + 0.01, h + 0.01, l + 0.01, c + 0.01)
}

/// Funding rate of event `k` (ts = k · 8 h).
pub fn funding_rate(k: i64) -> f64 {
    ((k % 11) - 5) as f64 * 0.00001
}

/// A scripted fault for one request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// HTTP status with a body, and the reset header (epoch ms) if given.
    Status(u16, Option<i64>),
    /// `retCode` 10006 with or without the reset header.
    TooMany(Option<i64>),
    /// Answer after this delay (past the client's timeout).
    Slow(Duration),
}

/// What the server does; shared with the test.
#[derive(Default)]
pub struct Script {
    /// Minutes without a candle.
    pub missing: HashSet<i64>,
    /// Faults by the request's `start`/`endTime` key (kline: start, funding: endTime),
    /// consumed in order.
    pub faults: HashMap<i64, Vec<Fault>>,
    /// Kline windows (by `start`) whose page gets a malformed row.
    pub malformed: HashSet<i64>,
    /// After this many successful data pages, hang every further request (until released).
    pub hang_after: Option<usize>,
    /// The symbol the server knows.
    pub symbol: String,
    /// Milliseconds between funding events (default 8 h).
    pub funding_every: i64,
    /// The server's clock: no candle starts after it.
    pub now_ms: Option<i64>,
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct Served {
    pub target: String,
    pub status: u16,
    pub ok_data: bool,
}

pub struct Server {
    pub base_url: String,
    pub script: Arc<Mutex<Script>>,
    pub log: Arc<Mutex<Vec<Served>>>,
    /// Set once a request arrives after `hang_after` good pages.
    pub hung: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    accept: Option<JoinHandle<()>>,
    good: Arc<AtomicUsize>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(Script {
            symbol: "BTCUSDT".into(),
            funding_every: FUNDING_EVERY,
            ..Script::default()
        }));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (hung, release, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let good = Arc::new(AtomicUsize::new(0));
        let ctx = Ctx {
            script: script.clone(),
            log: log.clone(),
            hung: hung.clone(),
            release: release.clone(),
            good: good.clone(),
        };
        let stop2 = stop.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let ctx = ctx.clone();
                std::thread::spawn(move || serve(conn, &ctx));
            }
        });
        Server {
            base_url: format!("http://{addr}"),
            script,
            log,
            hung,
            release,
            stop,
            addr,
            accept: Some(accept),
            good,
        }
    }

    pub fn served(&self) -> Vec<Served> {
        self.log.lock().unwrap().clone()
    }

    /// Clears the request log and the hang, keeping the data.
    pub fn reset(&self) {
        self.log.lock().unwrap().clear();
        self.script.lock().unwrap().hang_after = None;
        self.good.store(0, Ordering::SeqCst);
        self.hung.store(false, Ordering::SeqCst);
    }

    /// Lets the hung requests go (unanswered) and stops hanging new ones.
    pub fn release_hung(&self) {
        self.script.lock().unwrap().hang_after = None;
        self.release.store(true, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.release.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

#[derive(Clone)]
struct Ctx {
    script: Arc<Mutex<Script>>,
    log: Arc<Mutex<Vec<Served>>>,
    hung: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    good: Arc<AtomicUsize>,
}

fn query(target: &str) -> (String, HashMap<String, String>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let map = q
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (path.to_string(), map)
}

fn envelope(result: Value) -> String {
    json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1_700_000_000_000i64})
        .to_string()
}

/// `(status, extra headers, body, delay, is a good data page)`.
type Answer = (u16, Vec<(String, String)>, String, Duration, bool);

fn answer(target: &str, ctx: &Ctx) -> Answer {
    let (path, q) = query(target);
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let mut script = ctx.script.lock().unwrap();
    let key = if path.ends_with("/funding/history") { num("endTime") } else { num("start") };
    if let Some(k) = key {
        if let Some(list) = script.faults.get_mut(&k) {
            if !list.is_empty() {
                let f = list.remove(0);
                return match f {
                    Fault::Status(s, reset) => {
                        let h = reset
                            .map(|r| {
                                vec![("X-Bapi-Limit-Reset-Timestamp".to_string(), r.to_string())]
                            })
                            .unwrap_or_default();
                        (s, h, format!("{{\"error\":\"status {s}\"}}"), Duration::ZERO, false)
                    }
                    Fault::TooMany(reset) => {
                        let h = reset
                            .map(|r| {
                                vec![("X-Bapi-Limit-Reset-Timestamp".to_string(), r.to_string())]
                            })
                            .unwrap_or_default();
                        let body = json!({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": 1}).to_string();
                        (200, h, body, Duration::ZERO, false)
                    }
                    Fault::Slow(d) => {
                        drop(script);
                        let (s, h, b, _, ok) = answer_data(&path, &q, ctx);
                        (s, h, b, d, ok)
                    }
                };
            }
        }
    }
    drop(script);
    answer_data(&path, &q, ctx)
}

fn answer_data(path: &str, q: &HashMap<String, String>, ctx: &Ctx) -> Answer {
    let script = ctx.script.lock().unwrap();
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let sym = q.get("symbol").cloned().unwrap_or_default();
    let ok = |body: String| (200u16, Vec::new(), body, Duration::ZERO, true);
    if sym != script.symbol && !path.ends_with("instruments-info") {
        let body = json!({"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "retExtInfo": {}, "time": 1}).to_string();
        return (200, Vec::new(), body, Duration::ZERO, false);
    }
    if path.ends_with("/kline") || path.ends_with("/mark-price-kline") {
        let mark = path.ends_with("/mark-price-kline");
        let (Some(start), Some(end)) = (num("start"), num("end")) else {
            return (400, Vec::new(), "{}".into(), Duration::ZERO, false);
        };
        let limit = num("limit").unwrap_or(200);
        let first = (start + MINUTE - 1).div_euclid(MINUTE);
        let mut last = end.div_euclid(MINUTE);
        if let Some(now) = script.now_ms {
            last = last.min(now.div_euclid(MINUTE));
        }
        let mut rows = Vec::new();
        for m in (first..=last).rev() {
            if script.missing.contains(&m) {
                continue;
            }
            if rows.len() as i64 >= limit {
                break;
            }
            let ts = (m * MINUTE).to_string();
            if mark {
                let (o, h, l, c) = mark_candle(m);
                rows.push(json!([ts, o.to_string(), h.to_string(), l.to_string(), c.to_string()]));
            } else {
                let (o, h, l, c, v) = candle(m);
                rows.push(json!([
                    ts,
                    o.to_string(),
                    h.to_string(),
                    l.to_string(),
                    c.to_string(),
                    v.to_string(),
                    (v * c).to_string()
                ]));
            }
        }
        if script.malformed.contains(&start) && rows.len() > 3 {
            rows[3][2] = json!("12.3.4");
        }
        return ok(envelope(json!({"category": "linear", "symbol": sym, "list": rows})));
    }
    if path.ends_with("/funding/history") {
        let (Some(start), Some(end)) = (num("startTime"), num("endTime")) else {
            return (
                200,
                Vec::new(),
                json!({"retCode": 10001, "retMsg": "startTime alone", "result": {}}).to_string(),
                Duration::ZERO,
                false,
            );
        };
        let limit = num("limit").unwrap_or(200);
        let every = script.funding_every;
        let first = (start + every - 1).div_euclid(every);
        let last = end.div_euclid(every);
        let mut list = Vec::new();
        for k in (first..=last).rev() {
            if list.len() as i64 >= limit {
                break;
            }
            list.push(json!({"symbol": sym, "fundingRate": funding_rate(k).to_string(), "fundingRateTimestamp": (k * every).to_string()}));
        }
        return ok(envelope(json!({"category": "linear", "list": list})));
    }
    if path.ends_with("/instruments-info") {
        let text =
            std::fs::read_to_string(data("instruments_info_linear_sample_docs.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        if sym != "BTCUSDT" {
            v["result"]["list"] = json!([]);
        }
        return ok(v.to_string());
    }
    (404, Vec::new(), "{}".into(), Duration::ZERO, false)
}

fn serve(conn: TcpStream, ctx: &Ctx) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let hang = {
        let s = ctx.script.lock().unwrap();
        s.hang_after.is_some_and(|n| ctx.good.load(Ordering::SeqCst) >= n)
            && !ctx.release.load(Ordering::SeqCst)
    };
    if hang {
        ctx.hung.store(true, Ordering::SeqCst);
        while !ctx.release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        return;
    }
    let (status, headers, body, delay, ok_data) = answer(&target, ctx);
    std::thread::sleep(delay);
    let mut conn = conn;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let sent = conn
        .write_all(head.as_bytes())
        .and_then(|()| conn.write_all(body.as_bytes()))
        .and_then(|()| conn.flush());
    if ok_data && status == 200 && sent.is_ok() && delay.is_zero() {
        ctx.good.fetch_add(1, Ordering::SeqCst);
    }
    ctx.log.lock().unwrap().push(Served { target, status, ok_data: ok_data && delay.is_zero() });
}

/// A saved payload in `tests/fetch_data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fetch_data").join(name)
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "gridsweep-fetch-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
