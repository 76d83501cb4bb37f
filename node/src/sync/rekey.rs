//! Re-keying a compromised county. The province records in its feed (`Rekeyed`) the county's
//! new certificate, the one it signed with until then, and per shared feed the last head of
//! the old key it still trusts. Every node then:
//! - accepts the old key's entries up to those heads (even though its certificate is revoked),
//!   so a node that lacks some of them — the county itself, restored or started empty — gets
//!   them back;
//! - accepts the new key's continuation from each trusted head on;
//! - sets aside what the old key signed after a trusted head: cut from the feed it holds (kept
//!   in `rekey_evidence`), never applied or relayed, and refused when offered again.
//!
//! Trees: `origin_rekey` (origin path → JSON [`RekeyRecord`], format 1; kept whatever the
//! views, like the feeds) and `rekey_evidence` (`feed` 0x00 u64be(seq) → the set-aside entry).

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::directory;
use crate::event::check::ContentError;
use crate::event::{Event, TrustedHead};
use crate::feed::{self, Audience, Entry, FeedId};
use crate::store::{Batch, Read, Store, StoreError};

/// Tree of re-key records.
pub const TREE: &str = "origin_rekey";
/// Tree of entries set aside by a re-key.
pub const EVIDENCE_TREE: &str = "rekey_evidence";

/// What the province said about a re-keyed county (the latest re-key counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyRecord {
    /// Record format.
    pub format: u32,
    /// The new certificate, DER, base64.
    pub certificate: String,
    /// The retired certificate, DER, base64.
    pub previous: String,
    /// Per feed, the last entry of the retired key still trusted.
    pub heads: Vec<TrustedHead>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// The re-key record of `origin`, seeing `batch`.
pub fn record(src: &(impl Read + ?Sized), origin: &str) -> Result<Option<RekeyRecord>, StoreError> {
    Ok(src
        .value(TREE, origin.as_bytes())?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Whether `der` is the certificate a re-key of `origin` retired.
pub fn is_retired(store: &dyn Store, origin: &str, der: &[u8]) -> bool {
    record(store, origin)
        .ok()
        .flatten()
        .and_then(|r| b64(&r.previous))
        .is_some_and(|p| p == der)
}

/// The retired key of a re-keyed feed and the last of its entries still trusted.
#[derive(Debug, Clone)]
pub struct Retired {
    /// The old key.
    pub key: VerifyingKey,
    /// The trusted head's sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Vec<u8>,
    /// The key the province gave the origin: what signs everything after the trusted head
    /// (never a certificate a peer presents, which could be the retired one).
    pub current: Option<VerifyingKey>,
}

/// The retired key and trusted head of `feed`, if its origin was re-keyed.
pub fn retired(src: &(impl Read + ?Sized), feed: &FeedId) -> Result<Option<Retired>, StoreError> {
    let Some(r) = record(src, &feed.origin)? else {
        return Ok(None);
    };
    let head = r.heads.iter().find(|h| h.audience == feed.audience);
    let key = b64(&r.previous).and_then(|d| directory::key_of(&d).ok());
    let current = b64(&r.certificate).and_then(|d| directory::key_of(&d).ok());
    Ok(match (head, key) {
        (Some(h), Some(key)) => Some(Retired {
            key,
            seq: h.seq,
            hash: hex::decode(&h.hash).unwrap_or_default(),
            current,
        }),
        // A feed the record names no head for: nothing of the old key is trusted in it.
        (None, Some(key)) => Some(Retired {
            key,
            seq: 0,
            hash: feed::entry::GENESIS_HASH.to_vec(),
            current,
        }),
        _ => None,
    })
}

/// A feed cut back by a re-key.
#[derive(Debug, Clone)]
pub struct Truncated {
    /// The feed.
    pub feed: FeedId,
    /// Its head now.
    pub to: u64,
    /// Entries set aside.
    pub removed: usize,
}

/// Keeps a set-aside entry as evidence.
pub fn keep_evidence(batch: &mut Batch, feed: &FeedId, e: &Entry) {
    let mut key = feed.to_string().into_bytes();
    key.push(0);
    key.extend_from_slice(&e.seq.to_be_bytes());
    batch.insert(EVIDENCE_TREE, key, e.encode_to_vec());
}

/// How many entries re-keys set aside.
pub fn evidence_count(store: &dyn Store) -> usize {
    store.scan_prefix(EVIDENCE_TREE, b"").count()
}

/// Applies a `Rekeyed` event: records it, makes the new certificate the origin's, and cuts
/// every feed of the origin this node holds past a trusted head back to it (the cut entries
/// kept as evidence). Returns the feeds cut.
pub fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    event: &Event,
) -> Result<Vec<Truncated>, StoreError> {
    let Event::Rekeyed {
        origin,
        certificate,
        previous,
        heads,
    } = event
    else {
        return Ok(Vec::new());
    };
    let record = RekeyRecord {
        format: 1,
        certificate: certificate.clone(),
        previous: previous.clone(),
        heads: heads.clone(),
    };
    batch.insert(
        TREE,
        origin.as_bytes().to_vec(),
        serde_json::to_vec(&record).unwrap_or_default(),
    );
    if let Some(der) = b64(certificate) {
        batch.insert(directory::CERTS_TREE, origin.as_bytes().to_vec(), der);
    }
    let mut cut = Vec::new();
    for audience in [Audience::Neighbours, Audience::Province, Audience::Upstream] {
        let feed = FeedId::new(origin.clone(), audience);
        let (seq, hash) = match heads.iter().find(|h| h.audience == audience) {
            Some(h) => (h.seq, hex::decode(&h.hash).unwrap_or_default()),
            None => (0, feed::entry::GENESIS_HASH.to_vec()),
        };
        let held = feed::log::head(&batch.over(store), &feed)?;
        if held.seq <= seq {
            continue;
        }
        let at = if seq == 0 {
            Some(feed::entry::GENESIS_HASH.to_vec())
        } else {
            feed::log::get_through(store, batch, &feed, seq)?.map(|e| e.hash)
        };
        if at.as_deref() != Some(hash.as_slice()) {
            tracing::error!(alarm = "rekey", %feed, seq, "this node holds another entry at the head the province trusts; not cut (keep this store as evidence)");
            continue;
        }
        let removed = feed::log::stage_truncate(store, batch, &feed, seq)?;
        for e in &removed {
            keep_evidence(batch, &feed, e);
        }
        tracing::warn!(alarm = "rekey", %feed, to = seq, set_aside = removed.len(), "re-key: entries of the retired key past the trusted head set aside as evidence");
        cut.push(Truncated {
            feed,
            to: seq,
            removed: removed.len(),
        });
    }
    Ok(cut)
}

/// What the gateway asks: re-key `county` to `certificate` (DER), trusting the old key up to
/// what the gateway holds of each feed, or up to `trust` where given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The county's code.
    pub county: String,
    /// Its new certificate, DER.
    pub certificate: Vec<u8>,
    /// Per audience, the last trusted sequence number (default: the gateway's head).
    pub trust: Vec<(Audience, u64)>,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ContentError {
    ContentError::Field {
        field,
        reason: reason.into(),
    }
}

/// The `Rekeyed` event for `cmd`, written by the province (`unit`) in its province feed.
pub fn prepare(
    store: &dyn Store,
    batch: &Batch,
    unit: &str,
    cmd: &Command,
) -> Result<(Audience, Event), ContentError> {
    if unit.len() != 2 {
        return Err(ContentError::NotAllowed {
            what: "a re-key",
            who: "the province",
        });
    }
    let origin = format!("county/{}", cmd.county);
    let store_err = |e: StoreError| ContentError::Payload(e.to_string());
    let previous = directory::certificate(store, &origin)
        .map_err(store_err)?
        .ok_or_else(|| {
            bad(
                "county",
                format!("no certificate of {origin} is known here"),
            )
        })?;
    let named = crate::pki::cert::identity_of(&cmd.certificate)
        .map_err(|e| bad("certificate", e.to_string()))?;
    if named.path() != origin {
        return Err(bad("certificate", format!("names {named}, not {origin}")));
    }
    let (old_key, new_key) = (
        directory::key_of(&previous),
        directory::key_of(&cmd.certificate),
    );
    if old_key.ok() == new_key.ok() {
        return Err(bad(
            "certificate",
            "has the key it replaces: issue one with a new key (`fenghuo ca issue county CODE --force`)",
        ));
    }
    let mut heads = Vec::new();
    for audience in [Audience::Neighbours, Audience::Province, Audience::Upstream] {
        let feed = FeedId::new(origin.clone(), audience);
        let held = feed::log::head(&batch.over(store), &feed).map_err(store_err)?;
        let seq = cmd
            .trust
            .iter()
            .find(|(a, _)| *a == audience)
            .map_or(held.seq, |(_, s)| *s);
        if seq > held.seq {
            return Err(bad(
                "trust",
                format!("{feed}: the gateway holds it only up to #{}", held.seq),
            ));
        }
        let hash = if seq == 0 {
            feed::entry::GENESIS_HASH.to_vec()
        } else {
            feed::log::get_through(store, batch, &feed, seq)
                .map_err(store_err)?
                .map(|e| e.hash)
                .ok_or_else(|| bad("trust", format!("{feed} #{seq} is not held")))?
        };
        heads.push(TrustedHead {
            audience,
            seq,
            hash: hex::encode(hash),
        });
    }
    let enc = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    Ok((
        Audience::Province,
        Event::Rekeyed {
            origin,
            certificate: enc(&cmd.certificate),
            previous: enc(&previous),
            heads,
        },
    ))
}
