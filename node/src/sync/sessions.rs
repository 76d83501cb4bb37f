//! One inbound sync session per peer identity. A peer that reconnects (its old connection
//! half-dead, or a restart) opens a new session: the older one is ended at once, so a peer
//! never holds two, and a flood of sessions from one certificate holds no more than one
//! session's senders, receivers and runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Per peer identity: the current session's number, and the sender whose drop ends it.
type Table = Arc<Mutex<HashMap<String, (u64, oneshot::Sender<()>)>>>;

/// The open inbound sessions, by peer identity (`county/510104`).
#[derive(Debug, Default)]
pub struct Sessions {
    /// The current session of each peer.
    open: Table,
    /// Numbers sessions, so a ticket only ever removes its own entry.
    next: AtomicU64,
}

/// The current session of a peer; dropping it forgets the session (unless a newer one
/// replaced it already).
#[derive(Debug)]
pub struct Ticket {
    /// The peer's identity path.
    peer: String,
    /// This session's number.
    id: u64,
    /// Resolves when a newer session of the same peer replaced this one.
    replaced: oneshot::Receiver<()>,
    /// The table to remove the entry from on drop.
    open: Table,
}

impl Sessions {
    /// Registers a new session of `peer`, ending its older one if any (that session's
    /// [`Ticket::replaced`] resolves).
    pub fn open(&self, peer: &str) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, replaced) = oneshot::channel();
        let previous = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer.to_owned(), (id, tx));
        if let Some((_, older)) = previous {
            tracing::info!(%peer, "a newer sync session from the same peer replaces the open one");
            let _ = older.send(());
        }
        Ticket {
            peer: peer.to_owned(),
            id,
            replaced,
            open: self.open.clone(),
        }
    }

    /// How many peers have a session open.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Ticket {
    /// Resolves when a newer session from the same peer has replaced this one.
    pub async fn replaced(&mut self) {
        // Sent or dropped, either way this session is no longer the peer's current one.
        let _ = (&mut self.replaced).await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.get(&self.peer).is_some_and(|(id, _)| *id == self.id) {
            open.remove(&self.peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_newer_session_of_the_same_peer_replaces_the_older() {
        let sessions = Sessions::default();
        let mut first = sessions.open("county/510104");
        let mut other = sessions.open("county/510105");
        assert!(first.replaced().now_or_never().is_none());
        let mut second = sessions.open("county/510104");
        first.replaced().await;
        assert!(other.replaced().now_or_never().is_none());
        assert!(second.replaced().now_or_never().is_none());
        assert_eq!(sessions.count(), 2);
        // The replaced ticket's drop leaves the newer session registered.
        drop(first);
        assert_eq!(sessions.count(), 2);
        drop(second);
        assert_eq!(sessions.count(), 1);
    }
}
