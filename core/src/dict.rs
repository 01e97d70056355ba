//! Dense ordinals: each distinct string of a kind gets the next small
//! integer, in first-seen order. Bitmaps over dense ids stay small and
//! union fast; ids never leak into results, which always carry strings.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// The id that means "no value".
pub(crate) const NONE: u32 = u32::MAX;

/// A string dictionary with dense `u32` ids.
///
/// The strings sit end to end in one buffer and the hash table holds ids
/// alone, so a lookup touches a small table and compact text rather than a
/// heap allocation per string (about 12 bytes per value besides its text).
#[derive(Debug, Default, Clone)]
pub(crate) struct Dict {
    /// Every value, in id order, end to end.
    text: String,
    /// Where each value ends in `text`; it starts where the previous ends.
    ends: Vec<usize>,
    /// Ids, hashed by their value.
    table: HashTable<u32>,
    /// The last id interned: hits come in runs (one visitor's visit, one
    /// page's title), and a compare is cheaper than a hash lookup.
    last: Option<u32>,
}

/// Hashes dictionary values (fixed seed: hashes never leave the process).
fn hash(value: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6869_746d_6170).hash_one(value)
}

/// Value `id` of a dictionary's text: it starts where the previous ends.
fn at<'a>(text: &'a str, ends: &[usize], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

impl Dict {
    /// The id of `value`, assigning the next one if new.
    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        if let Some(last) = self.last
            && self.value(last) == value
        {
            return last;
        }
        let h = hash(value);
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&id) = self.table.find(h, |&id| at(text, ends, id) == value) {
            self.last = Some(id);
            return id;
        }
        let id = self.ends.len() as u32;
        self.text.push_str(value);
        self.ends.push(self.text.len());
        let (text, ends) = (&self.text, &self.ends);
        self.table
            .insert_unique(h, id, |&id| hash(at(text, ends, id)));
        self.last = Some(id);
        id
    }

    /// The id of `value` if it was seen.
    pub(crate) fn get(&self, value: &str) -> Option<u32> {
        self.table
            .find(hash(value), |&id| self.value(id) == value)
            .copied()
    }

    /// The string of `id`. Panics on an id this dictionary never gave out,
    /// which would be a bug in hitmap, not bad input.
    pub(crate) fn value(&self, id: u32) -> &str {
        at(&self.text, &self.ends, id)
    }

    /// The string of an optional id.
    pub(crate) fn opt(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.value(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// All `(id, value)` pairs in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        (0..self.ends.len() as u32).map(|id| (id, self.value(id)))
    }

    /// Heap bytes held (text, offsets, table), for memory reports.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut d = Dict::default();
        assert_eq!(d.intern("b"), 0);
        assert_eq!(d.intern("a"), 1);
        assert_eq!(d.intern("b"), 0);
        assert_eq!(d.get("a"), Some(1));
        assert_eq!(d.value(1), "a");
        assert_eq!(d.opt(NONE), None);
        assert_eq!(d.len(), 2);
        assert_eq!(d.get("c"), None);
        assert_eq!(d.intern(""), 2);
        assert_eq!(d.value(2), "");
        assert_eq!(d.intern("a"), 1);
        assert_eq!(d.iter().collect::<Vec<_>>(), [(0, "b"), (1, "a"), (2, "")]);
    }

    #[test]
    fn many_values_survive_table_growth() {
        let mut d = Dict::default();
        for i in 0..10_000u32 {
            assert_eq!(d.intern(&format!("value-{i}")), i);
        }
        for i in (0..10_000u32).rev() {
            assert_eq!(d.intern(&format!("value-{i}")), i);
            assert_eq!(d.get(&format!("value-{i}")), Some(i));
            assert_eq!(d.value(i), format!("value-{i}"));
        }
        assert_eq!(d.get("value-10000"), None);
    }
}
