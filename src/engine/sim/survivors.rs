//! The survivor map: per direction, the one live order at each ladder level (a slot holding
//! the order's index and side), the orders off the ladder and the duplicates, with bit sets
//! of the levels holding a buy and a sell. Kept up to date by fills, cancels, placements and
//! one-level rebalance shifts; rebuilt otherwise (docs/engine.md).

use super::book::{slot_index, slot_is_sell, slot_of, Order, MAX_DEAD};
use super::{Engine, NONE};
use crate::engine::grid::{Level, LevelSide};
use crate::engine::level_bits::{first_of, last_of, LevelBits};
use crate::engine::position::{Direction, Side};

/// One survivor per level and direction, with its bit sets and the orders that have no slot.
#[derive(Clone, Debug, Default)]
pub(super) struct SurvivorMap {
    /// Per direction, per level: the slot (`NONE` when empty).
    pub(super) slots: [Vec<u32>; 2],
    /// Per direction, the levels whose slot holds a buy and those holding a sell.
    pub(super) bits: [[LevelBits; 2]; 2],
    /// Per direction, live orders whose price is not on the ladder `(price, index)`.
    pub(super) off_grid: [Vec<(f64, usize)>; 2],
    /// Per direction, live orders sharing a level with the survivor `(price, index)`.
    pub(super) dups: [Vec<(f64, usize)>; 2],
    /// The grid version the map was made for (or followed to).
    pub(super) version: u32,
    /// The map describes the live orders.
    pub(super) ok: bool,
}

impl SurvivorMap {
    /// True when the map describes the live orders on the ladder of `grid_version`.
    #[inline]
    pub(super) fn is_current(&self, grid_version: u32) -> bool {
        self.ok && self.version == grid_version
    }

    /// Writes the slot of direction `d` at level `li`, keeping the bit sets in step.
    #[inline]
    pub(super) fn set(&mut self, d: usize, li: usize, slot: u32) {
        self.slots[d][li] = slot;
        let occupied = slot != NONE;
        self.bits[d][0].put(li, occupied & !slot_is_sell(slot));
        self.bits[d][1].put(li, occupied & slot_is_sell(slot));
    }

    /// Recomputes the bit sets of direction `d` from its slots.
    pub(super) fn refresh_bits(&mut self, d: usize) {
        let n = self.slots[d].len();
        self.bits[d][0].reset(n);
        self.bits[d][1].reset(n);
        for li in 0..n {
            self.set(d, li, self.slots[d][li]);
        }
    }

    /// The highest level holding a buy order and the lowest holding a sell order, either
    /// direction, from the bit sets.
    #[inline]
    pub(super) fn extreme_levels(&self) -> (Option<usize>, Option<usize>) {
        let [[long_buys, long_sells], [short_buys, short_sells]] = &self.bits;
        let buys = long_buys.words().iter().zip(short_buys.words()).map(|(x, y)| x | y);
        let sells = long_sells.words().iter().zip(short_sells.words()).map(|(x, y)| x | y);
        (last_of(buys), first_of(sells))
    }

    /// The survivor map's invariants, when the map claims to be current: every occupied slot
    /// holds a live order of its direction, side and level price; every live order is in its
    /// slot, off the ladder or a duplicate, exactly once; the slot bits mirror the slots.
    /// `None` when they hold (or the map is not current), else what is broken.
    pub(super) fn invariant_violation(
        &self,
        orders: &[Order],
        levels: &[Level],
        grid_version: u32,
    ) -> Option<String> {
        if !self.is_current(grid_version) {
            return None;
        }
        let mut seen = vec![0u8; orders.len()];
        for d in 0..2 {
            if self.slots[d].len() != levels.len() {
                return Some(format!(
                    "dir {d}: {} slots for {} levels",
                    self.slots[d].len(),
                    levels.len()
                ));
            }
            for (li, &slot) in self.slots[d].iter().enumerate() {
                let bits = (self.bits[d][0].contains(li), self.bits[d][1].contains(li));
                if slot == NONE {
                    if bits != (false, false) {
                        return Some(format!("dir {d} level {li}: empty slot with bits {bits:?}"));
                    }
                    continue;
                }
                let i = slot_index(slot);
                let Some(o) = orders.get(i) else {
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
        for (i, o) in orders.iter().enumerate() {
            let want = u8::from(o.is_live());
            if seen[i] != want {
                return Some(format!("order {i} ({o:?}) is listed {} times", seen[i]));
            }
        }
        None
    }
}

impl Engine {
    /// Makes the survivor map current: kept up to date by fills, cancels, placements and
    /// one-level rebalance shifts while no two orders of a direction share a price (with
    /// duplicates the survivor depends on the level sides, which fills change), rebuilt by
    /// [`Engine::collect_survivors`] otherwise (and always in the reference engine).
    #[inline]
    pub(super) fn ensure_survivors(&mut self) {
        let usable =
            self.map.ok && self.book.dead <= MAX_DEAD && self.map.dups.iter().all(Vec::is_empty);
        let current = usable
            && (self.map.version == self.grid.version()
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
        let Some(delta) = self.grid.shift_since(self.map.version) else { return false };
        if self.map.off_grid.iter().any(|v| !v.is_empty()) {
            return false; // an off-ladder order might sit at the new level's price
        }
        let n = self.grid.levels().len();
        if n == 0 || self.map.slots.iter().any(|s| s.len() != n) {
            return false;
        }
        for d in 0..2 {
            let slots = &mut self.map.slots[d];
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
                self.map.off_grid[d].push((self.book.orders[i].price, i));
            }
            self.map.refresh_bits(d);
        }
        let version = self.grid.version();
        for o in self.book.orders.iter_mut().filter(|o| o.is_live()) {
            o.level = o.level.and_then(|li| u32::try_from(i64::from(li) + delta).ok());
            o.level = o.level.filter(|&li| (li as usize) < n);
            o.grid_version = version;
        }
        self.map.version = version;
        true
    }

    /// Finds one surviving order per price for both directions: `self.map.slots[dir][level]`
    /// for prices on the ladder (`NONE` when empty), `self.map.off_grid[dir]` (ascending) for the
    /// others. Extra orders at one price go to `self.map.dups[dir]` (ascending by price): the
    /// survivor is one whose side the grid wants there, else the first placed (the origin's rule).
    /// Drops the tombstones first.
    pub(super) fn collect_survivors(&mut self) {
        if self.book.dead > 0 {
            self.book.orders.retain(Order::is_live);
            self.book.triggers.clear();
            self.book.triggers.extend(self.book.orders.iter().map(Order::trigger));
            self.book.dead = 0;
        }
        self.map.ok = true;
        self.map.version = self.grid.version();
        let n = self.grid.levels().len();
        let version = self.grid.version();
        for d in 0..2 {
            self.map.slots[d].clear();
            self.map.slots[d].resize(n, NONE);
            self.map.off_grid[d].clear();
            self.map.dups[d].clear();
        }
        for i in 0..self.book.orders.len() {
            if self.book.orders[i].grid_version != version {
                let o = self.book.orders[i];
                let li = o
                    .level
                    .and_then(|old| self.grid.shifted_index(old as usize, o.grid_version, o.price))
                    .or_else(|| self.grid.index_of(o.price));
                self.book.orders[i].level = li.map(|x| x as u32);
                self.book.orders[i].grid_version = version;
            }
            let o = self.book.orders[i];
            let d = o.dir.index();
            match o.level.map(|x| x as usize) {
                Some(li) => {
                    let h = self.map.slots[d][li];
                    if h == NONE {
                        self.map.slots[d][li] = slot_of(i, o.side);
                        continue;
                    }
                    let h = slot_index(h);
                    let want = match self.grid.levels()[li].side {
                        LevelSide::Buy => Some(Side::Buy),
                        LevelSide::Sell => Some(Side::Sell),
                        LevelSide::Wait => None,
                    };
                    if Some(self.book.orders[h].side) != want && Some(o.side) == want {
                        self.map.dups[d].push((self.book.orders[h].price, h));
                        self.map.slots[d][li] = slot_of(i, o.side);
                    } else {
                        self.map.dups[d].push((o.price, i));
                    }
                }
                None => match self.map.off_grid[d].iter().position(|x| x.0 == o.price) {
                    Some(_) => self.map.dups[d].push((o.price, i)),
                    None => self.map.off_grid[d].push((o.price, i)),
                },
            }
        }
        for d in 0..2 {
            self.map.refresh_bits(d);
            if self.map.off_grid[d].len() > 1 {
                self.map.off_grid[d]
                    .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
            if self.map.dups[d].len() > 1 {
                self.map.dups[d].sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
        }
    }

    /// The survivor at ladder index `li` for `dir`.
    #[inline]
    pub(super) fn survivor(&self, dir: Direction, li: usize) -> Option<Order> {
        let k = self.map.slots[dir.index()][li];
        (k != NONE).then(|| self.book.orders[slot_index(k)])
    }
}
