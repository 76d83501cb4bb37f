//! What every link is doing, for `fenghuo peers` and the dashboard: state, last contact,
//! lag per feed, counters and the last error. Links and sessions update it; readers copy it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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

/// Every link of a node, plus node-wide counters.
#[derive(Debug, Default)]
pub struct StatusBoard {
    links: Mutex<BTreeMap<String, LinkStatus>>,
    /// Runs refused for a bad hash, chain, signature, entitlement or gap.
    pub refused: AtomicU64,
    /// Equivocations seen.
    pub equivocations: AtomicU64,
}

impl StatusBoard {
    fn key(direction: &str, peer: &str) -> String {
        format!("{direction} {peer}")
    }

    /// Changes the status of a link with `f`, creating it if needed.
    pub fn update(&self, direction: &'static str, peer: &str, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut links) = self.links.lock() {
            let s = links
                .entry(Self::key(direction, peer))
                .or_insert_with(|| LinkStatus {
                    peer: peer.to_owned(),
                    direction,
                    ..Default::default()
                });
            f(s);
        }
    }

    /// Records an error on a link.
    pub fn error(&self, direction: &'static str, peer: &str, error: &str) {
        self.update(direction, peer, |s| {
            s.last_error = error.to_owned();
            s.last_error_ms = now_ms();
        });
    }

    /// Forgets an inbound link that has closed (outbound links stay, showing their backoff).
    pub fn remove_inbound(&self, peer: &str) {
        if let Ok(mut links) = self.links.lock() {
            links.remove(&Self::key("inbound", peer));
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
