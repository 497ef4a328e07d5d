//! What identifies a sweep's results, and the one check that two of them belong to the
//! same sweep: used by `exec` (an existing result file), `resume` (a partial-results
//! manifest) and `merge` (the shard parts).

use super::spec::sha256_hex;

/// What identifies a sweep's results: stored in every result file, block segment and
/// partial-results manifest, and compared on resume and merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Sweep name.
    pub name: String,
    /// Sweep file text.
    pub sweep_toml: String,
    /// SHA-256 of the sweep file text.
    pub sweep_sha256: String,
    /// Tier table JSON.
    pub tiers_json: String,
    /// Candle fingerprint (mark prices included).
    pub data_fingerprint: String,
    /// `"mark"` when the data has a mark-price path (bybit-model runs liquidate on it),
    /// else `"last"` (`gridsweep.liquidation_price_source`; follows from the data, so not
    /// compared on its own).
    pub price_source: String,
    /// gridsweep version.
    pub version: String,
    /// Runs per block.
    pub block_runs: u64,
    /// Runs in the whole sweep.
    pub total_runs: u64,
    /// Axis names, comma-separated, in enumeration order.
    pub axes: String,
}

impl Identity {
    /// As key-value metadata (keys `gridsweep.*`), in a fixed order.
    pub fn to_kv(&self) -> Vec<(String, String)> {
        let k = |s: &str| format!("gridsweep.{s}");
        vec![
            (k("sweep_name"), self.name.clone()),
            (k("version"), self.version.clone()),
            (k("sweep_sha256"), self.sweep_sha256.clone()),
            (k("data_fingerprint"), self.data_fingerprint.clone()),
            (k("liquidation_price_source"), self.price_source.clone()),
            (k("tiers_sha256"), sha256_hex(self.tiers_json.as_bytes())),
            (k("total_runs"), self.total_runs.to_string()),
            (k("block_runs"), self.block_runs.to_string()),
            (k("axes"), self.axes.clone()),
            (k("tiers_json"), self.tiers_json.clone()),
            (k("sweep_toml"), self.sweep_toml.clone()),
        ]
    }

    /// Reads an identity back from key-value metadata.
    ///
    /// # Errors
    /// The name of the first missing or malformed key.
    pub fn from_kv(kv: &[(String, String)]) -> Result<Identity, String> {
        let get = |s: &str| {
            let key = format!("gridsweep.{s}");
            kv.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).ok_or(key)
        };
        let num = |s: &str| -> Result<u64, String> {
            get(s)?.parse().map_err(|_| format!("gridsweep.{s}"))
        };
        Ok(Identity {
            name: get("sweep_name")?,
            sweep_toml: get("sweep_toml")?,
            sweep_sha256: get("sweep_sha256")?,
            tiers_json: get("tiers_json")?,
            data_fingerprint: get("data_fingerprint")?,
            price_source: get("liquidation_price_source").unwrap_or_else(|_| "last".into()),
            version: get("version")?,
            block_runs: num("block_runs")?,
            total_runs: num("total_runs")?,
            axes: get("axes")?,
        })
    }

    /// Checks that `other` belongs to the same sweep as `self`: the sweep file (sha256), the
    /// candle data (fingerprint), the tier table, the gridsweep version, the block size and
    /// the number of runs, in that order.
    ///
    /// # Errors
    /// The first difference, naming `self`'s value first and `other`'s second.
    pub fn check_same(&self, other: &Identity) -> Result<(), Mismatch> {
        let short = |s: &str| format!("{}…", s.chars().take(12).collect::<String>());
        let tiers = |i: &Identity| short(&sha256_hex(i.tiers_json.as_bytes()));
        let m = |what, a: String, b: String| Err(Mismatch { what, first: a, second: b });
        if self.sweep_sha256 != other.sweep_sha256 {
            return m(Differs::SweepFile, short(&self.sweep_sha256), short(&other.sweep_sha256));
        }
        if self.data_fingerprint != other.data_fingerprint {
            return m(
                Differs::CandleData,
                short(&self.data_fingerprint),
                short(&other.data_fingerprint),
            );
        }
        if self.tiers_json != other.tiers_json {
            return m(Differs::TierTable, tiers(self), tiers(other));
        }
        if self.version != other.version {
            return m(Differs::Version, self.version.clone(), other.version.clone());
        }
        if self.block_runs != other.block_runs {
            return m(
                Differs::BlockRuns,
                self.block_runs.to_string(),
                other.block_runs.to_string(),
            );
        }
        if self.total_runs != other.total_runs {
            return m(
                Differs::TotalRuns,
                self.total_runs.to_string(),
                other.total_runs.to_string(),
            );
        }
        Ok(())
    }
}

/// Which part of two identities differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Differs {
    /// The sweep file text (its sha256).
    SweepFile,
    /// The decoded candles (their fingerprint).
    CandleData,
    /// The risk-limit tier table (the sha256 of its JSON).
    TierTable,
    /// The gridsweep version that wrote them.
    Version,
    /// `--block-runs`.
    BlockRuns,
    /// The number of runs of the sweep.
    TotalRuns,
}

/// The first difference between two identities, with both values in the order compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What differs.
    pub what: Differs,
    /// The value of the identity checked (`self` of [`Identity::check_same`]).
    pub first: String,
    /// The value of the other identity.
    pub second: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = (&self.first, &self.second);
        match self.what {
            Differs::SweepFile => write!(f, "the sweep files differ (sha256 {a} and {b})"),
            Differs::CandleData => {
                write!(f, "the candle data differ (fingerprints {a} and {b})")
            }
            Differs::TierTable => write!(
                f,
                "the risk-limit tier tables differ (sha256 {a} and {b}; was the tier cache \
                 refreshed in between?)"
            ),
            Differs::Version => write!(f, "they were written by gridsweep {a} and {b}"),
            Differs::BlockRuns => write!(f, "they use --block-runs {a} and {b}"),
            Differs::TotalRuns => write!(f, "they have {a} and {b} runs"),
        }
    }
}

impl std::error::Error for Mismatch {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident() -> Identity {
        Identity {
            name: "s".into(),
            sweep_toml: "symbol = \"LTCUSDT\"\n".into(),
            sweep_sha256: "aa".repeat(32),
            tiers_json: "{}".into(),
            data_fingerprint: "ff".repeat(32),
            price_source: "mark".into(),
            version: "0.1.0".into(),
            block_runs: 256,
            total_runs: 1000,
            axes: "grid_step,leverage".into(),
        }
    }

    #[test]
    fn test_identity_round_trips_through_metadata() {
        let i = ident();
        assert_eq!(Identity::from_kv(&i.to_kv()), Ok(i.clone()));
        let kv: Vec<_> =
            i.to_kv().into_iter().filter(|(k, _)| k != "gridsweep.tiers_json").collect();
        assert_eq!(Identity::from_kv(&kv), Err("gridsweep.tiers_json".to_string()));
    }

    #[test]
    fn test_check_same_names_both_values_in_order() {
        let a = ident();
        assert_eq!(a.check_same(&a), Ok(()));
        let b = Identity { sweep_sha256: "bb".repeat(32), ..a.clone() };
        assert_eq!(
            a.check_same(&b).unwrap_err().to_string(),
            "the sweep files differ (sha256 aaaaaaaaaaaa… and bbbbbbbbbbbb…)"
        );
        assert_eq!(
            b.check_same(&a).unwrap_err().to_string(),
            "the sweep files differ (sha256 bbbbbbbbbbbb… and aaaaaaaaaaaa…)"
        );
        let d = Identity { data_fingerprint: "00".repeat(32), ..a.clone() };
        assert_eq!(
            a.check_same(&d).unwrap_err().to_string(),
            "the candle data differ (fingerprints ffffffffffff… and 000000000000…)"
        );
        // sha256("{}") = 44136fa355b3678a…, sha256("[]") = 4f53cda18c2baa0c….
        let c = Identity { tiers_json: "[]".into(), ..a.clone() };
        assert_eq!(
            a.check_same(&c).unwrap_err().to_string(),
            "the risk-limit tier tables differ (sha256 44136fa355b3… and 4f53cda18c2b…; was \
             the tier cache refreshed in between?)"
        );
        let v = Identity { version: "0.2.0".into(), ..a.clone() };
        assert_eq!(
            a.check_same(&v).unwrap_err().to_string(),
            "they were written by gridsweep 0.1.0 and 0.2.0"
        );
        let e = Identity { block_runs: 4, ..a.clone() };
        assert_eq!(a.check_same(&e).unwrap_err().to_string(), "they use --block-runs 256 and 4");
        let t = Identity { total_runs: 10, ..a.clone() };
        assert_eq!(a.check_same(&t).unwrap_err().to_string(), "they have 1000 and 10 runs");
        // The first difference in the fixed order is reported: the sweep file before the data.
        let both = Identity { data_fingerprint: "00".into(), ..b.clone() };
        assert_eq!(a.check_same(&both).unwrap_err().what, Differs::SweepFile);
    }
}
