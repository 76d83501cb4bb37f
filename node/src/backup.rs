//! Backups of a node's store: one file with every key of the store as of one moment and a
//! checksum. Taken while the node runs (the `Admin.Backup` call stages it beside the store,
//! then streams it); restored into an empty data folder while the node is stopped.
//!
//! Format, version 1: the line `FENGHUO-BACKUP 1 <identity path> <taken at, Unix ms>\n`; per
//! record the key's length (u32 BE), the key, the value's length (u32 BE), the value; then the
//! end mark `0xFFFFFFFF`, the record count (u64 BE) and the SHA-256 of every byte before it.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::store::{KeyValue, SledStore, Store, StoreError};

/// The file's first word.
pub const MAGIC: &str = "FENGHUO-BACKUP";
const VERSION: u32 = 1;
const END: u32 = u32::MAX;
/// Longest header line accepted.
const MAX_HEADER: usize = 512;
/// Tree marking a store restored from a backup whose own feeds are not yet caught up.
pub const RESTORE_TREE: &str = "restore";
const PENDING_KEY: &[u8] = b"pending";

/// Why a backup could not be written, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file is not a backup this build reads.
    #[error("{path} is not a Fenghuo backup this build reads: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is cut short or altered.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The backup is another node's.
    #[error("{path} is a backup of {found}, not of this node ({expected}); restoring it would make this node write as another")]
    OtherNode {
        /// The file.
        path: PathBuf,
        /// Whose it is.
        found: String,
        /// This node.
        expected: String,
    },
}

/// What a backup file says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The node's identity path.
    pub identity: String,
    /// When it was taken, Unix ms.
    pub taken_at_ms: i64,
    /// Records (keys) in it.
    pub records: u64,
    /// Size of the file.
    pub bytes: u64,
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup of `store` (the node `identity`) to `out`, durably.
pub fn write(store: &dyn Store, identity: &str, out: &Path) -> Result<Summary, BackupError> {
    let io = |source| BackupError::Io {
        path: out.to_owned(),
        source,
    };
    let file = File::create(out).map_err(io)?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
        bytes: 0,
    };
    let taken_at_ms = crate::timespec::now_ms();
    writeln!(w, "{MAGIC} {VERSION} {identity} {taken_at_ms}").map_err(io)?;
    let records = store.export(&mut |k, v| {
        let len = |b: &[u8]| {
            u32::try_from(b.len()).map_err(|_| StoreError::Backend("a record over 4 GiB".into()))
        };
        let (kl, vl) = (len(k)?, len(v)?);
        w.write_all(&kl.to_be_bytes())
            .and_then(|_| w.write_all(k))
            .and_then(|_| w.write_all(&vl.to_be_bytes()))
            .and_then(|_| w.write_all(v))
            .map_err(|e| StoreError::Backend(format!("writing {}: {e}", out.display())))
    })?;
    w.write_all(&END.to_be_bytes()).map_err(io)?;
    w.write_all(&records.to_be_bytes()).map_err(io)?;
    let digest = w.hash.clone().finalize();
    w.inner.write_all(&digest).map_err(io)?;
    let bytes = w.bytes + digest.len() as u64;
    let file = w.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(Summary {
        identity: identity.to_owned(),
        taken_at_ms,
        records,
        bytes,
    })
}

/// Reads a backup file record by record, checking the header, the count and the checksum.
struct Reader {
    path: PathBuf,
    r: BufReader<File>,
    hash: Sha256,
    records: u64,
    done: bool,
}

impl Reader {
    fn open(path: &Path) -> Result<(Self, String, i64), BackupError> {
        let file = File::open(path).map_err(|source| BackupError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut header = Vec::new();
        (&mut r)
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut header)
            .map_err(|source| BackupError::Io {
                path: path.to_owned(),
                source,
            })?;
        let format = |reason: &str| BackupError::Format {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(&header).map_err(|_| format("no header line"))?;
        let words: Vec<&str> = text.trim_end().split(' ').collect();
        let [magic, version, identity, taken] = words.as_slice() else {
            return Err(format("no header line"));
        };
        if *magic != MAGIC {
            return Err(format("no header line"));
        }
        if version.parse::<u32>() != Ok(VERSION) {
            return Err(format(&format!(
                "version {version}, this build reads {VERSION}"
            )));
        }
        let taken = taken
            .parse()
            .map_err(|_| format("bad time in the header"))?;
        let mut hash = Sha256::new();
        hash.update(&header);
        Ok((
            Self {
                path: path.to_owned(),
                r,
                hash,
                records: 0,
                done: false,
            },
            (*identity).to_owned(),
            taken,
        ))
    }

    fn damaged(&self, reason: impl Into<String>) -> BackupError {
        BackupError::Damaged {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], BackupError> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.damaged("cut short"))?;
        self.hash.update(b);
        Ok(b)
    }

    fn vec(&mut self, len: u32) -> Result<Vec<u8>, BackupError> {
        let mut v = Vec::new();
        (&mut self.r)
            .take(u64::from(len))
            .read_to_end(&mut v)
            .map_err(|_| self.damaged("cut short"))?;
        if v.len() != len as usize {
            return Err(self.damaged("cut short"));
        }
        self.hash.update(&v);
        Ok(v)
    }

    /// The next record, or `None` after the end mark once count and checksum match.
    fn next_record(&mut self) -> Result<Option<KeyValue>, BackupError> {
        if self.done {
            return Ok(None);
        }
        let kl = u32::from_be_bytes(self.bytes()?);
        if kl == END {
            let count = u64::from_be_bytes(self.bytes()?);
            let expected = self.hash.clone().finalize();
            let mut digest = [0u8; 32];
            self.r
                .read_exact(&mut digest)
                .map_err(|_| self.damaged("cut short"))?;
            if digest.as_slice() != expected.as_slice() {
                return Err(self.damaged("checksum mismatch"));
            }
            if count != self.records {
                return Err(self.damaged(format!("{} records, the end says {count}", self.records)));
            }
            if self
                .r
                .read(&mut [0u8; 1])
                .map_err(|_| self.damaged("unreadable"))?
                != 0
            {
                return Err(self.damaged("bytes after the end"));
            }
            self.done = true;
            return Ok(None);
        }
        let k = self.vec(kl)?;
        let vl = u32::from_be_bytes(self.bytes()?);
        let v = self.vec(vl)?;
        self.records += 1;
        Ok(Some((k, v)))
    }
}

/// Reads `path` through to its end and checks it whole.
pub fn verify(path: &Path) -> Result<Summary, BackupError> {
    let (mut r, identity, taken_at_ms) = Reader::open(path)?;
    while r.next_record()?.is_some() {}
    let bytes = std::fs::metadata(path)
        .map_err(|source| BackupError::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    Ok(Summary {
        identity,
        taken_at_ms,
        records: r.records,
        bytes,
    })
}

/// Restores the backup `path` of node `identity` into the empty (or missing) folder
/// `data_dir`; the file is checked whole first, so a damaged one changes nothing.
pub fn restore(path: &Path, identity: &str, data_dir: &Path) -> Result<Summary, BackupError> {
    let summary = verify(path)?;
    if summary.identity != identity {
        return Err(BackupError::OtherNode {
            path: path.to_owned(),
            found: summary.identity,
            expected: identity.to_owned(),
        });
    }
    let (mut r, _, _) = Reader::open(path)?;
    let records = std::iter::from_fn(|| match r.next_record() {
        Ok(Some(kv)) => Some(Ok(kv)),
        Ok(None) => None,
        Err(e) => Some(Err(StoreError::Backend(e.to_string()))),
    });
    let store = SledStore::create_from(data_dir, records)?;
    // Until its peers have given back what it wrote after the backup, the node must not
    // write (see `crate::writer::Writer::hold_until_caught_up`).
    let mut b = crate::store::Batch::new();
    b.insert(
        RESTORE_TREE,
        PENDING_KEY.to_vec(),
        summary.taken_at_ms.to_be_bytes().to_vec(),
    );
    store.commit(&b)?;
    store.flush()?;
    Ok(summary)
}

/// Whether `store` was restored and its own feeds are not yet known to be caught up.
pub fn restore_pending(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store.get(RESTORE_TREE, PENDING_KEY)?.is_some())
}

/// Records that the restored node's own feeds are caught up with its peers.
pub fn restore_done(store: &dyn Store) -> Result<(), StoreError> {
    let mut b = crate::store::Batch::new();
    b.remove(RESTORE_TREE, PENDING_KEY.to_vec());
    store.commit(&b)?;
    store.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Batch;

    fn store_with(dir: &Path, n: u32) -> SledStore {
        let s = SledStore::open(dir).unwrap();
        let mut b = Batch::new();
        for i in 0..n {
            b.insert(
                "t",
                i.to_be_bytes().to_vec(),
                vec![i as u8; (i % 7) as usize],
            );
        }
        s.commit(&b).unwrap();
        s
    }

    #[test]
    fn a_backup_restores_every_key_and_refuses_damage_and_other_nodes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with(&tmp.path().join("a"), 500);
        let file = tmp.path().join("a.fhb");
        let written = write(&store, "county/510104", &file).unwrap();
        assert_eq!(verify(&file).unwrap().records, written.records);

        let restored = tmp.path().join("b");
        restore(&file, "county/510104", &restored).unwrap();
        // sled releases its lock from a background thread a moment after the restored store
        // is dropped.
        let back = (0..100)
            .find_map(|_| {
                SledStore::open(&restored)
                    .map_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                    .ok()
            })
            .unwrap();
        let keys: Vec<_> = back.scan_prefix("t", b"").map(|kv| kv.unwrap()).collect();
        let orig: Vec<_> = store.scan_prefix("t", b"").map(|kv| kv.unwrap()).collect();
        assert_eq!(keys, orig);
        assert_eq!(keys.len(), 500);

        // Into a folder in use: refused.
        let e = restore(&file, "county/510104", &restored).unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
        // Another node's: refused, nothing written.
        let e = restore(&file, "county/510105", &tmp.path().join("c")).unwrap_err();
        assert!(matches!(e, BackupError::OtherNode { .. }), "{e}");
        assert!(!tmp.path().join("c").exists());
        // One byte changed, or the file cut short: refused.
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert!(matches!(verify(&file), Err(BackupError::Damaged { .. })));
        bytes[mid] ^= 1;
        std::fs::write(&file, &bytes[..bytes.len() - 5]).unwrap();
        assert!(matches!(verify(&file), Err(BackupError::Damaged { .. })));
        std::fs::write(&file, b"hello\n").unwrap();
        assert!(matches!(verify(&file), Err(BackupError::Format { .. })));
    }
}
