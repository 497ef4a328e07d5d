//! The report of the shipped example sweep in a real browser (headless Chromium, installed
//! by `.ci/run`): it renders with no console message and no network request, every chart
//! is in the DOM, and every chart's area of a screenshot holds drawn pixels.
//!
//! Chromium itself contacts a few Google service hosts at start-up whatever page it loads
//! (component updates, account and time checks; a blank page does the same). The test's
//! proxy records every connection; those hosts are listed and left out, any other request
//! fails the test, and a control page with one external image proves that a page's own
//! request is caught.

mod sweep_common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweep_common::tmpdir;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Hosts Chromium contacts on its own at start-up (seen with a blank page).
const BROWSER_SERVICE_HOSTS: &[&str] = &[
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "clients1.google.com",
    "optimizationguide-pa.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "content-autofill.googleapis.com",
    "redirector.gvt1.com",
];

/// A TCP listener on 127.0.0.1 that records the first line of every connection.
struct Recorder {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ls, st) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most 10 minutes, whatever happens.
            for _ in 0..60_000 {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                match l.accept() {
                    Ok((mut c, _)) => {
                        c.set_read_timeout(Some(Duration::from_millis(500))).ok();
                        let mut buf = [0u8; 512];
                        let n = c.read(&mut buf).unwrap_or(0);
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        ls.lock().unwrap().push(text.lines().next().unwrap_or("").to_string());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Recorder { port, lines, stop, thread: Some(thread) }
    }

    /// Stops listening (after a grace period for late connections); returns the lines.
    fn finish(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(500));
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.lines.lock().unwrap().clone()
    }
}

/// The host a proxied request line names (`GET http://h/p`, `CONNECT h:443`).
fn host_of(line: &str) -> String {
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let t = target.split("://").nth(1).unwrap_or(target);
    t.split(['/', ':']).next().unwrap_or("").to_string()
}

/// The page's own requests: every recorded one but Chromium's service hosts.
fn page_requests(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !BROWSER_SERVICE_HOSTS.contains(&host_of(l).as_str()))
        .cloned()
        .collect()
}

/// Runs Chromium on `url` with `extra` flags through the recording proxy; returns
/// (stdout, stderr, recorded request lines).
fn chromium(url: &str, extra: &[&str], dir: &Path) -> (String, String, Vec<String>) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test needs Chromium (`apt-get install -y chromium`, which \
         .ci/run does)"
    );
    let rec = Recorder::start();
    let profile = tempdir_in(dir);
    let proxy = format!("--proxy-server=127.0.0.1:{}", rec.port);
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--proxy-bypass-list=<-loopback>",
            &proxy,
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let lines = rec.finish();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        lines,
    )
}

fn tempdir_in(dir: &Path) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let p = dir.join(format!("profile-{}", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Console messages Chromium logged (`CONSOLE` lines) and CSP refusals.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Refused to")).collect()
}

/// An RGB(A) PNG: (width, height, bytes per pixel, pixels).
fn read_png(path: &Path) -> (usize, usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    assert!(bpp >= 3, "{:?}", info.color_type);
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, bpp, buf)
}

/// The figure frames (1-px border of colour #c9cacb): `(x0, y0, x1, y1)` from pairs of
/// horizontal border runs at least 250 px long with the same ends.
fn frames(w: usize, h: usize, bpp: usize, px: &[u8]) -> Vec<(usize, usize, usize, usize)> {
    let is_border = |x: usize, y: usize| {
        let i = (y * w + x) * bpp;
        px[i] == 0xc9 && px[i + 1] == 0xca && px[i + 2] == 0xcb
    };
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (y, x0, x1)
    for y in 0..h {
        let mut x = 0;
        while x < w {
            if is_border(x, y) {
                let x0 = x;
                while x < w && is_border(x, y) {
                    x += 1;
                }
                if x - x0 >= 250 {
                    runs.push((y, x0, x));
                }
            } else {
                x += 1;
            }
        }
    }
    let mut out = Vec::new();
    let mut open: Vec<(usize, usize, usize)> = Vec::new();
    for (y, x0, x1) in runs {
        if let Some(k) = open.iter().position(|o| o.1 == x0 && o.2 == x1) {
            let (y0, ..) = open.remove(k);
            out.push((x0, y0, x1, y));
        } else {
            open.push((y, x0, x1));
        }
    }
    out
}

#[test]
#[ignore = "needs chromium (installed by .ci/run)"]
fn the_example_report_renders_in_chromium_with_no_request_and_every_chart_drawn() {
    let dir = tmpdir("example");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let results = dir.join("example.parquet");
    let out = Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .current_dir(root)
        .args([
            "sweep",
            "sweeps/example.toml",
            "-o",
            results.to_str().unwrap(),
            "--report",
            "--top",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = dir.join("example.html");
    let text = std::fs::read_to_string(&html).unwrap();
    let expected = text.matches("<figure class=\"chart\"").count();
    // 3 axes: 6 heatmaps, 2 liquidation maps, 1 scatter, 3 × (equity, underwater).
    assert_eq!(expected, 15);
    let url = format!("file://{}", html.display());

    // The control: a page with one external image and one console message is caught.
    let control = dir.join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><body><p>control</p><img src=\"http://example.invalid/x.png\">\
         <script>console.error('control-message')</script></body></html>",
    )
    .unwrap();
    let (_, err, lines) = chromium(&format!("file://{}", control.display()), &["--dump-dom"], &dir);
    let own = page_requests(&lines);
    assert!(
        own.iter().any(|l| l.contains("example.invalid")),
        "control request not seen: {lines:?}"
    );
    assert!(console_lines(&err).iter().any(|l| l.contains("control-message")), "{err}");

    // The report's DOM: every chart rendered, no console message, no request.
    let (dom, err, lines) = chromium(&url, &["--dump-dom"], &dir);
    assert_eq!(dom.matches("<figure class=\"chart\"").count(), expected);
    assert_eq!(dom.matches("<svg").count(), expected);
    assert!(dom.matches("<rect").count() > 500, "heatmap cells and bars are in the DOM");
    assert!(console_lines(&err).is_empty(), "console: {:?}", console_lines(&err));
    assert!(page_requests(&lines).is_empty(), "the report made requests: {lines:?}");

    // A screenshot: every chart's frame is found and holds drawn (non-white) pixels.
    let shot = dir.join("example.png");
    let size = "--window-size=1400,5200";
    let (_, err, lines) =
        chromium(&url, &[size, &format!("--screenshot={}", shot.display())], &dir);
    assert!(console_lines(&err).is_empty(), "console: {:?}", console_lines(&err));
    assert!(page_requests(&lines).is_empty(), "the report made requests: {lines:?}");
    let (w, h, bpp, px) = read_png(&shot);
    let f = frames(w, h, bpp, &px);
    assert_eq!(f.len(), expected, "chart frames found in the screenshot: {f:?}");
    for (x0, y0, x1, y1) in f {
        let (mut drawn, mut coloured, mut all) = (0usize, 0usize, 0usize);
        for y in y0 + 1..y1 {
            for x in x0 + 1..x1 {
                let i = (y * w + x) * bpp;
                let (r, g, b) = (px[i], px[i + 1], px[i + 2]);
                all += 1;
                if (r, g, b) != (255, 255, 255) {
                    drawn += 1;
                }
                if r.abs_diff(g) > 40 || g.abs_diff(b) > 40 || r.abs_diff(b) > 40 {
                    coloured += 1;
                }
            }
        }
        assert!(all > 250 * 200, "frame ({x0},{y0})-({x1},{y1}) too small");
        assert!(drawn * 100 > all, "chart at ({x0},{y0}) is blank: {drawn} of {all}");
        assert!(coloured > 200, "chart at ({x0},{y0}) has no coloured mark: {coloured}");
    }
}
