//! The node's single writer: every change goes through one thread that checks commands
//! against the register, appends their entries to this node's feeds, updates the views in
//! the same atomic commit, and flushes once for the whole batch (group commit). Callers hear
//! back only after the flush, so an acknowledged write is on disk.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::domain::GradingStandard;
use crate::event::Event;
use crate::feed::entry::{next_entry, sign_head};
use crate::feed::{self, Audience, Entry, FeedId, FeedSigner};
use crate::register::{self, view, Command, RegisterError};
use crate::store::{Batch, Store};

/// Most commands committed in one batch.
const MAX_BATCH: usize = 512;
/// Commands waiting for the writer before callers are slowed down.
const QUEUE: usize = 4096;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The command was refused; nothing was written.
    #[error(transparent)]
    Refused(#[from] RegisterError),
    /// The writer has stopped (the node is shutting down).
    #[error("the node is shutting down")]
    Stopped,
}

/// What a committed command produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The risk the command created or changed.
    pub risk_id: String,
    /// The feed entry that records it.
    pub seq: u64,
}

type Reply = oneshot::Sender<Result<Written, WriteError>>;

struct Job {
    author: String,
    audience: Audience,
    command: Command,
    reply: Reply,
}

/// A handle to submit commands to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// Everything the writer thread needs.
pub struct WriterContext {
    /// Where feeds and views live.
    pub store: Arc<dyn Store>,
    /// This node's identity path, the origin of its feeds (e.g. `county/510104`).
    pub origin: String,
    /// This node's division code; it owns the risks it creates.
    pub unit: String,
    /// Signs each batch's chain heads.
    pub signer: FeedSigner,
    /// Grades risks.
    pub standard: Arc<GradingStandard>,
}

impl Writer {
    /// Starts the writer thread. It stops when every `Writer` handle is dropped.
    pub fn start(ctx: WriterContext) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("fenghuo-writer".into())
            .spawn(move || run(ctx, rx))?;
        Ok(Self { tx })
    }

    /// Submits `command` by `author` (identity path) to the feed for `audience`; resolves
    /// once it is durable, or with the reason it was refused.
    pub async fn submit(
        &self,
        author: String,
        audience: Audience,
        command: Command,
    ) -> Result<Written, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                author,
                audience,
                command,
                reply,
            })
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn run(ctx: WriterContext, mut rx: mpsc::Receiver<Job>) {
    let span = tracing::info_span!("writer", origin = %ctx.origin);
    let _guard = span.enter();
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&ctx, jobs);
    }
    tracing::debug!("writer stopped");
}

fn commit_batch(ctx: &WriterContext, jobs: Vec<Job>) {
    let store = ctx.store.as_ref();
    let mut batch = Batch::new();
    // Entries per feed, in order; the last of each is signed before commit.
    let mut entries: BTreeMap<FeedId, Vec<Entry>> = BTreeMap::new();
    let mut outcomes: Vec<(Reply, Result<Written, RegisterError>)> = Vec::with_capacity(jobs.len());
    let now = now_ms();

    for job in jobs {
        let feed = FeedId::new(ctx.origin.clone(), job.audience);
        let result = (|| {
            let event: Event =
                register::command::prepare(store, &batch, &ctx.unit, &ctx.standard, &job.command)?;
            let (prev_seq, prev_hash) = match entries.get(&feed).and_then(|v| v.last()) {
                Some(last) => (last.seq, last.hash.clone()),
                None => {
                    let h = feed::log::head(store, &batch, &feed)?;
                    (h.seq, h.hash)
                }
            };
            let entry = next_entry(
                &feed,
                prev_seq,
                &prev_hash,
                now,
                &job.author,
                event.encode(),
            );
            view::apply(store, &mut batch, &view::EntryMeta::of(&entry), &event)?;
            view::mark_applied(&mut batch, &feed, entry.seq);
            let written = Written {
                risk_id: event.risk_id().to_owned(),
                seq: entry.seq,
            };
            entries.entry(feed.clone()).or_default().push(entry);
            Ok(written)
        })();
        outcomes.push((job.reply, result));
    }

    let mut count = 0;
    for (feed, list) in &mut entries {
        if let Some(last) = list.last_mut() {
            last.signature = sign_head(ctx.signer.signing_key(), &last.hash);
        }
        for e in list.iter() {
            feed::log::stage(&mut batch, feed, e);
            count += 1;
        }
    }

    let durable = store.commit(&batch).and_then(|()| store.flush());
    if let Err(e) = &durable {
        tracing::error!(error = %e, entries = count, "commit failed; the batch's writes are refused");
    } else if count > 0 {
        tracing::debug!(entries = count, "committed");
    }
    for (reply, result) in outcomes {
        let result = match (&durable, result) {
            (Err(e), Ok(_)) => Err(WriteError::Refused(RegisterError::Store(e.clone()))),
            (_, r) => r.map_err(WriteError::Refused),
        };
        // The caller may have gone away; the write stands regardless.
        let _ = reply.send(result);
    }
}
