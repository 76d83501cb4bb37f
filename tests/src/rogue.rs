//! A rogue sync peer: a test that holds a real node certificate (so the TLS handshake and the
//! `Federation.Sync` call are accepted) and then says whatever it likes on the stream.
//!
//! [`RoguePeer`] opens one session, sends the frames the test builds and collects every frame
//! the node sends back (its `Hello`, the runs it streams, `Heads` reports and refusals). The
//! free functions build runs: honest-looking chains signed with any key ([`forge_run`]),
//! and damaged copies of genuine runs ([`with_payload_changed`], [`with_signature_changed`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use fenghuo_node::feed::entry::{next_entry, sign_head};
use fenghuo_node::feed::{Audience, FeedId, FeedSigner};
use fenghuo_proto::v1::federation_client::FederationClient;
use fenghuo_proto::v1::sync_frame::Frame;
use fenghuo_proto::v1::{Entry, EntryRun, FeedHead, Heads, Hello, SyncFrame};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::grpc;
use crate::pki::{Credentials, TestPki};

/// The protocol version nodes speak.
pub const PROTOCOL: u32 = 1;

/// What the node sent, and how the stream ended.
#[derive(Debug, Default)]
struct Inbox {
    /// Every frame received, in order.
    frames: Vec<SyncFrame>,
    /// Set when the stream ended: why.
    closed: Option<String>,
}

/// One sync session with a node, driven by the test.
#[derive(Debug)]
pub struct RoguePeer {
    /// Frames to the node.
    tx: mpsc::Sender<SyncFrame>,
    /// Frames from the node, gathered by `reader`.
    inbox: Arc<Mutex<Inbox>>,
    /// Wakes waiters when a frame arrives or the stream ends.
    arrived: Arc<Notify>,
    /// Reads the node's frames into `inbox`; aborted on drop.
    reader: JoinHandle<()>,
}

impl Drop for RoguePeer {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl RoguePeer {
    /// Opens `Federation.Sync` on `url` presenting `credentials` (a county or province node
    /// certificate). Sends nothing yet: call [`RoguePeer::hello`].
    pub async fn connect(url: &str, credentials: &Credentials) -> anyhow::Result<Self> {
        let channel = grpc::mtls_channel(url, credentials).await?;
        let (tx, rx) = mpsc::channel(64);
        let response = FederationClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
            .sync(ReceiverStream::new(rx))
            .await
            .with_context(|| format!("Federation.Sync on {url}"))?;
        let mut inbound = response.into_inner();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let arrived = Arc::new(Notify::new());
        let (i, a) = (inbox.clone(), arrived.clone());
        let reader = tokio::spawn(async move {
            let why = loop {
                match inbound.next().await {
                    Some(Ok(f)) => {
                        lock(&i).frames.push(f);
                        a.notify_waiters();
                    }
                    Some(Err(status)) => break format!("{}: {}", status.code(), status.message()),
                    None => break "the node closed the stream".to_owned(),
                }
            };
            lock(&i).closed = Some(why);
            a.notify_waiters();
        });
        Ok(Self {
            tx,
            inbox,
            arrived,
            reader,
        })
    }

    /// Sends one frame.
    pub async fn send(&self, frame: Frame) -> anyhow::Result<()> {
        self.tx
            .send(SyncFrame { frame: Some(frame) })
            .await
            .map_err(|_| anyhow::anyhow!("the sync stream is closed"))
    }

    /// Sends `Hello` claiming to hold `heads`.
    pub async fn hello(&self, heads: Vec<FeedHead>) -> anyhow::Result<()> {
        self.send(Frame::Hello(Hello {
            protocol: PROTOCOL,
            heads,
        }))
        .await
    }

    /// Sends a run with `origin_certificate` (DER; empty for none).
    pub async fn send_run(
        &self,
        entries: Vec<Entry>,
        origin_certificate: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.send(Frame::Run(EntryRun {
            entries,
            origin_certificate,
        }))
        .await
    }

    /// Sends a progress report.
    pub async fn heads(&self, heads: Vec<FeedHead>, refused: bool) -> anyhow::Result<()> {
        self.send(Frame::Heads(Heads { heads, refused })).await
    }

    /// A copy of every frame received so far.
    pub fn frames(&self) -> Vec<SyncFrame> {
        lock(&self.inbox).frames.clone()
    }

    /// Why the stream ended, if it has.
    pub fn closed(&self) -> Option<String> {
        lock(&self.inbox).closed.clone()
    }

    /// Every entry of `feed` received so far, by sequence number, each once.
    pub fn entries_of(&self, feed: &FeedId) -> Vec<Entry> {
        let mut by_seq = std::collections::BTreeMap::new();
        for f in lock(&self.inbox).frames.iter() {
            if let Some(Frame::Run(run)) = &f.frame {
                for e in &run.entries {
                    if FeedId::of(e).as_ref() == Some(feed) {
                        by_seq.insert(e.seq, e.clone());
                    }
                }
            }
        }
        by_seq.into_values().collect()
    }

    /// Every non-empty `origin_certificate` received so far.
    pub fn origin_certificates(&self) -> Vec<Vec<u8>> {
        lock(&self.inbox)
            .frames
            .iter()
            .filter_map(|f| match &f.frame {
                Some(Frame::Run(r)) if !r.origin_certificate.is_empty() => {
                    Some(r.origin_certificate.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// How many `Heads { refused: true }` frames naming `feed` arrived so far.
    pub fn refusals_of(&self, feed: &FeedId) -> usize {
        lock(&self.inbox)
            .frames
            .iter()
            .filter(|f| match &f.frame {
                Some(Frame::Heads(h)) => {
                    h.refused
                        && h.heads.iter().any(|x| {
                            x.origin == feed.origin && x.audience == feed.audience.to_proto() as i32
                        })
                }
                _ => false,
            })
            .count()
    }

    /// Waits until `check` over the frames received returns `Some`, or the timeout.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before looking, so a frame arriving in between still wakes us.
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = check(self) {
                return Ok(v);
            }
            if let Some(why) = self.closed() {
                bail!("waiting for {what}: the stream ended ({why})");
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("waiting for {what}: nothing after {timeout:?}");
            }
        }
    }

    /// Waits until the node has sent `feed` up to `seq` at least; returns entries 1..=seq.
    pub async fn wait_entries(
        &self,
        feed: &FeedId,
        seq: u64,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Entry>> {
        self.wait_for(&format!("{feed} up to #{seq}"), timeout, |me| {
            let got = me.entries_of(feed);
            (got.len() as u64 >= seq).then(|| got.into_iter().take(seq as usize).collect())
        })
        .await
    }
}

fn lock(m: &Mutex<Inbox>) -> std::sync::MutexGuard<'_, Inbox> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A feed head for `Hello` and `Heads`.
pub fn head(origin: &str, audience: Audience, seq: u64) -> FeedHead {
    FeedHead {
        origin: origin.to_owned(),
        audience: audience.to_proto() as i32,
        seq,
        ..Default::default()
    }
}

/// The DER certificate of `stem` (e.g. `county-510106`) in `pki`.
pub fn cert_der(pki: &TestPki, stem: &str) -> Vec<u8> {
    fenghuo_node::pki::cert::read_cert_pem(&pki.cert(stem))
        .unwrap_or_else(|e| panic!("reading {stem}.crt: {e}"))
        .into_iter()
        .next()
        .expect("a certificate file with no certificate")
}

/// The Ed25519 key of `stem` in `pki`: what that node signs its feeds with.
pub fn signing_key(pki: &TestPki, stem: &str) -> SigningKey {
    FeedSigner::from_pem_file(&pki.feed_key(stem))
        .unwrap_or_else(|e| panic!("reading {stem}.key: {e}"))
        .signing_key()
        .clone()
}

/// A run of `feed` following `(after, prev_hash)`: one entry per payload, each hash-chained
/// to the one before, the last signed with `key`. With the origin's own key this is what the
/// origin would write; with any other key it is a forgery that only the signature gives away.
pub fn forge_run(
    feed: &FeedId,
    after: u64,
    prev_hash: &[u8],
    author: &str,
    payloads: Vec<Vec<u8>>,
    key: &SigningKey,
) -> Vec<Entry> {
    forge_run_at(feed, after, prev_hash, author, now_ms(), payloads, key)
}

/// The clock, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// [`forge_run`] with every entry stamped `timestamp_ms`.
pub fn forge_run_at(
    feed: &FeedId,
    after: u64,
    prev_hash: &[u8],
    author: &str,
    timestamp_ms: i64,
    payloads: Vec<Vec<u8>>,
    key: &SigningKey,
) -> Vec<Entry> {
    let mut prev = prev_hash.to_vec();
    let mut out: Vec<Entry> = Vec::new();
    for (i, payload) in payloads.into_iter().enumerate() {
        let e = next_entry(feed, after + i as u64, &prev, timestamp_ms, author, payload);
        prev = e.hash.clone();
        out.push(e);
    }
    if let Some(last) = out.last_mut() {
        last.signature = sign_head(key, &last.hash);
    }
    out
}

/// A copy of `run` with the payload of entry `index` changed and nothing re-hashed: what a
/// relay that edits a record in flight would send.
pub fn with_payload_changed(run: &[Entry], index: usize, payload: Vec<u8>) -> Vec<Entry> {
    let mut run = run.to_vec();
    run[index].payload = payload;
    run
}

/// A copy of `run` with one bit of its last signature flipped.
pub fn with_signature_changed(run: &[Entry]) -> Vec<Entry> {
    let mut run = run.to_vec();
    let last = run.last_mut().expect("an empty run has no signature");
    assert!(
        !last.signature.is_empty(),
        "the run's last entry is unsigned"
    );
    last.signature[0] ^= 0x01;
    run
}
