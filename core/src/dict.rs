//! Dense ordinals: each distinct string of a kind gets the next small
//! integer, in first-seen order. Bitmaps over dense ids stay small and
//! union fast; ids never leak into results, which always carry strings.

use foldhash::HashMap;

/// The id that means "no value".
pub(crate) const NONE: u32 = u32::MAX;

/// A string dictionary with dense `u32` ids.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dict {
    ids: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
    /// The last id interned: hits come in runs (one visitor's visit, one
    /// page's title), and a compare is cheaper than a hash lookup.
    last: Option<u32>,
}

impl Dict {
    /// The id of `value`, assigning the next one if new.
    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        if let Some(last) = self.last
            && *self.values[last as usize] == *value
        {
            return last;
        }
        if let Some(&id) = self.ids.get(value) {
            self.last = Some(id);
            return id;
        }
        let id = self.values.len() as u32;
        let boxed: Box<str> = value.into();
        self.values.push(boxed.clone());
        self.ids.insert(boxed, id);
        self.last = Some(id);
        id
    }

    /// The id of `value` if it was seen.
    pub(crate) fn get(&self, value: &str) -> Option<u32> {
        self.ids.get(value).copied()
    }

    /// The string of `id`. Panics on an id this dictionary never gave out,
    /// which would be a bug in hitmap, not bad input.
    pub(crate) fn value(&self, id: u32) -> &str {
        &self.values[id as usize]
    }

    /// The string of an optional id.
    pub(crate) fn opt(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.value(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// All `(id, value)` pairs in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, &**v))
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
    }
}
