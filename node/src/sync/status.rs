//! What every link is doing, for `fenghuo peers` and the dashboard: state, last contact,
//! lag per feed, counters and the last error. Links and sessions update it; readers copy it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::timespec::now_ms;

/// One link as last seen.
#[derive(Debug, Clone, Default)]
pub struct LinkStatus {
    /// Identity path of the peer.
    pub peer: String,
    /// Configured address (outbound) or remote address (inbound).
    pub address: String,
    /// `outbound` or `inbound`.
    pub direction: &'static str,
    /// `connected`, `connecting`, `backoff` or `closed`.
    pub state: &'static str,
    /// Last frame from the peer, Unix ms.
    pub last_contact_ms: i64,
    /// Per feed: entries the peer lacks of what we would send it.
    pub peer_behind: BTreeMap<String, u64>,
    /// Per feed: entries we lack of what the peer holds for us.
    pub we_behind: BTreeMap<String, u64>,
    /// Entries sent on this link.
    pub sent: u64,
    /// New entries stored from this link.
    pub received: u64,
    /// Entries refused from this link.
    pub refused: u64,
    /// Last error on this link.
    pub last_error: String,
    /// When, Unix ms.
    pub last_error_ms: i64,
}

/// Names one link (or one inbound session): its direction, the peer, and the address (the
/// configured one for outbound links, the remote socket for inbound sessions, so two
/// sessions with one peer never share a row).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkKey {
    /// `outbound` or `inbound`.
    pub direction: &'static str,
    /// Identity path of the peer.
    pub peer: String,
    /// Address of the link.
    pub address: String,
}

impl LinkKey {
    /// The key of a link.
    pub fn new(
        direction: &'static str,
        peer: impl Into<String>,
        address: impl Into<String>,
    ) -> Self {
        Self {
            direction,
            peer: peer.into(),
            address: address.into(),
        }
    }
}

/// Every link of a node, plus node-wide counters.
#[derive(Debug, Default)]
pub struct StatusBoard {
    links: Mutex<BTreeMap<LinkKey, LinkStatus>>,
    /// Runs refused for a bad hash, chain, signature, entitlement or gap.
    pub refused: AtomicU64,
    /// Equivocations seen.
    pub equivocations: AtomicU64,
}

impl StatusBoard {
    /// Changes the status of a link with `f`, creating it if needed.
    pub fn update(&self, key: &LinkKey, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut links) = self.links.lock() {
            let s = links.entry(key.clone()).or_insert_with(|| LinkStatus {
                peer: key.peer.clone(),
                address: key.address.clone(),
                direction: key.direction,
                ..Default::default()
            });
            f(s);
        }
    }

    /// Records an error on a link.
    pub fn error(&self, key: &LinkKey, error: &str) {
        self.update(key, |s| {
            s.last_error = error.to_owned();
            s.last_error_ms = now_ms();
        });
    }

    /// Forgets the closed rows of `key`'s peer and direction (a new session replaces them).
    pub fn forget_closed(&self, key: &LinkKey) {
        if let Ok(mut links) = self.links.lock() {
            links.retain(|k, s| {
                !(k.direction == key.direction && k.peer == key.peer && s.state == "closed")
            });
        }
    }

    /// A copy of every link's status.
    pub fn snapshot(&self) -> Vec<LinkStatus> {
        self.links
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Counts a refused run.
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}
