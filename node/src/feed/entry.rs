//! Entry hashing, head signatures and chain verification.
//!
//! An entry's hash covers every field but the hash and signature, in a fixed layout (not the
//! protobuf encoding, which is not canonical): see `docs/protocol.md`. The origin signs the
//! hash of the last entry of each commit batch; the chain makes that one signature vouch for
//! every entry before it, so a receiver checks a batch with hashes and one signature.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use fenghuo_proto::v1::{self, Entry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const ENTRY_DOMAIN: &[u8] = b"fenghuo/entry/v1\0";
const HEAD_DOMAIN: &[u8] = b"fenghuo/head/v1\0";

/// The hash that precedes the first entry of every feed.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Who may receive a feed, relative to its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Never leaves the origin node.
    Local,
    /// Adjacent counties and the province.
    Neighbours,
    /// Every node of the province.
    Province,
    /// The province only.
    Upstream,
}

impl Audience {
    /// Every audience.
    pub const ALL: [Audience; 4] = [
        Self::Local,
        Self::Neighbours,
        Self::Province,
        Self::Upstream,
    ];

    /// How far the audience reaches: local < upstream < neighbours < province (each
    /// wider one includes the narrower: neighbours are adjacent counties *and* the province).
    pub fn breadth(self) -> u8 {
        match self {
            Self::Local => 0,
            Self::Upstream => 1,
            Self::Neighbours => 2,
            Self::Province => 3,
        }
    }

    /// The name used in keys, config and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Neighbours => "neighbours",
            Self::Province => "province",
            Self::Upstream => "upstream",
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> v1::Audience {
        match self {
            Self::Local => v1::Audience::Local,
            Self::Neighbours => v1::Audience::Neighbours,
            Self::Province => v1::Audience::Province,
            Self::Upstream => v1::Audience::Upstream,
        }
    }

    /// From the protobuf value; `None` for unspecified or unknown.
    pub fn from_proto(value: i32) -> Option<Self> {
        match v1::Audience::try_from(value).ok()? {
            v1::Audience::Local => Some(Self::Local),
            v1::Audience::Neighbours => Some(Self::Neighbours),
            v1::Audience::Province => Some(Self::Province),
            v1::Audience::Upstream => Some(Self::Upstream),
            v1::Audience::Unspecified => None,
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Audience {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("unknown audience {s:?}: expected local, neighbours, province or upstream")
            })
    }
}

/// One feed: an origin (identity path, e.g. `county/510104`) and an audience.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId {
    /// The identity path of the only node that writes this feed.
    pub origin: String,
    /// Who may receive it.
    pub audience: Audience,
}

impl FeedId {
    /// The feed of `origin` for `audience`.
    pub fn new(origin: impl Into<String>, audience: Audience) -> Self {
        Self {
            origin: origin.into(),
            audience,
        }
    }

    /// The feed an entry belongs to; `None` if its audience is unspecified.
    pub fn of(entry: &Entry) -> Option<Self> {
        Some(Self::new(
            entry.origin.clone(),
            Audience::from_proto(entry.audience)?,
        ))
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.origin, self.audience)
    }
}

/// Why an entry or a run of entries is not genuine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeedError {
    /// The stored hash is not the hash of the fields.
    #[error("entry {feed} #{seq}: hash does not match its contents")]
    BadHash {
        /// The feed.
        feed: String,
        /// The entry's sequence number.
        seq: u64,
    },
    /// The entry does not follow the previous one.
    #[error("entry {feed} #{seq}: does not chain to the previous entry")]
    BrokenChain {
        /// The feed.
        feed: String,
        /// The entry's sequence number.
        seq: u64,
    },
    /// A gap or repeat in sequence numbers.
    #[error("entry {feed} #{seq}: expected sequence number {expected}")]
    NotContiguous {
        /// The feed.
        feed: String,
        /// What arrived.
        seq: u64,
        /// What was expected.
        expected: u64,
    },
    /// The head signature does not verify with the origin's key.
    #[error("entry {feed} #{seq}: signature is not the origin's")]
    BadSignature {
        /// The feed.
        feed: String,
        /// The entry's sequence number.
        seq: u64,
    },
    /// The run ends without a signature vouching for its last entries.
    #[error("entries of {feed} up to #{seq} are not covered by a signature")]
    Unsigned {
        /// The feed.
        feed: String,
        /// Last entry of the run.
        seq: u64,
    },
    /// The run mixes feeds or has an unknown audience.
    #[error("entry #{seq} does not belong to feed {feed}")]
    WrongFeed {
        /// The feed expected.
        feed: String,
        /// The entry's sequence number.
        seq: u64,
    },
}

fn put_bytes(h: &mut Sha256, b: &[u8]) {
    h.update((b.len() as u64).to_be_bytes());
    h.update(b);
}

/// The hash of an entry's fields (everything but `hash` and `signature`).
pub fn compute_hash(e: &Entry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    put_bytes(&mut h, e.origin.as_bytes());
    h.update(e.audience.to_be_bytes());
    h.update(e.seq.to_be_bytes());
    put_bytes(&mut h, &e.prev_hash);
    h.update(e.timestamp_ms.to_be_bytes());
    put_bytes(&mut h, e.author.as_bytes());
    h.update(Sha256::digest(&e.payload));
    h.finalize().into()
}

fn head_message(hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEAD_DOMAIN.len() + hash.len());
    m.extend_from_slice(HEAD_DOMAIN);
    m.extend_from_slice(hash);
    m
}

/// Signs the chain head `hash` (the hash of the last entry of a commit batch).
pub fn sign_head(key: &SigningKey, hash: &[u8]) -> Vec<u8> {
    key.sign(&head_message(hash)).to_bytes().to_vec()
}

/// Most encoded bytes of one feed's entries between two signed ones that a writer leaves:
/// a sync sender cuts runs only at signed entries, so this keeps every run it can send under
/// the sync frame limit (see `sync::session::RUN_BYTES`).
pub const MAX_SIGNED_SPAN: usize = 4 << 20;

/// Signs a commit batch of one feed's new entries: its last entry, and the entry before any
/// that would carry the span since the last signature past [`MAX_SIGNED_SPAN`] encoded bytes
/// (the batch follows a signed head, so its span starts at zero).
pub fn sign_batch(key: &SigningKey, entries: &mut [Entry]) {
    let mut span = 0usize;
    for i in 0..entries.len() {
        let size = prost::Message::encoded_len(&entries[i]);
        if i > 0 && span + size > MAX_SIGNED_SPAN {
            let before = &mut entries[i - 1];
            before.signature = sign_head(key, &before.hash);
            span = 0;
        }
        span += size;
    }
    if let Some(last) = entries.last_mut() {
        last.signature = sign_head(key, &last.hash);
    }
}

/// Checks a head signature.
pub fn verify_head(key: &VerifyingKey, hash: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature)
        .map(|sig| key.verify(&head_message(hash), &sig).is_ok())
        .unwrap_or(false)
}

/// Checks a contiguous run of one feed's entries that follows `(prev_seq, prev_hash)`:
/// hashes, chain, contiguity, and every signature present; the last entry must be signed,
/// so the whole run is vouched for by its origin.
pub fn verify_run(
    feed: &FeedId,
    prev_seq: u64,
    prev_hash: &[u8],
    entries: &[Entry],
    origin_key: &VerifyingKey,
) -> Result<(), FeedError> {
    let name = feed.to_string();
    let mut prev = prev_hash.to_vec();
    for (expected_seq, e) in (prev_seq + 1..).zip(entries) {
        if FeedId::of(e).as_ref() != Some(feed) {
            return Err(FeedError::WrongFeed {
                feed: name,
                seq: e.seq,
            });
        }
        if e.seq != expected_seq {
            return Err(FeedError::NotContiguous {
                feed: name,
                seq: e.seq,
                expected: expected_seq,
            });
        }
        if e.prev_hash != prev {
            return Err(FeedError::BrokenChain {
                feed: name,
                seq: e.seq,
            });
        }
        if compute_hash(e)[..] != e.hash[..] {
            return Err(FeedError::BadHash {
                feed: name,
                seq: e.seq,
            });
        }
        if !e.signature.is_empty() && !verify_head(origin_key, &e.hash, &e.signature) {
            return Err(FeedError::BadSignature {
                feed: name,
                seq: e.seq,
            });
        }
        prev = e.hash.clone();
    }
    match entries.last() {
        Some(last) if last.signature.is_empty() => Err(FeedError::Unsigned {
            feed: name,
            seq: last.seq,
        }),
        _ => Ok(()),
    }
}

/// Builds the next entry of a feed (hash set, unsigned).
pub fn next_entry(
    feed: &FeedId,
    prev_seq: u64,
    prev_hash: &[u8],
    timestamp_ms: i64,
    author: &str,
    payload: Vec<u8>,
) -> Entry {
    let mut e = Entry {
        origin: feed.origin.clone(),
        audience: feed.audience.to_proto() as i32,
        seq: prev_seq + 1,
        prev_hash: prev_hash.to_vec(),
        timestamp_ms,
        author: author.to_owned(),
        payload,
        hash: Vec::new(),
        signature: Vec::new(),
    };
    e.hash = compute_hash(&e).to_vec();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn chain(n: u64, signer: &SigningKey, sign_every: u64) -> (FeedId, Vec<Entry>) {
        let feed = FeedId::new("county/510104", Audience::Neighbours);
        let mut out: Vec<Entry> = Vec::new();
        let mut prev = GENESIS_HASH.to_vec();
        for i in 0..n {
            let mut e = next_entry(
                &feed,
                i,
                &prev,
                1000 + i as i64,
                "staff/510104/zhang",
                format!("p{i}").into_bytes(),
            );
            if (i + 1) % sign_every == 0 || i + 1 == n {
                e.signature = sign_head(signer, &e.hash);
            }
            prev = e.hash.clone();
            out.push(e);
        }
        (feed, out)
    }

    #[test]
    fn a_batch_of_large_entries_is_signed_at_least_every_span() {
        let k = key(1);
        let feed = FeedId::new("county/510104", Audience::Upstream);
        let mut prev = GENESIS_HASH.to_vec();
        let mut entries: Vec<Entry> = (0..10u64)
            .map(|i| {
                let e = next_entry(&feed, i, &prev, 1000, "a", vec![7; 1_800_000]);
                prev = e.hash.clone();
                e
            })
            .collect();
        sign_batch(&k, &mut entries);
        let signed: Vec<u64> = entries
            .iter()
            .filter(|e| !e.signature.is_empty())
            .map(|e| e.seq)
            .collect();
        // Two 1.8 MB entries per span of 4 MiB, and the last.
        assert_eq!(signed, vec![2, 4, 6, 8, 10]);
        verify_run(&feed, 0, &GENESIS_HASH, &entries, &k.verifying_key()).unwrap();
        // Small entries: the last alone.
        let (_, mut small) = chain(50, &k, 1000);
        small.iter_mut().for_each(|e| e.signature.clear());
        sign_batch(&k, &mut small);
        assert_eq!(small.iter().filter(|e| !e.signature.is_empty()).count(), 1);
    }

    #[test]
    fn an_honest_chain_verifies() {
        let k = key(1);
        let (feed, entries) = chain(10, &k, 4);
        verify_run(&feed, 0, &GENESIS_HASH, &entries, &k.verifying_key()).unwrap();
        // A suffix verifies against the hash of the entry before it.
        verify_run(
            &feed,
            3,
            &entries[2].hash,
            &entries[3..],
            &k.verifying_key(),
        )
        .unwrap();
    }

    #[test]
    fn tampering_is_caught() {
        let k = key(1);
        let (feed, entries) = chain(5, &k, 1);
        let vk = k.verifying_key();

        let mut payload = entries.clone();
        payload[2].payload = b"forged".to_vec();
        assert!(matches!(
            verify_run(&feed, 0, &GENESIS_HASH, &payload, &vk),
            Err(FeedError::BadHash { seq: 3, .. })
        ));

        let mut rehashed = entries.clone();
        rehashed[2].payload = b"forged".to_vec();
        rehashed[2].hash = compute_hash(&rehashed[2]).to_vec();
        assert!(matches!(
            verify_run(&feed, 0, &GENESIS_HASH, &rehashed, &vk),
            Err(FeedError::BadSignature { seq: 3, .. })
        ));

        let mut gap = entries.clone();
        gap.remove(1);
        assert!(matches!(
            verify_run(&feed, 0, &GENESIS_HASH, &gap, &vk),
            Err(FeedError::NotContiguous {
                seq: 3,
                expected: 2,
                ..
            })
        ));

        let other = key(2);
        assert!(matches!(
            verify_run(&feed, 0, &GENESIS_HASH, &entries, &other.verifying_key()),
            Err(FeedError::BadSignature { seq: 1, .. })
        ));
    }

    #[test]
    fn unsigned_tail_is_refused() {
        let k = key(1);
        let (feed, mut entries) = chain(3, &k, 10);
        entries[2].signature.clear();
        assert!(matches!(
            verify_run(&feed, 0, &GENESIS_HASH, &entries, &k.verifying_key()),
            Err(FeedError::Unsigned { seq: 3, .. })
        ));
    }

    #[test]
    fn a_forged_origin_does_not_verify() {
        let k = key(1);
        let (_, mut entries) = chain(1, &k, 1);
        entries[0].origin = "county/510105".into();
        let feed = FeedId::new("county/510105", Audience::Neighbours);
        assert!(verify_run(&feed, 0, &GENESIS_HASH, &entries, &k.verifying_key()).is_err());
    }
}
