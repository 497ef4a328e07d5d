//! A whole fetch into one file, resumable.
//!
//! The range is split into aligned request windows (klines: 1000 minutes, funding: 200
//! hours, see [`super::windows`]). Each window's validated rows are written durably to
//! `<out>.fetch/<start_ms>-<end_ms>.json` before the next request; `<out>.fetch/manifest.json`
//! records the command (dataset, symbol, window, base URL) and the time of the first run.
//! A rerun of the same command reads the saved windows (validating them again; a damaged
//! one is fetched again) and requests only the missing ones, so an interrupted fetch ends
//! with the same bytes as an uninterrupted one; a rerun of another command into the same
//! `--out` is refused. When the final file is durably in place the directory is removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::klines::{self, Candle, PriceKind, KLINE_WINDOW_MS};
use super::{funding, windows, FetchError, MarketClient, Window};
use crate::candles::parquet_io::{write_parquet_with, WriteMeta};
use crate::candles::validate::{check_row, find_gaps, GapReport, MINUTE_MS};
use crate::candles::{Candles, Columns};
use crate::funding::{write_funding_parquet, FundingSeries};
use crate::time::format_iso;

/// What is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// 1-minute candles of the given price.
    Klines(PriceKind),
    /// Funding history.
    Funding,
}

impl Dataset {
    /// `klines-last`, `klines-mark` or `funding`.
    pub fn name(self) -> String {
        match self {
            Dataset::Klines(k) => format!("klines-{}", k.name()),
            Dataset::Funding => "funding".into(),
        }
    }

    /// The endpoint path.
    pub fn path(self) -> &'static str {
        match self {
            Dataset::Klines(k) => k.path(),
            Dataset::Funding => funding::FUNDING_PATH,
        }
    }

    fn window_ms(self) -> i64 {
        match self {
            Dataset::Klines(_) => KLINE_WINDOW_MS,
            Dataset::Funding => funding::FUNDING_WINDOW_MS,
        }
    }
}

/// One fetch command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchJob {
    /// What.
    pub dataset: Dataset,
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Window start, epoch ms (inclusive).
    pub start_ms: i64,
    /// Window end, epoch ms (exclusive).
    pub end_ms: i64,
    /// The file to write.
    pub out: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    dataset: String,
    symbol: String,
    start_ms: i64,
    end_ms: i64,
    base_url: String,
    fetched_at_ms: i64,
}

impl Manifest {
    fn describe(&self) -> String {
        format!(
            "{} {} {} .. {} from {}",
            self.dataset,
            self.symbol,
            format_iso(self.start_ms),
            format_iso(self.end_ms),
            self.base_url
        )
    }

    fn same_command(&self, o: &Manifest) -> bool {
        (self.version, &self.dataset, &self.symbol, self.start_ms, self.end_ms, &self.base_url)
            == (o.version, &o.dataset, &o.symbol, o.start_ms, o.end_ms, &o.base_url)
    }
}

/// A saved window. Numbers are kept as text written by Rust's shortest round-trip
/// formatting and read back with `str::parse` (exact), not as JSON floats (serde_json's
/// default float parsing may be off by one unit in the last place).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PageFile {
    window: [i64; 2],
    #[serde(default)]
    dropped_open: usize,
    /// `[ts_ms, open, high, low, close, volume]`.
    #[serde(default)]
    candles: Vec<[String; 6]>,
    /// `[ts_ms, rate]`.
    #[serde(default)]
    events: Vec<[String; 2]>,
}

fn num_i(s: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("{s:?} is not an integer"))
}

fn num_f(s: &str) -> Result<f64, String> {
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}

impl PageFile {
    fn candles(&self) -> Result<Vec<Candle>, String> {
        self.candles
            .iter()
            .map(|c| {
                Ok((
                    num_i(&c[0])?,
                    num_f(&c[1])?,
                    num_f(&c[2])?,
                    num_f(&c[3])?,
                    num_f(&c[4])?,
                    num_f(&c[5])?,
                ))
            })
            .collect()
    }

    fn events(&self) -> Result<Vec<(i64, f64)>, String> {
        self.events.iter().map(|e| Ok((num_i(&e[0])?, num_f(&e[1])?))).collect()
    }
}

/// Progress callbacks of [`run`].
pub trait Observer {
    /// Before the first request: windows in all and how many were already saved.
    fn begin(&mut self, _total: usize, _resumed: usize) {}
    /// After each window is saved.
    fn window_done(&mut self, _done: usize, _total: usize) {}
    /// A note for the user (a damaged saved window fetched again, windows in the future).
    fn note(&mut self, _message: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// What a finished fetch did.
#[derive(Clone, Debug)]
pub struct FetchReport {
    /// Request windows of the range (those not starting in the future).
    pub windows: usize,
    /// Windows fetched by this run.
    pub fetched: usize,
    /// Windows read back from an earlier, interrupted run.
    pub resumed: usize,
    /// Rows (candles or funding events) written.
    pub rows: usize,
    /// Candles dropped because they were still open.
    pub dropped_open: usize,
    /// Missing candles, window edges included (klines only).
    pub gaps: Option<GapReport>,
    /// First and last row time.
    pub span: (i64, i64),
    /// Bytes of the written file.
    pub bytes: u64,
    /// The `fetched_at` recorded (the first run's start).
    pub fetched_at_ms: i64,
    /// HTTP requests of this run (retries and inner pages included).
    pub requests: u64,
}

/// `<out>.fetch`: the resume directory of `out`.
pub fn resume_dir(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".fetch");
    PathBuf::from(s)
}

/// The name of a window's page file.
pub fn page_name(w: Window) -> String {
    format!("{}-{}.json", w.start_ms, w.end_ms)
}

/// Runs `job`: fetches every missing window, then writes the file and removes the resume
/// directory. `now_ms` is the wall clock (open candles, the future); `cancel` is checked
/// between requests.
///
/// # Errors
/// [`FetchError::BadWindow`], [`FetchError::OtherJob`], [`FetchError::Interrupted`], the
/// client's and the pages' errors, [`FetchError::NoData`] when nothing came back, I/O
/// errors and [`FetchError::Output`].
pub fn run(
    client: &MarketClient,
    job: &FetchJob,
    now_ms: i64,
    cancel: &AtomicBool,
    obs: &mut dyn Observer,
) -> Result<FetchReport, FetchError> {
    super::check_window(job.start_ms, job.end_ms, now_ms)?;
    let requests_before = client.requests_sent();
    let dir = resume_dir(&job.out);
    let wanted = Manifest {
        version: 1,
        dataset: job.dataset.name(),
        symbol: job.symbol.clone(),
        start_ms: job.start_ms,
        end_ms: job.end_ms,
        base_url: client.config().rest.base_url.trim_end_matches('/').to_string(),
        fetched_at_ms: now_ms,
    };
    let manifest = open_dir(&dir, &wanted)?;
    let all = windows(job.start_ms, job.end_ms, job.dataset.window_ms());
    let ws: Vec<Window> = all.iter().copied().filter(|w| w.start_ms < now_ms).collect();
    if ws.len() < all.len() {
        obs.note(&format!(
            "{} window(s) after now ({} UTC) are skipped: nothing exists there yet",
            all.len() - ws.len(),
            format_iso(now_ms)
        ));
    }
    let mut pages: Vec<Option<PageFile>> = Vec::with_capacity(ws.len());
    for &w in &ws {
        pages.push(read_page(&dir, w, job.dataset, obs));
    }
    let resumed = pages.iter().filter(|p| p.is_some()).count();
    obs.begin(ws.len(), resumed);
    let result = fetch_missing(client, job, now_ms, cancel, obs, &dir, &ws, &mut pages, resumed);
    if result.is_err() && pages.iter().all(Option::is_none) {
        // Nothing saved (e.g. an unknown symbol at the first request): nothing to resume.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let fetched = result?;
    let pages: Vec<PageFile> = pages.into_iter().flatten().collect();
    let meta = provenance(job, &manifest);
    let report = match job.dataset {
        Dataset::Klines(_) => write_klines(job, &pages, now_ms, &meta)?,
        Dataset::Funding => write_funding(job, &pages, &meta)?,
    };
    let (rows, dropped_open, gaps, span) = report;
    let bytes = std::fs::metadata(&job.out).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_dir_all(&dir).map_err(|e| FetchError::io("cannot remove", &dir, e))?;
    let _ = crate::durable::sync_parent_dir(&dir);
    Ok(FetchReport {
        windows: ws.len(),
        fetched,
        resumed,
        rows,
        dropped_open,
        gaps,
        span,
        bytes,
        fetched_at_ms: manifest.fetched_at_ms,
        requests: client.requests_sent() - requests_before,
    })
}

/// Fetches and saves every window not in `pages`; returns how many were fetched.
#[allow(clippy::too_many_arguments)]
fn fetch_missing(
    client: &MarketClient,
    job: &FetchJob,
    now_ms: i64,
    cancel: &AtomicBool,
    obs: &mut dyn Observer,
    dir: &Path,
    ws: &[Window],
    pages: &mut [Option<PageFile>],
    resumed: usize,
) -> Result<usize, FetchError> {
    let mut done = resumed;
    let mut fetched = 0;
    for (k, &w) in ws.iter().enumerate() {
        if pages[k].is_some() {
            continue;
        }
        if cancel.load(Ordering::SeqCst) {
            return Err(FetchError::Interrupted { saved: done, total: ws.len(), dir: dir.into() });
        }
        let interrupted =
            || FetchError::Interrupted { saved: done, total: ws.len(), dir: dir.into() };
        let page = match job.dataset {
            Dataset::Klines(kind) => {
                let p = klines::fetch_window(client, &job.symbol, kind, w, now_ms)
                    .map_err(|e| if cancel.load(Ordering::SeqCst) { interrupted() } else { e })?;
                PageFile {
                    window: [w.start_ms, w.end_ms],
                    dropped_open: p.dropped_open,
                    candles: p.candles.iter().map(|c| to_row(*c)).collect(),
                    events: Vec::new(),
                }
            }
            Dataset::Funding => PageFile {
                window: [w.start_ms, w.end_ms],
                dropped_open: 0,
                candles: Vec::new(),
                events: funding::fetch_window(client, &job.symbol, w)
                    .map_err(|e| if cancel.load(Ordering::SeqCst) { interrupted() } else { e })?
                    .iter()
                    .map(|e| [e.0.to_string(), e.1.to_string()])
                    .collect(),
            },
        };
        write_json(&dir.join(page_name(w)), &page)?;
        pages[k] = Some(page);
        done += 1;
        fetched += 1;
        obs.window_done(done, ws.len());
    }
    Ok(fetched)
}

fn to_row(c: Candle) -> [String; 6] {
    [
        c.0.to_string(),
        c.1.to_string(),
        c.2.to_string(),
        c.3.to_string(),
        c.4.to_string(),
        c.5.to_string(),
    ]
}

/// Creates the resume directory with `wanted` as its manifest, or checks the manifest that
/// is there; returns the manifest in force (an earlier run's `fetched_at_ms` is kept).
fn open_dir(dir: &Path, wanted: &Manifest) -> Result<Manifest, FetchError> {
    let mpath = dir.join("manifest.json");
    if dir.exists() && !dir.is_dir() {
        return Err(FetchError::Output(format!(
            "{} is a file, but gridsweep keeps the pages of an unfinished fetch there; move it away",
            dir.display()
        )));
    }
    if let Ok(text) = std::fs::read_to_string(&mpath) {
        let found: Manifest = serde_json::from_str(&text).map_err(|e| {
            FetchError::Output(format!(
                "{} is damaged ({e}); delete {} to start the fetch over",
                mpath.display(),
                dir.display()
            ))
        })?;
        if !found.same_command(wanted) {
            return Err(FetchError::OtherJob {
                dir: dir.to_path_buf(),
                found: found.describe(),
                wanted: wanted.describe(),
            });
        }
        return Ok(found);
    }
    std::fs::create_dir_all(dir).map_err(|e| FetchError::io("cannot create", dir, e))?;
    write_json(&mpath, wanted)?;
    Ok(wanted.clone())
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), FetchError> {
    let bytes = serde_json::to_vec(v).map_err(|e| FetchError::Output(e.to_string()))?;
    crate::durable::replace_file(path, &crate::durable::temp_beside(path), &bytes)
        .map_err(|(what, e)| FetchError::io(what, path, e))
}

/// A saved window, validated again; `None` when absent or damaged (then fetched again).
fn read_page(dir: &Path, w: Window, dataset: Dataset, obs: &mut dyn Observer) -> Option<PageFile> {
    let path = dir.join(page_name(w));
    let text = std::fs::read_to_string(&path).ok()?;
    let check = || -> Result<PageFile, String> {
        let p: PageFile = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if p.window != [w.start_ms, w.end_ms] {
            return Err(format!("it holds window {:?}", p.window));
        }
        let mut prev = i64::MIN;
        match dataset {
            Dataset::Klines(_) => {
                for c in p.candles()? {
                    let ts = c.0;
                    if ts < w.start_ms || ts >= w.end_ms || ts % MINUTE_MS != 0 || ts <= prev {
                        return Err(format!("bad candle time {ts}"));
                    }
                    check_row(c.1, c.2, c.3, c.4, c.5).map_err(|e| e.to_string())?;
                    prev = ts;
                }
            }
            Dataset::Funding => {
                for (ts, rate) in p.events()? {
                    if ts < w.start_ms
                        || ts >= w.end_ms
                        || ts <= prev
                        || !rate.is_finite()
                        || rate.abs() >= 1.0
                    {
                        return Err(format!("bad event ({ts}, {rate})"));
                    }
                    prev = ts;
                }
            }
        }
        Ok(p)
    };
    match check() {
        Ok(p) => Some(p),
        Err(why) => {
            obs.note(&format!(
                "saved window {} is damaged ({why}); fetching it again",
                path.display()
            ));
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

fn provenance(job: &FetchJob, m: &Manifest) -> Vec<(String, String)> {
    let mut kv = vec![
        ("gridsweep.endpoint".to_string(), job.dataset.path().to_string()),
        ("gridsweep.base_url".to_string(), m.base_url.clone()),
        ("gridsweep.window_start_ms".to_string(), m.start_ms.to_string()),
        ("gridsweep.window_end_ms".to_string(), m.end_ms.to_string()),
        ("gridsweep.fetched_at".to_string(), format!("{}Z", format_iso(m.fetched_at_ms))),
    ];
    if let Dataset::Klines(k) = job.dataset {
        kv.push((crate::candles::parquet_io::META_PRICE.to_string(), k.name().to_string()));
        kv.push(("gridsweep.interval".to_string(), "1m".to_string()));
    }
    kv
}

type Written = (usize, usize, Option<GapReport>, (i64, i64));

fn no_data(job: &FetchJob, what: &str) -> FetchError {
    let _ = std::fs::remove_dir_all(resume_dir(&job.out));
    FetchError::NoData(format!(
        "Bybit returned no {what} of {} between {} and {} UTC: check the symbol, and that it \
         was listed then",
        job.symbol,
        format_iso(job.start_ms),
        format_iso(job.end_ms)
    ))
}

fn write_klines(
    job: &FetchJob,
    pages: &[PageFile],
    now_ms: i64,
    meta: &[(String, String)],
) -> Result<Written, FetchError> {
    let n: usize = pages.iter().map(|p| p.candles.len()).sum();
    let dropped: usize = pages.iter().map(|p| p.dropped_open).sum();
    if n == 0 {
        return Err(no_data(job, "candles"));
    }
    let mut cols = Columns::with_capacity(n);
    for p in pages {
        for c in p.candles().map_err(FetchError::Output)? {
            cols.push(c.0, c.1, c.2, c.3, c.4, c.5);
        }
    }
    let candles = Candles::try_new(cols, Some(job.symbol.clone()), &job.out)
        .map_err(|e| FetchError::Output(e.to_string()))?;
    // Gaps, window edges included: sentinels one minute before the start and at the end
    // (the end of the last closed minute when the window reaches past now).
    let last_closed_end = (now_ms.div_euclid(MINUTE_MS)) * MINUTE_MS;
    let end_eff = job.end_ms.min(last_closed_end);
    let mut ts = Vec::with_capacity(n + 2);
    ts.push(job.start_ms - MINUTE_MS);
    ts.extend_from_slice(candles.ts_ms());
    ts.push(end_eff.max(*candles.ts_ms().last().unwrap_or(&0) + MINUTE_MS));
    let gaps = find_gaps(&ts, MINUTE_MS);
    let wm = WriteMeta { symbol: Some(job.symbol.clone()), source: "bybit".into(), zstd: false };
    write_parquet_with(&job.out, &candles, &wm, meta)
        .map_err(|e| FetchError::Output(e.to_string()))?;
    let span = (candles.first_ts_ms().unwrap_or(0), candles.last_ts_ms().unwrap_or(0));
    Ok((n, dropped, Some(gaps), span))
}

fn write_funding(
    job: &FetchJob,
    pages: &[PageFile],
    meta: &[(String, String)],
) -> Result<Written, FetchError> {
    let mut events: Vec<(i64, f64)> = Vec::new();
    for p in pages {
        events.extend(p.events().map_err(FetchError::Output)?);
    }
    if events.is_empty() {
        return Err(no_data(job, "funding events"));
    }
    let series = FundingSeries { events, source: "bybit".into() };
    let mut kv = vec![("gridsweep.symbol".to_string(), job.symbol.clone())];
    kv.extend_from_slice(meta);
    write_funding_parquet(&job.out, &series, &kv).map_err(|e| FetchError::Output(e.to_string()))?;
    let span = series.span().unwrap_or((0, 0));
    Ok((series.events.len(), 0, None, span))
}
