//! The sled implementation of [`Store`]: the only file that names sled.
//!
//! Every tree of the trait lives in one sled keyspace under the prefix `tree` 0x00, so a
//! commit touching several trees is one atomic `apply_batch` (sled's multi-tree transactions
//! cost several times more per write, and commits are the hot path of sync).

use std::path::Path;

use super::{Batch, KeyValue, Store, StoreError, SCHEMA_VERSION};

const META_TREE: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";
/// sled's page cache per database; its default (1 GiB) would let a node grow far past what
/// a county machine should give it during a large catch-up.
const CACHE_BYTES: u64 = 256 << 20;

/// A [`Store`] on a sled database in one directory.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// `tree` 0x00 `key`.
fn full_key(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(tree.len() + 1 + key.len());
    k.extend_from_slice(tree.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// The first key after every key of `tree`.
fn tree_end(tree: &str) -> Vec<u8> {
    let mut k = tree.as_bytes().to_vec();
    k.push(1);
    k
}

impl SledStore {
    /// Opens (or creates) the database under `dir` and checks its schema version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", dir.display())))?;
        let store = Self { db };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let key = full_key(META_TREE, SCHEMA_KEY);
        match self.db.get(&key).map_err(backend)? {
            None => {
                if !self.db.is_empty() || self.db.tree_names().len() > 1 {
                    return Err(StoreError::Schema {
                        found: 1,
                        expected: SCHEMA_VERSION,
                    });
                }
                self.db
                    .insert(key, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(backend)?;
                self.db.flush().map_err(backend)?;
                Ok(())
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| backend("schema version record is malformed"))?;
                if found == SCHEMA_VERSION {
                    Ok(())
                } else {
                    Err(StoreError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    })
                }
            }
        }
    }
}

fn strip(
    prefix_len: usize,
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + Send + 'static,
) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send> {
    Box::new(iter.map(move |r| {
        r.map(|(k, v)| (k[prefix_len..].to_vec(), v.to_vec()))
            .map_err(backend)
    }))
}

impl Store for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(full_key(tree, key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn range(
        &self,
        tree: &str,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        let from = full_key(tree, start);
        let to = match end {
            Some(end) => full_key(tree, end),
            None => tree_end(tree),
        };
        strip(tree.len() + 1, self.db.range(from..to))
    }

    fn scan_prefix(
        &self,
        tree: &str,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        strip(tree.len() + 1, self.db.scan_prefix(full_key(tree, prefix)))
    }

    fn last_in_range(
        &self,
        tree: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        self.db
            .range(full_key(tree, start)..full_key(tree, end))
            .next_back()
            .transpose()
            .map(|o| o.map(|(k, v)| (k[tree.len() + 1..].to_vec(), v.to_vec())))
            .map_err(backend)
    }

    fn last_with_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        self.db
            .scan_prefix(full_key(tree, prefix))
            .next_back()
            .transpose()
            .map(|o| o.map(|(k, v)| (k[tree.len() + 1..].to_vec(), v.to_vec())))
            .map_err(backend)
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        for (tree, key, value) in batch.writes() {
            match value {
                Some(v) => b.insert(full_key(tree, key), v),
                None => b.remove(full_key(tree, key)),
            }
        }
        self.db.apply_batch(b).map_err(backend)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    fn clear(&self, tree: &str) -> Result<(), StoreError> {
        // In slices, so clearing a large view does not build one huge batch.
        loop {
            let keys: Vec<sled::IVec> = self
                .db
                .scan_prefix(full_key(tree, b""))
                .keys()
                .take(10_000)
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            if keys.is_empty() {
                return Ok(());
            }
            let mut b = sled::Batch::default();
            for k in keys {
                b.remove(k);
            }
            self.db.apply_batch(b).map_err(backend)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_atomic_across_trees_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.insert("a_b", b"k1".to_vec(), b"v1".to_vec());
            b.insert("c_d", b"k2".to_vec(), b"v2".to_vec());
            s.commit(&b).unwrap();
            s.flush().unwrap();
        }
        // sled's flusher thread lets go of the file lock shortly after the drop.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let s = loop {
            match SledStore::open(dir.path()) {
                Ok(s) => break s,
                Err(e)
                    if std::time::Instant::now() < deadline && e.to_string().contains("lock") =>
                {
                    std::thread::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(s.get("a_b", b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(s.get("c_d", b"k2").unwrap(), Some(b"v2".to_vec()));
        let mut b = Batch::new();
        b.remove("a_b", b"k1".to_vec());
        s.commit(&b).unwrap();
        assert_eq!(s.get("a_b", b"k1").unwrap(), None);
    }

    #[test]
    fn batch_reads_through() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let mut b = Batch::new();
        b.insert("t", b"x".to_vec(), b"1".to_vec());
        assert_eq!(b.get(&s, "t", b"x").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get("t", b"x").unwrap(), None);
    }

    #[test]
    fn trees_do_not_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let mut b = Batch::new();
        b.insert("ab", b"k".to_vec(), b"1".to_vec());
        b.insert("a", b"bk".to_vec(), b"2".to_vec());
        s.commit(&b).unwrap();
        assert_eq!(s.scan_prefix("a", b"").count(), 1);
        assert_eq!(s.range("a", b"", None).count(), 1);
        s.clear("a").unwrap();
        assert_eq!(s.get("ab", b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get("a", b"bk").unwrap(), None);
    }

    #[test]
    fn prefix_and_last() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let mut b = Batch::new();
        for i in 0u8..5 {
            b.insert("t", vec![b'p', i], vec![i]);
        }
        b.insert("t", b"q".to_vec(), b"z".to_vec());
        s.commit(&b).unwrap();
        assert_eq!(s.scan_prefix("t", b"p").count(), 5);
        let (k, _) = s.last_with_prefix("t", b"p").unwrap().unwrap();
        assert_eq!(k, vec![b'p', 4]);
        assert_eq!(s.range("t", &[b'p', 2], Some(b"q")).count(), 3);
    }
}
