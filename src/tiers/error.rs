//! [`TierError`](crate::tiers::error::TierError): every way reading, fetching or caching a tier table can fail.
//!
//! The parse and cache messages are the origin's (docs/tiers.md lists them) verbatim;
//! where the origin's message does not name the file, `: <path>` is appended.

use std::path::PathBuf;
use std::time::Duration;

/// Why a tier table could not be parsed, read, fetched or cached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    /// The Bybit tier list is not a JSON array.
    #[error("api_tiers must be a list")]
    NotAList,
    /// The Bybit tier list is empty.
    #[error("api_tiers must not be empty")]
    EmptyList,
    /// An element of the Bybit tier list is not a JSON object.
    #[error("api_tiers must contain dict objects")]
    NotADict,
    /// A required field (`riskLimitValue`, `maintenanceMargin`) is missing or null.
    #[error("Missing required field: {0}")]
    MissingField(&'static str),
    /// A field is not a decimal number; `raw` is the value as given.
    #[error("Invalid {field} format: {raw}")]
    BadFormat {
        /// The Bybit field name.
        field: &'static str,
        /// The offending value, as written.
        raw: String,
    },
    /// A `riskLimitValue` that is NaN, zero, negative or `-Infinity`.
    #[error("Invalid riskLimitValue: {0}")]
    BadRiskLimitValue(String),
    /// Two tiers share a boundary (or the sorted boundaries do not increase).
    #[error("Duplicate tier boundary detected: {0} appears multiple times")]
    DuplicateBoundary(String),
    /// A maintenance margin rate outside `[0, 1]`.
    #[error("MMR rate {0} outside valid range [0, 1]")]
    MmrOutOfRange(String),
    /// An initial margin rate outside `[0, 1]`.
    #[error("IMR rate {0} outside valid range [0, 1]")]
    ImrOutOfRange(String),
    /// A negative maintenance margin deduction.
    #[error("Negative mmDeduction not allowed: {0}")]
    NegativeDeduction(String),

    /// A deduction larger than the tier's lower cap × MMR: the maintenance margin would be
    /// negative at the start of the tier (never a liquidation for a huge deduction).
    #[error(
        "mmDeduction {deduction} of tier {tier} (riskLimitValue={cap}) makes the maintenance \
         margin negative: positions in the tier start at {lower}, so the deduction can be at \
         most {lower} × MMR {mmr}; fix the tier data (Bybit: deduction_n = cap_(n−1) × \
         (MMR_n − MMR_(n−1)) + deduction_(n−1), 0 for the first tier)"
    )]
    DeductionTooLarge {
        /// 1-based tier number, in cap order.
        tier: usize,
        /// The tier's cap.
        cap: String,
        /// The deduction as given.
        deduction: String,
        /// The previous tier's cap (0 for the first tier).
        lower: String,
        /// The tier's MMR.
        mmr: String,
    },
    /// A `maxLeverage` that is not a number ≥ 1.
    #[error(
        "Invalid maxLeverage {raw} in tier {tier} (riskLimitValue={cap}): it must be a number \
         ≥ 1 like \"100.00\", or absent"
    )]
    BadMaxLeverage {
        /// 1-based tier number, in cap order.
        tier: usize,
        /// The tier's cap.
        cap: String,
        /// The value as given.
        raw: String,
    },

    /// A cache-format tier lacks required keys (listed like Python's set repr).
    #[error("Missing required tier keys: {{{}}}", .0.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "))]
    MissingTierKeys(Vec<&'static str>),
    /// A cache-format tier is not a JSON object, or the tier list is not an array.
    #[error("Invalid cache tier {index}: {reason}")]
    BadCacheTier {
        /// Position of the tier in the list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A cache-format table is not ordered by strictly increasing `max_value`, or does not
    /// end with `Infinity`.
    #[error("Invalid cache tier order: {0}")]
    BadCacheOrder(String),
    /// The cache file's root is not a JSON object.
    #[error("Cache root must be a JSON object: {0}")]
    CacheRootNotObject(PathBuf),

    /// The cache path resolves outside the allowed root directory.
    #[error("Cache path {path} is outside allowed directory {root}")]
    OutsideRoot {
        /// The resolved cache path.
        path: PathBuf,
        /// The resolved allowed root.
        root: PathBuf,
    },
    /// The cache path exists and is not a regular file.
    #[error("Cache path {0} is not a regular file")]
    NotRegularFile(PathBuf),
    /// A zero cache TTL.
    #[error("cache_ttl must be positive")]
    TtlNotPositive,
    /// The cache path (configured or resolved) is a symbolic link.
    #[error("Cache path must not be a symlink: {0}")]
    CacheSymlink(PathBuf),
    /// The `.lock` file path is a symbolic link.
    #[error("Cache lock path must not be a symlink: {0}")]
    LockSymlink(PathBuf),
    /// The `.lock` file was replaced between `open` and `fstat`.
    #[error("Cache lock path changed during open: {0}")]
    LockChanged(PathBuf),
    /// The cache file was replaced between `open` and `fstat`.
    #[error("Cache file identity changed during open (possible symlink swap): {0}")]
    IdentityChanged(PathBuf),
    /// The cache file is larger than the configured limit.
    #[error("Cache file size {size} exceeds {max} byte limit: {path}")]
    SizeExceeded {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// Writing the cache would make it larger than the size limit (even as compact JSON),
    /// so the next read would refuse it; nothing was written.
    #[error(
        "Not writing {path}: with the new entries the cache would be {size} bytes ({symbols} \
         symbols, compact JSON), over the {max} byte limit, and every later read would refuse \
         it; the file is unchanged. Keep fewer symbols (delete the file and run `gridsweep \
         tiers refresh` with only the symbols you need, instead of --all) or raise the limit \
         with GRIDBOT_RISK_CACHE_MAX_SIZE=<bytes> (at most 100000000)"
    )]
    WouldExceedSize {
        /// The cache file.
        path: PathBuf,
        /// Size the new file would have, in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
        /// Number of symbols it would hold.
        symbols: usize,
    },
    /// The cache file is writable by group or others (anyone could plant tiers).
    #[error(
        "Cache file {path} has insecure permissions {mode:04o} (writable by group or others); \
         run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The cache file is not valid JSON.
    #[error("Corrupted cache file {path}: {message}")]
    CorruptJson {
        /// The file.
        path: PathBuf,
        /// The JSON parser's message.
        message: String,
    },
    /// An I/O operation on a named file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("cannot open", "cannot rename", …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file that should hold tiers could not be understood.
    #[error("{path}: {message}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What went wrong, including the inner error's message.
        message: String,
    },

    /// The HTTP request could not be completed (connection refused, DNS, TLS, reset).
    #[error("network error requesting {url}: {message}")]
    Network {
        /// The request URL.
        url: String,
        /// The transport's message.
        message: String,
    },
    /// No complete answer within the configured timeout.
    #[error("timed out after {timeout:?} requesting {url}")]
    Timeout {
        /// The request URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// A non-2xx HTTP status (after retries, for the retryable ones).
    #[error("HTTP {status} from {url}: {body}")]
    HttpStatus {
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Bybit answered with a non-zero `retCode`.
    #[error("Bybit API error retCode={code} ({msg}) from {url}")]
    Api {
        /// The request URL.
        url: String,
        /// Bybit's `retCode`.
        code: i64,
        /// Bybit's `retMsg`.
        msg: String,
    },
    /// The response is not the JSON envelope Bybit documents.
    #[error("malformed Bybit response from {url}: {reason}")]
    Malformed {
        /// The request URL.
        url: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A tier file whose JSON shape is not one of the accepted ones.
    #[error("{0}")]
    UnrecognisedShape(String),
    /// The API returned no tiers for a symbol.
    #[error("No risk limit tiers returned for {0}")]
    NoTiers(String),
}

impl TierError {
    /// Wraps an I/O error with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> TierError {
        TierError::Io { op, path: path.into(), source }
    }

    /// True for errors of the validation rules of docs/tiers.md ("Parsing Bybit's tiers",
    /// "Cache file format"): bad tier data, not I/O.
    pub fn is_validation(&self) -> bool {
        use TierError::*;
        matches!(
            self,
            NotAList
                | EmptyList
                | NotADict
                | MissingField(_)
                | BadFormat { .. }
                | BadRiskLimitValue(_)
                | DuplicateBoundary(_)
                | MmrOutOfRange(_)
                | ImrOutOfRange(_)
                | NegativeDeduction(_)
                | DeductionTooLarge { .. }
                | BadMaxLeverage { .. }
                | MissingTierKeys(_)
                | BadCacheTier { .. }
                | BadCacheOrder(_)
        )
    }

    /// True for transport failures (network error or timeout), after which a stale cache
    /// is the right fallback.
    pub fn is_network(&self) -> bool {
        matches!(self, TierError::Network { .. } | TierError::Timeout { .. })
    }
}
