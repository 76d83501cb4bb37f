//! The node's single writer: every change goes through one thread — commands from staff and
//! runs received from peers alike. It checks commands against the register, appends their
//! entries to this node's feeds, verifies and stores received runs, updates the views in the
//! same atomic commit, signs each touched feed's head once, and flushes once for the whole
//! batch (group commit). Callers hear back only after the flush: acknowledged means durable.
//! After each commit it bumps a counter that sync sessions watch to send new entries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{mpsc, oneshot, watch};

use crate::domain::GradingStandard;
use crate::event::Event;
use crate::feed::entry::{next_entry, sign_head};
use crate::feed::{self, Audience, Entry, FeedId, FeedSigner};
use crate::register::{self, view, Command, RegisterError};
use crate::store::{Batch, Store};
use crate::sync::ingest::{self, IngestError, Ingested};
use crate::views;

/// Most jobs committed in one batch.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before callers are slowed down.
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
    /// The risk the command created or changed (empty for commands about no risk).
    pub risk_id: String,
    /// The feed entry that records it (the last, if it wrote several).
    pub seq: u64,
}

type CommandReply = oneshot::Sender<Result<Written, WriteError>>;
type IngestReply = oneshot::Sender<Result<Ingested, IngestError>>;

enum Job {
    Command {
        author: String,
        command: Command,
        reply: CommandReply,
    },
    Ingest {
        entries: Vec<Entry>,
        origin_key: VerifyingKey,
        reply: IngestReply,
    },
}

/// A handle to submit work to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    commits: watch::Receiver<u64>,
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
        let (commits_tx, commits) = watch::channel(0);
        std::thread::Builder::new()
            .name("fenghuo-writer".into())
            .spawn(move || run(ctx, rx, commits_tx))?;
        Ok(Self { tx, commits })
    }

    /// Submits `command` by `author` (identity path); resolves once it is durable, or with the
    /// reason it was refused. The feed is chosen by the risk's scope.
    pub async fn submit(&self, author: String, command: Command) -> Result<Written, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Command {
                author,
                command,
                reply,
            })
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Verifies and stores a run received from a peer; resolves once durable.
    pub async fn ingest(
        &self,
        entries: Vec<Entry>,
        origin_key: VerifyingKey,
    ) -> Result<Ingested, IngestError> {
        self.queue_ingest(entries, origin_key).await?.await
    }

    /// Queues a received run and returns at once with a future of its outcome, so a sync
    /// session can keep several runs in flight (the writer applies them in queue order).
    pub async fn queue_ingest(
        &self,
        entries: Vec<Entry>,
        origin_key: VerifyingKey,
    ) -> Result<impl std::future::Future<Output = Result<Ingested, IngestError>>, IngestError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || IngestError::Malformed("the node is shutting down".into());
        self.tx
            .send(Job::Ingest {
                entries,
                origin_key,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        Ok(async move { rx.await.unwrap_or_else(|_| Err(stopped())) })
    }

    /// A receiver that changes after every commit that stored entries.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.clone()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn run(ctx: WriterContext, mut rx: mpsc::Receiver<Job>, commits: watch::Sender<u64>) {
    let span = tracing::info_span!("writer", origin = %ctx.origin);
    let _guard = span.enter();
    let mut counter = 0u64;
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if commit_batch(&ctx, jobs) {
            counter += 1;
            commits.send_replace(counter);
        }
    }
    tracing::debug!("writer stopped");
}

/// This node's own entries of one batch, per feed, in order.
struct OwnEntries<'a> {
    ctx: &'a WriterContext,
    now: i64,
    feeds: BTreeMap<FeedId, Vec<Entry>>,
}

impl OwnEntries<'_> {
    /// Appends `event` to this node's feed for `audience` and applies it to the views.
    fn append(
        &mut self,
        batch: &mut Batch,
        author: &str,
        audience: Audience,
        event: &Event,
    ) -> Result<u64, RegisterError> {
        let store = self.ctx.store.as_ref();
        let feed = FeedId::new(self.ctx.origin.clone(), audience);
        let (prev_seq, prev_hash) = match self.feeds.get(&feed).and_then(|v| v.last()) {
            Some(last) => (last.seq, last.hash.clone()),
            None => {
                let h = feed::log::head(store, batch, &feed)?;
                (h.seq, h.hash)
            }
        };
        let entry = next_entry(
            &feed,
            prev_seq,
            &prev_hash,
            self.now,
            author,
            event.encode(),
        );
        views::apply_event(store, batch, &view::EntryMeta::of(&entry), event)?;
        views::mark_applied(batch, &feed, entry.seq);
        let seq = entry.seq;
        self.feeds.entry(feed).or_default().push(entry);
        Ok(seq)
    }

    /// Runs one command: its events, then any follow-up (a major-issue report).
    fn command(
        &mut self,
        batch: &mut Batch,
        author: &str,
        command: &Command,
    ) -> Result<Written, RegisterError> {
        let store = self.ctx.store.as_ref();
        let planned =
            register::command::prepare(store, batch, &self.ctx.unit, &self.ctx.standard, command)?;
        let mut written = Written {
            risk_id: String::new(),
            seq: 0,
        };
        // Each event is checked before anything of it is staged; follow-ups cannot fail
        // their checks (they restate what was just applied).
        for (audience, event) in planned {
            written.seq = self.append(batch, author, audience, &event)?;
            written.risk_id = event.risk_id().unwrap_or_default().to_owned();
            if let Some((audience, follow)) = register::command::follow_up(store, batch, &event)? {
                written.seq = self.append(batch, author, audience, &follow)?;
            }
        }
        Ok(written)
    }

    /// Signs each feed's last entry and stages every entry; returns how many.
    fn stage(mut self, batch: &mut Batch) -> usize {
        let mut count = 0;
        for (feed, list) in &mut self.feeds {
            if let Some(last) = list.last_mut() {
                last.signature = sign_head(self.ctx.signer.signing_key(), &last.hash);
            }
            feed::log::stage_block(batch, feed, list);
            count += list.len();
        }
        count
    }
}

enum Outcome {
    Command(CommandReply, Result<Written, RegisterError>),
    Ingest(IngestReply, Result<Ingested, IngestError>),
}

/// Commits one batch; returns true when entries were stored.
fn commit_batch(ctx: &WriterContext, jobs: Vec<Job>) -> bool {
    let store = ctx.store.as_ref();
    let mut batch = Batch::new();
    let mut own = OwnEntries {
        ctx,
        now: now_ms(),
        feeds: BTreeMap::new(),
    };
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut received = 0;

    for job in jobs {
        match job {
            Job::Command {
                author,
                command,
                reply,
            } => {
                let result = own.command(&mut batch, &author, &command);
                outcomes.push(Outcome::Command(reply, result));
            }
            Job::Ingest {
                entries,
                origin_key,
                reply,
            } => {
                // A refused run stages nothing but equivocation evidence.
                let result = ingest::stage_run(store, &mut batch, &entries, &origin_key);
                if let Ok(r) = &result {
                    received += r.stored;
                }
                outcomes.push(Outcome::Ingest(reply, result));
            }
        }
    }

    let count = own.stage(&mut batch) + received;
    // Nothing new (all refused, or runs already held): no fsync to pay.
    let durable = if batch.is_empty() {
        Ok(())
    } else {
        store.commit(&batch).and_then(|()| store.flush())
    };
    if let Err(e) = &durable {
        tracing::error!(error = %e, entries = count, "commit failed; the batch's writes are refused");
    } else if count > 0 {
        tracing::debug!(entries = count, "committed");
    }
    for outcome in outcomes {
        // A caller may have gone away; the write stands regardless.
        match outcome {
            Outcome::Command(reply, result) => {
                let result = match (&durable, result) {
                    (Err(e), Ok(_)) => Err(WriteError::Refused(RegisterError::Store(e.clone()))),
                    (_, r) => r.map_err(WriteError::Refused),
                };
                let _ = reply.send(result);
            }
            Outcome::Ingest(reply, result) => {
                let result = match (&durable, result) {
                    (Err(e), Ok(_)) => Err(IngestError::Store(e.clone())),
                    (_, r) => r,
                };
                let _ = reply.send(result);
            }
        }
    }
    durable.is_ok() && count > 0
}
