//! Blocking Bybit REST client for `GET /v5/market/risk-limit` (docs/tiers.md, "Configuration").
//!
//! `GET {base}/v5/market/risk-limit?category=linear[&symbol=S][&cursor=C]`, following
//! `nextPageCursor` until it is empty (also for one symbol: the docs do not promise a
//! symbol fits one page). HTTP 5xx/403/429 and `retCode` 10006/10016 are retried with
//! exponential backoff; other non-zero `retCode`s fail with their `retMsg`. Every tier
//! list goes through [`parse_risk_limit_tiers`](crate::tiers::parse::parse_risk_limit_tiers).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::bybit::envelope::Envelope;

use super::error::TierError;
use super::parse::parse_risk_limit_tiers;
use super::Tier;

/// Bybit mainnet REST base URL.
pub const MAINNET: &str = "https://api.bybit.com";
/// Bybit testnet REST base URL.
pub const TESTNET: &str = "https://api-testnet.bybit.com";
/// Path of the risk-limit endpoint.
pub const RISK_LIMIT_PATH: &str = "/v5/market/risk-limit";
/// Largest response body read, in bytes.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Where and how patiently the client talks to Bybit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestConfig {
    /// Base URL without the path (mainnet, testnet or a test server).
    pub base_url: String,
    /// Limit for one HTTP exchange, body included.
    pub timeout: Duration,
    /// Extra attempts after the first for retryable answers.
    pub max_retries: u32,
    /// Delay before the first retry; doubled each time.
    pub backoff_initial: Duration,
    /// Upper bound of one delay.
    pub backoff_max: Duration,
    /// Most pages followed before giving up (guards a cursor that never ends).
    pub max_pages: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            base_url: MAINNET.to_string(),
            timeout: Duration::from_secs(10),
            max_retries: 4,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_pages: 200,
        }
    }
}

impl RestConfig {
    /// The default configuration against another base URL.
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        RestConfig { base_url: base_url.into(), ..RestConfig::default() }
    }

    /// The delay before retry number `attempt` (0-based): `initial × 2^attempt`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX);
        self.backoff_initial.saturating_mul(factor).min(self.backoff_max)
    }
}

/// One page of `result.list` items and the cursor of the next page (`""` = last).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The tier objects of this page, as sent.
    pub items: Vec<Value>,
    /// `nextPageCursor`, empty on the last page.
    pub next_cursor: String,
}

/// Blocking client for the risk-limit endpoint.
#[derive(Clone, Debug)]
pub struct BybitClient {
    config: RestConfig,
    agent: ureq::Agent,
}

enum Failure {
    Retry(TierError),
    Fatal(TierError),
}

impl BybitClient {
    /// Builds a client (no network traffic until a fetch).
    pub fn new(config: RestConfig) -> BybitClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("gridsweep/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        BybitClient { config, agent }
    }

    /// The configuration in use.
    pub fn config(&self) -> &RestConfig {
        &self.config
    }

    /// Fetches and validates one symbol's tiers, following every page.
    ///
    /// # Errors
    /// Transport, HTTP, `retCode` or envelope errors after retries;
    /// [`TierError::NoTiers`] for an empty list; the validation errors of docs/tiers.md
    /// ("Parsing Bybit's tiers").
    pub fn get_risk_limit(&self, symbol: &str) -> Result<Vec<Tier>, TierError> {
        let items: Vec<Value> = self
            .fetch_items(Some(symbol))?
            .into_iter()
            .filter(|it| it.get("symbol").and_then(Value::as_str).is_none_or(|s| s == symbol))
            .collect();
        if items.is_empty() {
            return Err(TierError::NoTiers(symbol.to_string()));
        }
        parse_risk_limit_tiers(&Value::Array(items))
    }

    /// Fetches every linear symbol's tiers (15 symbols a page), grouped by `symbol`; each
    /// symbol is validated on its own so one bad table does not hide the others.
    ///
    /// # Errors
    /// Transport, HTTP, `retCode` or envelope errors, or an item without `symbol`.
    pub fn get_all_risk_limits(
        &self,
    ) -> Result<BTreeMap<String, Result<Vec<Tier>, TierError>>, TierError> {
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for item in self.fetch_items(None)? {
            let Some(symbol) = item.get("symbol").and_then(Value::as_str) else {
                return Err(TierError::Malformed {
                    url: self.endpoint(),
                    reason: "a tier of the all-symbols list has no \"symbol\"".into(),
                });
            };
            groups.entry(symbol.to_string()).or_default().push(item);
        }
        Ok(groups
            .into_iter()
            .map(|(s, items)| (s, parse_risk_limit_tiers(&Value::Array(items))))
            .collect())
    }

    /// All `result.list` items across pages, for one symbol or all.
    ///
    /// # Errors
    /// As [`BybitClient::get_page`]; also a repeated cursor or more than `max_pages` pages.
    pub fn fetch_items(&self, symbol: Option<&str>) -> Result<Vec<Value>, TierError> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..self.config.max_pages {
            let page = self.get_page(symbol, &cursor)?;
            items.extend(page.items);
            if page.next_cursor.is_empty() {
                return Ok(items);
            }
            if !seen.insert(page.next_cursor.clone()) {
                return Err(TierError::Malformed {
                    url: self.endpoint(),
                    reason: format!("nextPageCursor {:?} repeated", page.next_cursor),
                });
            }
            cursor = page.next_cursor;
        }
        Err(TierError::Malformed {
            url: self.endpoint(),
            reason: format!("more than {} pages", self.config.max_pages),
        })
    }

    /// One page, with retries on rate limits and server errors.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn get_page(&self, symbol: Option<&str>, cursor: &str) -> Result<Page, TierError> {
        let mut attempt = 0;
        loop {
            match self.try_page(symbol, cursor) {
                Ok(page) => return Ok(page),
                Err(Failure::Retry(e)) if attempt < self.config.max_retries => {
                    let delay = self.config.backoff(attempt);
                    log::warn!(
                        target: "gridsweep::tiers",
                        "{e}; retrying in {delay:?} (attempt {}/{})",
                        attempt + 2,
                        self.config.max_retries + 1
                    );
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                Err(Failure::Retry(e) | Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    fn endpoint(&self) -> String {
        format!("{}{RISK_LIMIT_PATH}", self.config.base_url.trim_end_matches('/'))
    }

    fn try_page(&self, symbol: Option<&str>, cursor: &str) -> Result<Page, Failure> {
        let endpoint = self.endpoint();
        let mut shown = format!("{endpoint}?category=linear");
        let mut req = self.agent.get(&endpoint).query("category", "linear");
        if let Some(s) = symbol {
            req = req.query("symbol", s);
            shown.push_str(&format!("&symbol={s}"));
        }
        if !cursor.is_empty() {
            req = req.query("cursor", cursor);
            shown.push_str(&format!("&cursor={cursor}"));
        }
        let transport = |e: ureq::Error, url: &str| match e {
            ureq::Error::Timeout(_) => Failure::Fatal(TierError::Timeout {
                url: url.to_string(),
                timeout: self.config.timeout,
            }),
            other => Failure::Fatal(TierError::Network {
                url: url.to_string(),
                message: other.to_string(),
            }),
        };
        let mut resp = req.call().map_err(|e| transport(e, &shown))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| transport(e, &shown))?;
        if !(200..300).contains(&status) {
            let err = TierError::HttpStatus {
                url: shown,
                status,
                body: body.chars().take(200).collect(),
            };
            return Err(if status >= 500 || status == 403 || status == 429 {
                Failure::Retry(err)
            } else {
                Failure::Fatal(err)
            });
        }
        parse_envelope(&body, &shown)
    }
}

/// Reads the Bybit envelope: `retCode`, `retMsg`, `result.list`, `result.nextPageCursor`.
fn parse_envelope(body: &str, url: &str) -> Result<Page, Failure> {
    let malformed =
        |reason: String| Failure::Fatal(TierError::Malformed { url: url.to_string(), reason });
    let result = match crate::bybit::envelope::read(body) {
        Envelope::Ok(result) => result,
        Envelope::Api { code, msg, retry } => {
            let err = TierError::Api { url: url.to_string(), code, msg };
            return Err(if retry { Failure::Retry(err) } else { Failure::Fatal(err) });
        }
        Envelope::Malformed(reason) => return Err(malformed(reason)),
    };
    let items = result
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("result.list is missing or not an array".into()))?
        .clone();
    let next_cursor =
        result.get("nextPageCursor").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Page { items, next_cursor })
}
