//! The cache file (ORIGIN_BEHAVIOUR §3.5–§3.7, PRODUCT §5): atomic locked writes, modes,
//! skip-unchanged, corrupt files moved aside, and every security rejection.

mod tiers_common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use gridsweep::tiers::cache::CacheFile;
use gridsweep::tiers::config::CacheConfig;
use gridsweep::tiers::parse::parse_risk_limit_tiers;
use gridsweep::tiers::{Tier, TierError};
use serde_json::{json, Value};
use tiers_common::*;

fn config(dir: &TempDir, name: &str) -> CacheConfig {
    CacheConfig {
        cache_path: dir.conf().join(name),
        allowed_root: Some(dir.path().join("conf")),
        ttl: Duration::from_secs(3600),
        max_size: 10_000_000,
    }
}

fn tiers(mmr: &str) -> Vec<Tier> {
    parse_risk_limit_tiers(&json!([
        {"riskLimitValue": "200000", "maintenanceMargin": "0.01", "initialMargin": "0.02", "mmDeduction": ""},
        {"riskLimitValue": "1000000", "maintenanceMargin": mmr, "initialMargin": "0.05", "mmDeduction": "3000"}
    ]))
    .unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn corrupt_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".corrupt-"))
        .collect();
    v.sort();
    v
}

#[test]
fn write_then_read_round_trips_with_owner_only_modes() {
    let dir = TempDir::new("rw");
    let cache = CacheFile::new(&config(&dir, "risk_limits_cache.json")).unwrap();
    let out = cache.save("LTCUSDT", &tiers("0.025")).unwrap();
    assert_eq!(out.written, ["LTCUSDT"]);
    assert_eq!(out.notes.last().unwrap().message, "Cached risk limit tiers for LTCUSDT");
    let e = cache.read_entry("LTCUSDT").unwrap().unwrap();
    assert_eq!(e.tiers, tiers("0.025"));
    assert!(cache.is_fresh(&e));
    assert_eq!(mode_of(cache.path()), 0o600);
    assert_eq!(cache.lock_path(), dir.path().join("conf/risk_limits_cache.json.lock"));
    assert_eq!(mode_of(cache.lock_path()), 0o600);
    assert!(!dir.path().join("conf/risk_limits_cache.tmp").exists(), "temp file left behind");
    // The file is the origin's format: indent 2, strings, "Infinity".
    let v = read_json(cache.path());
    assert_eq!(v["LTCUSDT"]["tiers"][1]["max_value"], "Infinity");
    assert_eq!(v["LTCUSDT"]["tiers"][0]["deduction"], "0");
    assert!(v["LTCUSDT"]["cached_at"].as_str().unwrap().ends_with("+00:00"));
    assert!(std::fs::read_to_string(cache.path())
        .unwrap()
        .contains("\n  \"LTCUSDT\": {\n    \"cached_at\""));
    assert!(cache.read_entry("BTCUSDT").unwrap().is_none());
}

#[test]
fn batch_write_is_one_message() {
    let dir = TempDir::new("batch");
    let cache = CacheFile::new(&config(&dir, "c.json")).unwrap();
    let out = cache.update(&[("A".into(), tiers("0.02")), ("B".into(), tiers("0.03"))]).unwrap();
    assert_eq!(out.notes.last().unwrap().message, "Cached risk limit tiers for 2 symbols");
    assert_eq!(cache.read_entry("B").unwrap().unwrap().tiers, tiers("0.03"));
}

#[test]
fn unchanged_tiers_are_not_rewritten() {
    let dir = TempDir::new("skip");
    let cache = CacheFile::new(&config(&dir, "c.json")).unwrap();
    cache.save("X", &tiers("0.025")).unwrap();
    let before = std::fs::read_to_string(cache.path()).unwrap();
    let ino =
        std::fs::metadata(cache.path()).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let out = cache.save("X", &tiers("0.025")).unwrap();
    assert_eq!(out.unchanged, ["X"]);
    assert!(out.written.is_empty() && out.notes.is_empty());
    assert_eq!(
        std::fs::read_to_string(cache.path()).unwrap(),
        before,
        "cached_at must not be bumped"
    );
    let ino2 =
        std::fs::metadata(cache.path()).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    assert_eq!(ino, ino2, "no rename happened");
    // Changed tiers are written.
    assert_eq!(cache.save("X", &tiers("0.03")).unwrap().written, ["X"]);
}

#[test]
fn origin_cache_file_other_entries_survive_a_write() {
    let dir = TempDir::new("origin");
    let cfg = config(&dir, "risk_limits_cache.json");
    write_mode(&cfg.cache_path, &data_text(ORIGIN_CACHE), 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let original = read_json(cache.path());
    let btc = cache.read_entry("BTCUSDT").unwrap().unwrap();
    assert_eq!(btc.tiers.len(), 35);
    assert_eq!(btc.cached_at.as_deref(), Some("2026-02-26T06:44:38.061951+00:00"));
    assert!(!cache.is_fresh(&btc), "a 2026-02 entry is stale with a 1 h TTL");
    // Re-saving the LTCUSDT tiers read from it changes nothing (same strings).
    let ltc = cache.read_entry("LTCUSDT").unwrap().unwrap();
    assert_eq!(cache.save("LTCUSDT", &ltc.tiers).unwrap().unchanged, ["LTCUSDT"]);
    // A new symbol keeps both origin entries verbatim.
    cache.save("ETHUSDT", &tiers("0.02")).unwrap();
    let after = read_json(cache.path());
    assert_eq!(after["BTCUSDT"], original["BTCUSDT"]);
    assert_eq!(after["LTCUSDT"], original["LTCUSDT"]);
}

#[test]
fn corrupt_json_is_moved_aside_and_nothing_is_lost() {
    let dir = TempDir::new("corrupt");
    let cfg = config(&dir, "c.json");
    write_mode(&cfg.cache_path, "{\"BTCUSDT\": {\"tiers\": [", 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let e = cache.read_entry("BTCUSDT").unwrap_err();
    assert!(matches!(e, TierError::CorruptJson { .. }));
    assert!(
        e.to_string().starts_with(&format!("Corrupted cache file {}: ", cache.path().display())),
        "{e}"
    );
    let out = cache.save("BTCUSDT", &tiers("0.02")).unwrap();
    let aside = out.moved_aside.clone().unwrap();
    assert_eq!(corrupt_files(&dir.path().join("conf")), vec![aside.clone()]);
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), "{\"BTCUSDT\": {\"tiers\": [");
    assert!(aside.file_name().unwrap().to_string_lossy().starts_with("c.json.corrupt-"));
    let warn = &out.notes[0].message;
    assert!(
        warn.starts_with(&format!(
            "Invalid cache root in {}: expected JSON object; overwriting",
            cache.path().display()
        )),
        "{warn}"
    );
    assert!(warn.contains(&aside.display().to_string()));
    assert_eq!(cache.read_entry("BTCUSDT").unwrap().unwrap().tiers, tiers("0.02"));
}

#[test]
fn non_object_root_is_moved_aside_too() {
    let dir = TempDir::new("root");
    let cfg = config(&dir, "c.json");
    write_mode(&cfg.cache_path, "[1, 2, 3]", 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let e = cache.read_entry("X").unwrap_err().to_string();
    assert_eq!(e, format!("Cache root must be a JSON object: {}", cache.path().display()));
    let out = cache.save("X", &tiers("0.02")).unwrap();
    assert_eq!(std::fs::read_to_string(out.moved_aside.unwrap()).unwrap(), "[1, 2, 3]");
}

#[test]
fn invalid_entry_is_a_validation_error_and_other_entries_still_work() {
    let dir = TempDir::new("entry");
    let cfg = config(&dir, "c.json");
    let text = json!({
        "BAD": {"tiers": [{"max_value": "1"}], "cached_at": "2026-01-01T00:00:00+00:00"},
        "NOTIERS": {"cached_at": "x"},
        "EMPTY": {"tiers": []}
    });
    write_mode(&cfg.cache_path, &text.to_string(), 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let e = cache.read_entry("BAD").unwrap_err();
    assert!(e.is_validation());
    assert_eq!(e.to_string(), "Missing required tier keys: {'mmr_rate', 'deduction'}");
    assert!(cache.read_entry("NOTIERS").unwrap().is_none());
    assert!(cache.read_entry("EMPTY").unwrap().is_none());
    // Writing another symbol keeps the bad entry untouched (nothing lost).
    cache.save("GOOD", &tiers("0.02")).unwrap();
    assert_eq!(read_json(cache.path())["BAD"], text["BAD"]);
}

#[test]
fn path_traversal_is_rejected() {
    let dir = TempDir::new("trav");
    let mut cfg = config(&dir, "x.json");
    cfg.cache_path = dir.path().join("conf/../x.json");
    let e = CacheFile::new(&cfg).unwrap_err();
    assert!(matches!(e, TierError::OutsideRoot { .. }));
    let root = std::fs::canonicalize(dir.path().join("conf")).unwrap();
    let want = format!(
        "Cache path {} is outside allowed directory {}",
        root.parent().unwrap().join("x.json").display(),
        root.display()
    );
    assert_eq!(e.to_string(), want);
    // A symlinked directory that leads outside the root is traversal too.
    let outside = TempDir::new("outside");
    symlink(outside.path(), dir.path().join("conf/sub")).unwrap();
    cfg.cache_path = dir.path().join("conf/sub/c.json");
    assert!(matches!(CacheFile::new(&cfg).unwrap_err(), TierError::OutsideRoot { .. }));
    // Relative paths are taken from the current directory, outside a temp root.
    cfg.cache_path = "conf/../x.json".into();
    assert!(matches!(CacheFile::new(&cfg).unwrap_err(), TierError::OutsideRoot { .. }));
}

#[test]
fn directory_as_cache_is_not_a_regular_file() {
    let dir = TempDir::new("dir");
    let cfg = config(&dir, "d.json");
    std::fs::create_dir_all(&cfg.cache_path).unwrap();
    let e = CacheFile::new(&cfg).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "Cache path {} is not a regular file",
            cfg.cache_path.canonicalize().unwrap().display()
        )
    );
}

#[test]
fn zero_ttl_is_rejected() {
    let dir = TempDir::new("ttl");
    let mut cfg = config(&dir, "c.json");
    cfg.ttl = Duration::ZERO;
    assert_eq!(CacheFile::new(&cfg).unwrap_err().to_string(), "cache_ttl must be positive");
}

#[test]
fn symlinked_cache_is_rejected_at_open_and_after_a_swap() {
    let dir = TempDir::new("swap");
    let cfg = config(&dir, "c.json");
    let cache = CacheFile::new(&cfg).unwrap();
    cache.save("X", &tiers("0.02")).unwrap();
    // Swap the regular file for a symlink to another valid cache inside conf/.
    let other = dir.conf().join("other.json");
    std::fs::rename(cache.path(), &other).unwrap();
    symlink(&other, &cfg.cache_path).unwrap();
    let e = cache.read_entry("X").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Cache path must not be a symlink: {}", cfg.cache_path.display())
    );
    let e = cache.save("X", &tiers("0.03")).unwrap_err();
    assert!(matches!(e, TierError::CacheSymlink(_)));
    assert_eq!(read_json(&other)["X"]["tiers"][1]["mmr_rate"], "0.02", "target untouched");
    // A new provider on a symlinked path is refused outright.
    assert!(matches!(CacheFile::new(&cfg).unwrap_err(), TierError::CacheSymlink(_)));
}

#[test]
fn symlinked_lock_file_is_rejected() {
    let dir = TempDir::new("lock");
    let cfg = config(&dir, "c.json");
    let cache = CacheFile::new(&cfg).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    symlink(&victim, cache.lock_path()).unwrap();
    let e = cache.save("X", &tiers("0.02")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Cache lock path must not be a symlink: {}", cache.lock_path().display())
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!cache.path().exists());
}

#[test]
fn planted_temp_symlink_is_not_followed() {
    let dir = TempDir::new("tmp");
    let cfg = config(&dir, "c.json");
    let cache = CacheFile::new(&cfg).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    symlink(&victim, dir.path().join("conf/c.tmp")).unwrap();
    cache.save("X", &tiers("0.02")).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(cache.read_entry("X").unwrap().unwrap().tiers, tiers("0.02"));
}

#[test]
fn oversize_file_is_rejected_for_read_and_write() {
    let dir = TempDir::new("size");
    let mut cfg = config(&dir, "c.json");
    cfg.max_size = 2048;
    let big = json!({"PAD": "x".repeat(3000)}).to_string();
    write_mode(&cfg.cache_path, &big, 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let n = big.len();
    let want = format!("Cache file size {n} exceeds 2048 byte limit: {}", cache.path().display());
    assert_eq!(cache.read_entry("X").unwrap_err().to_string(), want);
    assert_eq!(cache.save("X", &tiers("0.02")).unwrap_err().to_string(), want);
    assert_eq!(std::fs::read_to_string(cache.path()).unwrap(), big, "nothing overwritten");
    // 0 disables the limit.
    cfg.max_size = 0;
    assert!(CacheFile::new(&cfg).unwrap().read_entry("X").unwrap().is_none());
}

#[test]
fn group_or_world_writable_cache_is_rejected() {
    let dir = TempDir::new("perm");
    let cfg = config(&dir, "c.json");
    let cache = CacheFile::new(&cfg).unwrap();
    cache.save("X", &tiers("0.02")).unwrap();
    let before = std::fs::read_to_string(cache.path()).unwrap();
    for mode in [0o666, 0o620, 0o602] {
        write_mode(cache.path(), &before, mode);
        let e = cache.read_entry("X").unwrap_err();
        assert!(matches!(e, TierError::InsecurePermissions { .. }), "{mode:o}: {e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&cache.path().display().to_string())
                && msg.contains(&format!("{mode:04o}")),
            "{msg}"
        );
        assert!(cache.save("X", &tiers("0.03")).is_err(), "write refused at {mode:o}");
        assert_eq!(std::fs::read_to_string(cache.path()).unwrap(), before);
    }
    // Readable by others is fine (tier data is public), writable is not.
    write_mode(cache.path(), &before, 0o644);
    assert!(cache.read_entry("X").unwrap().is_some());
    // A rewrite restores 0600.
    cache.save("X", &tiers("0.03")).unwrap();
    assert_eq!(mode_of(cache.path()), 0o600);
}

#[test]
fn freshness_rules() {
    let dir = TempDir::new("fresh");
    let cfg = config(&dir, "c.json");
    let cache = CacheFile::new(&cfg).unwrap();
    let entry = |cached_at: Option<&str>| {
        let mut e =
            json!({"tiers": [{"max_value": "Infinity", "mmr_rate": "0.01", "deduction": "0"}]});
        if let Some(a) = cached_at {
            e["cached_at"] = a.into();
        }
        write_mode(cache.path(), &json!({ "X": e }).to_string(), 0o600);
        cache.read_entry("X").unwrap().unwrap()
    };
    let now = gridsweep::tiers::timestamp::now_cached_at();
    assert!(cache.is_fresh(&entry(Some(&now))));
    assert!(cache.is_fresh(&entry(None)), "no cached_at: the mtime decides");
    assert!(!cache.is_fresh(&entry(Some(""))));
    assert!(!cache.is_fresh(&entry(Some(&now[..now.len() - 6]))), "naive time is stale");
    assert!(!cache.is_fresh(&entry(Some("2020-01-01T00:00:00+00:00"))));
    // A fresh cached_at in a file whose mtime is older than the TTL is stale.
    let e = entry(Some(&now));
    let f = std::fs::File::options().write(true).open(cache.path()).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(7200)).unwrap();
    let e2 = cache.read_entry("X").unwrap().unwrap();
    assert!(cache.is_fresh(&e) && !cache.is_fresh(&e2));
}

#[test]
fn symlinked_cache_is_named_as_a_symlink_even_when_it_points_outside_the_root() {
    // Issue 14 item 10: the path was resolved first, so the message named the link's target
    // as "outside allowed directory" instead of saying the configured path is a symlink.
    let dir = TempDir::new("linkout");
    let outside = TempDir::new("linkout-target");
    let target = outside.path().join("real.json");
    std::fs::write(&target, "{}").unwrap();
    let cfg = config(&dir, "c.json");
    symlink(&target, &cfg.cache_path).unwrap();
    let e = CacheFile::new(&cfg).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Cache path must not be a symlink: {}", cfg.cache_path.display())
    );
}

#[test]
fn cache_swapped_to_a_symlink_while_opening_never_reads_the_old_target() {
    // Issue 14 item 10: a link swapped in between the resolve and the symlink check left
    // the cache pointing at the link's target, read later as a fresh cache. Here another
    // thread keeps swapping c.json between a regular cache (mmr 0.02) and a link to
    // other.json (mmr 0.03); whatever CacheFile::new and read_entry return, it is never
    // other.json's table.
    let dir = TempDir::new("race");
    let conf = dir.conf();
    let other = CacheFile::new(&config(&dir, "other.json")).unwrap();
    other.save("X", &tiers("0.03")).unwrap();
    let real = CacheFile::new(&config(&dir, "real.json")).unwrap();
    real.save("X", &tiers("0.02")).unwrap();
    let real_text = std::fs::read_to_string(real.path()).unwrap();
    let cfg = config(&dir, "c.json");
    std::fs::write(&cfg.cache_path, &real_text).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, conf, target, path) =
            (stop.clone(), conf.clone(), other.path().to_path_buf(), cfg.cache_path.clone());
        std::thread::spawn(move || {
            let (link, reg) = (conf.join("swap.link"), conf.join("swap.reg"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&link);
                symlink(&target, &link).unwrap();
                std::fs::rename(&link, &path).unwrap();
                std::fs::write(&reg, &real_text).unwrap();
                std::fs::rename(&reg, &path).unwrap();
            }
        })
    };
    let t0 = std::time::Instant::now();
    let (mut built, mut read) = (0, 0);
    while t0.elapsed() < Duration::from_secs(2) {
        let Ok(cache) = CacheFile::new(&cfg) else { continue };
        built += 1;
        assert_eq!(cache.path().file_name().unwrap(), "c.json", "resolved through the link");
        for _ in 0..4 {
            if let Ok(Some(e)) = cache.read_entry("X") {
                read += 1;
                assert_eq!(e.tiers, tiers("0.02"), "read the link's old target");
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(built > 0 && read > 0, "the race never let a read through ({built} built)");
}

/// A cache-format entry of 30 tiers (caps 200,000 apart, deductions by the recurrence).
fn entry_30(stamp: &str) -> Value {
    let tiers: Vec<Value> = (1..=30u32)
        .map(|n| {
            let cap = if n == 30 { "Infinity".to_string() } else { (200_000 * n).to_string() };
            let mmr = format!("0.{:03}", 10 + n - 1);
            let ded = (1..n).map(|k| 200 * k).sum::<u32>().to_string();
            json!({"max_value": cap, "mmr_rate": mmr, "deduction": ded, "imr_rate": "0.02"})
        })
        .collect();
    json!({"tiers": tiers, "cached_at": stamp})
}

#[test]
fn refresh_never_writes_a_cache_the_next_read_refuses() {
    // Issue 14 item 8: a 7.9 MB compact cache was rewritten indented as 11.4 MB, past the
    // 10,000,000-byte limit; every read then fell back to the built-in tables and every
    // write was refused. 3,300 symbols × 30 tiers is about 8 MB compact, 11.5 MB indented.
    let dir = TempDir::new("grow");
    let cfg = config(&dir, "c.json");
    assert_eq!(cfg.max_size, 10_000_000);
    let mut root = serde_json::Map::new();
    for i in 0..3300 {
        root.insert(format!("S{i:04}USDT"), entry_30("2026-02-26T06:44:38.061951+00:00"));
    }
    let compact = Value::Object(root.clone()).to_string();
    let pretty = serde_json::to_string_pretty(&Value::Object(root)).unwrap();
    assert!(compact.len() < 10_000_000 && pretty.len() > 10_000_000, "fixture sizes");
    write_mode(&cfg.cache_path, &compact, 0o600);
    let cache = CacheFile::new(&cfg).unwrap();
    let out = cache.save("LTCUSDT", &tiers("0.025")).unwrap();
    assert_eq!(out.written, ["LTCUSDT"]);
    assert!(
        out.notes.iter().any(
            |n| n.message.contains("compact JSON") && n.message.contains("10000000 byte limit")
        ),
        "{:?}",
        out.notes
    );
    let size = std::fs::metadata(cache.path()).unwrap().len();
    assert!(size <= 10_000_000, "wrote {size} bytes");
    // The next read accepts it, the old entries survive, and so does the next write.
    assert_eq!(cache.read_entry("LTCUSDT").unwrap().unwrap().tiers, tiers("0.025"));
    assert_eq!(cache.read_entry("S3299USDT").unwrap().unwrap().tiers.len(), 30);
    cache.save("LTCUSDT", &tiers("0.03")).unwrap();
    assert_eq!(cache.read_entry("LTCUSDT").unwrap().unwrap().tiers, tiers("0.03"));
}

#[test]
fn a_write_that_would_not_fit_even_compact_is_refused_and_says_what_to_do() {
    let dir = TempDir::new("nofit");
    let mut cfg = config(&dir, "c.json");
    let mut root = serde_json::Map::new();
    root.insert("AUSDT".into(), entry_30("2026-02-26T06:44:38.061951+00:00"));
    let text = Value::Object(root).to_string();
    write_mode(&cfg.cache_path, &text, 0o600);
    // The file fits with 100 bytes to spare; a second 30-tier symbol needs ~2,400 more.
    cfg.max_size = text.len() as u64 + 100;
    let cache = CacheFile::new(&cfg).unwrap();
    let big: Vec<Tier> = gridsweep::tiers::cache_format::tiers_from_dict(
        &entry_30("2026-02-26T06:44:38.061951+00:00")["tiers"],
    )
    .unwrap();
    let e = cache.save("BUSDT", &big).unwrap_err();
    assert!(matches!(e, TierError::WouldExceedSize { symbols: 2, .. }), "{e:?}");
    let m = e.to_string();
    assert!(m.starts_with(&format!("Not writing {}: ", cache.path().display())), "{m}");
    assert!(m.contains(&format!("over the {} byte limit", cfg.max_size)), "{m}");
    assert!(m.contains("GRIDBOT_RISK_CACHE_MAX_SIZE") && m.contains("tiers refresh"), "{m}");
    assert_eq!(std::fs::read_to_string(cache.path()).unwrap(), text, "file unchanged");
    assert!(cache.read_entry("AUSDT").unwrap().is_some());
}
