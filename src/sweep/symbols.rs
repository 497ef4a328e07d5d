//! Sweeps across symbols (docs/sweeps.md, "Several symbols"): `[symbols.NAME]` tables in
//! place of one `symbol`, each with its own candles (and instrument, tier and funding
//! source), and the run ids they give.
//!
//! The symbol is the slowest pseudo-axis: with `C` parameter combinations and symbols
//! `s = 0, 1, …` in file order, run `r` is combination `r mod C` on symbol `r div C`, so
//! every symbol's runs form one contiguous range of run ids and the block layout, resume,
//! shards and merge work exactly as for one symbol.

use crate::config::common::{DataSection, Problem, DATA_KEYS};

/// The result column naming each run's symbol.
pub const SYMBOL_COLUMN: &str = "symbol";

/// Keys a `[symbols.NAME]` table may hold (its name is the symbol).
pub const SYMBOL_KEYS: &[&str] =
    &["tick_size", "qty_step", "candles", "mark_candles", "start", "end", "tiers", "funding"];

/// Data keys that may stay at the top level beside `[symbols]`, as every symbol's default.
pub const SHARED_KEYS: &[&str] = &["start", "end", "tiers"];

/// Where a run id sits: its symbol (index in file order) and its parameter combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSlot {
    /// Index of the symbol in the sweep's symbol list.
    pub symbol: usize,
    /// Flat index of the parameter combination ([`super::Space::params`]).
    pub combo: u64,
}

/// The slot of `run_id` in a sweep of `combos` combinations per symbol.
pub fn slot(run_id: u64, combos: u64) -> RunSlot {
    let combos = combos.max(1);
    RunSlot { symbol: (run_id / combos) as usize, combo: run_id % combos }
}

/// The run id of combination `combo` on symbol `symbol`.
pub fn run_id(symbol: usize, combo: u64, combos: u64) -> u64 {
    symbol as u64 * combos + combo
}

/// Reads the data of a sweep file: the top-level data section for one `symbol`, or one
/// section per `[symbols.NAME]` table (in file order), each inheriting the top-level
/// `start`, `end` and `tiers`. Every problem goes to `problems` with its field path.
pub fn parse(text: &str, table: &toml::Table, problems: &mut Vec<Problem>) -> Vec<DataSection> {
    let Some(v) = table.get("symbols") else {
        return DataSection::parse(table, true, problems).into_iter().collect();
    };
    let Some(symbols) = v.as_table().filter(|t| !t.is_empty()) else {
        problems.push(Problem::new(
            "symbols",
            "must hold one table per symbol, e.g. [symbols.BTCUSDT] with candles = \
             \"data/BTCUSDT-1m-2026-02.parquet\"",
        ));
        return Vec::new();
    };
    for k in DATA_KEYS.iter().filter(|k| table.contains_key(**k) && !SHARED_KEYS.contains(k)) {
        problems.push(Problem::new(
            *k,
            format!(
                "with [symbols.NAME] tables, `{k}` belongs to each symbol: move it into the \
                 [symbols.NAME] tables (only {} may stay at the top, as every symbol's default)",
                SHARED_KEYS.join(", ")
            ),
        ));
    }
    let mut out = Vec::new();
    for name in table_order(text, "symbols", symbols) {
        let path = format!("symbols.{name}");
        let Some(t) = symbols[&name].as_table() else {
            problems.push(Problem::new(
                &path,
                "must be a table, e.g. [symbols.BTCUSDT] with candles = \"FILE.parquet\"",
            ));
            continue;
        };
        let mut ok = true;
        for k in t.keys().filter(|k| !SYMBOL_KEYS.contains(&k.as_str())) {
            let hint = if k == "symbol" {
                "the table's name is the symbol; remove `symbol`".to_string()
            } else {
                format!("unknown key; a symbol's table takes {}", SYMBOL_KEYS.join(", "))
            };
            problems.push(Problem::new(format!("{path}.{k}"), hint));
            ok = false;
        }
        let mut merged = toml::Table::new();
        for k in SHARED_KEYS {
            if let Some(v) = table.get(*k) {
                merged.insert((*k).to_string(), v.clone());
            }
        }
        for (k, v) in t {
            merged.insert(k.clone(), v.clone());
        }
        merged.insert("symbol".into(), toml::Value::String(name.clone()));
        let mut own = Vec::new();
        let section = DataSection::parse(&merged, true, &mut own);
        for p in own {
            let head = p.path.split('.').next().unwrap_or_default();
            let inherited =
                SHARED_KEYS.contains(&head) && !t.contains_key(head) && table.contains_key(head);
            let at = if p.path.is_empty() || head == "symbol" {
                path.clone()
            } else if inherited {
                p.path.clone()
            } else {
                format!("{path}.{}", p.path)
            };
            let p = Problem::new(at, p.message);
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        match section {
            Some(s) if ok => out.push(s),
            _ => {}
        }
    }
    out
}

/// The keys of table `name` (a top-level table) in the order they appear in `text`; keys
/// the source walk misses keep the table's order at the end.
pub fn table_order(text: &str, name: &str, table: &toml::Table) -> Vec<String> {
    let mut keys: Vec<(usize, String)> = Vec::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        for (k, v) in doc.get_ref().iter() {
            if k.get_ref().as_ref() != name {
                continue;
            }
            if let toml::de::DeValue::Table(t) = v.get_ref() {
                for (ak, _) in t.iter() {
                    keys.push((ak.span().start, ak.get_ref().to_string()));
                }
            }
        }
    }
    keys.sort();
    let mut out: Vec<String> = keys.into_iter().map(|(_, k)| k).collect();
    for k in table.keys() {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out.retain(|k| table.contains_key(k));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (Vec<DataSection>, Vec<Problem>) {
        let table: toml::Table = text.parse().unwrap();
        let mut problems = Vec::new();
        let s = parse(text, &table, &mut problems);
        (s, problems)
    }

    #[test]
    fn slots_put_the_symbol_slowest() {
        // 3 combinations per symbol: runs 0..3 are symbol 0, 3..6 symbol 1.
        assert_eq!(slot(0, 3), RunSlot { symbol: 0, combo: 0 });
        assert_eq!(slot(4, 3), RunSlot { symbol: 1, combo: 1 });
        assert_eq!(slot(5, 3), RunSlot { symbol: 1, combo: 2 });
        for r in 0..12 {
            let s = slot(r, 4);
            assert_eq!(run_id(s.symbol, s.combo, 4), r);
        }
    }

    #[test]
    fn symbols_keep_file_order_and_inherit_the_shared_keys() {
        let (s, p) = parse_text(
            "start = \"2026-02-02\"\ntiers = \"origin\"\n\
             [symbols.ZZZUSDT]\ncandles = \"z.parquet\"\ntick_size = \"0.1\"\nqty_step = \"1\"\n\
             [symbols.BTCUSDT]\ncandles = [\"b1.parquet\", \"b2.parquet\"]\ntiers = \"builtin\"\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let names: Vec<&str> = s.iter().map(|d| d.instrument.symbol.as_str()).collect();
        assert_eq!(names, ["ZZZUSDT", "BTCUSDT"]);
        assert_eq!(s[0].tiers, crate::config::backtest::TierChoice::Origin);
        assert_eq!(s[1].tiers, crate::config::backtest::TierChoice::Builtin);
        assert_eq!(s[0].start_ms, s[1].start_ms);
        assert!(s[0].start_ms.is_some());
        assert_eq!(s[1].candles.len(), 2);
    }

    #[test]
    fn refusals_name_the_field() {
        let (_, p) = parse_text(
            "candles = \"x.parquet\"\n[symbols.BTCUSDT]\nsymbol = \"ETHUSDT\"\nleverage = 3\n\
             [symbols.ETHUSDT]\ntiers = 5\n",
        );
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"candles"), "{paths:?}");
        assert!(paths.contains(&"symbols.BTCUSDT.symbol"), "{paths:?}");
        assert!(paths.contains(&"symbols.BTCUSDT.leverage"), "{paths:?}");
        assert!(paths.contains(&"symbols.ETHUSDT.candles"), "{paths:?}");
        assert!(paths.contains(&"symbols.ETHUSDT.tiers"), "{paths:?}");
        let (_, p) = parse_text("symbols = 3\n");
        assert_eq!(p[0].path, "symbols");
    }
}
