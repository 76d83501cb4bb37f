//! Where feeds live in the store.
//!
//! - `feed_entries`: `origin#audience` 0x00 `first seq` (u64 BE) → a block of consecutive
//!   entries: format byte 2, then per entry its length (u32 BE) and the protobuf `Entry`
//!   (format byte 1 is a single entry). A commit stores each feed's new entries in blocks of
//!   up to 16 KiB, so a received run of 512 entries costs about 15 keys, not 512;
//! - `feed_heads`: `origin#audience` → format byte 2 + last seq (u64 BE) + last hash + the
//!   last entry's timestamp (i64 BE; format 1 has none), so a received run's first timestamp
//!   is checked against the entry before it without reading that entry.
//!
//! A feed held up to `n` is held entirely up to `n`, so the heads are the node's version
//! vector.

use fenghuo_proto::v1::Entry;
use prost::Message;

use super::entry::{FeedId, GENESIS_HASH};
use crate::store::{Batch, Read, Store, StoreError};

/// Tree of feed entries.
pub const ENTRIES_TREE: &str = "feed_entries";
/// Tree of feed heads (the version vector).
pub const HEADS_TREE: &str = "feed_heads";

const ENTRY_FORMAT: u8 = 1;
const BLOCK_FORMAT: u8 = 2;
const HEAD_FORMAT: u8 = 2;
const HEAD_FORMAT_NO_TIME: u8 = 1;
/// Most bytes of entries per block. Blocks save a key per entry; kept small enough that a
/// commit stays in sled's log (see the store's redo records) and its pages stay small.
const BLOCK_BYTES: usize = 16 << 10;

/// The last entry held of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Highest sequence number held (0: none).
    pub seq: u64,
    /// Its hash ([`GENESIS_HASH`] when none).
    pub hash: Vec<u8>,
    /// Its timestamp, Unix ms (`None`: no entry, or a head stored before timestamps were).
    pub timestamp_ms: Option<i64>,
}

impl Head {
    /// The head of an empty feed.
    pub fn empty() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_vec(),
            timestamp_ms: None,
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
    let timestamp_ms = match (v.first(), v.len()) {
        (Some(&HEAD_FORMAT_NO_TIME), 41) => None,
        (Some(&HEAD_FORMAT), 49) => Some(i64::from_be_bytes(
            v[41..49].try_into().map_err(|_| corrupt("feed head"))?,
        )),
        _ => return Err(corrupt("feed head")),
    };
    let seq = u64::from_be_bytes(v[1..9].try_into().map_err(|_| corrupt("feed head"))?);
    Ok(Head {
        seq,
        hash: v[9..41].to_vec(),
        timestamp_ms,
    })
}

/// Decodes a stored value: a block of entries (or, format 1, a single entry).
pub fn decode_block(v: &[u8]) -> Result<Vec<Entry>, StoreError> {
    match v.split_first() {
        Some((&ENTRY_FORMAT, rest)) => {
            Ok(vec![Entry::decode(rest).map_err(|_| corrupt("feed entry"))?])
        }
        Some((&BLOCK_FORMAT, mut rest)) => {
            let mut out = Vec::new();
            while !rest.is_empty() {
                let (len, tail) = rest
                    .split_at_checked(4)
                    .ok_or_else(|| corrupt("feed block"))?;
                let len =
                    u32::from_be_bytes(len.try_into().map_err(|_| corrupt("feed block"))?) as usize;
                let (bytes, tail) = tail
                    .split_at_checked(len)
                    .ok_or_else(|| corrupt("feed block"))?;
                out.push(Entry::decode(bytes).map_err(|_| corrupt("feed entry"))?);
                rest = tail;
            }
            Ok(out)
        }
        _ => Err(corrupt("feed block")),
    }
}

fn encode_block(entries: &[Entry]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + entries.iter().map(|e| 4 + e.encoded_len()).sum::<usize>());
    v.push(BLOCK_FORMAT);
    for e in entries {
        v.extend_from_slice(&(e.encoded_len() as u32).to_be_bytes());
        e.encode(&mut v).unwrap_or_default();
    }
    v
}

fn parse_feed_key(k: &[u8]) -> Option<FeedId> {
    let s = std::str::from_utf8(k).ok()?;
    let (origin, audience) = s.rsplit_once('#')?;
    Some(FeedId::new(origin, audience.parse().ok()?))
}

/// The head of `feed`, seeing `batch`'s pending writes first.
pub fn head(src: &(impl Read + ?Sized), feed: &FeedId) -> Result<Head, StoreError> {
    match src.value(HEADS_TREE, &feed_key(feed))? {
        Some(v) => decode_head(&v),
        None => Ok(Head::empty()),
    }
}

/// Stages consecutive entries of `feed` (already hashed and chained, following its head)
/// as blocks of about [`BLOCK_BYTES`], and the new head, into `batch`.
pub fn stage_block(batch: &mut Batch, feed: &FeedId, entries: &[Entry]) {
    let (Some(_), Some(last)) = (entries.first(), entries.last()) else {
        return;
    };
    let mut rest = entries;
    while let Some(first) = rest.first() {
        let mut size = 0;
        let n = rest
            .iter()
            .take_while(|e| {
                size += e.encoded_len();
                size <= BLOCK_BYTES
            })
            .count()
            .max(1);
        let (block, tail) = rest.split_at(n);
        batch.insert(
            ENTRIES_TREE,
            entry_key(feed, first.seq),
            encode_block(block),
        );
        rest = tail;
    }
    stage_head(batch, feed, last);
}

/// Stages `last` as the head of `feed`: its seq, hash and timestamp (format 2).
fn stage_head(batch: &mut Batch, feed: &FeedId, last: &Entry) {
    let mut h = Vec::with_capacity(49);
    h.push(HEAD_FORMAT);
    h.extend_from_slice(&last.seq.to_be_bytes());
    h.extend_from_slice(&last.hash);
    h.extend_from_slice(&last.timestamp_ms.to_be_bytes());
    batch.insert(HEADS_TREE, feed_key(feed), h);
}

/// Stages cutting `feed` back to entry `keep` (0: to nothing) and returns the entries after
/// it: a re-key sets aside what a retired key signed past the head the province trusts.
/// Reads the store as committed (call it before staging anything else of this feed).
pub fn stage_truncate(
    store: &dyn Store,
    batch: &mut Batch,
    feed: &FeedId,
    keep: u64,
) -> Result<Vec<Entry>, StoreError> {
    let removed = read(store, feed, keep + 1, usize::MAX)?;
    if removed.is_empty() {
        return Ok(removed);
    }
    let lower = entry_key(feed, 0);
    let mut kept_last = None;
    if keep > 0 {
        if let Some((k, v)) =
            store.last_in_range(ENTRIES_TREE, &lower, &entry_key(feed, keep + 1))?
        {
            let kept: Vec<Entry> = decode_block(&v)?
                .into_iter()
                .filter(|e| e.seq <= keep)
                .collect();
            kept_last = kept.last().cloned();
            batch.insert(ENTRIES_TREE, k, encode_block(&kept));
        }
    }
    for kv in store.range(
        ENTRIES_TREE,
        &entry_key(feed, keep + 1),
        Some(&entry_key(feed, u64::MAX)),
    ) {
        let (k, _) = kv?;
        batch.remove(ENTRIES_TREE, k);
    }
    match kept_last {
        Some(last) => stage_head(batch, feed, &last),
        None => batch.remove(HEADS_TREE, feed_key(feed)),
    }
    Ok(removed)
}

/// Stages one entry (see [`stage_block`]).
pub fn stage(batch: &mut Batch, feed: &FeedId, entry: &Entry) {
    stage_block(batch, feed, std::slice::from_ref(entry));
}

/// Up to `limit` entries of `feed` from `from_seq` on, seeing `batch`'s staged blocks.
pub fn read_through(
    store: &dyn Store,
    batch: &Batch,
    feed: &FeedId,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    // The block holding `from_seq` is the last one starting at or before it.
    let lower = entry_key(feed, 0);
    let start = match batch.last_in_range(
        store,
        ENTRIES_TREE,
        &lower,
        &entry_key(feed, from_seq.saturating_add(1)),
    )? {
        Some((k, _)) => k,
        None => lower,
    };
    let end = entry_key(feed, u64::MAX);
    let mut out = Vec::new();
    // Blocks staged in `batch` come after everything stored (they extend the feed's head).
    let stored = store
        .range(ENTRIES_TREE, &start, Some(&end))
        .map(|r| r.map(|(_, v)| v));
    let staged = batch
        .range(ENTRIES_TREE, &start, &end)
        .filter_map(|(_, v)| v.map(|v| Ok(v.to_vec())))
        .collect::<Vec<_>>();
    for value in stored.chain(staged) {
        for e in decode_block(&value?)? {
            if e.seq >= from_seq && out.last().is_none_or(|l: &Entry| e.seq > l.seq) {
                out.push(e);
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Up to `limit` entries of `feed` from `from_seq` on.
pub fn read(
    store: &dyn Store,
    feed: &FeedId,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    read_through(store, &Batch::new(), feed, from_seq, limit)
}

/// Entry `seq` of `feed`, if held, seeing `batch`'s staged blocks.
pub fn get_through(
    store: &dyn Store,
    batch: &Batch,
    feed: &FeedId,
    seq: u64,
) -> Result<Option<Entry>, StoreError> {
    Ok(read_through(store, batch, feed, seq, 1)?
        .into_iter()
        .find(|e| e.seq == seq))
}

/// Entry `seq` of `feed`, if held.
pub fn get(store: &dyn Store, feed: &FeedId, seq: u64) -> Result<Option<Entry>, StoreError> {
    get_through(store, &Batch::new(), feed, seq)
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
            let h = head(&batch.over(&store), &feed).unwrap();
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

    #[test]
    fn a_feed_is_cut_back_inside_a_block_and_continues_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = FeedId::new("county/510104", Audience::Province);
        let mut entries = Vec::new();
        let mut prev = GENESIS_HASH.to_vec();
        for seq in 1..=12u64 {
            let e = next_entry(
                &feed,
                seq - 1,
                &prev,
                1000 + seq as i64,
                "a",
                vec![seq as u8],
            );
            prev = e.hash.clone();
            entries.push(e);
        }
        let mut b = Batch::new();
        stage_block(&mut b, &feed, &entries[0..5]);
        stage_block(&mut b, &feed, &entries[5..9]);
        stage_block(&mut b, &feed, &entries[9..12]);
        store.commit(&b).unwrap();

        // Cut to #7, in the middle of the second block.
        let mut cut = Batch::new();
        let removed = stage_truncate(&store, &mut cut, &feed, 7).unwrap();
        store.commit(&cut).unwrap();
        assert_eq!(
            removed.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![8, 9, 10, 11, 12]
        );
        let h = head(&store, &feed).unwrap();
        assert_eq!(
            (h.seq, h.hash.clone(), h.timestamp_ms),
            (7, entries[6].hash.clone(), Some(1007))
        );
        let held = read(&store, &feed, 1, 100).unwrap();
        assert_eq!(held.len(), 7);
        assert_eq!(held.last().map(|e| e.seq), Some(7));
        // Another #8 follows the cut.
        let other = next_entry(&feed, 7, &entries[6].hash, 2000, "b", vec![99]);
        let mut more = Batch::new();
        stage(&mut more, &feed, &other);
        store.commit(&more).unwrap();
        assert_eq!(get(&store, &feed, 8).unwrap(), Some(other));
        assert!(get(&store, &feed, 9).unwrap().is_none());
        // Cut to nothing.
        let mut all = Batch::new();
        assert_eq!(stage_truncate(&store, &mut all, &feed, 0).unwrap().len(), 8);
        store.commit(&all).unwrap();
        assert_eq!(head(&store, &feed).unwrap(), Head::empty());
        assert!(read(&store, &feed, 1, 10).unwrap().is_empty());
    }

    #[test]
    fn blocks_read_from_any_position_and_through_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = FeedId::new("county/510104", Audience::Province);
        let mut entries = Vec::new();
        let mut prev = GENESIS_HASH.to_vec();
        for seq in 1..=10u64 {
            let e = next_entry(&feed, seq - 1, &prev, 0, "a", vec![seq as u8]);
            prev = e.hash.clone();
            entries.push(e);
        }
        // Blocks 1-3 and 4-7 stored; block 8-10 only staged.
        let mut stored = Batch::new();
        stage_block(&mut stored, &feed, &entries[0..3]);
        stage_block(&mut stored, &feed, &entries[3..7]);
        store.commit(&stored).unwrap();
        let mut staged = Batch::new();
        stage_block(&mut staged, &feed, &entries[7..10]);

        let seqs = |v: Vec<Entry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(read(&store, &feed, 2, 4).unwrap()), vec![2, 3, 4, 5]);
        assert_eq!(seqs(read(&store, &feed, 5, 100).unwrap()), vec![5, 6, 7]);
        assert_eq!(
            seqs(read_through(&store, &staged, &feed, 6, 100).unwrap()),
            vec![6, 7, 8, 9, 10]
        );
        assert_eq!(
            get_through(&store, &staged, &feed, 9)
                .unwrap()
                .unwrap()
                .payload,
            vec![9]
        );
        assert!(get(&store, &feed, 9).unwrap().is_none());
        assert_eq!(head(&staged.over(&store), &feed).unwrap().seq, 10);
        assert_eq!(head(&store, &feed).unwrap().seq, 7);
    }
}
