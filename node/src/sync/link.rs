//! The outbound link worker: dials a configured peer over mutual TLS (checking that the
//! server's certificate names the peer we meant, against the CA and CRL), runs a sync session,
//! and reconnects with exponential backoff and jitter when the link fails.

use std::sync::Arc;
use std::time::Duration;

use fenghuo_proto::v1::federation_client::FederationClient;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::session::{self, SyncContext, SyncError};
use super::status::LinkKey;
use crate::identity::Identity;
use crate::pki::client;

/// Exponential backoff with jitter: each failure doubles the ceiling (from `base` up to
/// `max`); the wait is drawn uniformly from the upper half, so peers that failed together do
/// not all return together.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff from `base` to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: 0,
        }
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// After a session that worked: start again from `base`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Where to dial and who must answer.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    /// The identity the server's certificate must carry.
    pub peer: Identity,
    /// `host:port`.
    pub address: String,
}

async fn dial(
    ctx: &SyncContext,
    target: &LinkTarget,
) -> Result<(tonic::transport::Channel, Arc<Vec<u8>>), SyncError> {
    let tls = ctx.tls.borrow().client.clone();
    let dialled = client::dial(tls, &target.address, &target.peer, |e| {
        e.connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
    })
    .await
    .map_err(|e| SyncError::Connect(e.to_string()))?;
    Ok((dialled.channel, Arc::new(dialled.certificate)))
}

async fn one_session(ctx: &Arc<SyncContext>, target: &LinkTarget) -> Result<(), SyncError> {
    let (channel, cert) = dial(ctx, target).await?;
    let (tx, rx) = mpsc::channel(16);
    let response = FederationClient::new(channel)
        .max_decoding_message_size(session::MAX_FRAME)
        .max_encoding_message_size(session::MAX_FRAME)
        .sync(ReceiverStream::new(rx))
        .await
        .map_err(|s| SyncError::Connect(format!("{}: {}", s.code(), s.message())))?;
    let key = LinkKey::new("outbound", target.peer.path(), target.address.clone());
    session::run(
        ctx.clone(),
        target.peer.clone(),
        cert,
        key,
        response.into_inner(),
        tx,
    )
    .await
}

/// Keeps a link to `target` until `stop` turns true.
pub async fn run(ctx: Arc<SyncContext>, target: LinkTarget, mut stop: watch::Receiver<bool>) {
    let peer = target.peer.path();
    let key = LinkKey::new("outbound", peer.clone(), target.address.clone());
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        ctx.status.update(&key, |s| s.state = "connecting");
        let started = tokio::time::Instant::now();
        let result = tokio::select! {
            r = one_session(&ctx, &target) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        if started.elapsed() > Duration::from_secs(10) {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        let reason = match &result {
            Ok(()) => "session ended".to_owned(),
            Err(e) => e.to_string(),
        };
        tracing::info!(%peer, address = %target.address, retry_in_ms = delay.as_millis() as u64, %reason, "link down");
        ctx.status.update(&key, |s| s.state = "backoff");
        ctx.status.error(&key, &reason);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    ctx.status.update(&key, |s| s.state = "closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..12 {
            let d = b.next_delay();
            ceilings.push(d);
        }
        // Each delay lies in the upper half of its ceiling.
        for (i, d) in ceilings.iter().enumerate() {
            let ceiling = Duration::from_millis(200)
                .saturating_mul(1 << i)
                .min(Duration::from_secs(30));
            assert!(
                *d >= ceiling / 2 && *d <= ceiling,
                "attempt {i}: {d:?} vs {ceiling:?}"
            );
        }
        assert!(ceilings[11] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }
}
