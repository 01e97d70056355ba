//! Dense ordinals: each distinct string of a kind gets the next small
//! integer, in first-seen order. Bitmaps over dense ids stay small and
//! union fast; ids never leak into results, which always carry strings.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

/// The id that means "no value".
pub(crate) const NONE: u32 = u32::MAX;

/// A string dictionary with dense `u32` ids.
///
/// The strings sit end to end in one buffer and the hash table holds ids
/// alone, so a lookup touches a small table and compact text rather than a
/// heap allocation per string (about 12 bytes per value besides its text).
/// A dictionary read from a store builds its table on the first lookup:
/// most questions only turn ids into strings, and a cold process that
/// hashes every URL and visitor id of ten years before its first answer
/// spends most of its time there.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dict {
    /// Every value, in id order, end to end.
    text: String,
    /// Where each value ends in `text`; it starts where the previous ends.
    ends: Vec<usize>,
    /// Ids, hashed by their value; built on first use.
    table: OnceLock<HashTable<u32>>,
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

/// The table of the values so far. A value held twice (only a damaged
/// file could hold one) is found under its first id.
fn table_of(text: &str, ends: &[usize]) -> HashTable<u32> {
    let mut table = HashTable::with_capacity(ends.len());
    for id in 0..ends.len() as u32 {
        let value = at(text, ends, id);
        let h = hash(value);
        if table
            .find(h, |&other| at(text, ends, other) == value)
            .is_none()
        {
            table.insert_unique(h, id, |&id| hash(at(text, ends, id)));
        }
    }
    table
}

impl Dict {
    fn table(&self) -> &HashTable<u32> {
        self.table.get_or_init(|| table_of(&self.text, &self.ends))
    }

    /// The id of `value`, assigning the next one if new.
    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        if let Some(last) = self.last
            && self.value(last) == value
        {
            return last;
        }
        self.table();
        let h = hash(value);
        let (text, ends) = (&self.text, &self.ends);
        let table = self.table.get_mut().expect("built above");
        if let Some(&id) = table.find(h, |&id| at(text, ends, id) == value) {
            self.last = Some(id);
            return id;
        }
        let id = self.ends.len() as u32;
        self.text.push_str(value);
        self.ends.push(self.text.len());
        let (text, ends) = (&self.text, &self.ends);
        table.insert_unique(h, id, |&id| hash(at(text, ends, id)));
        self.last = Some(id);
        id
    }

    /// Appends the next value as read from a store, without looking it
    /// up: a file holds each value once.
    pub(crate) fn push_stored(&mut self, value: &str) -> u32 {
        if self.table.get().is_some() {
            return self.intern(value);
        }
        self.text.push_str(value);
        self.ends.push(self.text.len());
        self.ends.len() as u32 - 1
    }

    /// Room for `values` more values of `text` bytes in all.
    pub(crate) fn reserve(&mut self, values: usize, text: usize) {
        self.ends.reserve(values);
        self.text.reserve(text);
    }

    /// The id of `value` if it was seen.
    pub(crate) fn get(&self, value: &str) -> Option<u32> {
        self.table()
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
            + self
                .table
                .get()
                .map_or(0, |t| t.capacity() * (std::mem::size_of::<u32>() + 1))
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

    /// Values read from a store are found once the table is built on
    /// the first lookup, and interning after them goes on from their ids;
    /// a value held twice is found under its first id.
    #[test]
    fn stored_values_are_found_after_the_lazy_build() {
        let mut d = Dict::default();
        d.reserve(3, 3);
        assert_eq!(d.push_stored("a"), 0);
        assert_eq!(d.push_stored("bb"), 1);
        assert_eq!(d.push_stored("a"), 2);
        assert_eq!(d.value(1), "bb");
        assert_eq!(d.get("a"), Some(0));
        assert_eq!(d.get("bb"), Some(1));
        assert_eq!(d.get("c"), None);
        assert_eq!(d.intern("bb"), 1);
        assert_eq!(d.intern("c"), 3);
        assert_eq!(d.push_stored("d"), 4);
        assert_eq!(d.get("d"), Some(4));
        let mut fresh = Dict::default();
        fresh.push_stored("x");
        assert_eq!(fresh.intern("y"), 1);
        assert_eq!(fresh.intern("x"), 0);
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
