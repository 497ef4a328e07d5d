//! The order book: resting orders (with tombstones), their fill triggers, per-direction
//! aggregates, and the fill search (through the survivor map when it holds every order).
//! The survivor map is in `survivors.rs`, the planner in `planner.rs` (docs/engine.md).

use super::{Engine, Setup, NONE};
use crate::engine::position::{Direction, Side};

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
pub(super) fn slot_of(index: usize, side: Side) -> u32 {
    ((index as u32) << 1) | u32::from(side == Side::Sell)
}

/// The order index of an occupied slot.
#[inline]
pub(super) fn slot_index(slot: u32) -> usize {
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
pub(super) const MAX_DEAD: usize = 256;

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

/// The resting orders in placement order (filled and cancelled ones as tombstones until
/// compaction), their fill triggers beside them, and the per-direction aggregates.
#[derive(Clone, Debug, Default)]
pub(super) struct OrderBook {
    /// Orders, ascending by id (placement order).
    pub(super) orders: Vec<Order>,
    /// `orders[i].trigger()`, kept beside the orders for the per-tick fill scan.
    pub(super) triggers: Vec<[f64; 2]>,
    /// Aggregates of the live orders.
    pub(super) stats: BookStats,
    /// Tombstones in `orders`.
    pub(super) dead: usize,
}

/// The ticker-event planner's state: this tick's intents, the levels the last plan found
/// open, and the margin rejections.
#[derive(Clone, Debug, Default)]
pub(super) struct Planner {
    /// Intents planned on this tick, executed after planning.
    pub(super) intents: Vec<Intent>,
    /// Per direction, the ladder indices the last plan found without a matching order.
    pub(super) open_levels: [Vec<u32>; 2],
    /// `open_levels` covers every level (false after a plan that rebuilt the ladder).
    pub(super) open_levels_ok: bool,
    /// Levels rejected since the book last changed (a repeat is not a new event).
    pub(super) rejected: Vec<(Direction, f64)>,
    /// Levels rejected for margin and not placed since: `orders_rejected` counts each once.
    pub(super) rejected_open: Vec<(Direction, f64)>,
}

impl Engine {
    /// Adds a new resting order to [`BookStats`].
    #[inline]
    pub(super) fn book_add(&mut self, s: &Setup, o: &Order) {
        let (st, d) = (&mut self.book.stats, o.dir.index());
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
        let (st, d) = (&mut self.book.stats, o.dir.index());
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

    /// Takes the order at index `i` out of the book (fill or cancel): a tombstone in the
    /// vector, its slot cleared when the survivor map can follow the change.
    #[inline]
    pub(super) fn unlink(&mut self, i: usize) {
        let o = self.book.orders[i];
        self.book.orders[i].price = f64::NAN;
        self.book.triggers[i] = DEAD_TRIGGER;
        self.book.dead += 1;
        if self.map.is_current(self.grid.version()) && o.grid_version == self.grid.version() {
            let d = o.dir.index();
            if let Some(li) = o.level {
                let slot = self.map.slots[d][li as usize];
                if slot != NONE && slot_index(slot) == i {
                    self.map.set(d, li as usize, NONE);
                    return;
                }
            }
            if let Some(k) = self.map.off_grid[d].iter().position(|x| x.1 == i) {
                self.map.off_grid[d].remove(k);
                return;
            }
        }
        self.map.ok = false;
    }

    /// Moves the orders that fill at `p` into `self.fills`, in placement order, and takes
    /// them out of the book. With a current survivor map holding every live order on an
    /// ascending ladder, the candidates are the buy slots above `p` and the sell slots below
    /// it, found from the extreme slots inward; otherwise every trigger is tested.
    pub(super) fn take_fills(&mut self, p: f64) {
        self.fills.clear();
        let by_slots = self.fast.fill_walk
            && self.map.is_current(self.grid.version())
            && self.grid.is_sorted_unique()
            && self.map.dups.iter().chain(&self.map.off_grid).all(Vec::is_empty);
        if by_slots {
            self.counts.fill_walks += 1;
            self.fill_indices.clear();
            let levels = self.grid.levels();
            let (top_buy, bottom_sell) = self.map.extreme_levels();
            // Buys fill below their price, sells above: walk inward from the extreme slots.
            let (slots, found) = (&self.map.slots, &mut self.fill_indices);
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
                self.fills.push(self.book.orders[i]);
                self.unlink(i);
            }
            return;
        }
        // Most ticks fill one or two orders of ~100: a branch-free test per block of 8
        // finds the blocks worth a closer look.
        let n = self.book.triggers.len();
        let mut start = 0;
        while start < n {
            let end = (start + 8).min(n);
            let hit = self.book.triggers[start..end]
                .iter()
                .fold(false, |h, &[buy_above, sell_below]| h | (p < buy_above) | (p > sell_below));
            if hit {
                for i in start..end {
                    let [buy_above, sell_below] = self.book.triggers[i];
                    if (p < buy_above) | (p > sell_below) {
                        self.fills.push(self.book.orders[i]);
                        self.unlink(i);
                    }
                }
            }
            start = end;
        }
    }

    /// Empties the book.
    pub(super) fn clear_orders(&mut self) {
        self.book.orders.clear();
        self.book.triggers.clear();
        self.book.dead = 0;
        self.map.ok = false;
    }
}
