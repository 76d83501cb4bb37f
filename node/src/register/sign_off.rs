//! A county leader's sign-off (分管领导签批) of closures, where the county requires it
//! (`[sign_off] closures = true`): an officer's closure on the pages is kept as a
//! [`Proposal`] in the node's own store (not federated: it is the county's internal step),
//! and becomes the register's `Close` only when a leader signs it off, as that leader, with
//! the proposer named in the text. A leader may send it back instead, with a reason, which
//! the risk's page shows to the proposer.
//!
//! Over gRPC there is no proposal: only a leader's certificate, or the node's own, closes
//! (and files reports, with `[sign_off] reports = true`): `api::auth::require_leader`.

use serde::{Deserialize, Serialize};

use crate::domain::risk::Closure;
use crate::register::record::RiskRecord;
use crate::register::view::CLOSED;
use crate::store::{Batch, Store, StoreError};

/// Proposals by risk id.
pub const TREE: &str = "closure_proposal";

/// A closure awaiting a leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Resolved or ruled out.
    pub closure: Closure,
    /// The summary or the reason, as the officer typed it.
    pub text: String,
    /// Who proposed it (`staff/510104/lin`).
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The risk's revision then: a closure after it (by gRPC, say) makes the proposal moot,
    /// even once the risk is reopened.
    #[serde(default)]
    pub rev: u64,
    /// Set when a leader sent it back: who and why. A returned proposal no longer waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<Returned>,
}

/// A proposal a leader sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returned {
    /// The leader (`staff/510104/wang`).
    pub by: String,
    /// Why.
    pub reason: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

impl Proposal {
    /// True while it waits for a leader.
    pub fn waiting(&self) -> bool {
        self.returned.is_none()
    }

    /// True when `risk` was closed after the proposal (it no longer applies).
    pub fn overtaken(&self, risk: &RiskRecord) -> bool {
        risk.status.is_closed()
            || risk
                .history
                .iter()
                .any(|h| h.rev > self.rev && h.action == CLOSED)
    }

    /// The text the register's closure records: the officer's, with who proposed it.
    pub fn closing_text(&self, proposer: &str) -> String {
        format!("{}\n（经办：{proposer}）", self.text.trim())
    }
}

/// Why a proposal could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SignOffError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored proposal does not decode.
    #[error("the stored closure proposal of {risk} is damaged: {reason}")]
    Damaged {
        /// The risk.
        risk: String,
        /// The decoder's words.
        reason: String,
    },
}

/// The proposal for `risk`, waiting or sent back, if there is one.
pub fn get(store: &dyn Store, risk: &str) -> Result<Option<Proposal>, SignOffError> {
    store
        .get(TREE, risk.as_bytes())?
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| SignOffError::Damaged {
                risk: risk.to_owned(),
                reason: e.to_string(),
            })
        })
        .transpose()
}

/// Keeps `p` as the proposal for `risk`, replacing any earlier one.
pub fn propose(store: &dyn Store, risk: &str, p: &Proposal) -> Result<(), SignOffError> {
    let mut batch = Batch::new();
    // A derived struct of strings and numbers always serialises.
    let value = serde_json::to_vec(p).unwrap_or_default();
    batch.insert(TREE, risk.as_bytes().to_vec(), value);
    store.commit(&batch)?;
    Ok(())
}

/// Forgets the proposal for `risk` (signed off, or the risk closed another way).
pub fn clear(store: &dyn Store, risk: &str) -> Result<(), SignOffError> {
    let mut batch = Batch::new();
    batch.remove(TREE, risk.as_bytes().to_vec());
    store.commit(&batch)?;
    Ok(())
}

/// The risks whose closure waits for a leader, with their proposals, by risk id.
pub fn waiting(store: &dyn Store) -> Result<Vec<(String, Proposal)>, SignOffError> {
    let mut out = Vec::new();
    for item in store.scan_prefix(TREE, b"") {
        let (k, v) = item?;
        let risk = String::from_utf8_lossy(&k).into_owned();
        let p: Proposal = serde_json::from_slice(&v).map_err(|e| SignOffError::Damaged {
            risk: risk.clone(),
            reason: e.to_string(),
        })?;
        if p.waiting() {
            out.push((risk, p));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn a_proposal_waits_until_it_is_sent_back_or_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(get(&store, "510104-1").unwrap(), None);
        let mut p = Proposal {
            closure: Closure::RuledOut,
            text: "误报".into(),
            by: "staff/510104/lin".into(),
            at_ms: 1,
            rev: 3,
            returned: None,
        };
        propose(&store, "510104-1", &p).unwrap();
        assert_eq!(waiting(&store).unwrap().len(), 1);
        p.returned = Some(Returned {
            by: "staff/510104/wang".into(),
            reason: "再核实".into(),
            at_ms: 2,
        });
        propose(&store, "510104-1", &p).unwrap();
        assert!(
            waiting(&store).unwrap().is_empty(),
            "sent back: no longer waiting"
        );
        assert_eq!(get(&store, "510104-1").unwrap(), Some(p.clone()));
        clear(&store, "510104-1").unwrap();
        assert_eq!(get(&store, "510104-1").unwrap(), None);
        assert!(p
            .closing_text("林晓 (lin)")
            .ends_with("（经办：林晓 (lin)）"));
    }
}
