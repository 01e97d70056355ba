//! A set of dense ids (visitors, users, URLs of a section), counted
//! exactly: one bit per id.

/// A set of dense ids, counted exactly: one bit per id.
#[derive(Debug, Clone)]
pub(crate) struct BitSet {
    words: Vec<u64>,
    count: u64,
}

impl BitSet {
    pub(crate) fn new(universe: usize) -> BitSet {
        BitSet {
            words: vec![0; universe.div_ceil(64)],
            count: 0,
        }
    }

    /// Adds every id of `other`.
    pub(crate) fn union_with(&mut self, other: &BitSet) {
        self.grow(other.words.len() * 64);
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
        self.count = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
    }

    /// Makes room for ids below `universe`.
    pub(crate) fn grow(&mut self, universe: usize) {
        let words = universe.div_ceil(64);
        if words > self.words.len() {
            self.words.resize(words, 0);
        }
    }

    pub(crate) fn insert(&mut self, id: u32) {
        let (w, b) = ((id / 64) as usize, id % 64);
        let mask = 1u64 << b;
        if self.words[w] & mask == 0 {
            self.words[w] |= mask;
            self.count += 1;
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// Adds every id of a bitmap (growing the set as needed).
    pub(crate) fn insert_all(&mut self, ids: &roaring::RoaringBitmap) {
        if let Some(max) = ids.max() {
            self.grow(max as usize + 1);
        }
        for id in ids {
            self.insert(id);
        }
    }

    /// The ids as a bitmap.
    pub(crate) fn to_bitmap(&self) -> roaring::RoaringBitmap {
        let mut out = roaring::RoaringBitmap::new();
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let b = bits.trailing_zeros();
                let _ = out.try_push((w as u32) * 64 + b);
                bits &= bits - 1;
            }
        }
        out
    }

    /// Whether `id` is in the set; ids beyond the universe (and `NONE`)
    /// are not.
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.words
            .get((id / 64) as usize)
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }
}
