//! Blocking Bybit market-data client: one GET with a client-side rate limiter, a timeout per
//! request, and retries with exponential backoff.
//!
//! Retried: HTTP 403 (Bybit's IP rate-limit ban), 429, 5xx, `retCode` 10006 (too many
//! visits) and 10016 (server error), timeouts and transport errors. Before a retry after a
//! rate-limit answer the client waits until `X-Bapi-Limit-Reset-Timestamp` (epoch ms) when
//! the header is there and parseable, capped at the backoff maximum, else the exponential
//! backoff; a missing header is normal (pybit issue #340 crashed on it). Other non-zero
//! `retCode`s fail at once with their `retMsg`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::envelope::Envelope;

use super::FetchError;
use crate::tiers::rest::RestConfig;

/// Largest response body read, in bytes (a 1000-candle page is about 80 KB).
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Bybit's published market-data limit: 600 requests per 5 s per IP.
pub const BYBIT_LIMIT_PER_5S: u32 = 600;
/// Default client-side ceiling, requests per second (a sixth below Bybit's 120/s).
pub const DEFAULT_MAX_RPS: f64 = 100.0;

/// Where and how patiently the client talks to Bybit.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchConfig {
    /// Base URL, timeout, retries and backoff (the tier client's settings).
    pub rest: RestConfig,
    /// Requests started per second at most (client-side limiter); `0` or less: no limit.
    pub max_rps: f64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig { rest: RestConfig::default(), max_rps: DEFAULT_MAX_RPS }
    }
}

/// Blocking client for Bybit's public `/v5/market/*` endpoints.
#[derive(Debug)]
pub struct MarketClient {
    config: FetchConfig,
    agent: ureq::Agent,
    next_slot: Mutex<Option<Instant>>,
    requests: std::sync::atomic::AtomicU64,
    cancel: Option<Arc<AtomicBool>>,
}

enum Failure {
    Retry(FetchError, Option<Duration>),
    Fatal(FetchError),
}

impl MarketClient {
    /// Builds a client (no traffic until a request).
    pub fn new(config: FetchConfig) -> MarketClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.rest.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("gridsweep/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        MarketClient {
            config,
            agent,
            next_slot: Mutex::new(None),
            requests: std::sync::atomic::AtomicU64::new(0),
            cancel: None,
        }
    }

    /// A flag that, once set (Ctrl-C), cuts retry waits short: the request then fails with
    /// its last error instead of being retried.
    pub fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst))
    }

    /// Sleeps `d` in short slices; false when cancelled meanwhile.
    fn sleep_unless_cancelled(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.cancelled() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `base_url + path`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.rest.base_url.trim_end_matches('/'))
    }

    /// `GET path?query` with retries; returns the envelope's `result` object.
    ///
    /// # Errors
    /// The last attempt's error: [`FetchError::Timeout`], [`FetchError::Network`],
    /// [`FetchError::HttpStatus`], [`FetchError::Api`] or [`FetchError::Malformed`].
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, FetchError> {
        let mut attempt = 0;
        loop {
            self.wait_for_slot();
            match self.try_get(path, query) {
                Ok(v) => return Ok(v),
                Err(Failure::Retry(e, reset)) if attempt < self.config.rest.max_retries => {
                    let backoff = self.config.rest.backoff(attempt);
                    let delay = reset.map_or(backoff, |r| r.min(self.config.rest.backoff_max));
                    log::warn!(
                        target: "gridsweep::fetch",
                        "{e}; retrying in {delay:?} (attempt {}/{})",
                        attempt + 2,
                        self.config.rest.max_retries + 1
                    );
                    if !self.sleep_unless_cancelled(delay) {
                        return Err(e);
                    }
                    attempt += 1;
                }
                Err(Failure::Retry(e, _) | Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    /// Sleeps until the limiter's next slot (requests are spaced `1 / max_rps` apart).
    fn wait_for_slot(&self) {
        if !(self.config.max_rps > 0.0 && self.config.max_rps.is_finite()) {
            return;
        }
        let gap = Duration::from_secs_f64(1.0 / self.config.max_rps);
        let wait = {
            let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + gap);
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn try_get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let endpoint = self.endpoint(path);
        let shown = format!(
            "{endpoint}?{}",
            query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        );
        let mut req = self.agent.get(&endpoint);
        for (k, v) in query {
            req = req.query(*k, v);
        }
        let transport = |e: ureq::Error| match e {
            ureq::Error::Timeout(_) => Failure::Retry(
                FetchError::Timeout { url: shown.clone(), timeout: self.config.rest.timeout },
                None,
            ),
            other => Failure::Retry(
                FetchError::Network { url: shown.clone(), message: other.to_string() },
                None,
            ),
        };
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut resp = req.call().map_err(transport)?;
        let status = resp.status().as_u16();
        let reset = resp
            .headers()
            .get("X-Bapi-Limit-Reset-Timestamp")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|ms| {
                let now = crate::bybit::now_ms();
                Duration::from_millis(u64::try_from(ms.saturating_sub(now)).unwrap_or(0))
            });
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(transport)?;
        if !(200..300).contains(&status) {
            let err = FetchError::HttpStatus {
                url: shown,
                status,
                body: body.chars().take(200).collect(),
            };
            return Err(if status >= 500 || status == 403 || status == 429 {
                Failure::Retry(err, reset)
            } else {
                Failure::Fatal(err)
            });
        }
        match super::envelope::read(&body) {
            Envelope::Ok(result) => Ok(result),
            Envelope::Api { code, msg, retry } => {
                let err = FetchError::Api { url: shown, code, msg };
                Err(if retry { Failure::Retry(err, reset) } else { Failure::Fatal(err) })
            }
            Envelope::Malformed(reason) => {
                Err(Failure::Fatal(FetchError::Malformed { url: shown, reason }))
            }
        }
    }
}
