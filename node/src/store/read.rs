//! Reading what views hold: from the store itself (every read outside the writer), or from a
//! store with a batch's pending writes over it ([`Staged`]: commands are checked against
//! what the batch they join has staged so far). View functions take any [`Read`], so a page
//! or a gRPC handler reads with the store alone and never makes an empty batch.

use super::{Batch, KeyValue, Store, StoreError};

/// Reads a store, or a store with pending writes over it.
pub trait Read {
    /// The value at `key` in `tree`, if any.
    fn value(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries of `tree` whose key starts with `prefix`, in key order.
    fn with_prefix(&self, tree: &'static str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError>;

    /// The last entry of `tree` with a key in `[start, end)` (pending deletions are not
    /// consulted: for append-only trees).
    fn last_between(
        &self,
        tree: &'static str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError>;
}

impl<S: Store + ?Sized> Read for S {
    fn value(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(tree, key)
    }

    fn with_prefix(&self, tree: &'static str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_prefix(tree, prefix).collect()
    }

    fn last_between(
        &self,
        tree: &'static str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        self.last_in_range(tree, start, end)
    }
}

/// A store seen through a batch: the batch's writes (and deletions) first, then the store.
#[derive(Debug, Clone, Copy)]
pub struct Staged<'a> {
    store: &'a dyn Store,
    batch: &'a Batch,
}

impl Batch {
    /// `store` as this batch would leave it.
    pub fn over<'a>(&'a self, store: &'a dyn Store) -> Staged<'a> {
        Staged { store, batch: self }
    }
}

impl Read for Staged<'_> {
    fn value(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.batch.get(self.store, tree, key)
    }

    fn with_prefix(&self, tree: &'static str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        self.batch.scan_prefix(self.store, tree, prefix)
    }

    fn last_between(
        &self,
        tree: &'static str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        self.batch.last_in_range(self.store, tree, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn a_staged_read_sees_the_batch_over_the_store() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let store = SledStore::open(dir.path())?;
        let mut committed = Batch::new();
        committed.insert("t", b"a".to_vec(), b"1".to_vec());
        committed.insert("t", b"b".to_vec(), b"2".to_vec());
        store.commit(&committed)?;
        let mut pending = Batch::new();
        pending.insert("t", b"b".to_vec(), b"3".to_vec());
        pending.remove("t", b"a".to_vec());
        let staged = pending.over(&store);
        assert_eq!(staged.value("t", b"b")?, Some(b"3".to_vec()));
        assert_eq!(staged.value("t", b"a")?, None);
        assert_eq!(staged.with_prefix("t", b"")?.len(), 1);
        // The store alone still reads what was committed.
        assert_eq!(store.value("t", b"a")?, Some(b"1".to_vec()));
        assert_eq!(store.with_prefix("t", b"")?.len(), 2);
        Ok(())
    }
}
