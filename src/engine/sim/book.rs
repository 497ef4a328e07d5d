//! The order book and the ticker-event planner (docs/strategy.md, "Placement", "Sizing chain", "Close gate"): resting
//! orders, per-direction aggregates, one survivor per price, the centre-out placement walk,
//! sizing with the close gate, and (bybit model) the initial-margin check.

use super::{Engine, Setup, DIRS, NONE};
use crate::engine::grid::LevelSide;
use crate::engine::level_bits::{first_of, for_each_set, last_of};
use crate::engine::params::Model;
use crate::engine::position::{Direction, Side};
use crate::engine::sizing::Sizer;
use crate::engine::{Recorder, RunContext, RunError};
use crate::tiers::TierTable;

/// A resting limit order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Order {
    pub(super) id: u64,
    /// Cached ladder index of `price`, valid while `grid_version` equals the grid's.
    pub(super) level: Option<u32>,
    pub(super) grid_version: u32,
    pub(super) dir: Direction,
    pub(super) side: Side,
    pub(super) price: f64,
    pub(super) lots: i64,
    pub(super) reduce_only: bool,
}

impl Order {
    /// The fill triggers `[buy above, sell below]`: the order fills at a price `p` with
    /// `p < t[0]` (a buy) or `p > t[1]` (a sell); a tombstone never does.
    #[inline]
    pub(super) fn trigger(&self) -> [f64; 2] {
        match self.side {
            _ if !self.is_live() => DEAD_TRIGGER,
            Side::Buy => [self.price, f64::INFINITY],
            Side::Sell => [f64::NEG_INFINITY, self.price],
        }
    }

    /// False for a filled or cancelled order still in the book's vector (a tombstone: its
    /// price is NaN, so it never fills and min/max scans skip it).
    #[inline]
    pub(super) fn is_live(&self) -> bool {
        !self.price.is_nan()
    }
}

/// A survivor-map slot: the order's index in the vector and its side (low bit: sell).
#[inline]
fn slot_of(index: usize, side: Side) -> u32 {
    ((index as u32) << 1) | u32::from(side == Side::Sell)
}

/// The order index of an occupied slot.
#[inline]
fn slot_index(slot: u32) -> usize {
    (slot >> 1) as usize
}

/// The side of an occupied slot's order.
#[inline]
pub(super) fn slot_is_sell(slot: u32) -> bool {
    slot & 1 == 1
}

/// The trigger of a tombstone.
pub(super) const DEAD_TRIGGER: [f64; 2] = [f64::NEG_INFINITY, f64::INFINITY];

/// Dead entries tolerated in the order vector before it is compacted.
const MAX_DEAD: usize = 256;

/// An action planned on a ticker event, executed after planning.
#[derive(Clone, Copy, Debug)]
pub(super) enum Intent {
    /// Place at ladder index `level` (of the grid the plan walked).
    Place {
        dir: Direction,
        side: Side,
        price: f64,
        level: u32,
    },
    Cancel {
        id: u64,
        reason: &'static str,
    },
}

/// Per-direction aggregates of the resting orders, kept up to date as orders come and go.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct BookStats {
    /// Orders per direction.
    pub(super) count: [usize; 2],
    /// Σ lots of reduce-only orders per direction (the close gate's pending quantity).
    pub(super) pending_close: [i64; 2],
    /// Opening orders per direction.
    pub(super) open_count: [usize; 2],
    /// Σ notional of opening orders per direction (running sum; exactly 0 when none rest).
    pub(super) open_notional: [f64; 2],
}

impl Engine {
    /// Adds a new resting order to [`BookStats`].
    #[inline]
    pub(super) fn book_add(&mut self, s: &Setup, o: &Order) {
        let (st, d) = (&mut self.stats, o.dir.index());
        st.count[d] += 1;
        if o.reduce_only {
            st.pending_close[d] += o.lots;
        } else {
            st.open_count[d] += 1;
            st.open_notional[d] += s.qty_of(o.lots) * o.price;
        }
    }

    /// Removes a filled or cancelled order from [`BookStats`].
    #[inline]
    pub(super) fn book_remove(&mut self, s: &Setup, o: &Order) {
        let (st, d) = (&mut self.stats, o.dir.index());
        st.count[d] -= 1;
        if o.reduce_only {
            st.pending_close[d] -= o.lots;
        } else {
            st.open_count[d] -= 1;
            st.open_notional[d] = if st.open_count[d] == 0 {
                0.0
            } else {
                st.open_notional[d] - s.qty_of(o.lots) * o.price
            };
        }
    }

    /// Makes the survivor map current: kept up to date by fills, cancels, placements and
    /// one-level rebalance shifts while no two orders of a direction share a price (with
    /// duplicates the survivor depends on the level sides, which fills change), rebuilt by
    /// [`Engine::collect_survivors`] otherwise (and always in the reference engine).
    #[inline]
    pub(super) fn ensure_survivors(&mut self) {
        let usable = self.slots_ok && self.dead <= MAX_DEAD && self.dups.iter().all(Vec::is_empty);
        let current = usable
            && (self.survivors_version == self.grid.version()
                || (self.fast.survivor_shift && self.follow_shift() && {
                    self.counts.survivor_shifts += 1;
                    true
                }));
        if !self.fast.survivor_map || !current {
            self.collect_survivors();
        } else {
            self.counts.survivor_map_kept += 1;
        }
    }

    /// Moves a usable survivor map (every live order in a slot) along the ladder's last
    /// rebalance shift: slots move by one level, the order on the dropped level goes off the
    /// ladder. False when the shift is not the only change since the map was made.
    fn follow_shift(&mut self) -> bool {
        let Some(delta) = self.grid.shift_since(self.survivors_version) else { return false };
        if self.off_grid.iter().any(|v| !v.is_empty()) {
            return false; // an off-ladder order might sit at the new level's price
        }
        let n = self.grid.levels().len();
        if n == 0 || self.slots.iter().any(|s| s.len() != n) {
            return false;
        }
        for d in 0..2 {
            let slots = &mut self.slots[d];
            let dropped = if delta < 0 {
                let k = slots[0];
                slots.rotate_left(1);
                slots[n - 1] = NONE;
                k
            } else {
                let k = slots[n - 1];
                slots.rotate_right(1);
                slots[0] = NONE;
                k
            };
            if dropped != NONE {
                let i = slot_index(dropped);
                self.off_grid[d].push((self.orders[i].price, i));
            }
            self.refresh_slot_bits(d);
        }
        let version = self.grid.version();
        for o in self.orders.iter_mut().filter(|o| o.is_live()) {
            o.level = o.level.and_then(|li| u32::try_from(i64::from(li) + delta).ok());
            o.level = o.level.filter(|&li| (li as usize) < n);
            o.grid_version = version;
        }
        self.survivors_version = version;
        true
    }

    /// Recomputes `slot_bits[d]` from `slots[d]`.
    fn refresh_slot_bits(&mut self, d: usize) {
        let n = self.slots[d].len();
        self.slot_bits[d][0].reset(n);
        self.slot_bits[d][1].reset(n);
        for li in 0..n {
            self.set_slot(d, li, self.slots[d][li]);
        }
    }

    /// True when the survivor map describes the live orders on the current ladder.
    #[inline]
    fn map_current(&self) -> bool {
        self.slots_ok && self.survivors_version == self.grid.version()
    }

    /// Takes the order at index `i` out of the book (fill or cancel): a tombstone in the
    /// vector, its slot cleared when the survivor map can follow the change.
    #[inline]
    pub(super) fn unlink(&mut self, i: usize) {
        let o = self.orders[i];
        self.orders[i].price = f64::NAN;
        self.triggers[i] = DEAD_TRIGGER;
        self.dead += 1;
        if self.map_current() && o.grid_version == self.grid.version() {
            let d = o.dir.index();
            if let Some(li) = o.level {
                let slot = self.slots[d][li as usize];
                if slot != NONE && slot_index(slot) == i {
                    self.set_slot(d, li as usize, NONE);
                    return;
                }
            }
            if let Some(k) = self.off_grid[d].iter().position(|x| x.1 == i) {
                self.off_grid[d].remove(k);
                return;
            }
        }
        self.slots_ok = false;
    }

    /// Writes the slot of direction `d` at level `li`, keeping `slot_bits` in step.
    #[inline]
    fn set_slot(&mut self, d: usize, li: usize, slot: u32) {
        self.slots[d][li] = slot;
        let occupied = slot != NONE;
        self.slot_bits[d][0].put(li, occupied & !slot_is_sell(slot));
        self.slot_bits[d][1].put(li, occupied & slot_is_sell(slot));
    }

    /// The highest level holding a buy order and the lowest holding a sell order, either
    /// direction, from the slot bits.
    #[inline]
    pub(super) fn extreme_slot_levels(&self) -> (Option<usize>, Option<usize>) {
        let [[long_buys, long_sells], [short_buys, short_sells]] = &self.slot_bits;
        let buys = long_buys.words().iter().zip(short_buys.words()).map(|(x, y)| x | y);
        let sells = long_sells.words().iter().zip(short_sells.words()).map(|(x, y)| x | y);
        (last_of(buys), first_of(sells))
    }

    /// Moves the orders that fill at `p` into `self.fills`, in placement order, and takes
    /// them out of the book. With a current survivor map holding every live order on an
    /// ascending ladder, the candidates are the buy slots above `p` and the sell slots below
    /// it, found from the extreme slots inward; otherwise every trigger is tested.
    pub(super) fn take_fills(&mut self, p: f64) {
        self.fills.clear();
        let by_slots = self.fast.fill_walk
            && self.map_current()
            && self.grid.is_sorted_unique()
            && self.dups.iter().chain(&self.off_grid).all(Vec::is_empty);
        if by_slots {
            self.counts.fill_walks += 1;
            self.fill_indices.clear();
            let levels = self.grid.levels();
            let (top_buy, bottom_sell) = self.extreme_slot_levels();
            // Buys fill below their price, sells above: walk inward from the extreme slots.
            let (slots, found) = (&self.slots, &mut self.fill_indices);
            let mut take = |li: usize, sell: bool| {
                for d in slots {
                    if d[li] != NONE && slot_is_sell(d[li]) == sell {
                        found.push(slot_index(d[li]) as u32);
                    }
                }
            };
            if let Some(top) = top_buy {
                for li in (0..=top).rev().take_while(|&li| p < levels[li].price) {
                    take(li, false);
                }
            }
            if let Some(bottom) = bottom_sell {
                for li in (bottom..levels.len()).take_while(|&li| p > levels[li].price) {
                    take(li, true);
                }
            }
            self.fill_indices.sort_unstable();
            for j in 0..self.fill_indices.len() {
                let i = self.fill_indices[j] as usize;
                self.fills.push(self.orders[i]);
                self.unlink(i);
            }
            return;
        }
        // Most ticks fill one or two orders of ~100: a branch-free test per block of 8
        // finds the blocks worth a closer look.
        let n = self.triggers.len();
        let mut start = 0;
        while start < n {
            let end = (start + 8).min(n);
            let hit = self.triggers[start..end]
                .iter()
                .fold(false, |h, &[buy_above, sell_below]| h | (p < buy_above) | (p > sell_below));
            if hit {
                for i in start..end {
                    let [buy_above, sell_below] = self.triggers[i];
                    if (p < buy_above) | (p > sell_below) {
                        self.fills.push(self.orders[i]);
                        self.unlink(i);
                    }
                }
            }
            start = end;
        }
    }

    /// Empties the book.
    pub(super) fn clear_orders(&mut self) {
        self.orders.clear();
        self.triggers.clear();
        self.dead = 0;
        self.slots_ok = false;
    }

    /// Finds one surviving order per price for both directions: `self.slots[dir][level]`
    /// for prices on the ladder (`NONE` when empty), `self.off_grid[dir]` (ascending) for the
    /// others. Extra orders at one price go to `self.dups[dir]` (ascending by price): the
    /// survivor is one whose side the grid wants there, else the first placed (the origin's rule).
    /// Drops the tombstones first.
    /// The survivor map's invariants, when the map claims to be current: every occupied slot
    /// holds a live order of its direction, side and level price; every live order is in its
    /// slot, off the ladder or a duplicate, exactly once; the slot bits mirror the slots.
    /// `None` when they hold (or the map is not current), else what is broken.
    pub(super) fn survivor_invariant_violation(&self) -> Option<String> {
        if !self.map_current() {
            return None;
        }
        let levels = self.grid.levels();
        let mut seen = vec![0u8; self.orders.len()];
        for d in 0..2 {
            if self.slots[d].len() != levels.len() {
                return Some(format!(
                    "dir {d}: {} slots for {} levels",
                    self.slots[d].len(),
                    levels.len()
                ));
            }
            for (li, &slot) in self.slots[d].iter().enumerate() {
                let bits = (self.slot_bits[d][0].contains(li), self.slot_bits[d][1].contains(li));
                if slot == NONE {
                    if bits != (false, false) {
                        return Some(format!("dir {d} level {li}: empty slot with bits {bits:?}"));
                    }
                    continue;
                }
                let i = slot_index(slot);
                let Some(o) = self.orders.get(i) else {
                    return Some(format!("dir {d} level {li}: slot points past the orders"));
                };
                let sell = slot_is_sell(slot);
                if !o.is_live() || o.dir.index() != d || o.price != levels[li].price {
                    return Some(format!("dir {d} level {li}: slot holds {o:?}"));
                }
                if (o.side == Side::Sell) != sell || bits != (!sell, sell) {
                    return Some(format!("dir {d} level {li}: side bits {bits:?} for {o:?}"));
                }
                seen[i] += 1;
            }
            for &(_, i) in self.off_grid[d].iter().chain(&self.dups[d]) {
                seen[i] += 1;
            }
        }
        for (i, o) in self.orders.iter().enumerate() {
            let want = u8::from(o.is_live());
            if seen[i] != want {
                return Some(format!("order {i} ({o:?}) is listed {} times", seen[i]));
            }
        }
        None
    }

    pub(super) fn collect_survivors(&mut self) {
        if self.dead > 0 {
            self.orders.retain(Order::is_live);
            self.triggers.clear();
            self.triggers.extend(self.orders.iter().map(Order::trigger));
            self.dead = 0;
        }
        self.slots_ok = true;
        self.survivors_version = self.grid.version();
        let n = self.grid.levels().len();
        let version = self.grid.version();
        for d in 0..2 {
            self.slots[d].clear();
            self.slots[d].resize(n, NONE);
            self.off_grid[d].clear();
            self.dups[d].clear();
        }
        for i in 0..self.orders.len() {
            if self.orders[i].grid_version != version {
                let o = self.orders[i];
                let li = o
                    .level
                    .and_then(|old| self.grid.shifted_index(old as usize, o.grid_version, o.price))
                    .or_else(|| self.grid.index_of(o.price));
                self.orders[i].level = li.map(|x| x as u32);
                self.orders[i].grid_version = version;
            }
            let o = self.orders[i];
            let d = o.dir.index();
            match o.level.map(|x| x as usize) {
                Some(li) => {
                    let h = self.slots[d][li];
                    if h == NONE {
                        self.slots[d][li] = slot_of(i, o.side);
                        continue;
                    }
                    let h = slot_index(h);
                    let want = match self.grid.levels()[li].side {
                        LevelSide::Buy => Some(Side::Buy),
                        LevelSide::Sell => Some(Side::Sell),
                        LevelSide::Wait => None,
                    };
                    if Some(self.orders[h].side) != want && Some(o.side) == want {
                        self.dups[d].push((self.orders[h].price, h));
                        self.slots[d][li] = slot_of(i, o.side);
                    } else {
                        self.dups[d].push((o.price, i));
                    }
                }
                None => match self.off_grid[d].iter().position(|x| x.0 == o.price) {
                    Some(_) => self.dups[d].push((o.price, i)),
                    None => self.off_grid[d].push((o.price, i)),
                },
            }
        }
        for d in 0..2 {
            self.refresh_slot_bits(d);
            if self.off_grid[d].len() > 1 {
                self.off_grid[d].sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
            if self.dups[d].len() > 1 {
                self.dups[d].sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
        }
    }

    /// The survivor at ladder index `li` for `dir`.
    #[inline]
    pub(super) fn survivor(&self, dir: Direction, li: usize) -> Option<Order> {
        let k = self.slots[dir.index()][li];
        (k != NONE).then(|| self.orders[slot_index(k)])
    }

    /// Plans one direction's intents (docs/strategy.md, "Placement") into `self.intents`.
    pub(super) fn plan(&mut self, dir: Direction, last_close: f64) -> Result<(), RunError> {
        let n_dir = self.stats.count[dir.index()];
        self.open_levels[dir.index()].clear();
        if n_dir > self.grid.levels().len() + 10 {
            self.open_levels_ok = false;
            self.grid.build(last_close)?;
            for o in self.orders.iter().filter(|o| o.dir == dir && o.is_live()) {
                self.intents.push(Intent::Cancel { id: o.id, reason: "rebuild" });
            }
            return Ok(());
        }
        self.ensure_survivors();
        for k in 0..self.dups[dir.index()].len() {
            let id = self.orders[self.dups[dir.index()][k].1].id;
            self.intents.push(Intent::Cancel { id, reason: "duplicate" });
        }
        // The open levels: non-WAIT, without an order of the level's side.
        let di = dir.index();
        let [buy_levels, sell_levels] = self.grid.side_bits();
        let [buy_slots, sell_slots] = &self.slot_bits[di];
        debug_assert_eq!(buy_slots.words().len(), buy_levels.words().len());
        let open_words = (buy_levels.words().iter().zip(buy_slots.words()))
            .zip(sell_levels.words().iter().zip(sell_slots.words()))
            .map(|((b, bs), (s, ss))| (b & !bs) | (s & !ss));
        let open = &mut self.open_levels[di];
        if !self.fast.open_level_bits {
            // Level by level, so the differential tests check the bit sets.
            let (levels, slots) = (self.grid.levels(), &self.slots[di]);
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
        let split = self.open_levels[di].partition_point(|&li| li as usize <= c);
        let (mut below, mut above) = (split, split);
        while below > 0 || above < self.open_levels[di].len() {
            let take_below = below > 0
                && (above == self.open_levels[di].len()
                    || c - self.open_levels[di][below - 1] as usize
                        <= self.open_levels[di][above] as usize - c);
            let idx = if take_below {
                below -= 1;
                self.open_levels[di][below] as usize
            } else {
                above += 1;
                self.open_levels[di][above - 1] as usize
            };
            let level = self.grid.levels()[idx];
            let side = if level.side == LevelSide::Buy { Side::Buy } else { Side::Sell };
            if let Some(o) = self.survivor(dir, idx) {
                self.intents.push(Intent::Cancel { id: o.id, reason: "side_mismatch" });
            }
            self.try_place(dir, side, level.price, idx, last_close);
        }
        // Survivors off every grid price are cancelled; WAIT levels keep theirs.
        for k in 0..self.off_grid[dir.index()].len() {
            let id = self.orders[self.off_grid[dir.index()][k].1].id;
            self.intents.push(Intent::Cancel { id, reason: "outside_grid" });
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
            self.intents.push(Intent::Place { dir, side, price, level: level as u32 });
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
            let mut orders = self.stats.open_notional[d.index()];
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
        if self.rejected_open.contains(&(dir, price)) {
            return;
        }
        self.orders_rejected += 1;
        if self.rejected_open.len() >= 2 * self.grid.levels().len() + 8 {
            let levels = self.grid.levels();
            self.rejected_open.retain(|r| levels.iter().any(|l| l.price == r.1));
        }
        self.rejected_open.push((dir, price));
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
                let found = self.orders.binary_search_by_key(&id, |o| o.id).ok();
                if let Some(k) = found.filter(|&k| self.orders[k].is_live()) {
                    let o = self.orders[k];
                    self.unlink(k);
                    self.rejected.clear();
                    self.book_remove(s, &o);
                    rec.on_cancel(ts, o.dir, o.side, o.price, reason);
                }
            }
            Intent::Place { dir, side, price, level } => {
                let reduce_only = side.closes(dir);
                let pending = self.stats.pending_close[dir.index()];
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
                    && self.map_current()
                    && self.dups[d].is_empty()
                    && self.grid.is_sorted_unique()
                    && self.grid.levels().get(li).is_some_and(|l| l.price == price);
                self.counts.mapped_placements += u64::from(mapped);
                let exists = if mapped {
                    let k = self.slots[d][li];
                    k != NONE && slot_is_sell(k) == (side == Side::Sell)
                } else {
                    self.orders.iter().any(|o| o.dir == dir && o.side == side && o.price == price)
                };
                if exists {
                    return;
                }
                if s.model == Model::Bybit && !reduce_only {
                    let notional = s.qty_of(lots) * price;
                    if self.im_with(s, ctx.tiers, dir, notional, self.last_price) > self.balance {
                        if !self.rejected.contains(&(dir, price)) {
                            self.rejected.push((dir, price));
                            self.rejection_events += 1;
                            self.count_rejected_order(dir, price);
                        }
                        return;
                    }
                    if let Some(k) = self.rejected_open.iter().position(|r| *r == (dir, price)) {
                        self.rejected_open.swap_remove(k);
                    }
                }
                self.next_id += 1;
                self.rejected.clear();
                let version = self.grid.version();
                let (level, grid_version) = if mapped && self.slots[d][li] == NONE {
                    self.set_slot(d, li, slot_of(self.orders.len(), side));
                    (Some(level), version)
                } else {
                    self.slots_ok = false;
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
                self.orders.push(o);
                self.triggers.push(o.trigger());
                self.book_add(s, &o);
                rec.on_place(ts, dir, side, price, s.qty_of(lots));
            }
        }
    }
}
