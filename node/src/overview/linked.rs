//! Linked risks (跨县关联): risks of different counties that point at the same source — the
//! same URL, or the same platform account — grouped, so the province sees one incident that
//! spans counties.
//!
//! The index is written by one thread only, the view applier: a changed source is first
//! noted under a key of its own (`linked_pending`, unique per entry and risk, so the writer
//! and the applier never write the same key), and the applier folds the notes into the
//! index after each pass. Trees (views):
//! - `linked_pending`: `<origin>/<audience>/` u64be(seq) `/<risk id>` → JSON note;
//! - `linked_member`: source key 0x00 origin 0x00 risk id → empty;
//! - `linked_origins`: source key → JSON {origin: risks};
//! - `linked_group`: source key → empty, present while two counties or more share it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::risk::source_key;
use crate::event::EntryMeta;
use crate::store::{Batch, Read, Store, StoreError};

use super::RiskFacts;

/// Notes of changed sources, waiting to be folded in.
pub const PENDING_TREE: &str = "linked_pending";
/// Risks per source key.
pub(crate) const MEMBER_TREE: &str = "linked_member";
/// Counties per source key.
pub(crate) const ORIGINS_TREE: &str = "linked_origins";
/// Source keys shared by two counties or more.
pub(crate) const GROUP_TREE: &str = "linked_group";

#[derive(Debug, Serialize, Deserialize)]
struct Note {
    id: String,
    origin: String,
    old: Option<String>,
    new: Option<String>,
}

/// Stages a note when the change of a risk from `before` to `after` changes its source key.
pub(crate) fn note_change(
    batch: &mut Batch,
    meta: &EntryMeta,
    before: Option<&RiskFacts<'_>>,
    after: &RiskFacts<'_>,
) -> Result<(), StoreError> {
    let old = before.and_then(|b| source_key(b.source));
    let new = source_key(after.source);
    if old == new {
        return Ok(());
    }
    let mut key = format!("{}/{}/", meta.unit, meta.audience.as_str()).into_bytes();
    key.extend_from_slice(&meta.seq.to_be_bytes());
    key.push(b'/');
    key.extend_from_slice(after.id.as_bytes());
    let note = Note {
        id: after.id.to_owned(),
        origin: after.origin.to_owned(),
        old,
        new,
    };
    let bytes = serde_json::to_vec(&note)
        .map_err(|e| StoreError::Backend(format!("encoding a source note: {e}")))?;
    batch.insert(PENDING_TREE, key, bytes);
    Ok(())
}

fn member_key(source: &str, origin: &str, id: &str) -> Vec<u8> {
    let mut k = source.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(origin.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn origins(src: &(impl Read + ?Sized), source: &str) -> Result<BTreeMap<String, u64>, StoreError> {
    Ok(src
        .value(ORIGINS_TREE, source.as_bytes())?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default())
}

fn count(
    store: &dyn Store,
    batch: &mut Batch,
    source: &str,
    origin: &str,
    delta: i64,
) -> Result<(), StoreError> {
    let mut o = origins(&batch.over(store), source)?;
    let n = o.get(origin).copied().unwrap_or(0) as i64 + delta;
    if n <= 0 {
        o.remove(origin);
    } else {
        o.insert(origin.to_owned(), n as u64);
    }
    let key = source.as_bytes().to_vec();
    if o.is_empty() {
        batch.remove(ORIGINS_TREE, key.clone());
    } else {
        let bytes = serde_json::to_vec(&o)
            .map_err(|e| StoreError::Backend(format!("encoding source origins: {e}")))?;
        batch.insert(ORIGINS_TREE, key.clone(), bytes);
    }
    if o.len() >= 2 {
        batch.insert(GROUP_TREE, key, Vec::new());
    } else {
        batch.remove(GROUP_TREE, key);
    }
    Ok(())
}

/// Folds every pending note into the index, in one commit; returns how many. Only the view
/// applier (or catch-up, before it starts) calls this.
pub(crate) fn fold_pending(store: &dyn Store) -> Result<usize, StoreError> {
    let notes: Vec<(Vec<u8>, Vec<u8>)> = store
        .scan_prefix(PENDING_TREE, b"")
        .take(10_000)
        .collect::<Result<_, _>>()?;
    if notes.is_empty() {
        return Ok(0);
    }
    let mut batch = Batch::new();
    for (key, value) in &notes {
        batch.remove(PENDING_TREE, key.clone());
        let Ok(note) = serde_json::from_slice::<Note>(value) else {
            continue;
        };
        if let Some(old) = &note.old {
            let member = member_key(old, &note.origin, &note.id);
            if batch.get(store, MEMBER_TREE, &member)?.is_some() {
                batch.remove(MEMBER_TREE, member);
                count(store, &mut batch, old, &note.origin, -1)?;
            }
        }
        if let Some(new) = &note.new {
            let member = member_key(new, &note.origin, &note.id);
            if batch.get(store, MEMBER_TREE, &member)?.is_none() {
                batch.insert(MEMBER_TREE, member, Vec::new());
                count(store, &mut batch, new, &note.origin, 1)?;
            }
        }
    }
    store.commit(&batch)?;
    Ok(notes.len())
}

/// One group of linked risks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The source key they share.
    pub source: String,
    /// (county, risk id), in order.
    pub risks: Vec<(String, String)>,
}

/// The risks of every origin whose source has the key `source` (see `source_key`): (origin,
/// risk id), in order.
pub fn members(store: &dyn Store, source: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut prefix = source.as_bytes().to_vec();
    prefix.push(0);
    let mut risks = Vec::new();
    for m in store.scan_prefix(MEMBER_TREE, &prefix) {
        let (k, _) = m?;
        let mut parts = k[prefix.len()..].splitn(2, |b| *b == 0);
        if let (Some(origin), Some(id)) = (parts.next(), parts.next()) {
            risks.push((
                String::from_utf8_lossy(origin).into_owned(),
                String::from_utf8_lossy(id).into_owned(),
            ));
        }
    }
    Ok(risks)
}

/// Every group (or those with a risk of `county`), in source order.
pub(crate) fn groups(store: &dyn Store, county: Option<&str>) -> Result<Vec<Group>, StoreError> {
    let mut out = Vec::new();
    for kv in store.scan_prefix(GROUP_TREE, b"") {
        let (source, _) = kv?;
        let risks = members(store, &String::from_utf8_lossy(&source))?;
        if county.is_some_and(|c| !risks.iter().any(|(o, _)| o == c)) {
            continue;
        }
        out.push(Group {
            source: String::from_utf8_lossy(&source).into_owned(),
            risks,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_pointing_at_the_same_thing_share_a_key() {
        let k = |s| source_key(s).unwrap();
        assert_eq!(
            k("video at https://www.Video.example/v/123/?utm_source=wx#t=3"),
            "video.example/v/123"
        );
        assert_eq!(k("http://video.example/v/123"), "video.example/v/123");
        assert_eq!(
            k("https://bbs.example/t?id=9&utm_medium=x"),
            "bbs.example/t?id=9"
        );
        assert_eq!(k("  Weibo   @Zhang_San "), "weibo @zhang_san");
        assert_eq!(source_key("   "), None);
        assert_ne!(k("https://a.example/1"), k("https://a.example/2"));
    }
}
