//! A set of ladder indices, one bit per level: the ladder's sides and the book's occupied
//! levels as bit masks, so scans over the ladder become a few word operations.

/// A set of level indices below a fixed length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelBits {
    words: Vec<u64>,
}

impl LevelBits {
    /// Empties the set and sizes it for indices below `len` (keeps the buffer).
    #[inline]
    pub fn reset(&mut self, len: usize) {
        self.words.clear();
        self.words.resize(len.div_ceil(64), 0);
    }

    /// Makes this set equal to `other` (keeps the buffer).
    #[inline]
    pub fn copy_from(&mut self, other: &LevelBits) {
        self.words.clear();
        self.words.extend_from_slice(&other.words);
    }

    /// The 64-bit words, lowest indices first.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The words, for writing whole words at once.
    #[inline]
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// Adds `i` when `on`, removes it otherwise.
    #[inline]
    pub fn put(&mut self, i: usize, on: bool) {
        let (w, b) = (i / 64, i % 64);
        self.words[w] = (self.words[w] & !(1 << b)) | (u64::from(on) << b);
    }

    /// Adds (`on`) or removes every index in `from..to`.
    #[inline]
    pub fn put_range(&mut self, from: usize, to: usize, on: bool) {
        let mut i = from;
        while i < to {
            let (w, b) = (i / 64, i % 64);
            let n = (to - i).min(64 - b);
            let mask = (u64::MAX >> (64 - n)) << b;
            self.words[w] = if on { self.words[w] | mask } else { self.words[w] & !mask };
            i += n;
        }
    }

    /// True when `i` is in the set.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Number of indices in the set.
    #[inline]
    pub fn count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// The lowest index in the set.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        first_of(self.words.iter().copied())
    }

    /// The highest index in the set.
    #[inline]
    pub fn last(&self) -> Option<usize> {
        last_of(self.words.iter().copied())
    }
}

/// The lowest set bit's index in a word sequence (lowest indices first).
#[inline]
pub fn first_of(words: impl Iterator<Item = u64>) -> Option<usize> {
    for (k, w) in words.enumerate() {
        if w != 0 {
            return Some(k * 64 + w.trailing_zeros() as usize);
        }
    }
    None
}

/// The highest set bit's index in a word sequence (lowest indices first).
#[inline]
pub fn last_of(words: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator) -> Option<usize> {
    for (k, w) in words.enumerate().rev() {
        if w != 0 {
            return Some(k * 64 + 63 - w.leading_zeros() as usize);
        }
    }
    None
}

/// Calls `f` with every set bit's index in ascending order.
#[inline]
pub fn for_each_set(words: impl Iterator<Item = u64>, mut f: impl FnMut(usize)) {
    for (k, mut w) in words.enumerate() {
        while w != 0 {
            f(k * 64 + w.trailing_zeros() as usize);
            w &= w - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_match_a_bool_vector() {
        let n = 130;
        let mut b = LevelBits::default();
        b.reset(n);
        assert_eq!(b.words().len(), 3);
        let mut v = vec![false; n];
        for i in [0usize, 5, 63, 64, 65, 127, 128, 129, 5] {
            b.put(i, true);
            v[i] = true;
        }
        b.put(65, false);
        v[65] = false;
        for (i, &on) in v.iter().enumerate() {
            assert_eq!(b.contains(i), on, "{i}");
        }
        assert!(!b.contains(500));
        assert_eq!(b.count(), 7);
        assert_eq!(b.first(), Some(0));
        assert_eq!(b.last(), Some(129));
        let mut seen = vec![];
        for_each_set(b.words().iter().copied(), |i| seen.push(i));
        assert_eq!(seen, [0, 5, 63, 64, 127, 128, 129]);
        b.put(0, false);
        b.put(129, false);
        b.put(128, false);
        assert_eq!((b.first(), b.last()), (Some(5), Some(127)));
        b.reset(n);
        assert_eq!((b.first(), b.last(), b.count()), (None, None, 0));
        // Ranges across word edges, checked against single puts.
        for (from, to) in [(0, 0), (0, 1), (3, 64), (60, 70), (0, 130), (64, 128), (127, 130)] {
            for on in [true, false] {
                let mut r = LevelBits::default();
                r.reset(n);
                r.put_range(0, n, !on);
                r.put_range(from, to, on);
                for i in 0..n {
                    assert_eq!(r.contains(i), if (from..to).contains(&i) { on } else { !on });
                }
            }
        }
    }
}
