//! The outbox: each notification to deliver, by when it is next due, and the record of every
//! attempt. An event reaches a channel once: the record, keyed by (event, channel), is
//! written in the same commit as the outbox entry and the notifier's journal position, so a
//! restart neither loses nor repeats one. (A crash between a channel accepting a message
//! and the commit that records it sends it again: at least once, never silently lost.)
//!
//! Trees: `notify_outbox`: u64be(due, Unix ms) ‖ u64be(seq) → JSON [`Delivery`];
//! `notify_deliveries`: event 0x00 channel → JSON [`DeliveryRecord`];
//! `notify_meta`: `cursor` → u64be (the last journal item considered), `seq` → u64be.

use serde::{Deserialize, Serialize};

use super::message::Message;
use super::{corrupt, NotifyError};
use crate::store::{read_u64, Batch, Store};

/// Deliveries by when they are due.
pub const OUTBOX_TREE: &str = "notify_outbox";
/// Every delivery's record, by (event, channel).
pub const DELIVERIES_TREE: &str = "notify_deliveries";
/// The notifier's positions.
pub const META_TREE: &str = "notify_meta";
const CURSOR_KEY: &[u8] = b"cursor";
const SEQ_KEY: &[u8] = b"seq";
/// Attempts kept per record (the first and the latest ones).
const ATTEMPTS_KEPT: usize = 20;
/// The longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1000;

/// One message to deliver through one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its number, unique on this node.
    pub seq: u64,
    /// The channel's name.
    pub channel: String,
    /// Whom it is for (roster names).
    pub people: Vec<String>,
    /// What it says.
    pub message: Message,
    /// Attempts so far.
    pub attempts: u32,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Why it failed; empty when delivered.
    pub error: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet tried.
    Pending,
    /// Failed at least once; will be tried again.
    Retrying,
    /// The channel accepted it.
    Delivered,
}

impl DeliveryState {
    /// `pending`, `retrying`, `delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
        }
    }
}

/// What happened to one event's delivery through one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The event (`alert:<id>`).
    pub event: String,
    /// The channel.
    pub channel: String,
    /// Whom it is for.
    pub people: Vec<String>,
    /// The message's title.
    pub title: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// When it was queued, Unix ms.
    pub queued_at_ms: i64,
    /// When it is tried next, while not delivered.
    pub next_at_ms: i64,
    /// The attempts (the first and the latest, at most 20).
    pub attempts: Vec<Attempt>,
}

fn record_key(event: &str, channel: &str) -> Vec<u8> {
    let mut k = event.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(channel.as_bytes());
    k
}

fn outbox_key(due_ms: i64, seq: u64) -> Vec<u8> {
    let mut k = (due_ms.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, NotifyError> {
    serde_json::to_vec(v).map_err(|e| corrupt(what, e).into())
}

fn record(
    store: &dyn Store,
    batch: &Batch,
    key: &[u8],
) -> Result<Option<DeliveryRecord>, NotifyError> {
    batch
        .get(store, DELIVERIES_TREE, key)?
        .map(|v| serde_json::from_slice(&v).map_err(|e| corrupt("delivery record", e).into()))
        .transpose()
}

/// The last journal item the notifier considered; `None` before its first start.
pub fn cursor(store: &dyn Store) -> Result<Option<u64>, NotifyError> {
    Ok(store.get(META_TREE, CURSOR_KEY)?.map(|v| read_u64(Some(v))))
}

/// Moves the notifier's position to `cursor` in `batch`.
pub fn set_cursor(batch: &mut Batch, cursor: u64) {
    batch.insert(
        META_TREE,
        CURSOR_KEY.to_vec(),
        cursor.to_be_bytes().to_vec(),
    );
}

/// Queues `message` for each (channel, people) in `batch`, due at `now_ms`, except through a
/// channel that already has it; how many were queued.
pub fn enqueue(
    store: &dyn Store,
    batch: &mut Batch,
    message: &Message,
    to: &[(String, Vec<String>)],
    now_ms: i64,
) -> Result<usize, NotifyError> {
    let mut queued = 0;
    for (channel, people) in to {
        let rk = record_key(&message.event, channel);
        if record(store, batch, &rk)?.is_some() {
            continue;
        }
        let seq = read_u64(batch.get(store, META_TREE, SEQ_KEY)?) + 1;
        batch.insert(META_TREE, SEQ_KEY.to_vec(), seq.to_be_bytes().to_vec());
        let d = Delivery {
            seq,
            channel: channel.clone(),
            people: people.clone(),
            message: message.clone(),
            attempts: 0,
        };
        batch.insert(
            OUTBOX_TREE,
            outbox_key(now_ms, seq),
            encode("delivery", &d)?,
        );
        let r = DeliveryRecord {
            event: message.event.clone(),
            channel: channel.clone(),
            people: people.clone(),
            title: message.title.clone(),
            state: DeliveryState::Pending,
            queued_at_ms: now_ms,
            next_at_ms: now_ms,
            attempts: Vec::new(),
        };
        batch.insert(DELIVERIES_TREE, rk, encode("delivery record", &r)?);
        queued += 1;
    }
    Ok(queued)
}

/// A queued delivery with its place in the outbox.
#[derive(Debug, Clone)]
pub struct Due {
    key: Vec<u8>,
    /// The delivery.
    pub delivery: Delivery,
}

/// Up to `limit` deliveries due by `now_ms`, oldest first.
pub fn due(store: &dyn Store, now_ms: i64, limit: usize) -> Result<Vec<Due>, NotifyError> {
    let end = outbox_key(now_ms.saturating_add(1), 0);
    store
        .range(OUTBOX_TREE, &[], Some(&end))
        .take(limit)
        .map(|kv| {
            let (key, v) = kv?;
            let delivery = serde_json::from_slice(&v).map_err(|e| corrupt("delivery", e))?;
            Ok(Due { key, delivery })
        })
        .collect()
}

/// When the next delivery is due, if any.
pub fn next_due_ms(store: &dyn Store) -> Result<Option<i64>, NotifyError> {
    Ok(store
        .range(OUTBOX_TREE, &[], None)
        .next()
        .transpose()?
        .and_then(|(k, _)| k.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()))
        .map(|b| u64::from_be_bytes(b) as i64))
}

/// How long to wait after the `attempts`-th failure: 10 s, doubling, at most 15 min.
pub fn backoff_ms(attempts: u32) -> i64 {
    (10_000i64 << attempts.saturating_sub(1).min(16)).min(MAX_BACKOFF_MS)
}

/// Records an attempt at `due`: delivered (`error` empty) takes it out of the outbox;
/// failed puts it back, due after the backoff. Returns its record.
pub fn attempted(
    store: &dyn Store,
    due: Due,
    error: &str,
    now_ms: i64,
) -> Result<DeliveryRecord, NotifyError> {
    let mut batch = Batch::new();
    batch.remove(OUTBOX_TREE, due.key);
    let mut d = due.delivery;
    d.attempts += 1;
    let rk = record_key(&d.message.event, &d.channel);
    let mut r = record(store, &batch, &rk)?.unwrap_or_else(|| DeliveryRecord {
        event: d.message.event.clone(),
        channel: d.channel.clone(),
        people: d.people.clone(),
        title: d.message.title.clone(),
        state: DeliveryState::Pending,
        queued_at_ms: now_ms,
        next_at_ms: now_ms,
        attempts: Vec::new(),
    });
    if r.attempts.len() >= ATTEMPTS_KEPT {
        r.attempts.remove(1);
    }
    r.attempts.push(Attempt {
        at_ms: now_ms,
        error: error.to_owned(),
    });
    if error.is_empty() {
        r.state = DeliveryState::Delivered;
    } else {
        r.state = DeliveryState::Retrying;
        r.next_at_ms = now_ms + backoff_ms(d.attempts);
        batch.insert(
            OUTBOX_TREE,
            outbox_key(r.next_at_ms, d.seq),
            encode("delivery", &d)?,
        );
    }
    batch.insert(DELIVERIES_TREE, rk, encode("delivery record", &r)?);
    store.commit(&batch)?;
    Ok(r)
}

/// Every delivery record, newest queued first, at most `limit`.
pub fn records(store: &dyn Store, limit: usize) -> Result<Vec<DeliveryRecord>, NotifyError> {
    let mut all: Vec<DeliveryRecord> = store
        .scan_prefix(DELIVERIES_TREE, &[])
        .map(|kv| {
            let (_, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| corrupt("delivery record", e).into())
        })
        .collect::<Result<_, NotifyError>>()?;
    all.sort_by_key(|r| std::cmp::Reverse(r.queued_at_ms));
    all.truncate(limit);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn msg(event: &str) -> Message {
        Message {
            title: "t".into(),
            text: "x".into(),
            link: "https://n/inbox".into(),
            event: event.into(),
        }
    }

    #[test]
    fn an_event_reaches_a_channel_once_and_a_failure_comes_back_after_the_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let to = vec![
            ("mail".to_owned(), vec!["lin".to_owned()]),
            ("robot".to_owned(), vec!["lin".to_owned()]),
        ];
        let mut b = Batch::new();
        assert_eq!(
            enqueue(&store, &mut b, &msg("alert:a1"), &to, 1000).unwrap(),
            2
        );
        set_cursor(&mut b, 7);
        store.commit(&b).unwrap();
        assert_eq!(cursor(&store).unwrap(), Some(7));
        let mut b = Batch::new();
        assert_eq!(
            enqueue(&store, &mut b, &msg("alert:a1"), &to, 2000).unwrap(),
            0
        );
        let due_now = due(&store, 1000, 10).unwrap();
        assert_eq!(due_now.len(), 2);
        let mut it = due_now.into_iter();
        let r = attempted(&store, it.next().unwrap(), "", 1100).unwrap();
        assert_eq!(r.state, DeliveryState::Delivered);
        let r = attempted(&store, it.next().unwrap(), "connection refused", 1200).unwrap();
        assert_eq!(r.state, DeliveryState::Retrying);
        assert_eq!(next_due_ms(&store).unwrap(), Some(1200 + 10_000));
        assert!(due(&store, 1200 + 9_999, 10).unwrap().is_empty());
        let again = due(&store, 1200 + 10_000, 10).unwrap();
        assert_eq!(again[0].delivery.attempts, 1);
        let r = attempted(&store, again.into_iter().next().unwrap(), "", 20_000).unwrap();
        assert_eq!((r.state, r.attempts.len()), (DeliveryState::Delivered, 2));
        assert!(due(&store, i64::MAX / 2, 10).unwrap().is_empty());
        assert_eq!(records(&store, 10).unwrap().len(), 2);
    }

    #[test]
    fn backoff_doubles_to_fifteen_minutes() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(30), 15 * 60 * 1000);
    }
}
