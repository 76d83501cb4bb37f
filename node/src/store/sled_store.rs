//! The sled implementation of [`Store`]: the only file that names sled.
//!
//! Every tree of the trait lives in one sled keyspace under the prefix `tree` 0x00.
//!
//! A commit is made atomic by a redo record rather than by `apply_batch`: sled's
//! `apply_batch` takes a lock that is global to the process and that every `flush` holds for
//! the whole of its fsync, so a commit waited for any flush in progress (the writer could not
//! apply a batch while the previous one went to disk; nodes sharing a process waited for each
//! other's disks). Instead a commit inserts a redo record holding all its writes, in parts
//! each small enough to stay in sled's log (each part names how many there are), then
//! applies the writes one by one, and removes the record. Opening the store replays every
//! complete record a crash left, in order, and drops incomplete ones (sled recovers a prefix
//! of its log, so a commit whose record is incomplete had applied nothing yet). Readers may
//! see part of a commit for a moment, never after a crash. A large commit (a catch-up's
//! runs: writing every byte twice cost more than the lock) or one with a value too large for
//! a part (sled would put it in a file of its own) still uses `apply_batch`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{Batch, ExportSink, KeyValue, Store, StoreError, SCHEMA_VERSION};

const META_TREE: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";
/// sled's page cache per database; its default (1 GiB) would let a node grow far past what
/// a county machine should give it during a large catch-up.
const CACHE_BYTES: u64 = 256 << 20;
/// Redo records of commits being applied: commit number (u64 BE) ‖ part (u32 BE) → number
/// of parts (u32 BE) and writes.
const REDO_TREE: &str = "store_redo";
/// Most bytes of writes per redo part: well under a quarter of sled's 512 KiB log segment,
/// past which sled stores a value as a separate file.
const REDO_PART_BYTES: usize = 48 << 10;
/// Largest commit written through a redo record (its bytes are written twice).
const REDO_MAX_BYTES: usize = 256 << 10;

/// A [`Store`] on a sled database in one directory.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    /// One commit at a time, numbered: redo records replay in commit order.
    commits: Arc<Mutex<u64>>,
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
        let store = Self {
            db,
            commits: Arc::new(Mutex::new(0)),
        };
        store.check_schema()?;
        store.replay()?;
        Ok(store)
    }

    /// Finishes the commits a crash interrupted, in order, drops the records of commits that
    /// had not started, and makes that durable.
    fn replay(&self) -> Result<(), StoreError> {
        let records: Vec<(sled::IVec, sled::IVec)> = self
            .db
            .scan_prefix(full_key(REDO_TREE, b""))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        if records.is_empty() {
            return Ok(());
        }
        let prefix = REDO_TREE.len() + 1;
        // Parts in key order: by commit, then part.
        let mut commits: Vec<(Vec<u8>, u32, Vec<Write>)> = Vec::new();
        for (key, part) in &records {
            let commit = key.get(prefix..prefix + 8).ok_or_else(corrupt_redo)?;
            let (parts, writes) = decode_redo(part)?;
            match commits.last_mut() {
                Some((c, _, all)) if c.as_slice() == commit => all.extend(writes),
                _ => commits.push((commit.to_vec(), parts, writes)),
            }
        }
        let mut finished = 0;
        for (commit, parts, writes) in commits {
            let held = records
                .iter()
                .filter(|(k, _)| k.get(prefix..prefix + 8) == Some(commit.as_slice()))
                .count();
            if held != parts as usize {
                continue;
            }
            for (k, v) in writes {
                match v {
                    Some(v) => self.db.insert(k, v).map(|_| ()),
                    None => self.db.remove(k).map(|_| ()),
                }
                .map_err(backend)?;
            }
            finished += 1;
        }
        tracing::info!(
            commits = finished,
            "finished commits interrupted by a crash"
        );
        for (key, _) in records {
            self.db.remove(key).map_err(backend)?;
        }
        self.db.flush().map(|_| ()).map_err(backend)
    }

    /// Applies `batch` under sled's `apply_batch` (for commits too large for a redo record).
    fn apply_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (tree, key, value) in batch.writes() {
            match value {
                Some(v) => b.insert(full_key(tree, key), v),
                None => b.remove(full_key(tree, key)),
            }
        }
        self.db.apply_batch(b).map_err(backend)
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

    fn range_rev(
        &self,
        tree: &str,
        start: &[u8],
        end: &[u8],
    ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
        let (from, to) = (full_key(tree, start), full_key(tree, end));
        strip(tree.len() + 1, self.db.range(from..to).rev())
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
        let writes: Vec<(Vec<u8>, Option<&[u8]>)> = batch
            .writes()
            .map(|(tree, key, value)| (full_key(tree, key), value))
            .collect();
        let mut commits = self
            .commits
            .lock()
            .map_err(|_| backend("an earlier commit panicked"))?;
        let apply = |(k, v): &(Vec<u8>, Option<&[u8]>)| {
            match v {
                Some(v) => self.db.insert(k.as_slice(), *v).map(|_| ()),
                None => self.db.remove(k.as_slice()).map(|_| ()),
            }
            .map_err(backend)
        };
        match writes.as_slice() {
            [] => Ok(()),
            // One write is atomic by itself.
            [one] => apply(one),
            _ => {
                let Some(parts) = encode_redo(&writes) else {
                    return self.apply_batch(batch);
                };
                *commits += 1;
                let mut keys = Vec::with_capacity(parts.len());
                for (i, part) in parts.into_iter().enumerate() {
                    let mut id = commits.to_be_bytes().to_vec();
                    id.extend_from_slice(&(i as u32).to_be_bytes());
                    let key = full_key(REDO_TREE, &id);
                    self.db.insert(key.as_slice(), part).map_err(backend)?;
                    keys.push(key);
                }
                // On an error the record stays: the commit is finished at the next open.
                writes.iter().try_for_each(apply)?;
                keys.into_iter()
                    .try_for_each(|k| self.db.remove(k).map(|_| ()))
                    .map_err(backend)
            }
        }
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

    fn export(&self, sink: &mut ExportSink<'_>) -> Result<u64, StoreError> {
        // Every commit takes this lock: holding it, no commit is half-applied while the
        // keyspace is copied. Redo records of finished commits are not data.
        let _commits = self
            .commits
            .lock()
            .map_err(|_| backend("an earlier commit panicked"))?;
        let redo = full_key(REDO_TREE, b"");
        let mut n = 0;
        for kv in self.db.iter() {
            let (k, v) = kv.map_err(backend)?;
            if k.starts_with(&redo) {
                continue;
            }
            sink(&k, &v)?;
            n += 1;
        }
        Ok(n)
    }
}

impl SledStore {
    /// Creates a store in the empty or missing folder `dir` from exported `records` (see
    /// [`Store::export`]), durably, and returns it open.
    pub fn create_from(
        dir: &Path,
        records: impl Iterator<Item = Result<KeyValue, StoreError>>,
    ) -> Result<Self, StoreError> {
        let occupied = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if occupied {
            return Err(StoreError::Backend(format!(
                "{} is not empty: restore into an empty folder",
                dir.display()
            )));
        }
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
        let mut batch = sled::Batch::default();
        for (n, kv) in records.enumerate() {
            let (k, v) = kv?;
            batch.insert(k, v);
            if (n + 1) % 10_000 == 0 {
                db.apply_batch(std::mem::take(&mut batch))
                    .map_err(backend)?;
            }
        }
        db.apply_batch(batch).map_err(backend)?;
        db.flush().map_err(backend)?;
        drop(db);
        // Opening checks the schema version the backup carried. sled releases its file lock
        // from a background thread a moment after the drop: wait for it, briefly.
        let mut tries = 0;
        loop {
            match Self::open(dir) {
                Err(e) if tries < 100 && e.to_string().contains("could not acquire lock") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }
}

/// A redo record in parts of about [`REDO_PART_BYTES`], each: the number of parts (u32 BE),
/// then per write 0 (delete) or 1 (set), the key's length (u32 BE) and key, and for a set the
/// value's length (u32 BE) and value. `None` when a single write is too large for a part.
fn encode_redo(writes: &[(Vec<u8>, Option<&[u8]>)]) -> Option<Vec<Vec<u8>>> {
    let total: usize = writes
        .iter()
        .map(|(k, v)| 9 + k.len() + v.map_or(0, <[u8]>::len))
        .sum();
    if total > REDO_MAX_BYTES {
        return None;
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (k, v) in writes {
        let size = 9 + k.len() + v.map_or(0, <[u8]>::len);
        if size > REDO_PART_BYTES {
            return None;
        }
        let part = match parts.last_mut() {
            Some(p) if p.len() + size <= REDO_PART_BYTES + 4 => p,
            _ => {
                parts.push(Vec::with_capacity(REDO_PART_BYTES + 4));
                parts.last_mut()?.extend_from_slice(&[0; 4]);
                parts.last_mut()?
            }
        };
        part.push(u8::from(v.is_some()));
        part.extend_from_slice(&(k.len() as u32).to_be_bytes());
        part.extend_from_slice(k);
        if let Some(v) = v {
            part.extend_from_slice(&(v.len() as u32).to_be_bytes());
            part.extend_from_slice(v);
        }
    }
    let count = (parts.len() as u32).to_be_bytes();
    for p in &mut parts {
        p[..4].copy_from_slice(&count);
    }
    Some(parts)
}

type Write = (Vec<u8>, Option<Vec<u8>>);

fn corrupt_redo() -> StoreError {
    backend("corrupt redo record")
}

/// One part of a redo record: the number of parts and its writes.
fn decode_redo(mut rest: &[u8]) -> Result<(u32, Vec<Write>), StoreError> {
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, StoreError> {
        let (head, tail) = rest.split_at_checked(n).ok_or_else(corrupt_redo)?;
        *rest = tail;
        Ok(head.to_vec())
    };
    let len = |rest: &mut &[u8]| -> Result<u32, StoreError> {
        let b = take(rest, 4)?;
        let b: [u8; 4] = b.as_slice().try_into().map_err(|_| corrupt_redo())?;
        Ok(u32::from_be_bytes(b))
    };
    let parts = len(&mut rest)?;
    let mut out = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let n = len(&mut rest)? as usize;
        let key = take(&mut rest, n)?;
        let value = match op {
            0 => None,
            1 => {
                let n = len(&mut rest)? as usize;
                Some(take(&mut rest, n)?)
            }
            _ => return Err(corrupt_redo()),
        };
        out.push((key, value));
    }
    Ok((parts, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `dir` again, once sled's flusher thread has let go of the file lock.
    fn reopen(dir: &Path) -> SledStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match SledStore::open(dir) {
                Ok(s) => break s,
                Err(e)
                    if std::time::Instant::now() < deadline && e.to_string().contains("lock") =>
                {
                    std::thread::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

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
        let s = reopen(dir.path());
        assert_eq!(s.get("a_b", b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(s.get("c_d", b"k2").unwrap(), Some(b"v2".to_vec()));
        let mut b = Batch::new();
        b.remove("a_b", b"k1".to_vec());
        s.commit(&b).unwrap();
        assert_eq!(s.get("a_b", b"k1").unwrap(), None);
    }

    #[test]
    fn reverse_ranges_stay_in_their_tree_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let mut b = Batch::new();
        for k in [b"a", b"b", b"c", b"d"] {
            b.insert("t_one", k.to_vec(), k.to_vec());
            b.insert("t_two", k.to_vec(), k.to_vec());
        }
        s.commit(&b).unwrap();
        let keys: Vec<Vec<u8>> = s
            .range_rev("t_one", b"b", b"d")
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(keys, [b"c".to_vec(), b"b".to_vec()]);
        assert_eq!(s.range_rev("t_one", b"x", b"z").count(), 0);
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

    /// Writes the redo record of `writes` as commit 7, only its first `parts` parts.
    fn leave_redo(s: &SledStore, writes: &[(Vec<u8>, Option<&[u8]>)], parts: usize) {
        for (i, part) in encode_redo(writes)
            .unwrap()
            .into_iter()
            .enumerate()
            .take(parts)
        {
            let mut id = 7u64.to_be_bytes().to_vec();
            id.extend_from_slice(&(i as u32).to_be_bytes());
            s.db.insert(full_key(REDO_TREE, &id), part).unwrap();
        }
    }

    #[test]
    fn a_commit_cut_short_by_a_crash_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![5u8; 40 << 10];
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.db.insert(full_key("a_b", b"old"), b"x".as_slice())
                .unwrap();
            // As if the process died after the redo record (two parts) and the first write.
            let writes = [
                (full_key("a_b", b"k1"), Some(big.as_slice())),
                (full_key("a_b", b"old"), None),
                (full_key("c_d", b"k2"), Some(big.as_slice())),
            ];
            assert_eq!(encode_redo(&writes).unwrap().len(), 2);
            leave_redo(&s, &writes, 2);
            s.db.insert(full_key("a_b", b"k1"), big.as_slice()).unwrap();
            s.db.flush().unwrap();
        }
        let s = reopen(dir.path());
        assert_eq!(s.get("a_b", b"k1").unwrap(), Some(big.clone()));
        assert_eq!(s.get("a_b", b"old").unwrap(), None);
        assert_eq!(s.get("c_d", b"k2").unwrap(), Some(big));
        assert_eq!(s.scan_prefix(REDO_TREE, b"").count(), 0);
    }

    #[test]
    fn a_commit_whose_redo_record_is_incomplete_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![5u8; 40 << 10];
        {
            let s = SledStore::open(dir.path()).unwrap();
            let writes = [
                (full_key("a_b", b"k1"), Some(big.as_slice())),
                (full_key("c_d", b"k2"), Some(big.as_slice())),
            ];
            leave_redo(&s, &writes, 1);
            s.db.flush().unwrap();
        }
        let s = reopen(dir.path());
        assert_eq!(s.get("a_b", b"k1").unwrap(), None);
        assert_eq!(s.get("c_d", b"k2").unwrap(), None);
        assert_eq!(s.scan_prefix(REDO_TREE, b"").count(), 0);
    }

    #[test]
    fn commits_leave_no_redo_records_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        // One part; several parts; a value too large for a part (sled's own batch).
        for size in [10, 30 << 10, 60 << 10] {
            let mut b = Batch::new();
            b.insert("t", b"a".to_vec(), vec![1; size]);
            b.insert("t", b"b".to_vec(), vec![2; size]);
            b.remove("t", b"c".to_vec());
            s.commit(&b).unwrap();
            assert_eq!(s.get("t", b"b").unwrap(), Some(vec![2; size]));
        }
        // Many small values, too many bytes for a redo record (sled's own batch).
        let mut b = Batch::new();
        for i in 0..100u32 {
            b.insert("u", i.to_be_bytes().to_vec(), vec![3; 4 << 10]);
        }
        assert!(encode_redo(
            &b.writes()
                .map(|(t, k, v)| (full_key(t, k), v))
                .collect::<Vec<_>>()
        )
        .is_none());
        s.commit(&b).unwrap();
        assert_eq!(s.scan_prefix("u", b"").count(), 100);
        assert_eq!(s.scan_prefix(REDO_TREE, b"").count(), 0);
        assert!(decode_redo(&[0, 0, 0, 1, 2, 0, 0, 0, 0]).is_err());
        assert!(decode_redo(&[0, 0, 0, 1, 1, 0, 0, 0, 9, 1]).is_err());
        assert!(decode_redo(&[0, 0]).is_err());
    }
}
