//! The ticker-event planner (docs/strategy.md, "Placement", "Sizing chain", "Close gate"):
//! the centre-out placement walk over the levels without a matching order, sizing with the
//! risk multipliers and the close gate, and (bybit model) the order-cost check.

use super::book::{slot_is_sell, slot_of, Intent, Order};
use super::{Engine, Setup, DIRS, NONE};
use crate::engine::grid::LevelSide;
use crate::engine::level_bits::for_each_set;
use crate::engine::params::Model;
use crate::engine::position::{Direction, Side};
use crate::engine::sizing::Sizer;
use crate::engine::{Recorder, RunContext, RunError};
use crate::tiers::TierTable;

impl Engine {
    /// Plans one direction's intents (docs/strategy.md, "Placement") into `self.planner.intents`.
    pub(super) fn plan(&mut self, dir: Direction, last_close: f64) -> Result<(), RunError> {
        let n_dir = self.book.stats.count[dir.index()];
        self.planner.open_levels[dir.index()].clear();
        if n_dir > self.grid.levels().len() + 10 {
            self.planner.open_levels_ok = false;
            self.grid.build(last_close)?;
            for o in self.book.orders.iter().filter(|o| o.dir == dir && o.is_live()) {
                self.planner.intents.push(Intent::Cancel { id: o.id, reason: "rebuild" });
            }
            return Ok(());
        }
        self.ensure_survivors();
        for k in 0..self.map.dups[dir.index()].len() {
            let id = self.book.orders[self.map.dups[dir.index()][k].1].id;
            self.planner.intents.push(Intent::Cancel { id, reason: "duplicate" });
        }
        // The open levels: non-WAIT, without an order of the level's side.
        let di = dir.index();
        let [buy_levels, sell_levels] = self.grid.side_bits();
        let [buy_slots, sell_slots] = &self.map.bits[di];
        debug_assert_eq!(buy_slots.words().len(), buy_levels.words().len());
        let open_words = (buy_levels.words().iter().zip(buy_slots.words()))
            .zip(sell_levels.words().iter().zip(sell_slots.words()))
            .map(|((b, bs), (s, ss))| (b & !bs) | (s & !ss));
        let open = &mut self.planner.open_levels[di];
        if !self.fast.open_level_bits {
            // Level by level, so the differential tests check the bit sets.
            let (levels, slots) = (self.grid.levels(), &self.map.slots[di]);
            for (li, level) in levels.iter().enumerate() {
                let want_sell = match level.side {
                    LevelSide::Buy => false,
                    LevelSide::Sell => true,
                    LevelSide::Wait => continue,
                };
                let k = slots[li];
                if k == NONE || slot_is_sell(k) != want_sell {
                    open.push(li as u32);
                }
            }
        } else {
            self.counts.open_level_words += 1;
            for_each_set(open_words, |li| open.push(li as u32));
        }
        // Visit them outward from the centre, lower price first at equal distance.
        let c = self.grid.center_index();
        let split = self.planner.open_levels[di].partition_point(|&li| li as usize <= c);
        let (mut below, mut above) = (split, split);
        while below > 0 || above < self.planner.open_levels[di].len() {
            let take_below = below > 0
                && (above == self.planner.open_levels[di].len()
                    || c - self.planner.open_levels[di][below - 1] as usize
                        <= self.planner.open_levels[di][above] as usize - c);
            let idx = if take_below {
                below -= 1;
                self.planner.open_levels[di][below] as usize
            } else {
                above += 1;
                self.planner.open_levels[di][above - 1] as usize
            };
            let level = self.grid.levels()[idx];
            let side = if level.side == LevelSide::Buy { Side::Buy } else { Side::Sell };
            if let Some(o) = self.survivor(dir, idx) {
                self.planner.intents.push(Intent::Cancel { id: o.id, reason: "side_mismatch" });
            }
            self.try_place(dir, side, level.price, idx, last_close);
        }
        // Survivors off every grid price are cancelled; WAIT levels keep theirs.
        for k in 0..self.map.off_grid[dir.index()].len() {
            let id = self.book.orders[self.map.off_grid[dir.index()][k].1].id;
            self.planner.intents.push(Intent::Cancel { id, reason: "outside_grid" });
        }
        Ok(())
    }

    /// The placement filter (docs/strategy.md, "Placement filter"): the right side of the market, beyond half a step.
    #[inline]
    pub(super) fn try_place(
        &mut self,
        dir: Direction,
        side: Side,
        price: f64,
        level: usize,
        last_close: f64,
    ) {
        let diff = (last_close - price) / last_close * 100.0;
        let ok = match side {
            Side::Buy => diff > 0.0,
            Side::Sell => diff < 0.0,
        } && diff.abs() > self.grid_step_half();
        if ok {
            self.planner.intents.push(Intent::Place { dir, side, price, level: level as u32 });
        }
    }

    #[inline]
    pub(super) fn grid_step_half(&self) -> f64 {
        self.grid.grid_step() / 2.0
    }

    /// Quantity in lots for a new order: amount, floor, step ceiling, multipliers.
    pub(super) fn resolved_lots(
        &self,
        s: &Setup,
        dir: Direction,
        side: Side,
        price: f64,
        wallet: f64,
    ) -> i64 {
        let base = s.sizer.base_lots(price, wallet);
        if !s.enable_risk || base <= 0 {
            return base;
        }
        let m = self.mult[dir.index()][side as usize];
        let mut e = 1.0;
        if s.early != 1.0 {
            let (l, sh) = (self.legs[0].size, self.legs[1].size);
            let ratio = if sh > 0.0 {
                l / sh
            } else if l > 0.0 {
                f64::INFINITY
            } else {
                1.0
            };
            if 1.1 < ratio && ratio < 10.0 && self.liq[0] == 0.0 && self.liq[1] == 0.0 {
                e = s.early;
            }
        }
        if m == 1.0 && e == 1.0 {
            return base;
        }
        Sizer::scale_lots(base, m, e)
    }

    /// What the account must hold to add a new opening order of `new_notional` in `dir` at
    /// price `p` (Bybit's order cost, docs/model.md): per direction, the position at `p`
    /// plus its resting opening orders and the new one, times max(tier IMR, 1/leverage);
    /// the estimated fee to close the positions; and each opening order's fee to open and
    /// to close (`notional × taker × (1 + (1 ∓ 1/leverage))`, buys −, sells +).
    pub(super) fn im_with(
        &self,
        s: &Setup,
        tiers: &TierTable,
        dir: Direction,
        new_notional: f64,
        p: f64,
    ) -> f64 {
        let mut total = 0.0;
        for d in DIRS {
            let position = self.legs[d.index()].size * p;
            let mut orders = self.book.stats.open_notional[d.index()];
            if d == dir {
                orders += new_notional;
            }
            let pv = position + orders;
            if pv > 0.0 {
                total += pv * tiers.imr_at(pv).max(s.inv_leverage);
            }
            // Long opening orders are buys (close at price × (1 − 1/L)), short ones sells.
            let close_factor = match d {
                Direction::Long => 1.0 - s.inv_leverage,
                Direction::Short => 1.0 + s.inv_leverage,
            };
            total += position * s.taker + orders * s.taker * (1.0 + close_factor);
        }
        total
    }

    /// Counts a refused order once per level and direction until an order is placed there;
    /// levels that left the ladder are forgotten when the list outgrows it.
    fn count_rejected_order(&mut self, dir: Direction, price: f64) {
        if self.planner.rejected_open.contains(&(dir, price)) {
            return;
        }
        self.orders_rejected += 1;
        if self.planner.rejected_open.len() >= 2 * self.grid.levels().len() + 8 {
            let levels = self.grid.levels();
            self.planner.rejected_open.retain(|r| levels.iter().any(|l| l.price == r.1));
        }
        self.planner.rejected_open.push((dir, price));
    }

    pub(super) fn execute<R: Recorder>(
        &mut self,
        s: &Setup,
        ctx: &RunContext<'_>,
        ts: i64,
        intent: Intent,
        rec: &mut R,
    ) {
        match intent {
            Intent::Cancel { id, reason } => {
                // Ids grow with placement and the vector keeps placement order.
                let found = self.book.orders.binary_search_by_key(&id, |o| o.id).ok();
                if let Some(k) = found.filter(|&k| self.book.orders[k].is_live()) {
                    let o = self.book.orders[k];
                    self.unlink(k);
                    self.planner.rejected.clear();
                    self.book_remove(s, &o);
                    rec.on_cancel(ts, o.dir, o.side, o.price, reason);
                }
            }
            Intent::Place { dir, side, price, level } => {
                let reduce_only = side.closes(dir);
                let pending = self.book.stats.pending_close[dir.index()];
                if reduce_only && self.legs[dir.index()].lots <= pending {
                    return; // the gate drops it whatever its size
                }
                let lots = self.resolved_lots(s, dir, side, price, self.balance);
                if reduce_only && self.legs[dir.index()].lots <= pending + lots {
                    return;
                }
                if lots <= 0 {
                    return;
                }
                // With a current survivor map and no duplicates, the only order that can rest
                // at this (ladder) price in this direction is the slot's.
                let li = level as usize;
                let d = dir.index();
                let mapped = self.fast.mapped_placement
                    && self.map.is_current(self.grid.version())
                    && self.map.dups[d].is_empty()
                    && self.grid.is_sorted_unique()
                    && self.grid.levels().get(li).is_some_and(|l| l.price == price);
                self.counts.mapped_placements += u64::from(mapped);
                let exists = if mapped {
                    let k = self.map.slots[d][li];
                    k != NONE && slot_is_sell(k) == (side == Side::Sell)
                } else {
                    self.book
                        .orders
                        .iter()
                        .any(|o| o.dir == dir && o.side == side && o.price == price)
                };
                if exists {
                    return;
                }
                if s.model == Model::Bybit && !reduce_only {
                    let notional = s.qty_of(lots) * price;
                    if self.im_with(s, ctx.tiers, dir, notional, self.last_mark) > self.balance {
                        if !self.planner.rejected.contains(&(dir, price)) {
                            self.planner.rejected.push((dir, price));
                            self.rejection_events += 1;
                            self.count_rejected_order(dir, price);
                        }
                        return;
                    }
                    if let Some(k) =
                        self.planner.rejected_open.iter().position(|r| *r == (dir, price))
                    {
                        self.planner.rejected_open.swap_remove(k);
                    }
                }
                self.next_id += 1;
                self.planner.rejected.clear();
                let version = self.grid.version();
                let (level, grid_version) = if mapped && self.map.slots[d][li] == NONE {
                    self.map.set(d, li, slot_of(self.book.orders.len(), side));
                    (Some(level), version)
                } else {
                    self.map.ok = false;
                    (None, version.wrapping_sub(1))
                };
                let o = Order {
                    id: self.next_id,
                    level,
                    grid_version,
                    dir,
                    side,
                    price,
                    lots,
                    reduce_only,
                };
                self.book.orders.push(o);
                self.book.triggers.push(o.trigger());
                self.book_add(s, &o);
                rec.on_place(ts, dir, side, price, s.qty_of(lots));
            }
        }
    }
}
