//! The intake figures a county publishes to its province (counts only: observations never
//! leave the county). The county's worker writes an `IntakeCounted` event in its province
//! feed when its figures change; every node that holds that feed keeps the latest figures of
//! each county here, which the province's dashboard shows per county.
//!
//! Tree (a view): `intake_counts`: county code → JSON [`Published`].

use serde::{Deserialize, Serialize};

use crate::event::{Event, IntakeCounts};
use crate::store::{Batch, Read, Store, StoreError};

/// The latest figures of each county.
pub const COUNTS_TREE: &str = "intake_counts";

/// A county's figures as last published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The county.
    pub county: String,
    /// When it published them, Unix ms.
    pub at_ms: i64,
    /// The figures.
    pub counts: IntakeCounts,
}

impl IntakeCounts {
    /// risks_from_intake / risks, per mille; `None` when the county identified no risk.
    pub fn collection_permille(&self) -> Option<u32> {
        permille(self.risks_from_intake, self.risks)
    }

    /// found_first / contested, per mille; `None` when no risk was contested.
    pub fn discovery_permille(&self) -> Option<u32> {
        permille(self.found_first, self.contested)
    }

    /// Items decided in the period (promoted, attached or dismissed).
    pub fn decided(&self) -> u64 {
        self.promoted + self.attached + self.dismissed
    }
}

/// A rate per mille as people read it: `66.6%` (the CLI and the pages alike).
pub fn permille_text(p: u32) -> String {
    format!("{}.{}%", p / 10, p % 10)
}

/// `part / whole` per mille, `None` for nothing out of nothing (a rate of no risks is not 0%).
fn permille(part: u64, whole: u64) -> Option<u32> {
    part.saturating_mul(1000)
        .checked_div(whole)
        .map(|p| p.min(u64::from(u32::MAX)) as u32)
}

/// Publish a county's figures to its province (the intake's one command).
#[derive(Debug, Clone)]
pub struct PublishCounts(pub IntakeCounts);

/// The event that publishes `counts`, unless they equal what `county` last published (the
/// time of counting aside): nothing new is written then.
pub fn publish(
    src: &(impl Read + ?Sized),
    county: &str,
    counts: IntakeCounts,
) -> Result<Option<Event>, StoreError> {
    if let Some(last) = latest(src, county)? {
        let same = IntakeCounts {
            from_ms: last.counts.from_ms,
            to_ms: last.counts.to_ms,
            ..counts.clone()
        };
        if same == last.counts {
            return Ok(None);
        }
    }
    Ok(Some(Event::IntakeCounted { counts }))
}

/// Applies a county's published figures (a later publication replaces an earlier one).
pub fn apply(
    store: &dyn Store,
    batch: &mut Batch,
    county: &str,
    at_ms: i64,
    counts: &IntakeCounts,
) -> Result<(), StoreError> {
    if let Some(last) = latest(&batch.over(store), county)? {
        if last.at_ms > at_ms {
            return Ok(());
        }
    }
    let record = Published {
        county: county.to_owned(),
        at_ms,
        counts: counts.clone(),
    };
    let v = serde_json::to_vec(&record)
        .map_err(|e| StoreError::Backend(format!("encoding intake counts: {e}")))?;
    batch.insert(COUNTS_TREE, county.as_bytes().to_vec(), v);
    Ok(())
}

fn decode(v: &[u8]) -> Result<Published, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Backend(format!("intake counts: {e}")))
}

/// The figures `county` last published.
pub fn latest(src: &(impl Read + ?Sized), county: &str) -> Result<Option<Published>, StoreError> {
    src.value(COUNTS_TREE, county.as_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

/// Every county's latest figures, by code.
pub fn all(store: &dyn Store) -> Result<Vec<Published>, StoreError> {
    store
        .scan_prefix(COUNTS_TREE, b"")
        .map(|kv| decode(&kv?.1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn the_latest_publication_wins_and_an_unchanged_one_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let counts = IntakeCounts {
            days: 30,
            from_ms: 1,
            to_ms: 2,
            risks: 3,
            ..IntakeCounts::default()
        };
        assert!(publish(&store, "510104", counts.clone()).unwrap().is_some());
        let mut batch = Batch::new();
        apply(&store, &mut batch, "510104", 100, &counts).unwrap();
        store.commit(&batch).unwrap();
        let later_same = IntakeCounts {
            from_ms: 5,
            to_ms: 6,
            ..counts.clone()
        };
        assert!(publish(&store, "510104", later_same).unwrap().is_none());
        // An older publication arriving late does not replace the newer.
        let older = IntakeCounts {
            risks: 1,
            ..counts.clone()
        };
        let mut batch = Batch::new();
        apply(&store, &mut batch, "510104", 50, &older).unwrap();
        store.commit(&batch).unwrap();
        assert_eq!(latest(&store, "510104").unwrap().unwrap().counts.risks, 3);
        assert_eq!(all(&store).unwrap().len(), 1);
    }

    #[test]
    fn rates_of_nothing_are_none() {
        let c = IntakeCounts {
            risks: 4,
            risks_from_intake: 1,
            ..IntakeCounts::default()
        };
        assert_eq!(c.collection_permille(), Some(250));
        assert_eq!(c.discovery_permille(), None);
    }
}
