//! Shared helpers of the `tiers_*` integration tests: temp directories, the saved Bybit
//! payloads, and a tiny HTTP/1.1 server on 127.0.0.1 that plays a script of answers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gridsweep::tiers::rest::{BybitClient, RestConfig};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "gridsweep-tiers-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `<tmp>/conf`, created.
    pub fn conf(&self) -> PathBuf {
        let c = self.0.join("conf");
        std::fs::create_dir_all(&c).unwrap();
        c
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Path of a saved payload in `tests/tiers_data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tiers_data").join(name)
}

/// Text of a saved payload.
pub fn data_text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

pub const TWO_TIER: &str = "risk_limit_sample_linear_BTCUSDT_2tier_fixture.json";
pub const TESTNET: &str = "risk_limit_sample_linear_BTCUSDT_testnet_2026-09-17_abridged.json";
pub const X150: &str = "risk_limit_sample_linear_BTCUSDT_2026_150x_fixture.json";
pub const DOCS: &str = "risk_limit_sample_docs_verbatim.json";
pub const ORIGIN_CACHE: &str = "risk_limit_tiers_BTCUSDT_LTCUSDT_cache_erzhan12_2026.json";

/// One scripted HTTP answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: impl Into<String>) -> Reply {
        Reply { status: 200, body: body.into(), delay: Duration::ZERO }
    }

    pub fn status(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, body: body.into(), delay: Duration::ZERO }
    }

    pub fn slow(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// An envelope `{"retCode":0,"retMsg":"OK","result":{...}}` around a result object.
pub fn envelope(list: &serde_json::Value, cursor: &str) -> String {
    serde_json::json!({
        "retCode": 0, "retMsg": "OK",
        "result": {"category": "linear", "list": list, "nextPageCursor": cursor},
        "retExtInfo": {}, "time": 1_700_000_000_000i64
    })
    .to_string()
}

type Handler = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// A one-thread-per-connection HTTP/1.1 server answering from a handler
/// `(path_and_query, request_index) -> Reply`; records every request target.
pub struct TestServer {
    pub base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, stop2) = (requests.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, r) = (handler.clone(), reqs.clone());
                std::thread::spawn(move || serve(conn, &*h, &r));
            }
        });
        TestServer {
            base_url: format!("http://{addr}"),
            requests,
            stop,
            addr,
            accept: Some(accept),
        }
    }

    /// Serves the same answers in order; the last one repeats.
    pub fn script(replies: Vec<Reply>) -> TestServer {
        TestServer::start(move |_, i| replies[i.min(replies.len() - 1)].clone())
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// A client against this server with fast retries.
    pub fn client(&self) -> BybitClient {
        BybitClient::new(fast_config(&self.base_url))
    }
}

/// A client configuration with a 2 s timeout and millisecond backoff.
pub fn fast_config(base_url: &str) -> RestConfig {
    RestConfig {
        base_url: base_url.to_string(),
        timeout: Duration::from_secs(2),
        max_retries: 3,
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        max_pages: 50,
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, handler: &Handler, requests: &Mutex<Vec<String>>) {
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
    let index = {
        let mut r = requests.lock().unwrap();
        r.push(target.clone());
        r.len() - 1
    };
    let reply = handler(&target, index);
    std::thread::sleep(reply.delay);
    let mut conn = conn;
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(reply.body.as_bytes());
    let _ = conn.flush();
}

/// Writes a file with the given mode.
pub fn write_mode(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Permission bits of a file.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}
