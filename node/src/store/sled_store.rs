//! The sled implementation of [`Store`]: the only file that names sled.

use std::path::Path;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Batch, KeyValue, Store, StoreError, SCHEMA_VERSION};

const META_TREE: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";

/// A [`Store`] on a sled database in one directory.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database under `dir` and checks its schema version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", dir.display())))?;
        let store = Self { db };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.db.open_tree(META_TREE).map_err(backend)?;
        match meta.get(SCHEMA_KEY).map_err(backend)? {
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
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

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).map_err(backend)
    }
}

fn pairs(
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + Send + 'static,
) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send> {
    Box::new(iter.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend)))
}

fn failed<T: Send + 'static>(
    e: StoreError,
) -> Box<dyn Iterator<Item = Result<T, StoreError>> + Send> {
    Box::new(std::iter::once(Err(e)))
}

impl Store for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn range(
        &self,
        tree: &str,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        let t = match self.tree(tree) {
            Ok(t) => t,
            Err(e) => return failed(e),
        };
        match end {
            Some(end) => pairs(t.range(start.to_vec()..end.to_vec())),
            None => pairs(t.range(start.to_vec()..)),
        }
    }

    fn scan_prefix(
        &self,
        tree: &str,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        match self.tree(tree) {
            Ok(t) => pairs(t.scan_prefix(prefix)),
            Err(e) => failed(e),
        }
    }

    fn last_with_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        self.tree(tree)?
            .scan_prefix(prefix)
            .next_back()
            .transpose()
            .map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .map_err(backend)
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut names: Vec<&str> = batch.writes().map(|(t, _, _)| t).collect();
        names.dedup();
        let trees = names
            .iter()
            .map(|n| self.tree(n))
            .collect::<Result<Vec<_>, _>>()?;
        let result: Result<(), TransactionError<()>> = trees.as_slice().transaction(|txs| {
            for (tree, key, value) in batch.writes() {
                // `names` is sorted and deduplicated, as `writes()` is in tree order.
                let i = names
                    .binary_search(&tree)
                    .map_err(|_| ConflictableTransactionError::Abort(()))?;
                match value {
                    Some(v) => {
                        txs[i].insert(key, v)?;
                    }
                    None => {
                        txs[i].remove(key)?;
                    }
                }
            }
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => backend("commit aborted: tree index mismatch"),
            TransactionError::Storage(e) => backend(e),
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    fn clear(&self, tree: &str) -> Result<(), StoreError> {
        self.tree(tree)?.clear().map_err(backend)
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
        let s = SledStore::open(dir.path()).unwrap();
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
