//! One sync session over a bidirectional stream, the same on both ends of a link.
//!
//! Each side sends `Hello` with the heads of the feeds the other may receive; then a sender
//! task streams, per feed, the entries the peer lacks, in runs that end on a signed entry,
//! and tails new commits; a receiver task checks entitlement and origin certificates, and
//! hands runs to the writer (several in flight, applied in order). A refused run is answered
//! with `Heads { refused }` so the sender resends from what is really held. Memory stays
//! bounded: a frame is at most [`MAX_FRAME`] bytes (the sender cuts runs at [`RUN_BYTES`]),
//! the outbound channel is small, gRPC flow control slows a fast sender, at most
//! [`IN_FLIGHT`] runs of a session wait for the writer, and the runs of all sessions together
//! stay within the node's [`RunBudget`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenghuo_proto::v1::{self, sync_frame::Frame, SyncFrame};
use futures_util::stream::FuturesOrdered;
use tokio::sync::{mpsc, watch, Notify};
use tokio_stream::{Stream, StreamExt};
use tracing::Instrument;

use super::budget::RunBudget;
use super::directory;
use super::entitlement::may_receive;
use super::ingest::IngestError;
use super::status::{LinkKey, StatusBoard};
use crate::feed::{self, Audience, Entry, FeedId};
use crate::identity::Identity;
use crate::pki::cert;
use crate::pki::tls::TlsState;
use crate::store::{Store, StoreError};
use crate::timespec::now_ms;
use crate::writer::Writer;

/// Entries read per run before extending to the next signed entry.
const RUN_ENTRIES: usize = 512;
/// Entries read from the store at a time while building a run (an entry with evidence can be
/// ~1.8 MB, so not a whole run's worth at once).
const READ_CHUNK: usize = 64;
/// The largest sync frame a node sends or accepts, encoded: larger ones end the session
/// (OUT_OF_RANGE). The largest entry (a disposal request with evidence, ~1.8 MB) and a risk
/// snapshot (at most 1 MiB) fit several times over.
pub const MAX_FRAME: usize = 8 << 20;
/// Encoded bytes of entries at which the sender cuts a run (at its last signed entry): with
/// the origin's certificate and framing a run stays under [`MAX_FRAME`], since origins sign at
/// least every [`crate::feed::entry::MAX_SIGNED_SPAN`] bytes.
pub const RUN_BYTES: usize = 6 << 20;
/// Runs waiting for the writer per session.
const IN_FLIGHT: usize = 8;
/// How often progress (`Heads`) is reported to the peer.
const HEADS_EVERY: Duration = Duration::from_secs(2);
/// How long a relay holds back entries the peer normally gets from their origin directly
/// (see [`SyncContext::relay_waits`]): longer than a `Heads` period, so the peer's report
/// of what it already holds arrives first and the relay sends only what the direct link
/// did not deliver. Every county received each entry twice before (from its origin and
/// again from the gateway), and the gateway got it from every neighbour as well.
const RELAY_HOLD: Duration = Duration::from_millis(2500);
/// Protocol version spoken.
pub const PROTOCOL: u32 = 1;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The peer closed the stream or the connection broke.
    #[error("stream closed: {0}")]
    Closed(String),
    /// The peer sent something that breaks the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer's certificate is revoked (or no longer valid).
    #[error("peer certificate {0} is revoked or no longer valid")]
    Revoked(String),
    /// The peer's stream failed: it went away, or sent what the transport refuses (a frame
    /// over [`MAX_FRAME`] is OUT_OF_RANGE).
    #[error("stream ended: {}: {}", .0.code(), .0.message())]
    Stream(tonic::Status),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Could not connect.
    #[error("connect: {0}")]
    Connect(String),
}

/// What every session of a node shares.
#[derive(Debug)]
pub struct SyncContext {
    /// This node.
    pub me: Identity,
    /// Feeds and views.
    pub store: Arc<dyn Store>,
    /// Stores received runs; tells when there is something new to send.
    pub writer: Writer,
    /// Current TLS state (client config, certificate checks).
    pub tls: watch::Receiver<Arc<TlsState>>,
    /// County codes of this node's configured neighbours.
    pub neighbours: BTreeSet<String>,
    /// Link status, for `fenghuo peers`.
    pub status: Arc<StatusBoard>,
    /// Turns true when the node shuts down: every session ends, so the server can stop.
    pub stop: watch::Receiver<bool>,
    /// Origin keys already checked against the CA and the current CRL.
    pub keys: directory::KeyCache,
    /// Feeds held back at an invalid entry, with their alarms.
    pub quarantine: super::quarantine::Quarantine,
    /// Keeps repeated refusal warnings from flooding the log.
    pub log_limit: super::quarantine::LogLimiter,
    /// The open inbound sessions: one per peer identity.
    pub sessions: super::sessions::Sessions,
    /// Bytes of received runs all sessions may hold before they are applied.
    pub budget: RunBudget,
}

fn unit_of(identity_path: &str) -> Option<String> {
    Identity::from_path(identity_path)
        .ok()
        .and_then(|i| i.unit().map(|u| u.to_string()))
}

impl SyncContext {
    /// Does the origin of `feed` name `county` as a neighbour?
    fn origin_names(&self, feed: &FeedId, county: &Identity) -> bool {
        let Some(code) = county.unit().filter(|u| u.is_county()) else {
            return false;
        };
        if feed.origin == self.me.path() {
            return self.neighbours.contains(code.as_str());
        }
        unit_of(&feed.origin)
            .and_then(|origin| {
                directory::declared(self.store.as_ref(), &origin)
                    .ok()
                    .flatten()
            })
            .is_some_and(|d| d.contains(code.as_str()))
    }

    /// Should this node, relaying `feed` to `peer`, wait [`RELAY_HOLD`] before sending its
    /// new entries? Yes when the peer normally has a link of its own to the feed's origin:
    /// the province (every node dials its gateway) or a county the origin names as its
    /// neighbour. A relay to anyone else (a county the origin has no link with) is at once.
    fn relay_waits(&self, peer: &Identity, feed: &FeedId) -> bool {
        feed.origin != self.me.path()
            && (matches!(peer, Identity::Province(_)) || self.origin_names(feed, peer))
    }

    /// May this node send `feed` to `peer`?
    pub fn may_send(&self, peer: &Identity, feed: &FeedId) -> bool {
        may_receive(peer, feed, self.origin_names(feed, peer))
    }

    /// May this node accept `feed`? Its own configuration counts: a configured neighbour's
    /// `neighbours` feed is accepted even before its declaration arrives.
    pub fn may_accept(&self, feed: &FeedId) -> bool {
        let configured = unit_of(&feed.origin).is_some_and(|o| self.neighbours.contains(&o));
        may_receive(
            &self.me,
            feed,
            configured || self.origin_names(feed, &self.me),
        )
    }

    /// The durable heads `peer` may receive.
    fn heads_for(&self, peer: &Identity) -> Vec<v1::FeedHead> {
        self.writer
            .durable_heads()
            .snapshot()
            .into_iter()
            .filter(|(f, _)| f.audience != Audience::Local && self.may_send(peer, f))
            .map(|(f, seq)| v1::FeedHead {
                origin: f.origin,
                audience: f.audience.to_proto() as i32,
                seq,
                ..Default::default()
            })
            .collect()
    }
}

fn feed_of(h: &v1::FeedHead) -> Option<FeedId> {
    Some(FeedId::new(
        h.origin.clone(),
        Audience::from_proto(h.audience)?,
    ))
}

/// What the sender believes the peer holds.
#[derive(Default)]
struct PeerHas {
    hello: bool,
    heads: HashMap<FeedId, u64>,
    /// Feeds the peer refused, and when to try again.
    refused: HashMap<FeedId, Refusals>,
}

/// A feed the peer keeps refusing: resent after a growing wait, not at once (a refused run
/// resent at once is a hot loop on both ends).
#[derive(Debug, Clone, Copy)]
struct Refusals {
    /// Refusals in a row at the same head, counting one per resend (refusals of runs that
    /// were already on their way count with the first).
    failures: u32,
    /// The peer's head at the last refusal.
    at: u64,
    /// Something of the feed was sent since the last refusal.
    resent: bool,
    /// Nothing is resent before this.
    until: std::time::Instant,
}

/// Longest wait before resending a refused feed.
const REFUSED_MAX_WAIT: Duration = Duration::from_secs(300);

impl Refusals {
    fn record(previous: Option<Refusals>, at: u64) -> Self {
        let now = std::time::Instant::now();
        let failures = match previous {
            Some(r) if r.at == at && !r.resent => return r,
            Some(r) if r.at == at => r.failures.saturating_add(1),
            _ => 1,
        };
        // The first refusal may be a race (a certificate or a run still on its way): resend
        // at once. Then 1 s, 2 s, 4 s… up to five minutes, with jitter.
        let wait = match failures {
            0 | 1 => Duration::ZERO,
            n => {
                let ceiling = Duration::from_secs(1u64 << (n - 2).min(16)).min(REFUSED_MAX_WAIT);
                ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
            }
        };
        Self {
            failures,
            at,
            resent: false,
            until: now + wait,
        }
    }
}

fn frame(f: Frame) -> SyncFrame {
    SyncFrame { frame: Some(f) }
}

/// Reads the next run of `feed` after `after` and up to `durable` (the store may already hold
/// more, not yet flushed): [`RUN_ENTRIES`] entries, extended to end on a signed entry so the
/// receiver can verify it (a durable head is always signed), and cut back to its last signed
/// entry before it passes [`RUN_BYTES`] encoded, so it fits a frame.
fn read_run(
    store: &dyn Store,
    feed: &FeedId,
    after: u64,
    durable: u64,
) -> Result<Vec<Entry>, StoreError> {
    let mut run: Vec<Entry> = Vec::new();
    let mut bytes = 0usize;
    // How many entries of `run` end on its last signed entry: where it may be cut.
    let mut cut = 0usize;
    let mut next = after + 1;
    'read: loop {
        let chunk = read_durable(store, feed, next, durable)?;
        let Some(last) = chunk.last() else {
            break;
        };
        next = last.seq + 1;
        for e in chunk {
            let size = prost::Message::encoded_len(&e);
            if bytes + size > RUN_BYTES && cut > 0 {
                run.truncate(cut);
                break 'read;
            }
            bytes += size;
            let signed = !e.signature.is_empty();
            run.push(e);
            if signed {
                cut = run.len();
                if cut >= RUN_ENTRIES {
                    break 'read;
                }
            }
        }
    }
    if bytes > RUN_BYTES && cut == run.len() {
        // Written before origins signed every MAX_SIGNED_SPAN bytes: no signed entry to cut
        // at. Sent whole; a peer whose frame limit it passes refuses it.
        tracing::warn!(%feed, after, bytes, "a run with no signed entry to cut at is over the run size");
    }
    Ok(run)
}

/// Up to [`READ_CHUNK`] entries of `feed` from `from` on, none past `durable`.
fn read_durable(
    store: &dyn Store,
    feed: &FeedId,
    from: u64,
    durable: u64,
) -> Result<Vec<Entry>, StoreError> {
    if from > durable {
        return Ok(Vec::new());
    }
    let limit = READ_CHUNK.min(usize::try_from(durable - from + 1).unwrap_or(READ_CHUNK));
    feed::log::read(store, feed, from, limit)
}

/// Runs one session with `peer` until either side stops. `key` names the link in the
/// status board (direction, peer, address).
pub async fn run<S>(
    ctx: Arc<SyncContext>,
    peer: Identity,
    peer_cert: Arc<Vec<u8>>,
    key: LinkKey,
    inbound: S,
    out: mpsc::Sender<SyncFrame>,
) -> Result<(), SyncError>
where
    S: Stream<Item = Result<SyncFrame, tonic::Status>> + Unpin + Send,
{
    let span = tracing::info_span!("sync", node = %ctx.me.path(), peer = %key.peer, direction = key.direction, address = %key.address);
    async move {
        tracing::info!("sync session started");
        ctx.status.update(&key, |s| {
            s.state = "connected";
            s.last_contact_ms = now_ms();
        });
        let shared = Arc::new((Mutex::new(PeerHas::default()), Notify::new()));
        let sender = send_loop(
            ctx.clone(),
            peer.clone(),
            key.clone(),
            shared.clone(),
            out.clone(),
        );
        let receiver = receive_loop(ctx.clone(), peer_cert, key.clone(), shared, inbound, out);
        let mut stop = ctx.stop.clone();
        let result = tokio::select! {
            r = sender => r,
            r = receiver => r,
            _ = stop.wait_for(|s| *s) => Ok(()),
        };
        match &result {
            Ok(()) => tracing::info!("sync session ended"),
            Err(e) => {
                tracing::warn!(error = %e, "sync session ended");
                ctx.status.error(&key, &e.to_string());
            }
        }
        result
    }
    .instrument(span)
    .await
}

async fn send_loop(
    ctx: Arc<SyncContext>,
    peer: Identity,
    key: LinkKey,
    shared: Arc<(Mutex<PeerHas>, Notify)>,
    out: mpsc::Sender<SyncFrame>,
) -> Result<(), SyncError> {
    let closed = |_| SyncError::Closed("peer stopped reading".into());
    out.send(frame(Frame::Hello(v1::Hello {
        protocol: PROTOCOL,
        heads: ctx.heads_for(&peer),
    })))
    .await
    .map_err(closed)?;
    let mut commits = ctx.writer.commits();
    let mut tick = tokio::time::interval(HEADS_EVERY);
    let mut certs_sent: HashSet<String> = HashSet::new();
    // Entitlement (and whether to hold back as a relay) per feed, remembered between passes
    // (a pass runs on every commit) and forgotten at each progress tick, so a new neighbour
    // declaration counts within seconds.
    let mut entitled: HashMap<FeedId, (bool, bool)> = HashMap::new();
    loop {
        let hello = shared.0.lock().map(|p| p.hello).unwrap_or(false);
        let mut progressed = false;
        let mut holding = false;
        if hello {
            // Only what is durable: a peer must never hold an entry this node could lose.
            let mut held = ctx.writer.durable_heads().snapshot();
            // The province's feeds first: a CRL or a re-key there changes how the peer checks
            // the other feeds of the same pass.
            held.sort_by_key(|(f, _)| !f.origin.starts_with("province/"));
            let mut behind = std::collections::BTreeMap::new();
            for (feed, head) in held {
                if feed.audience == Audience::Local {
                    continue;
                }
                let has = shared
                    .0
                    .lock()
                    .map(|p| p.heads.get(&feed).copied().unwrap_or(0))
                    .unwrap_or(0);
                // Cheapest test first: most feeds have nothing new for this peer.
                if head <= has {
                    continue;
                }
                let (allowed, waits) = *entitled
                    .entry(feed.clone())
                    .or_insert_with(|| (ctx.may_send(&peer, &feed), ctx.relay_waits(&peer, &feed)));
                if !allowed {
                    continue;
                }
                behind.insert(feed.to_string(), head - has);
                let wait = shared
                    .0
                    .lock()
                    .ok()
                    .and_then(|p| p.refused.get(&feed).map(|r| r.until));
                if wait.is_some_and(|until| until > std::time::Instant::now()) {
                    holding = true;
                    continue;
                }
                let upto = if waits {
                    ctx.writer.durable_heads().settled(&feed, RELAY_HOLD)
                } else {
                    head
                };
                if upto <= has {
                    holding = true;
                    continue;
                }
                let run = read_run(ctx.store.as_ref(), &feed, has, upto)?;
                let Some(last) = run.last().map(|e| e.seq) else {
                    continue;
                };
                let mut origin_certificate = Vec::new();
                if certs_sent.insert(feed.origin.clone()) {
                    origin_certificate = directory::certificate(ctx.store.as_ref(), &feed.origin)?
                        .unwrap_or_default();
                }
                let n = run.len() as u64;
                tracing::debug!(%feed, from = has + 1, to = last, entries = n, "sending run");
                out.send(frame(Frame::Run(v1::EntryRun {
                    entries: run,
                    origin_certificate,
                })))
                .await
                .map_err(closed)?;
                if let Ok(mut p) = shared.0.lock() {
                    if let Some(r) = p.refused.get_mut(&feed) {
                        r.resent = true;
                    }
                    let h = p.heads.entry(feed).or_insert(0);
                    *h = (*h).max(last);
                }
                ctx.status.update(&key, |s| s.sent += n);
                progressed = true;
            }
            ctx.status.update(&key, |s| s.peer_behind = behind);
        }
        if progressed {
            continue;
        }
        tokio::select! {
            r = commits.changed() => {
                if r.is_err() {
                    return Ok(());
                }
            }
            _ = shared.1.notified() => {}
            // Held-back entries come due without a commit to wake us.
            _ = tokio::time::sleep(RELAY_HOLD / 4), if holding => {}
            _ = tick.tick() => {
                entitled.clear();
                out.send(frame(Frame::Heads(v1::Heads { heads: ctx.heads_for(&peer), refused: false })))
                    .await
                    .map_err(closed)?;
            }
        }
    }
}

/// Checks and remembers the origin certificate sent with a run; returns the origin's key.
fn origin_key(
    ctx: &SyncContext,
    feed: &FeedId,
    sent: &[u8],
) -> Result<ed25519_dalek::VerifyingKey, String> {
    if !sent.is_empty() {
        let identity = cert::identity_of(sent).map_err(|e| e.to_string())?;
        if identity.path() != feed.origin {
            return Err(format!(
                "certificate sent for {} names {}",
                feed.origin, identity
            ));
        }
        let tls = ctx.tls.borrow().clone();
        if super::rekey::is_retired(ctx.store.as_ref(), &feed.origin, sent) {
            // A re-keyed origin's retired certificate, never taken as its key again: what
            // it signed is checked against the province's re-key record (see `ingest`).
        } else if ctx.keys.key(&tls, sent).is_some() {
            let known = directory::certificate(ctx.store.as_ref(), &feed.origin)
                .map_err(|e| e.to_string())?;
            if known.as_deref() != Some(sent) {
                directory::remember_certificate(ctx.store.as_ref(), &feed.origin, sent)
                    .map_err(|e| e.to_string())?;
            }
        } else {
            return Err(format!(
                "certificate of {} is not valid under the provincial CA and CRL",
                feed.origin
            ));
        }
    }
    let der = directory::certificate(ctx.store.as_ref(), &feed.origin)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no certificate known for origin {}", feed.origin))?;
    // Every run, not only those that carry the certificate: a revoked origin's entries are
    // refused from the moment the CRL names it.
    let tls = ctx.tls.borrow().clone();
    ctx.keys.key(&tls, &der).ok_or_else(|| {
        format!(
            "certificate of {} is revoked or not valid under the provincial CA",
            feed.origin
        )
    })
}

type Pending = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (FeedId, usize, Result<super::ingest::Ingested, IngestError>),
            > + Send,
    >,
>;

#[allow(clippy::too_many_arguments)]
async fn receive_loop<S>(
    ctx: Arc<SyncContext>,
    peer_cert: Arc<Vec<u8>>,
    key: LinkKey,
    shared: Arc<(Mutex<PeerHas>, Notify)>,
    mut inbound: S,
    out: mpsc::Sender<SyncFrame>,
) -> Result<(), SyncError>
where
    S: Stream<Item = Result<SyncFrame, tonic::Status>> + Unpin + Send,
{
    let mut tls = ctx.tls.clone();
    let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
    loop {
        tokio::select! {
            item = inbound.next() => {
                let f = match item {
                    None => return Err(SyncError::Closed("peer closed the stream".into())),
                    Some(Err(status)) => return Err(SyncError::Stream(status)),
                    Some(Ok(SyncFrame { frame: None })) => continue,
                    Some(Ok(SyncFrame { frame: Some(f) })) => f,
                };
                ctx.status.update(&key, |s| s.last_contact_ms = now_ms());
                match f {
                    Frame::Hello(h) => {
                        if h.protocol != PROTOCOL {
                            return Err(SyncError::Protocol(format!("peer speaks protocol {}, this node {PROTOCOL}", h.protocol)));
                        }
                        if let Ok(mut p) = shared.0.lock() {
                            p.hello = true;
                            p.heads = h.heads.iter().filter_map(|x| Some((feed_of(x)?, x.seq))).collect();
                        }
                        shared.1.notify_one();
                        if ctx.writer.is_catching_up() {
                            let behind = behind_on(&ctx, &h.heads)?;
                            caught_up_after_restore(&ctx, &key.peer, &behind);
                        }
                    }
                    Frame::Heads(h) => {
                        if h.refused {
                            if let Ok(mut p) = shared.0.lock() {
                                for x in &h.heads {
                                    if let Some(f) = feed_of(x) {
                                        let r = Refusals::record(p.refused.get(&f).copied(), x.seq);
                                        if r.failures > 1 {
                                            tracing::debug!(feed = %f, failures = r.failures, "peer refused again: backing off");
                                        }
                                        p.refused.insert(f.clone(), r);
                                        p.heads.insert(f, x.seq);
                                    }
                                }
                            }
                            shared.1.notify_one();
                        } else {
                            // What the peer holds need not be sent again (a relay holding
                            // back learns here what the direct link delivered).
                            if let Ok(mut p) = shared.0.lock() {
                                for x in &h.heads {
                                    if let Some(f) = feed_of(x) {
                                        // The peer moved past what it refused: no more waiting.
                                        if p.refused.get(&f).is_some_and(|r| x.seq > r.at) {
                                            p.refused.remove(&f);
                                        }
                                        let ours = ctx.writer.durable_heads().get(&f);
                                        let seq = p.heads.entry(f).or_insert(0);
                                        // A report may lag what is in flight to the peer: only
                                        // ever raise, except past what this node holds (it
                                        // cannot have sent that): the peer cut its feed back
                                        // (a re-key), so send from where it is now.
                                        *seq = if x.seq < *seq && *seq > ours { x.seq } else { (*seq).max(x.seq) };
                                    }
                                }
                            }
                            let behind = behind_on(&ctx, &h.heads)?;
                            if ctx.writer.is_catching_up() {
                                caught_up_after_restore(&ctx, &key.peer, &behind);
                            }
                            let behind = behind.into_iter().map(|(f, n)| (f.to_string(), n)).collect();
                            ctx.status.update(&key, |s| s.we_behind = behind);
                        }
                    }
                    Frame::Run(run) => {
                        let Some(feed) = run.entries.first().and_then(FeedId::of) else {
                            continue;
                        };
                        if !ctx.may_accept(&feed) {
                            refuse(&ctx, &key, &feed, "not entitled to this feed", run.entries.len());
                            continue;
                        }
                        if let Some(q) = ctx.quarantine.holds(&feed, &run.entries) {
                            // The entry this feed is held at, again: refused without the
                            // writer, counted, logged at most once a minute.
                            ctx.quarantine.refused(&q, &key.peer);
                            ctx.status.count_refused();
                            ctx.status.update(&key, |s| s.refused += run.entries.len() as u64);
                            send_refused(&ctx, &out, &feed).await?;
                            continue;
                        }
                        let signer = match origin_key(&ctx, &feed, &run.origin_certificate) {
                            Ok(k) => k,
                            Err(reason) => {
                                refuse(&ctx, &key, &feed, &reason, run.entries.len());
                                continue;
                            }
                        };
                        while pending.len() >= IN_FLIGHT {
                            if let Some((f, n, r)) = pending.next().await {
                                settle(&ctx, &key, &out, f, n, r).await?;
                            }
                        }
                        // Nothing more is read from the stream until the node-wide budget has
                        // room for this run (runs of this session already queued still settle).
                        let reserve = ctx.budget.reserve(prost::Message::encoded_len(&run));
                        tokio::pin!(reserve);
                        let reserved = loop {
                            tokio::select! {
                                r = &mut reserve => break r,
                                Some((f, n, r)) = pending.next(), if !pending.is_empty() => {
                                    settle(&ctx, &key, &out, f, n, r).await?;
                                }
                            }
                        };
                        let n = run.entries.len();
                        let outcome = ctx
                            .writer
                            .queue_ingest(run.entries, signer)
                            .await
                            .map_err(|e| SyncError::Closed(e.to_string()))?;
                        // The budget is given back as soon as the writer is done with the run,
                        // even while this session is busy elsewhere.
                        let done = tokio::spawn(async move {
                            let result = outcome.await;
                            drop(reserved);
                            result
                        });
                        pending.push_back(Box::pin(async move {
                            let result = done.await.unwrap_or_else(|e| {
                                Err(IngestError::Malformed(format!("applying the run failed: {e}")))
                            });
                            (feed, n, result)
                        }));
                    }
                }
            }
            Some((f, n, r)) = pending.next(), if !pending.is_empty() => {
                settle(&ctx, &key, &out, f, n, r).await?;
            }
            changed = tls.changed() => {
                if changed.is_ok() && !tls.borrow().is_valid(&peer_cert) {
                    return Err(SyncError::Revoked(key.peer.clone()));
                }
            }
        }
    }
}

/// Per feed this node may accept, how far it is behind `heads` (a peer's report).
fn behind_on(ctx: &SyncContext, heads: &[v1::FeedHead]) -> Result<Vec<(FeedId, u64)>, SyncError> {
    let held: HashMap<FeedId, u64> = feed::log::heads(ctx.store.as_ref())?
        .into_iter()
        .map(|(f, h)| (f, h.seq))
        .collect();
    Ok(heads
        .iter()
        .filter_map(|x| {
            let f = feed_of(x)?;
            let mine = held.get(&f).copied().unwrap_or(0);
            (x.seq > mine && ctx.may_accept(&f)).then(|| (f, x.seq - mine))
        })
        .collect())
}

/// After a restore, writes resume once a peer that holds every shared feed of this node has
/// reported heads no further than ours on them: the gateway for a county (it holds all of a
/// county's shared feeds), any county for the gateway (each holds the province's feed).
fn caught_up_after_restore(ctx: &SyncContext, peer: &str, behind: &[(FeedId, u64)]) {
    let peer = Identity::from_path(peer).ok();
    let holds_all_of_mine = match ctx.me {
        Identity::County(_) => matches!(peer, Some(Identity::Province(_))),
        _ => matches!(peer, Some(Identity::County(_))),
    };
    let me = ctx.me.path();
    if !holds_all_of_mine || behind.iter().any(|(f, _)| f.origin == me) {
        return;
    }
    if ctx.writer.caught_up() {
        tracing::info!(peer = ?peer.map(|p| p.path()), "own entries caught up after the restore: writes resume");
        if let Err(e) = crate::backup::restore_done(ctx.store.as_ref()) {
            tracing::error!(error = %e, "cannot record the end of the restore");
        }
    }
}

fn refuse(ctx: &SyncContext, key: &LinkKey, feed: &FeedId, reason: &str, n: usize) {
    // A peer that keeps sending what is refused must not fill the log: the first refusal
    // of each kind is logged, then one line a minute with the count.
    let kind: String = reason.chars().take(40).collect();
    if let Some(times) = ctx.log_limit.due(&format!("{}|{feed}|{kind}", key.peer)) {
        tracing::warn!(%feed, entries = n, %reason, peer = %key.peer, times, "run refused");
    }
    ctx.status.count_refused();
    ctx.status.update(key, |s| s.refused += n as u64);
    ctx.status.error(key, &format!("refused {feed}: {reason}"));
}

async fn settle(
    ctx: &SyncContext,
    key: &LinkKey,
    out: &mpsc::Sender<SyncFrame>,
    feed: FeedId,
    entries: usize,
    result: Result<super::ingest::Ingested, IngestError>,
) -> Result<(), SyncError> {
    match result {
        Ok(r) => {
            ctx.status.update(key, |s| s.received += r.stored as u64);
            if r.released {
                ctx.quarantine.cleared(&feed);
            }
            match &r.quarantined {
                None => Ok(()),
                Some(q) => {
                    ctx.quarantine.refused(q, &key.peer);
                    ctx.status.count_refused();
                    ctx.status.update(key, |s| {
                        s.refused += (entries - r.duplicates - r.stored) as u64;
                        s.last_error = format!("quarantined {feed} at #{}: {}", q.seq, q.reason);
                        s.last_error_ms = now_ms();
                    });
                    send_refused(ctx, out, &feed).await
                }
            }
        }
        Err(e) => {
            if let IngestError::Equivocation { .. } = e {
                ctx.status
                    .equivocations
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Every one counted and kept as evidence; logged the first time per feed and
                // then at most once a minute, like every repeated refusal.
                if let Some(times) = ctx.log_limit.due(&format!("equivocation|{feed}")) {
                    tracing::error!(alarm = "equivocation", %feed, error = %e, times, "ALARM: equivocation");
                }
            }
            // Runs queued after a refused one fail with a gap; report each once.
            if !matches!(e, IngestError::Gap { .. }) {
                refuse(ctx, key, &feed, &e.to_string(), entries);
            }
            send_refused(ctx, out, &feed).await
        }
    }
}

/// Tells the peer a run of `feed` was refused and how far this node really holds it, so it
/// resends from there (after backing off).
async fn send_refused(
    ctx: &SyncContext,
    out: &mpsc::Sender<SyncFrame>,
    feed: &FeedId,
) -> Result<(), SyncError> {
    let head = feed::log::head(ctx.store.as_ref(), feed)?;
    out.send(frame(Frame::Heads(v1::Heads {
        heads: vec![v1::FeedHead {
            origin: feed.origin.clone(),
            audience: feed.audience.to_proto() as i32,
            seq: head.seq,
            ..Default::default()
        }],
        refused: true,
    })))
    .await
    .map_err(|_| SyncError::Closed("peer stopped reading".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::entry::{next_entry, sign_head, GENESIS_HASH};
    use crate::store::{Batch, SledStore};

    #[test]
    fn runs_end_on_the_first_signed_entry_after_the_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let feed = FeedId::new("county/510104", Audience::Province);
        let mut batch = Batch::new();
        let mut prev = GENESIS_HASH.to_vec();
        for seq in 1..=2000u64 {
            let mut e = next_entry(&feed, seq - 1, &prev, 0, "a", vec![1]);
            if [3, 700, 1300, 2000].contains(&seq) {
                e.signature = sign_head(&key, &e.hash);
            }
            prev = e.hash.clone();
            feed::log::stage(&mut batch, &feed, &e);
        }
        store.commit(&batch).unwrap();
        let ends = |after| {
            read_run(&store, &feed, after, 2000)
                .unwrap()
                .last()
                .unwrap()
                .seq
        };
        // A chunk of 512 that ends unsigned is extended to the next signed entry only.
        assert_eq!(ends(0), 700);
        assert_eq!(ends(700), 1300);
        assert_eq!(ends(1300), 2000);
        let run = read_run(&store, &feed, 0, 2000).unwrap();
        crate::feed::entry::verify_run(&feed, 0, &GENESIS_HASH, &run, &key.verifying_key())
            .unwrap();
        // Nothing past the durable head, even when the store holds more.
        assert_eq!(read_run(&store, &feed, 0, 700).unwrap().len(), 700);
        assert!(read_run(&store, &feed, 700, 700).unwrap().is_empty());
    }

    #[test]
    fn runs_of_large_entries_are_cut_to_fit_a_frame() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let feed = FeedId::new("county/510104", Audience::Upstream);
        // Twenty disposal requests with evidence in one commit batch: 36 MB.
        let mut prev = GENESIS_HASH.to_vec();
        let mut entries: Vec<Entry> = (0..20u64)
            .map(|i| {
                let e = next_entry(&feed, i, &prev, 0, "a", vec![1; 1_800_000]);
                prev = e.hash.clone();
                e
            })
            .collect();
        crate::feed::entry::sign_batch(&key, &mut entries);
        let mut batch = Batch::new();
        crate::feed::log::stage_block(&mut batch, &feed, &entries);
        store.commit(&batch).unwrap();
        let mut after = 0;
        let mut prev = GENESIS_HASH.to_vec();
        while after < 20 {
            let run = read_run(&store, &feed, after, 20).unwrap();
            let frame = v1::EntryRun {
                entries: run.clone(),
                origin_certificate: vec![0; 4096],
            };
            assert!(prost::Message::encoded_len(&frame) <= MAX_FRAME);
            crate::feed::entry::verify_run(&feed, after, &prev, &run, &key.verifying_key())
                .unwrap();
            after = run.last().unwrap().seq;
            prev = run.last().unwrap().hash.clone();
        }
    }
}
