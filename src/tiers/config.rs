//! Cache configuration: default path and allowed root, TTL, and the size limit with its
//! `GRIDBOT_RISK_CACHE_MAX_SIZE` override (docs/tiers.md, "Configuration").

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Default cache file, relative to the current directory.
pub const DEFAULT_CACHE_PATH: &str = "conf/risk_limits_cache.json";
/// Default allowed root for the cache file, relative to the current directory.
pub const DEFAULT_ALLOWED_ROOT: &str = "conf";
/// Default freshness of a cache entry: 24 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
/// Default size limit of the cache file in bytes.
pub const DEFAULT_MAX_CACHE_SIZE: u64 = 10_000_000;
/// Environment variable overriding [`DEFAULT_MAX_CACHE_SIZE`].
pub const MAX_SIZE_ENV: &str = "GRIDBOT_RISK_CACHE_MAX_SIZE";
/// Smallest accepted value of [`MAX_SIZE_ENV`].
pub const MIN_MAX_SIZE: u64 = 1_024;
/// Largest accepted value of [`MAX_SIZE_ENV`].
pub const MAX_MAX_SIZE: u64 = 100_000_000;

/// Where the cache lives and how it is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache file (relative paths are taken from the current directory; `~` expands).
    pub cache_path: PathBuf,
    /// The cache must resolve inside this directory; `None` disables the check.
    pub allowed_root: Option<PathBuf>,
    /// Entries older than this are stale (must be positive).
    pub ttl: Duration,
    /// Size limit of the cache file in bytes; 0 disables the check.
    pub max_size: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            cache_path: PathBuf::from(DEFAULT_CACHE_PATH),
            allowed_root: Some(PathBuf::from(DEFAULT_ALLOWED_ROOT)),
            ttl: DEFAULT_TTL,
            max_size: max_cache_size_from_env(),
        }
    }
}

impl CacheConfig {
    /// The default configuration with another cache file (same allowed root `conf/`).
    pub fn with_path(path: impl Into<PathBuf>) -> Self {
        CacheConfig { cache_path: path.into(), ..CacheConfig::default() }
    }
}

/// The size limit from [`MAX_SIZE_ENV`], read once per process; an unset variable gives
/// the default, an invalid one logs a warning and gives the default.
pub fn max_cache_size_from_env() -> u64 {
    static SIZE: OnceLock<u64> = OnceLock::new();
    *SIZE.get_or_init(|| match std::env::var(MAX_SIZE_ENV) {
        Err(_) => DEFAULT_MAX_CACHE_SIZE,
        Ok(v) => match parse_max_size(&v) {
            Ok(n) => n,
            Err(msg) => {
                log::warn!(target: "gridsweep::tiers", "{msg}");
                DEFAULT_MAX_CACHE_SIZE
            }
        },
    })
}

/// Validates a [`MAX_SIZE_ENV`] value: an integer in `[1024, 100000000]`.
///
/// # Errors
/// The warning text naming the variable, the value and the default used instead.
pub fn parse_max_size(v: &str) -> Result<u64, String> {
    let fallback = |why: &str| {
        format!("Invalid {MAX_SIZE_ENV}={v:?} ({why}); using default {DEFAULT_MAX_CACHE_SIZE}")
    };
    let n: i128 = v.trim().parse().map_err(|_| fallback("not an integer"))?;
    if n <= 0 {
        return Err(fallback("must be positive"));
    }
    if n < i128::from(MIN_MAX_SIZE) || n > i128::from(MAX_MAX_SIZE) {
        return Err(fallback(&format!("outside [{MIN_MAX_SIZE}, {MAX_MAX_SIZE}]")));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_size_bounds() {
        assert_eq!(parse_max_size("1024"), Ok(1024));
        assert_eq!(parse_max_size("100000000"), Ok(100_000_000));
        for bad in ["1023", "100000001", "0", "-5", "ten", "1.5", ""] {
            let e = parse_max_size(bad).unwrap_err();
            assert!(e.contains(MAX_SIZE_ENV) && e.contains("using default 10000000"), "{e}");
        }
    }
}
