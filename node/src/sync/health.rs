//! Federation health, per county: its link, last contact, how far behind this node is on its
//! feeds, errors and refusals, equivocation evidence, when its certificate expires, and
//! whether it has gone silent. Read from the status board and the store when asked.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::pki::cert;
use crate::store::{Store, StoreError};

use super::directory;
use super::ingest::EVIDENCE_TREE;
use super::status::{LinkStatus, StatusBoard};

/// One county's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountyHealth {
    /// Its code.
    pub county: String,
    /// The best state of its links: connected, connecting, backoff, closed, or `never`.
    pub link: &'static str,
    /// Last frame from it, Unix ms (0: never).
    pub last_contact_ms: i64,
    /// No contact for longer than asked (or never).
    pub silent: bool,
    /// Per feed, entries this node lacks of what the county holds for it.
    pub behind: BTreeMap<String, u64>,
    /// Entries refused from it.
    pub refused: u64,
    /// Its links' latest error, and when.
    pub last_error: String,
    /// When, Unix ms.
    pub last_error_ms: i64,
    /// Equivocations of its feeds kept as evidence.
    pub equivocations: u64,
    /// When its certificate expires, Unix ms (0: not known here).
    pub certificate_expires_ms: i64,
}

fn rank(state: &str) -> u8 {
    match state {
        "connected" => 4,
        "connecting" => 3,
        "backoff" => 2,
        "closed" => 1,
        _ => 0,
    }
}

/// The health of every county this node knows (the gateway) or links to (a county), at
/// `now_ms`; a county with no contact for `silent_after` is silent.
pub fn health(
    store: &dyn Store,
    board: &StatusBoard,
    all_known: bool,
    silent_after: Duration,
    now_ms: i64,
) -> Result<Vec<CountyHealth>, StoreError> {
    let mut rows: BTreeMap<String, Vec<LinkStatus>> = BTreeMap::new();
    if all_known {
        for c in directory::known_counties(store)? {
            rows.entry(c).or_default();
        }
    }
    for s in board.snapshot() {
        if let Some(code) = s.peer.strip_prefix("county/") {
            rows.entry(code.to_owned()).or_default().push(s);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (county, links) in rows {
        let mut h = CountyHealth {
            link: "never",
            ..CountyHealth::default()
        };
        for l in &links {
            if rank(l.state) > rank(h.link) {
                h.link = l.state;
            }
            h.last_contact_ms = h.last_contact_ms.max(l.last_contact_ms);
            h.refused += l.refused;
            if l.last_error_ms > h.last_error_ms {
                h.last_error = l.last_error.clone();
                h.last_error_ms = l.last_error_ms;
            }
            for (feed, n) in &l.we_behind {
                let e = h.behind.entry(feed.clone()).or_default();
                *e = (*e).max(*n);
            }
        }
        let origin = format!("county/{county}");
        h.equivocations = store
            .scan_prefix(EVIDENCE_TREE, format!("{origin}#").as_bytes())
            .count() as u64;
        if let Some(der) = directory::certificate(store, &origin)? {
            if let Ok(t) = cert::not_after(&der) {
                h.certificate_expires_ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
            }
        }
        h.silent = h.last_contact_ms == 0
            || now_ms.saturating_sub(h.last_contact_ms) > silent_after.as_millis() as i64;
        h.county = county;
        out.push(h);
    }
    Ok(out)
}
