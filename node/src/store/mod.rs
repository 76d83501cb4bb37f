//! Storage behind a narrow trait. Domain code never names sled: it sees named trees of
//! byte keys and values, atomic multi-tree commits, and a durable flush.
//!
//! Trees are named `key_value` (`feed_entries`, `riskid_risk`, ...); the `meta` tree holds
//! the schema version, checked at open.

mod batch;
mod read;
mod sled_store;

pub use batch::Batch;
pub use read::{Read, Staged};
pub use sled_store::SledStore;

/// The on-disk schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Errors from the storage layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption).
    #[error("storage error: {0}")]
    Backend(String),
    /// The database was written by another schema version.
    #[error("database schema version {found} is not supported by this build (expects {expected}); restore a matching backup or upgrade")]
    Schema {
        /// What the database says.
        found: u32,
        /// What this build reads.
        expected: u32,
    },
}

/// A big-endian u64 value, 0 when absent or malformed (counters and positions).
pub fn read_u64(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// A key-value pair read from a tree.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Takes each key and value of an export (the key names its tree: see [`Store::export`]).
pub type ExportSink<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// The narrow storage interface every part of the node uses.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// The value at `key` in `tree`, if any.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries of `tree` with keys in `[start, end)` in key order (`end = None`: to the end).
    fn range(
        &self,
        tree: &str,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_>;

    /// Entries of `tree` with keys in `[start, end)`, last key first (what reads "the newest
    /// N" without reading the rest). The default reads forward and reverses.
    fn range_rev(
        &self,
        tree: &str,
        start: &[u8],
        end: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        let mut all: Vec<_> = self.range(tree, start, Some(end)).collect();
        all.reverse();
        Box::new(all.into_iter())
    }

    /// Entries of `tree` whose key starts with `prefix`, in key order.
    fn scan_prefix(
        &self,
        tree: &str,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_>;

    /// The last entry of `tree` with a key in `[start, end)`.
    fn last_in_range(
        &self,
        tree: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError>;

    /// The last entry of `tree` whose key starts with `prefix`.
    fn last_with_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Option<KeyValue>, StoreError>;

    /// Applies every write of `batch` atomically, across trees: after a crash and restart,
    /// all of them or none. Other threads may see part of a commit while it is applied, in
    /// (tree, key) order. Not yet durable: see `flush`.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;

    /// Makes every committed write durable on disk.
    fn flush(&self) -> Result<(), StoreError>;

    /// Removes every entry of `tree` (used to rebuild views).
    fn clear(&self, tree: &str) -> Result<(), StoreError>;

    /// Hands every stored key and value to `sink`, as of one moment (no commit is applied
    /// meanwhile); returns how many.
    fn export(&self, sink: &mut ExportSink<'_>) -> Result<u64, StoreError>;
}
