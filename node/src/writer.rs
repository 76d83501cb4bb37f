//! The node's single writer: every change goes through one thread — commands from staff and
//! runs received from peers alike. It checks commands against the register, appends their
//! entries to this node's feeds, verifies and stores received runs, updates the views in the
//! same atomic commit, signs each touched feed's head once, and flushes once for the whole
//! batch (group commit). Callers hear back only after the flush: acknowledged means durable.
//!
//! Flushing is pipelined: a second thread, the flusher, waits for the disk while the writer
//! already stages the next batch, and one flush covers every batch committed while the
//! previous one was on its way to disk. Only after a flush does the flusher answer callers,
//! advance the [`DurableHeads`] that sync sends from (a peer must never hold an entry its
//! origin could still lose in a crash) and bump a counter that sync sessions watch.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{mpsc, oneshot, watch};

use crate::comms::CommsError;
use crate::dispatch;
use crate::disposal::DisposalError;
use crate::domain::GradingStandard;
use crate::event::{check, Event};
use crate::feed::entry::{next_entry, sign_batch};
use crate::feed::{self, Audience, Entry, FeedId, FeedSigner};
use crate::register::RegisterError;
use crate::store::{Batch, Store, StoreError};
use crate::sync::ingest::{self, IngestError, Ingested};
use crate::timespec::now_ms;

/// How long a write waits for a node that holds its writes (restored, started empty) to get
/// its own entries back before it is refused.
const HOLD_WAIT: Duration = Duration::from_secs(5);
/// Most jobs committed in one batch.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before callers are slowed down.
const QUEUE: usize = 4096;
/// Committed batches waiting for the flusher before the writer waits too (bounds memory
/// and how far the store runs ahead of the disk).
const FLUSH_QUEUE: usize = 16;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The command was refused; nothing was written.
    #[error(transparent)]
    Refused(#[from] RegisterError),
    /// The communications command was refused; nothing was written.
    #[error(transparent)]
    Comms(#[from] CommsError),
    /// The disposal command was refused; nothing was written.
    #[error(transparent)]
    Disposal(#[from] DisposalError),
    /// The writer has stopped (the node is shutting down).
    #[error("the node is shutting down")]
    Stopped,
    /// Restored from a backup or started empty, the node is fetching its own entries back.
    #[error("this node was restored from a backup (or started with an empty store) and is fetching its own entries back from its peers; writes resume once it has them (see `fenghuo peers`)")]
    CatchingUp,
    /// The event breaks a content rule its peers would refuse it for; nothing was written.
    #[error(transparent)]
    Invalid(#[from] crate::event::check::ContentError),
    /// This gateway replica only reads.
    #[error("this gateway replica only reads and syncs; write at the replica on {writer}")]
    ReadOnly {
        /// The host name of the replica that writes.
        writer: String,
    },
}

impl From<dispatch::ViewError> for WriteError {
    fn from(e: dispatch::ViewError) -> Self {
        match e {
            dispatch::ViewError::Register(e) => Self::Refused(e),
            dispatch::ViewError::Comms(e) => Self::Comms(e),
            dispatch::ViewError::Disposal(e) => Self::Disposal(e),
        }
    }
}

/// What a committed command produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The risk, alert, report or directive the command created or changed (empty for
    /// commands about none).
    pub id: String,
    /// The feed entry that records it (the last, if it wrote several; 0 if it wrote none).
    pub seq: u64,
}

/// A change staff (or the node) ask for. Each area's command implements it (see
/// [`crate::change`]): the writer only stages, signs, commits and flushes what it appends.
pub trait Change: Send + 'static {
    /// Checks the change against the views as staged so far and appends its events.
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError>;

    /// Whether it may re-key an origin (it is then committed in a batch of its own).
    fn may_rekey(&self) -> bool {
        false
    }
}

type CommandReply = oneshot::Sender<Result<Written, WriteError>>;
type IngestReply = oneshot::Sender<Result<Ingested, IngestError>>;

enum Job {
    Command {
        author: String,
        command: Box<dyn Change>,
        reply: CommandReply,
    },
    Ingest {
        entries: Vec<Entry>,
        origin_key: VerifyingKey,
        reply: IngestReply,
    },
}

impl Job {
    /// Whether this job may re-key an origin: a re-key command, or a received run of a
    /// province feed carrying a `rekeyed` entry.
    fn may_rekey(&self) -> bool {
        match self {
            Job::Command { command, .. } => command.may_rekey(),
            Job::Ingest { entries, .. } => entries.iter().any(|e| {
                e.origin.starts_with("province/")
                    && e.payload
                        .windows(REKEYED_TAG.len())
                        .any(|w| w == REKEYED_TAG)
            }),
        }
    }
}

/// How a `rekeyed` payload names its type (serde_json writes no spaces).
const REKEYED_TAG: &[u8] = br#""type":"rekeyed""#;

/// A handle to submit work to the writer thread.
#[derive(Clone)]
pub struct Writer {
    /// Set at a gateway replica that only reads: the writer's host name.
    read_only: Option<Arc<str>>,
    /// Set after a restore from a backup until the node's own feeds are caught up from its
    /// peers: a write before that could take a position a peer already holds (equivocation).
    catching_up: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes writes waiting for the hold to end.
    released: Arc<tokio::sync::Notify>,
    tx: mpsc::Sender<Job>,
    commits: watch::Receiver<u64>,
    durable: Arc<DurableHeads>,
    urgent: Urgent,
    comms: watch::Receiver<u64>,
}

/// Set when a flush stored received alerts, reports or directives: people wait on those, so
/// the view applier applies them without letting commits gather.
#[derive(Debug, Clone, Default)]
pub struct Urgent(Arc<UrgentInner>);

#[derive(Debug, Default)]
struct UrgentInner {
    set: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Urgent {
    /// Whether it was set since the last call; clears it.
    pub fn take(&self) -> bool {
        self.0.set.swap(false, Ordering::AcqRel)
    }

    /// Resolves once it is set (at once if it is).
    pub async fn wait(&self) {
        let notified = self.0.notify.notified();
        if self.0.set.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    fn raise(&self) {
        self.0.set.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

/// How far each feed is durable on disk: the version vector sync sends from. It lags the
/// store by at most the flush in progress, and each head is a signed entry (every commit
/// signs its last entry per feed; every received run ends signed), so a run read up to it
/// can be verified. It also remembers when recent heads became durable, so a relay can hold
/// back what the peer normally gets from the origin itself ([`DurableHeads::settled`]).
#[derive(Debug, Default)]
pub struct DurableHeads {
    heads: RwLock<HashMap<FeedId, FeedDurable>>,
}

/// Heads a feed advanced to, kept for this long (the longest `settled` asks about).
const DURABLE_HISTORY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct FeedDurable {
    /// The durable head.
    seq: u64,
    /// The newest head durable for longer than [`DURABLE_HISTORY`].
    old: u64,
    /// Later heads, oldest first, with when they became durable.
    recent: VecDeque<(Instant, u64)>,
}

impl DurableHeads {
    /// Starts from what the store holds (all of it durable: see [`Writer::start`]).
    fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let heads = feed::log::heads(store)?
            .into_iter()
            .map(|(f, h)| {
                let d = FeedDurable {
                    seq: h.seq,
                    old: h.seq,
                    recent: VecDeque::new(),
                };
                (f, d)
            })
            .collect();
        Ok(Self {
            heads: RwLock::new(heads),
        })
    }

    /// The durable head of `feed` (0: nothing).
    pub fn get(&self, feed: &FeedId) -> u64 {
        self.heads
            .read()
            .map(|h| h.get(feed).map_or(0, |d| d.seq))
            .unwrap_or(0)
    }

    /// The highest head of `feed` that has been durable for at least `age` (at most
    /// [`DURABLE_HISTORY`]); a signed entry, like every head.
    pub fn settled(&self, feed: &FeedId, age: Duration) -> u64 {
        let Some(before) = Instant::now().checked_sub(age) else {
            return 0;
        };
        self.heads
            .read()
            .map(|h| {
                h.get(feed).map_or(0, |d| {
                    d.recent
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= before)
                        .map_or(d.old, |(_, seq)| *seq)
                })
            })
            .unwrap_or(0)
    }

    /// Every feed with its durable head.
    pub fn snapshot(&self) -> Vec<(FeedId, u64)> {
        self.heads
            .read()
            .map(|h| h.iter().map(|(f, d)| (f.clone(), d.seq)).collect())
            .unwrap_or_default()
    }

    /// Sets heads a re-key cut back (never raised here).
    fn lower(&self, to: &[(FeedId, u64)]) {
        let Ok(mut heads) = self.heads.write() else {
            return;
        };
        for (feed, seq) in to {
            if let Some(d) = heads.get_mut(feed) {
                d.seq = d.seq.min(*seq);
                d.old = d.old.min(*seq);
                d.recent.retain(|(_, s)| s <= seq);
            }
        }
    }

    fn advance(&self, to: impl IntoIterator<Item = (FeedId, u64)>) {
        self.advance_at(Instant::now(), to);
    }

    fn advance_at(&self, now: Instant, to: impl IntoIterator<Item = (FeedId, u64)>) {
        let Ok(mut heads) = self.heads.write() else {
            return;
        };
        for (feed, seq) in to {
            let d = heads.entry(feed).or_default();
            if seq <= d.seq {
                continue;
            }
            d.seq = seq;
            d.recent.push_back((now, seq));
            while d
                .recent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > DURABLE_HISTORY)
            {
                if let Some((_, s)) = d.recent.pop_front() {
                    d.old = s;
                }
            }
        }
    }
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
    /// Held by whoever applies entries to the views (the view applier, or this writer
    /// rebuilding them after a re-key), so the two never interleave.
    pub views_lock: Arc<std::sync::Mutex<()>>,
}

impl Writer {
    /// Starts the writer and flusher threads. They stop when every `Writer` handle is
    /// dropped.
    pub fn start(ctx: WriterContext) -> std::io::Result<Self> {
        // Whatever the store holds now becomes the durable starting point.
        let durable = ctx
            .store
            .flush()
            .and_then(|()| DurableHeads::load(ctx.store.as_ref()))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let durable = Arc::new(durable);
        let (tx, rx) = mpsc::channel(QUEUE);
        let (commits_tx, commits) = watch::channel(0);
        let (staged_tx, staged_rx) = std_mpsc::sync_channel(FLUSH_QUEUE);
        let urgent = Urgent::default();
        let (comms_tx, comms) = watch::channel(0);
        let flusher = Flusher {
            store: ctx.store.clone(),
            commits: commits_tx,
            durable: durable.clone(),
            urgent: urgent.clone(),
            comms: comms_tx,
        };
        std::thread::Builder::new()
            .name("fenghuo-flusher".into())
            .spawn(move || flusher.run(staged_rx))?;
        std::thread::Builder::new()
            .name("fenghuo-writer".into())
            .spawn(move || run(ctx, rx, staged_tx))?;
        Ok(Self {
            read_only: None,
            catching_up: Arc::default(),
            released: Arc::default(),
            tx,
            commits,
            durable,
            urgent,
            comms,
        })
    }

    /// This writer refuses every command (received entries are still stored): a gateway
    /// replica that only reads, while the replica on `writer` writes.
    pub fn read_only(mut self, writer: &str) -> Self {
        self.read_only = Some(Arc::from(writer));
        self
    }

    /// Whether commands are refused here (see [`Writer::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Refuses commands until [`Writer::caught_up`] (received entries are still stored).
    pub fn hold_until_caught_up(&self) {
        self.catching_up
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether commands wait for the node's own feeds to come back from its peers.
    pub fn is_catching_up(&self) -> bool {
        self.catching_up.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Accepts commands again; true when they were held.
    pub fn caught_up(&self) -> bool {
        let was = self
            .catching_up
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        self.released.notify_waiters();
        was
    }

    /// While commands are held, waits up to [`HOLD_WAIT`] for the hold to end (it usually
    /// ends within a sync round trip of the start).
    async fn wait_for_release(&self) -> Result<(), WriteError> {
        let deadline = tokio::time::Instant::now() + HOLD_WAIT;
        loop {
            let released = self.released.notified();
            if !self.is_catching_up() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(WriteError::CatchingUp);
            }
        }
    }

    /// Submits `command` by `author` (identity path); resolves once it is durable, or with the
    /// reason it was refused. The feed is chosen by the risk's scope or the message's
    /// recipients.
    pub async fn submit(
        &self,
        author: String,
        command: impl Change,
    ) -> Result<Written, WriteError> {
        if let Some(writer) = &self.read_only {
            return Err(WriteError::ReadOnly {
                writer: writer.to_string(),
            });
        }
        if self.is_catching_up() {
            self.wait_for_release().await?;
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Command {
                author,
                command: Box::new(command),
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

    /// A receiver that changes after every flush that made new entries durable.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.clone()
    }

    /// How far each feed is durable: what sync may send.
    pub fn durable_heads(&self) -> &DurableHeads {
        &self.durable
    }

    /// Set by a flush that stored received alerts, reports or directives.
    pub fn urgent(&self) -> Urgent {
        self.urgent.clone()
    }

    /// A receiver that changes after every flush that made communications durable, this
    /// node's own or received (what the journal follows).
    pub fn comms_stored(&self) -> watch::Receiver<u64> {
        self.comms.clone()
    }
}

fn run(ctx: WriterContext, mut rx: mpsc::Receiver<Job>, flusher: std_mpsc::SyncSender<Staged>) {
    let span = tracing::info_span!("writer", origin = %ctx.origin);
    let _guard = span.enter();
    // Timestamps of this node's entries never go back (peers refuse an entry older than the
    // one before it), even when the system clock is stepped back.
    let mut clock = feed::log::heads(ctx.store.as_ref())
        .unwrap_or_default()
        .into_iter()
        .filter(|(f, _)| f.origin == ctx.origin)
        .filter_map(|(_, h)| h.timestamp_ms)
        .max()
        .unwrap_or(0);
    // A job that may re-key an origin is committed in a batch of its own: the feeds it cuts
    // are read as committed, and the jobs after it see them cut.
    let mut held_over: Option<Job> = None;
    loop {
        let first = match held_over.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        let alone = first.may_rekey();
        let mut jobs = vec![first];
        while !alone && jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) if job.may_rekey() => {
                    held_over = Some(job);
                    break;
                }
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        clock = clock.max(now_ms());
        if flusher.send(commit_batch(&ctx, jobs, clock)).is_err() {
            // The flusher is gone (it cannot stop before us): nothing can become durable.
            tracing::error!("flusher stopped; the writer stops");
            break;
        }
    }
    tracing::debug!("writer stopped");
}

/// A batch applied to the store (or refused), waiting to be flushed before its callers hear.
struct Staged {
    outcomes: Vec<Outcome>,
    /// Whether `apply_batch` succeeded; `Ok` with nothing written needs no flush.
    committed: Result<(), StoreError>,
    /// The batch wrote something (entries, or only equivocation evidence).
    wrote: bool,
    /// Entries stored.
    count: usize,
    /// Each touched feed's new head.
    heads: Vec<(FeedId, u64)>,
    /// Received entries include communications.
    urgent: bool,
    /// This node's own new entries include communications.
    own_comms: bool,
    /// Feeds a re-key cut back, with their head now.
    truncated: Vec<(FeedId, u64)>,
}

/// Makes committed batches durable and answers their callers.
struct Flusher {
    store: Arc<dyn Store>,
    commits: watch::Sender<u64>,
    durable: Arc<DurableHeads>,
    urgent: Urgent,
    comms: watch::Sender<u64>,
}

impl Flusher {
    fn run(self, rx: std_mpsc::Receiver<Staged>) {
        let mut counter = 0u64;
        while let Ok(first) = rx.recv() {
            // Everything committed meanwhile rides on the same flush (group commit across
            // batches): the disk sets the pace, not the number of batches.
            let mut group = vec![first];
            while let Ok(more) = rx.try_recv() {
                group.push(more);
            }
            if self.settle(group) {
                counter += 1;
                self.commits.send_replace(counter);
            }
        }
    }

    /// Flushes once for `group`, then answers every caller; true when entries became durable.
    fn settle(&self, group: Vec<Staged>) -> bool {
        let needs_flush = group.iter().any(|s| s.wrote && s.committed.is_ok());
        let flushed = if needs_flush {
            self.store.flush()
        } else {
            Ok(())
        };
        let mut stored = false;
        for staged in group {
            // A store that failed once is not trusted again within the group's answer: the
            // batch's writes are refused (they may still reach disk with a later flush, as
            // with any failed fsync).
            let durable = if staged.wrote {
                staged.committed.and_then(|()| flushed.clone())
            } else {
                staged.committed
            };
            match &durable {
                Err(e) => {
                    tracing::error!(error = %e, entries = staged.count, "commit failed; the batch's writes are refused")
                }
                Ok(()) if !staged.truncated.is_empty() || staged.count > 0 => {
                    // A re-key's cut first: the heads it lowers are what sync sends from.
                    self.durable.lower(&staged.truncated);
                    tracing::debug!(entries = staged.count, "committed");
                    // Before the answers: whoever hears back finds the entries sendable.
                    self.durable.advance(staged.heads);
                    if staged.urgent {
                        self.urgent.raise();
                    }
                    if staged.urgent || staged.own_comms {
                        self.comms.send_modify(|n| *n += 1);
                    }
                    stored = true;
                }
                Ok(()) => {}
            }
            answer(staged.outcomes, &durable);
        }
        stored
    }
}

fn answer(outcomes: Vec<Outcome>, durable: &Result<(), StoreError>) {
    for outcome in outcomes {
        // A caller may have gone away; the write stands regardless.
        match outcome {
            Outcome::Command(reply, result) => {
                let result = match (durable, result) {
                    (Err(e), Ok(_)) => Err(WriteError::Refused(RegisterError::Store(e.clone()))),
                    (_, r) => r,
                };
                let _ = reply.send(result);
            }
            Outcome::Ingest(reply, result) => {
                let result = match (durable, result) {
                    (Err(e), Ok(_)) => Err(IngestError::Store(e.clone())),
                    (_, r) => r,
                };
                let _ = reply.send(result);
            }
        }
    }
}

/// This node's own entries of one batch, per feed, in order.
/// This batch's own new entries, per feed, as commands append them.
pub struct Staging<'a> {
    ctx: &'a WriterContext,
    now: i64,
    feeds: BTreeMap<FeedId, Vec<Entry>>,
    /// An entry about an alert, report or directive was appended.
    comms: bool,
    /// Feeds a re-key cut back in this batch.
    truncated: Vec<crate::sync::rekey::Truncated>,
}

impl Staging<'_> {
    /// Appends `event` to this node's feed for `audience` and applies it to the views.
    pub fn append(
        &mut self,
        batch: &mut Batch,
        author: &str,
        audience: Audience,
        event: &Event,
    ) -> Result<u64, WriteError> {
        let store = self.ctx.store.as_ref();
        let feed = FeedId::new(self.ctx.origin.clone(), audience);
        // The checks every peer runs on this entry, run here first: a node never writes what
        // its peers would quarantine its feed for.
        let payload = event.encode();
        check::author(author, &self.ctx.origin)?;
        check::payload_size(payload.len(), event)?;
        check::event(event, &self.ctx.origin, self.now)?;
        if !check::county_codes_named(event).is_empty() {
            let listed = crate::sync::directory::listed_counties(&batch.over(store))
                .map_err(RegisterError::from)?;
            check::listed_codes(event, listed.as_ref())?;
        }
        let (prev_seq, prev_hash, prev_ms) = match self.feeds.get(&feed).and_then(|v| v.last()) {
            Some(last) => (last.seq, last.hash.clone(), last.timestamp_ms),
            None => {
                let h = feed::log::head(&batch.over(store), &feed).map_err(RegisterError::from)?;
                (h.seq, h.hash, h.timestamp_ms.unwrap_or(0))
            }
        };
        // Never before the entry it follows (peers refuse that), even when this node's own
        // entries came back from its peers stamped by a clock ahead of this one.
        let at = self.now.max(prev_ms);
        let entry = next_entry(&feed, prev_seq, &prev_hash, at, author, payload);
        dispatch::apply_event(store, batch, &crate::event::EntryMeta::of(&entry), event)?;
        dispatch::mark_applied(batch, &feed, entry.seq);
        self.comms |= event.item_id().or(event.disposal_id()).is_some();
        let seq = entry.seq;
        self.feeds.entry(feed).or_default().push(entry);
        Ok(seq)
    }

    /// The store the batch is staged over.
    pub fn store(&self) -> &dyn Store {
        self.ctx.store.as_ref()
    }

    /// This node's division code.
    pub fn unit(&self) -> &str {
        &self.ctx.unit
    }

    /// The batch's time, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.now
    }

    /// The grading standard this node grades with.
    pub fn standard(&self) -> &GradingStandard {
        &self.ctx.standard
    }

    /// Notes feeds a re-key cut back in this batch (their durable heads are lowered).
    pub fn note_truncated(&mut self, cut: impl IntoIterator<Item = crate::sync::rekey::Truncated>) {
        self.truncated.extend(cut);
    }

    /// Signs each feed's last entry (and, in a batch of large entries, one at least every
    /// [`MAX_SIGNED_SPAN`] bytes, so a peer can always be sent a run that fits a sync frame)
    /// and stages every entry; returns how many, and each feed's new head.
    fn stage(mut self, batch: &mut Batch, heads: &mut Vec<(FeedId, u64)>) -> usize {
        let mut count = 0;
        for (feed, list) in &mut self.feeds {
            let Some(last) = list.last().map(|e| e.seq) else {
                continue;
            };
            sign_batch(self.ctx.signer.signing_key(), list);
            heads.push((feed.clone(), last));
            feed::log::stage_block(batch, feed, list);
            count += list.len();
        }
        count
    }
}

enum Outcome {
    Command(CommandReply, Result<Written, WriteError>),
    Ingest(IngestReply, Result<Ingested, IngestError>),
}

/// Stages one batch and applies it to the store (not yet durable).
fn commit_batch(ctx: &WriterContext, jobs: Vec<Job>, now: i64) -> Staged {
    let store = ctx.store.as_ref();
    let mut batch = Batch::new();
    let mut own = Staging {
        ctx,
        now,
        feeds: BTreeMap::new(),
        comms: false,
        truncated: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut received = 0;
    let mut urgent = false;

    for job in jobs {
        match job {
            Job::Command {
                author,
                command,
                reply,
            } => {
                let result = command.run(&mut own, &mut batch, &author);
                outcomes.push(Outcome::Command(reply, result));
            }
            Job::Ingest {
                entries,
                origin_key,
                reply,
            } => {
                // A refused run stages nothing but equivocation evidence.
                let result = ingest::stage_run(store, &mut batch, &entries, &origin_key, own.now);
                if let Ok(r) = &result {
                    received += r.stored;
                    urgent |= r.stored > 0
                        && entries
                            .iter()
                            .any(|e| crate::event::may_concern_comms(&e.payload));
                    // Our own entries coming back (say after a restore from backup): the
                    // view applier leaves our feeds to us.
                    if r.feed.origin == ctx.origin {
                        let stored =
                            |e: &&Entry| e.seq + r.stored as u64 > r.head && e.seq <= r.head;
                        for e in entries.iter().filter(stored) {
                            dispatch::apply_entry(store, &mut batch, &r.feed, e);
                        }
                    }
                }
                outcomes.push(Outcome::Ingest(reply, result));
            }
        }
    }

    let mut heads = Vec::new();
    let mut truncated = std::mem::take(&mut own.truncated);
    for outcome in &outcomes {
        if let Outcome::Ingest(_, Ok(r)) = outcome {
            if r.stored > 0 {
                heads.push((r.feed.clone(), r.head));
            }
            truncated.extend(r.truncated.iter().cloned());
        }
    }
    let own_comms = own.comms;
    let count = own.stage(&mut batch, &mut heads) + received;
    // Applied now, durable once the flusher has flushed: the next batch can be staged (and
    // see this one) meanwhile.
    let committed = store.commit(&batch);
    if committed.is_ok() && truncated.iter().any(|t| t.removed > 0) {
        // The set-aside entries were applied to the views: rebuild them from the feeds as
        // they now stand, with the view applier kept out meanwhile (a rare, deliberate
        // pause of every write: seconds at a county, minutes at a large gateway).
        let _views = ctx.views_lock.lock().unwrap_or_else(|p| p.into_inner());
        tracing::warn!(
            feeds = truncated.len(),
            "re-key: rebuilding the views without the set-aside entries"
        );
        match dispatch::rebuild(store) {
            Ok(n) => tracing::info!(entries = n, "views rebuilt after the re-key"),
            Err(e) => {
                tracing::error!(error = %e, "rebuilding the views after a re-key failed; run `fenghuo-node rebuild-views`")
            }
        }
    }
    Staged {
        committed,
        wrote: !batch.is_empty(),
        outcomes,
        count,
        heads,
        urgent,
        own_comms,
        truncated: truncated.into_iter().map(|t| (t.feed, t.to)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::*;
    use crate::domain::FocusPoint;
    use crate::feed::log::head;
    use crate::register::Command;
    use crate::store::{ExportSink, KeyValue, SledStore};

    /// A sled store that notes how far one feed was durable at each flush, counts flushes,
    /// and can be told to fail them.
    #[derive(Debug)]
    struct Watched {
        inner: SledStore,
        feed: FeedId,
        flushed_to: AtomicU64,
        flushes: AtomicU64,
        fail: AtomicBool,
    }

    impl Store for Watched {
        fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(tree, key)
        }
        fn range(
            &self,
            tree: &str,
            start: &[u8],
            end: Option<&[u8]>,
        ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
            self.inner.range(tree, start, end)
        }
        fn scan_prefix(
            &self,
            tree: &str,
            prefix: &[u8],
        ) -> Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + '_> {
            self.inner.scan_prefix(tree, prefix)
        }
        fn last_in_range(
            &self,
            tree: &str,
            start: &[u8],
            end: &[u8],
        ) -> Result<Option<KeyValue>, StoreError> {
            self.inner.last_in_range(tree, start, end)
        }
        fn last_with_prefix(
            &self,
            tree: &str,
            prefix: &[u8],
        ) -> Result<Option<KeyValue>, StoreError> {
            self.inner.last_with_prefix(tree, prefix)
        }
        fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
            self.inner.commit(batch)
        }
        fn flush(&self) -> Result<(), StoreError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::Backend("disk full".into()));
            }
            // Everything applied before the flush starts is durable once it returns.
            let applied = head(&self.inner, &self.feed)?.seq;
            self.inner.flush()?;
            self.flushed_to.fetch_max(applied, Ordering::SeqCst);
            self.flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn clear(&self, tree: &str) -> Result<(), StoreError> {
            self.inner.clear(tree)
        }
        fn export(&self, sink: &mut ExportSink<'_>) -> Result<u64, StoreError> {
            self.inner.export(sink)
        }
    }

    fn start(dir: &std::path::Path) -> (Writer, Arc<Watched>) {
        let store = Arc::new(Watched {
            inner: SledStore::open(dir).unwrap(),
            feed: FeedId::new("county/510104", Audience::Local),
            flushed_to: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            fail: AtomicBool::new(false),
        });
        let writer = Writer::start(WriterContext {
            store: store.clone(),
            origin: "county/510104".into(),
            unit: "510104".into(),
            signer: FeedSigner::from_key(ed25519_dalek::SigningKey::from_bytes(&[7; 32])),
            standard: Arc::new(GradingStandard::default_standard()),
            views_lock: Default::default(),
        })
        .unwrap();
        (writer, store)
    }

    fn update(id: &str, i: usize) -> Command {
        Command::Update {
            id: id.to_owned(),
            title: None,
            description: Some(format!("change {i}")),
            focus: None,
            source: None,
            behaviours: None,
            add_behaviours: Vec::new(),
            remove_behaviours: Vec::new(),
            department: None,
        }
    }

    async fn create(writer: &Writer) -> String {
        writer
            .submit(
                "staff/510104/zhang".into(),
                Command::Create {
                    title: "Crowd outside the township office".into(),
                    description: String::new(),
                    focus: Some(FocusPoint::MajorEvent),
                    source: String::new(),
                    behaviours: vec![],
                    department: String::new(),
                },
            )
            .await
            .unwrap()
            .id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_acknowledged_and_sendable_only_once_flushed_and_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, store) = start(dir.path());
        let id = create(&writer).await;
        let feed = store.feed.clone();
        let n = 300;
        let mut tasks = Vec::new();
        for i in 0..n {
            let (writer, store, id, feed) =
                (writer.clone(), store.clone(), id.clone(), feed.clone());
            tasks.push(tokio::spawn(async move {
                let seq = writer
                    .submit("staff/510104/zhang".into(), update(&id, i))
                    .await
                    .unwrap()
                    .seq;
                // Sync never sends past what a flush covered, and an acknowledged write
                // was covered by a flush that started after it was applied.
                let sendable = writer.durable_heads().get(&feed);
                let flushed = store.flushed_to.load(Ordering::SeqCst);
                assert!(
                    sendable <= flushed,
                    "{sendable} sendable, {flushed} flushed"
                );
                assert!(seq <= flushed, "#{seq} acknowledged, {flushed} flushed");
                assert!(seq <= sendable, "#{seq} acknowledged, {sendable} sendable");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(writer.durable_heads().get(&feed), n as u64 + 1);
        // Concurrent writers share flushes (one per batch at most, fewer when batches
        // committed during a flush ride on the next one).
        let flushes = store.flushes.load(Ordering::SeqCst);
        assert!(flushes < n as u64, "{flushes} flushes for {n} writes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flush_refuses_the_write_and_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, store) = start(dir.path());
        let id = create(&writer).await;
        let feed = store.feed.clone();
        // The creation's commit is counted just after its caller hears back.
        let mut counter = writer.commits();
        let commits = *counter.wait_for(|c| *c >= 1).await.unwrap();
        store.fail.store(true, Ordering::SeqCst);
        let refused = writer
            .submit("staff/510104/zhang".into(), update(&id, 1))
            .await;
        assert!(
            matches!(
                refused,
                Err(WriteError::Refused(RegisterError::Store(
                    StoreError::Backend(_)
                )))
            ),
            "{refused:?}"
        );
        assert_eq!(writer.durable_heads().get(&feed), 1);
        assert_eq!(*writer.commits().borrow(), commits);
        store.fail.store(false, Ordering::SeqCst);
        let ok = writer
            .submit("staff/510104/zhang".into(), update(&id, 2))
            .await
            .unwrap();
        // The refused entry reached the store and is made durable along with this one.
        assert_eq!(ok.seq, 3);
        assert_eq!(writer.durable_heads().get(&feed), 3);
    }

    #[test]
    fn settled_heads_are_those_durable_for_long_enough() {
        let feed = FeedId::new("county/510104", Audience::Neighbours);
        let heads = DurableHeads::default();
        let t0 = Instant::now() - Duration::from_secs(30);
        heads.advance_at(t0, [(feed.clone(), 5)]);
        heads.advance_at(t0 + Duration::from_secs(25), [(feed.clone(), 9)]);
        heads.advance_at(Instant::now(), [(feed.clone(), 12)]);
        // Going back never lowers a head.
        heads.advance_at(Instant::now(), [(feed.clone(), 3)]);
        assert_eq!(heads.get(&feed), 12);
        assert_eq!(heads.settled(&feed, Duration::ZERO), 12);
        assert_eq!(heads.settled(&feed, Duration::from_secs(2)), 9);
        // Past the history kept: the newest head older than it.
        assert_eq!(heads.settled(&feed, Duration::from_secs(8)), 5);
        assert_eq!(
            heads.settled(
                &FeedId::new("county/510105", Audience::Neighbours),
                Duration::ZERO
            ),
            0
        );
    }
}
