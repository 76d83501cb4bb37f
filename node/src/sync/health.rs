//! Federation health, per county: its link, last contact, how far behind this node is on its
//! feeds, errors and refusals, equivocation evidence, when its certificate expires, and
//! whether it has gone silent. Read from the status board and the store when asked.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::pki::cert;
use crate::services::worker::{WorkerState, WorkerStatus};
use crate::store::{Store, StoreError};

use super::directory;
use super::ingest::EVIDENCE_TREE;
use super::quarantine::{Held, Quarantine};
use super::status::{LinkStatus, StatusBoard};

/// One county's health.
#[derive(Debug, Clone, Default)]
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
    /// Its feeds held back at an invalid entry.
    pub quarantined: Vec<Held>,
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
    quarantine: &Quarantine,
    all_known: bool,
    silent_after: Duration,
    now_ms: i64,
) -> Result<Vec<CountyHealth>, StoreError> {
    let mut rows: BTreeMap<String, Vec<LinkStatus>> = BTreeMap::new();
    if all_known {
        for c in directory::member_counties(store)? {
            rows.entry(c).or_default();
        }
    }
    let held = quarantine.snapshot();
    for h in &held {
        if let Some(code) = h
            .record
            .feed
            .strip_prefix("county/")
            .and_then(|f| f.split('#').next())
        {
            rows.entry(code.to_owned()).or_default();
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
        h.quarantined = held
            .iter()
            .filter(|q| q.record.feed.split('#').next() == Some(origin.as_str()))
            .cloned()
            .collect();
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

/// A certificate expiring sooner than this raises an alarm.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// Node-wide alarms at `now_ms`: a CRL past its next update, this node's certificate or a
/// known origin's expiring within [`EXPIRY_WARNING`] (or already expired). Each is a sentence
/// saying what to do.
pub fn alarms(
    tls: &crate::pki::tls::TlsState,
    store: &dyn Store,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let at = |ms: i64| crate::timespec::format_ms(ms);
    match tls.crl {
        Some(c) if c.facts.next_update_ms.is_some_and(|n| n < now_ms) => out.push(format!(
            "the CRL in use (number {}, from {}) passed its next update at {}: re-sign it on the CA machine (`fenghuo ca crl`) and give crl.pem to the gateway",
            c.facts.number,
            if c.from_feed { "the province feed" } else { "crl.pem" },
            at(c.facts.next_update_ms.unwrap_or_default()),
        )),
        None => out.push("the CRL in use has no readable number or dates".to_owned()),
        _ => {}
    }
    let soon = now_ms + EXPIRY_WARNING.as_millis() as i64;
    let expiring = |der: &[u8]| {
        cert::not_after(der)
            .ok()
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .filter(|ms| *ms < soon)
    };
    if let Some(ms) = expiring(&tls.own) {
        out.push(format!(
            "this node's certificate expires at {}: renew it (`fenghuo ca issue … --renew`) and copy the new .crt to the node",
            at(ms)
        ));
    }
    for kv in store.scan_prefix(directory::CERTS_TREE, b"") {
        let (origin, der) = kv?;
        if der == tls.own {
            continue;
        }
        if let Some(ms) = expiring(&der) {
            out.push(format!(
                "the certificate of {} expires at {}: its operator should renew it",
                String::from_utf8_lossy(&origin),
                at(ms)
            ));
        }
    }
    Ok(out)
}

/// Logs the node-wide [`alarms`] at start and then every hour, until `stop`. Runs as the
/// worker `alarm-log` (see [`crate::services::worker`]); it logs what it cannot read, so it
/// never fails.
pub async fn run_alarm_log(
    tls: tokio::sync::watch::Receiver<std::sync::Arc<crate::pki::tls::TlsState>>,
    store: std::sync::Arc<dyn Store>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), std::convert::Infallible> {
    loop {
        let state = tls.borrow().clone();
        match alarms(&state, store.as_ref(), crate::timespec::now_ms()) {
            Ok(list) => {
                for a in list {
                    tracing::warn!(alarm = "certificate", "ALARM: {a}");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read certificates for the alarms"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    Ok(())
}

/// An alarm for each worker that failed (see [`crate::services::worker`]): the node goes on
/// without what it did until it is restarted.
pub fn worker_alarms(workers: &[WorkerStatus]) -> Vec<String> {
    workers
        .iter()
        .filter_map(|w| match &w.state {
            WorkerState::Failed(reason) => Some(format!(
                "the worker {} failed at {}: {reason}; the node goes on without it until it is restarted (see its log)",
                w.name,
                crate::timespec::format_ms(w.stopped_at_ms.unwrap_or_default()),
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_worker_raises_an_alarm_naming_it() {
        let w = |name: &str, state| WorkerStatus {
            name: name.into(),
            state,
            started_at_ms: 1,
            stopped_at_ms: Some(2),
        };
        let alarms = worker_alarms(&[
            w("journal", WorkerState::Running),
            w("alarm-log", WorkerState::Stopped),
            w("publish", WorkerState::Failed("disk full".into())),
        ]);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].contains("worker publish failed"), "{alarms:?}");
        assert!(alarms[0].contains("disk full"), "{alarms:?}");
    }
}
