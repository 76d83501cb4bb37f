//! The facts of the feed entry an event came in, which every view applies it with.

use crate::feed::{self, Audience};

/// Facts about the entry being applied.
#[derive(Debug, Clone)]
pub struct EntryMeta {
    /// Division code of the origin (from `county/510104`).
    pub unit: String,
    /// Sequence number in its feed.
    pub seq: u64,
    /// Timestamp, Unix ms.
    pub at_ms: i64,
    /// Identity path of the author.
    pub author: String,
    /// The feed's audience.
    pub audience: Audience,
}

impl EntryMeta {
    /// The facts of a feed entry.
    pub fn of(entry: &feed::Entry) -> Self {
        Self {
            unit: entry
                .origin
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            seq: entry.seq,
            at_ms: entry.timestamp_ms,
            author: entry.author.clone(),
            audience: Audience::from_proto(entry.audience).unwrap_or(Audience::Local),
        }
    }
}
