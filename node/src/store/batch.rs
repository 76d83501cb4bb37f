//! A write batch that can be read through: reads see the batch's own writes first, then
//! the store. The writer uses one to validate several commands against each other before a
//! single commit.

use std::collections::BTreeMap;

use super::{KeyValue, Store, StoreError};

/// Pending writes, keyed by (tree, key); `None` deletes.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    writes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` in `tree` to `value`.
    pub fn insert(
        &mut self,
        tree: &'static str,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) {
        self.writes.insert((tree, key.into()), Some(value.into()));
    }

    /// Deletes `key` from `tree`.
    pub fn remove(&mut self, tree: &'static str, key: impl Into<Vec<u8>>) {
        self.writes.insert((tree, key.into()), None);
    }

    /// Reads `key`, seeing this batch's writes first.
    pub fn get(
        &self,
        store: &dyn Store,
        tree: &'static str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(&(tree, key.to_vec())) {
            Some(pending) => Ok(pending.clone()),
            None => store.get(tree, key),
        }
    }

    /// Entries of `tree` whose key starts with `prefix`, in key order, seeing this batch's
    /// writes (and deletions) over the store's.
    pub fn scan_prefix(
        &self,
        store: &dyn Store,
        tree: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in store.scan_prefix(tree, prefix) {
            let (k, v) = item?;
            merged.insert(k, v);
        }
        let start = (tree, prefix.to_vec());
        for ((t, k), v) in self.writes.range(start..) {
            if *t != tree || !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// The last entry of `tree` with a key in `[start, end)`, seeing this batch's writes
    /// (deletions in the batch are not consulted: use it for append-only trees).
    pub fn last_in_range(
        &self,
        store: &dyn Store,
        tree: &'static str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        let pending = self
            .writes
            .range((tree, start.to_vec())..(tree, end.to_vec()))
            .next_back()
            .and_then(|((_, k), v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        let stored = store.last_in_range(tree, start, end)?;
        Ok(match (pending, stored) {
            (Some(p), Some(s)) => Some(if p.0 >= s.0 { p } else { s }),
            (p, s) => p.or(s),
        })
    }

    /// Pending writes of `tree` with keys in `[start, end)`, in key order.
    pub fn range<'a>(
        &'a self,
        tree: &'static str,
        start: &[u8],
        end: &[u8],
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.writes
            .range((tree, start.to_vec())..(tree, end.to_vec()))
            .map(|((_, k), v)| (k.as_slice(), v.as_deref()))
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Number of pending writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// The pending writes in (tree, key) order.
    pub fn writes(&self) -> impl Iterator<Item = (&str, &[u8], Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|((t, k), v)| (*t, k.as_slice(), v.as_deref()))
    }

    /// Moves every write of `other` into this batch (later writes win).
    pub fn merge(&mut self, other: Batch) {
        self.writes.extend(other.writes);
    }
}
