//! Where feeds live in the store.
//!
//! - `feed_entries`: `origin#audience` 0x00 `seq` (u64 BE) → format byte + protobuf `Entry`;
//! - `feed_heads`: `origin#audience` → format byte + last seq (u64 BE) + last hash.
//!
//! A feed held up to `n` is held entirely up to `n`, so the heads are the node's version
//! vector.

use fenghuo_proto::v1::Entry;
use prost::Message;

use super::entry::{FeedId, GENESIS_HASH};
use crate::store::{Batch, Store, StoreError};

/// Tree of feed entries.
pub const ENTRIES_TREE: &str = "feed_entries";
/// Tree of feed heads (the version vector).
pub const HEADS_TREE: &str = "feed_heads";

const ENTRY_FORMAT: u8 = 1;
const HEAD_FORMAT: u8 = 1;

/// The last entry held of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Highest sequence number held (0: none).
    pub seq: u64,
    /// Its hash ([`GENESIS_HASH`] when none).
    pub hash: Vec<u8>,
}

impl Head {
    /// The head of an empty feed.
    pub fn empty() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_vec(),
        }
    }
}

fn feed_key(feed: &FeedId) -> Vec<u8> {
    feed.to_string().into_bytes()
}

/// The key of entry `seq` of `feed` in `feed_entries`.
pub fn entry_key(feed: &FeedId, seq: u64) -> Vec<u8> {
    let mut k = feed_key(feed);
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("corrupt {what} record"))
}

fn decode_head(v: &[u8]) -> Result<Head, StoreError> {
    if v.len() != 1 + 8 + 32 || v[0] != HEAD_FORMAT {
        return Err(corrupt("feed head"));
    }
    let seq = u64::from_be_bytes(v[1..9].try_into().map_err(|_| corrupt("feed head"))?);
    Ok(Head {
        seq,
        hash: v[9..].to_vec(),
    })
}

/// Decodes a stored entry.
pub fn decode_entry(v: &[u8]) -> Result<Entry, StoreError> {
    match v.split_first() {
        Some((&ENTRY_FORMAT, rest)) => Entry::decode(rest).map_err(|_| corrupt("feed entry")),
        _ => Err(corrupt("feed entry")),
    }
}

fn parse_feed_key(k: &[u8]) -> Option<FeedId> {
    let s = std::str::from_utf8(k).ok()?;
    let (origin, audience) = s.rsplit_once('#')?;
    Some(FeedId::new(origin, audience.parse().ok()?))
}

/// The head of `feed`, seeing `batch`'s pending writes first.
pub fn head(store: &dyn Store, batch: &Batch, feed: &FeedId) -> Result<Head, StoreError> {
    match batch.get(store, HEADS_TREE, &feed_key(feed))? {
        Some(v) => decode_head(&v),
        None => Ok(Head::empty()),
    }
}

/// Stages `entry` (already hashed and chained) and the new head into `batch`.
pub fn stage(batch: &mut Batch, feed: &FeedId, entry: &Entry) {
    let mut v = Vec::with_capacity(1 + entry.encoded_len());
    v.push(ENTRY_FORMAT);
    entry.encode(&mut v).unwrap_or_default();
    batch.insert(ENTRIES_TREE, entry_key(feed, entry.seq), v);
    let mut h = Vec::with_capacity(41);
    h.push(HEAD_FORMAT);
    h.extend_from_slice(&entry.seq.to_be_bytes());
    h.extend_from_slice(&entry.hash);
    batch.insert(HEADS_TREE, feed_key(feed), h);
}

/// Up to `limit` entries of `feed` from `from_seq` on.
pub fn read(
    store: &dyn Store,
    feed: &FeedId,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    let start = entry_key(feed, from_seq);
    let end = entry_key(feed, u64::MAX);
    store
        .range(ENTRIES_TREE, &start, Some(&end))
        .take(limit)
        .map(|r| r.and_then(|(_, v)| decode_entry(&v)))
        .collect()
}

/// One entry of `feed`, if held.
pub fn get(store: &dyn Store, feed: &FeedId, seq: u64) -> Result<Option<Entry>, StoreError> {
    store
        .get(ENTRIES_TREE, &entry_key(feed, seq))?
        .map(|v| decode_entry(&v))
        .transpose()
}

/// Every feed held with its head: the version vector.
pub fn heads(store: &dyn Store) -> Result<Vec<(FeedId, Head)>, StoreError> {
    store
        .scan_prefix(HEADS_TREE, b"")
        .map(|r| {
            let (k, v) = r?;
            let feed = parse_feed_key(&k).ok_or_else(|| corrupt("feed head key"))?;
            Ok((feed, decode_head(&v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::entry::{next_entry, Audience};
    use crate::store::SledStore;

    #[test]
    fn append_read_and_heads() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = FeedId::new("county/510104", Audience::Local);
        let other = FeedId::new("county/510104", Audience::Province);
        let mut batch = Batch::new();
        for i in 0..3u64 {
            let h = head(&store, &batch, &feed).unwrap();
            assert_eq!(h.seq, i);
            let e = next_entry(&feed, h.seq, &h.hash, 0, "a", vec![i as u8]);
            stage(&mut batch, &feed, &e);
        }
        let e = next_entry(&other, 0, &GENESIS_HASH, 0, "a", vec![9]);
        stage(&mut batch, &other, &e);
        store.commit(&batch).unwrap();

        let got = read(&store, &feed, 2, 10).unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(
            got[0].prev_hash,
            get(&store, &feed, 1).unwrap().unwrap().hash
        );
        let hs = heads(&store).unwrap();
        assert_eq!(hs.len(), 2);
        assert!(hs.iter().any(|(f, h)| *f == feed && h.seq == 3));
        assert!(hs.iter().any(|(f, h)| *f == other && h.seq == 1));
    }
}
