//! [`RiskLimitProvider`](crate::tiers::provider::RiskLimitProvider): the layered fallback fresh cache → API → stale cache → built-in
//! (docs/tiers.md, "Where a table comes from").
//!
//! [`RiskLimitProvider::get`](crate::tiers::provider::RiskLimitProvider::get) never fails: every problem becomes a [`Note`](crate::tiers::note::Note) (logged and
//! returned) and the next layer is tried. Without a client the provider makes no network
//! call and warns once.

use std::sync::atomic::{AtomicBool, Ordering};

use super::cache::{CacheFile, CachedTiers};
use super::config::CacheConfig;
use super::error::TierError;
use super::note::Note;
use super::rest::BybitClient;
use super::snapshot::default_tiers;
use super::{Tier, TierTable};

/// Where a resolved table came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TierLayer {
    /// A cache entry younger than the TTL.
    FreshCache,
    /// Fetched from the Bybit API just now.
    Api,
    /// A cache entry used because the API was unavailable (it may be stale).
    StaleCache,
    /// A shipped, dated snapshot of the symbol's real Bybit table.
    Snapshot,
    /// The origin's hard-coded table for the symbol (BTCUSDT, ETHUSDT), by request
    /// (`tiers = "origin"`) or as the fallback for ETHUSDT.
    Origin,
    /// The origin's generic DEFAULT table: the symbol has no real table here.
    GenericDefault,
    /// A tier file named explicitly by the user ([`super::source::TierSource::ExplicitJson`]).
    ExplicitFile,
}

impl TierLayer {
    /// The layer's name as recorded in metadata (`fresh_cache`, `api`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TierLayer::FreshCache => "fresh_cache",
            TierLayer::Api => "api",
            TierLayer::StaleCache => "stale_cache",
            TierLayer::Snapshot => "snapshot",
            TierLayer::Origin => "origin",
            TierLayer::GenericDefault => "generic_default",
            TierLayer::ExplicitFile => "explicit_file",
        }
    }
}

impl std::fmt::Display for TierLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved table, the layer it came from, and what happened on the way.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The tier table.
    pub table: TierTable,
    /// Which layer supplied it.
    pub layer: TierLayer,
    /// The cache entry's `cached_at`, for cache layers.
    pub cached_at: Option<String>,
    /// Messages emitted while resolving (also sent to the `log` facade).
    pub notes: Vec<Note>,
}

/// The origin's `RiskLimitProvider`: cache file plus an optional Bybit client.
#[derive(Debug)]
pub struct RiskLimitProvider {
    cache: CacheFile,
    client: Option<BybitClient>,
    warned_no_client: AtomicBool,
}

const NO_CLIENT: &str = "No rest_client configured — calculations may use stale or hardcoded \
                         tier data. Provide a BybitRestClient for live data.";

impl RiskLimitProvider {
    /// Validates the cache location and builds the provider.
    ///
    /// # Errors
    /// The construction errors of [`CacheFile::new`].
    pub fn new(config: &CacheConfig, client: Option<BybitClient>) -> Result<Self, TierError> {
        Ok(RiskLimitProvider {
            cache: CacheFile::new(config)?,
            client,
            warned_no_client: AtomicBool::new(false),
        })
    }

    /// The cache file.
    pub fn cache(&self) -> &CacheFile {
        &self.cache
    }

    /// The Bybit client, if any.
    pub fn client(&self) -> Option<&BybitClient> {
        self.client.as_ref()
    }

    /// The table for `symbol` through the layered fallback, cache first.
    pub fn get(&self, symbol: &str) -> Resolved {
        self.get_with(symbol, false)
    }

    /// The table for `symbol`; `force_fetch` skips the fresh-cache layer.
    pub fn get_with(&self, symbol: &str, force_fetch: bool) -> Resolved {
        let mut notes = Vec::new();
        let mut read: Option<Option<CachedTiers>> = None;
        if !force_fetch {
            let entry = self.load_cache_entry(symbol, &mut notes);
            if let Some(e) = &entry {
                if self.cache.is_fresh(e) {
                    notes.push(Note::emit(
                        log::Level::Debug,
                        format!("Using cached risk limit tiers for {symbol}"),
                    ));
                    return resolved(
                        symbol,
                        e.tiers.clone(),
                        TierLayer::FreshCache,
                        e.cached_at.clone(),
                        notes,
                    );
                }
                notes.push(Note::emit(
                    log::Level::Debug,
                    format!("Risk limit cache stale for {symbol}, refreshing..."),
                ));
            }
            read = Some(entry);
        }
        if let Some(tiers) = self.fetch_from_bybit(symbol, &mut notes) {
            self.save_to_cache(symbol, &tiers, &mut notes);
            return resolved(symbol, tiers, TierLayer::Api, None, notes);
        }
        let entry = match read {
            Some(e) => e,
            None => self.load_cache_entry(symbol, &mut notes),
        };
        if let Some(e) = entry {
            let at = e.cached_at.as_deref().unwrap_or("None");
            notes.push(Note::emit(
                log::Level::Warn,
                format!(
                    "API unavailable for {symbol}, using potentially stale cached risk limits \
                     (cached_at={at}). Margin calculations may be inaccurate."
                ),
            ));
            return resolved(symbol, e.tiers, TierLayer::StaleCache, e.cached_at, notes);
        }
        // The last layer: the shipped snapshot, else the origin's tables (warned).
        let (table, layer, warning) = default_tiers(symbol);
        let message = match warning {
            None => format!(
                "No cached or fetched risk limits for {symbol}; using the shipped Bybit \
                 snapshot. Run `gridsweep tiers refresh {symbol}` for the current table."
            ),
            Some(w) => format!("No cached or fetched risk limits for {symbol}. {w}"),
        };
        notes.push(Note::emit(log::Level::Warn, message));
        Resolved { table, layer, cached_at: None, notes }
    }

    /// Fetches from Bybit (`fetch_from_bybit`); `None` with a warning on any failure.
    pub fn fetch_from_bybit(&self, symbol: &str, notes: &mut Vec<Note>) -> Option<Vec<Tier>> {
        let Some(client) = &self.client else {
            if !self.warned_no_client.swap(true, Ordering::Relaxed) {
                notes.push(Note::emit(log::Level::Warn, NO_CLIENT.to_string()));
            }
            return None;
        };
        let warn = |notes: &mut Vec<Note>, m: String| notes.push(Note::emit(log::Level::Warn, m));
        match client.get_risk_limit(symbol) {
            Ok(tiers) => {
                notes.push(Note::emit(
                    log::Level::Info,
                    format!("Fetched {} risk limit tiers for {symbol}", tiers.len()),
                ));
                Some(tiers)
            }
            Err(e @ TierError::NoTiers(_)) => {
                warn(notes, e.to_string());
                None
            }
            Err(e) if e.is_network() => {
                warn(notes, format!("Network error fetching risk limit tiers for {symbol}: {e}"));
                None
            }
            Err(e) if e.is_validation() => {
                warn(
                    notes,
                    format!("Data validation error parsing risk limit tiers for {symbol}: {e}"),
                );
                None
            }
            Err(e) => {
                warn(notes, format!("Error fetching risk limit tiers for {symbol}: {e}"));
                None
            }
        }
    }

    /// Saves to the cache (`save_to_cache`); a failure is a warning, never an error.
    pub fn save_to_cache(&self, symbol: &str, tiers: &[Tier], notes: &mut Vec<Note>) {
        match self.cache.save(symbol, tiers) {
            Ok(outcome) => notes.extend(outcome.notes),
            Err(e) => notes.push(Note::emit(
                log::Level::Warn,
                format!("Failed to write cache file {}: {e}", self.cache.path().display()),
            )),
        }
    }

    /// Reads the symbol's cache entry (`_load_cache_entry`); `None` with a warning on error.
    fn load_cache_entry(&self, symbol: &str, notes: &mut Vec<Note>) -> Option<CachedTiers> {
        let err = match self.cache.read_entry(symbol) {
            Ok(entry) => return entry,
            Err(e) => e,
        };
        let message = match &err {
            TierError::Io { .. } => {
                format!("Cache file is a symlink or inaccessible (possible symlink swap): {err}")
            }
            TierError::CacheRootNotObject(_) => format!("Invalid cache data for {symbol}: {err}"),
            TierError::SizeExceeded { .. } => format!(
                "{err}; the cache is ignored until it fits. Raise the limit with \
                 GRIDBOT_RISK_CACHE_MAX_SIZE=<bytes> (at most 100000000), or delete the file \
                 and run `gridsweep tiers refresh` with only the symbols you need"
            ),
            e if e.is_validation() => format!("Invalid cache data for {symbol}: {err}"),
            _ => err.to_string(),
        };
        notes.push(Note::emit(log::Level::Warn, message));
        None
    }
}

fn resolved(
    symbol: &str,
    tiers: Vec<Tier>,
    layer: TierLayer,
    cached_at: Option<String>,
    notes: Vec<Note>,
) -> Resolved {
    Resolved { table: TierTable::from_sorted(symbol, tiers), layer, cached_at, notes }
}
