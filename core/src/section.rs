//! Sections as sets of URL ids: computed once per section and site from
//! the URL dictionary, extended by the URLs added since (the dictionary
//! only grows; a rebuilt one, after an erasure or a reader's refresh,
//! comes with an empty cache).

use std::sync::Arc;

use crate::bitset::BitSet;
use crate::dict::Dict;
use crate::url::{path_in_prefix, path_of};

/// The URL sets of the sections asked so far over one site's dictionaries.
#[derive(Debug, Default)]
pub(crate) struct SectionCache(std::sync::Mutex<Vec<SectionUrls>>);

#[derive(Debug, Clone)]
pub(crate) struct SectionUrls {
    /// The section's path prefixes (a redefined section is another entry).
    prefixes: Vec<String>,
    /// URL ids `0..covered` have been tested.
    covered: usize,
    set: Arc<SectionSet>,
}

/// A section's URL ids and a key naming its path prefixes: the same key
/// means the same section, whatever it is called, so per-day caches of
/// its cuts ([`DayArchive::section_cut`]) can be shared by every query.
#[derive(Debug, Clone)]
pub(crate) struct SectionSet {
    /// The prefixes as JSON text.
    pub(crate) key: Arc<str>,
    pub(crate) urls: BitSet,
}

impl SectionSet {
    /// Whether a URL id lies in the section.
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.urls.contains(id)
    }
}

impl Clone for SectionCache {
    fn clone(&self) -> SectionCache {
        let entries = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        SectionCache(std::sync::Mutex::new(entries.clone()))
    }
}

impl SectionCache {
    /// The URL ids whose path lies under one of `prefixes`.
    pub(crate) fn urls_for(&self, prefixes: Vec<String>, urls: &Dict) -> Arc<SectionSet> {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = match cache.iter().position(|e| e.prefixes == prefixes) {
            Some(at) => at,
            None => {
                let key = serde_json::to_string(&prefixes).expect("strings serialize");
                cache.push(SectionUrls {
                    prefixes,
                    covered: 0,
                    set: Arc::new(SectionSet {
                        key: key.into(),
                        urls: BitSet::new(0),
                    }),
                });
                cache.len() - 1
            }
        };
        let entry = &mut cache[at];
        if entry.covered < urls.len() {
            let set = &mut Arc::make_mut(&mut entry.set).urls;
            set.grow(urls.len());
            for id in entry.covered..urls.len() {
                let path = path_of(urls.value(id as u32));
                if entry.prefixes.iter().any(|p| path_in_prefix(path, p)) {
                    set.insert(id as u32);
                }
            }
            entry.covered = urls.len();
        }
        entry.set.clone()
    }
}
