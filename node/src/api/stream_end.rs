//! How long-lived response streams end (`Subscribe`, `Watch`, `Sync`, `Backup`): when the
//! node shuts down, each ends at once with UNAVAILABLE, so the server's graceful stop never
//! waits for a client that does not leave; a producer may also give the status it ended with
//! (a replaced sync session, a refused frame).

use std::pin::Pin;

use tokio::sync::{oneshot, watch};
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

/// A boxed response stream, as the services' associated stream types are.
pub type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The status every long-lived stream ends with when the node stops.
pub fn shutting_down() -> Status {
    Status::unavailable("the node is shutting down; reconnect in a moment")
}

/// `stream`, ended with [`shutting_down`] as soon as `stop` turns true.
pub fn until_stopped<T, S>(stream: S, stop: watch::Receiver<bool>) -> Boxed<T>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + Unpin + 'static,
{
    ending(stream, stop, None)
}

/// What [`ending`] follows between items.
struct Ending<S> {
    /// The producer's items.
    inner: S,
    /// Turns true when the node shuts down.
    stop: watch::Receiver<bool>,
    /// The producer's closing status, sent when it ends (dropped unsent: it ended cleanly).
    last: Option<oneshot::Receiver<Status>>,
}

/// `stream`, ended with [`shutting_down`] when `stop` turns true, or with the status `last`
/// delivers as soon as it does (items still queued are not sent: a replaced or refused
/// session ends now, not after its backlog).
pub fn ending<T, S>(
    stream: S,
    stop: watch::Receiver<bool>,
    last: Option<oneshot::Receiver<Status>>,
) -> Boxed<T>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + Unpin + 'static,
{
    let state = Ending {
        inner: stream,
        stop,
        last,
    };
    Box::pin(futures_util::stream::unfold(
        Some(state),
        |state| async move {
            let mut state = state?;
            loop {
                let Ending { inner, stop, last } = &mut state;
                let stopped = async {
                    // A node whose stop signal is gone never stops its streams this way.
                    if stop.wait_for(|s| *s).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let closing = async {
                    match last.as_mut() {
                        Some(rx) => rx.await.ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    () = stopped => return Some((Err(shutting_down()), None)),
                    status = closing => match status {
                        Some(status) => return Some((Err(status), None)),
                        None => state.last = None,
                    },
                    item = inner.next() => return match item {
                        Some(Ok(x)) => Some((Ok(x), Some(state))),
                        Some(Err(status)) => Some((Err(status), None)),
                        None => {
                            // The producer ended: its closing status, if it gave one.
                            let status = match state.last.take() {
                                Some(rx) => rx.await.ok(),
                                None => None,
                            };
                            let status =
                                status.or_else(|| (*state.stop.borrow()).then(shutting_down));
                            status.map(|s| (Err(s), None))
                        }
                    },
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    #[tokio::test]
    async fn a_stream_ends_unavailable_when_the_node_stops() {
        let (stop_tx, stop) = watch::channel(false);
        let (tx, rx) = mpsc::channel::<Result<u32, Status>>(4);
        let mut s = until_stopped(ReceiverStream::new(rx), stop);
        tx.send(Ok(1)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        stop_tx.send(true).unwrap();
        // The producer is still there and never ends on its own.
        let end = s.next().await.unwrap().unwrap_err();
        assert_eq!(end.code(), tonic::Code::Unavailable);
        assert!(s.next().await.is_none());
        drop(tx);
    }

    #[tokio::test]
    async fn a_closing_status_ends_the_stream_before_its_backlog() {
        let (_stop_tx, stop) = watch::channel(false);
        let (tx, rx) = mpsc::channel::<Result<u32, Status>>(4);
        let (last_tx, last) = oneshot::channel();
        let mut s = ending(ReceiverStream::new(rx), stop, Some(last));
        tx.send(Ok(1)).await.unwrap();
        last_tx.send(Status::aborted("replaced")).unwrap();
        let end = s.next().await.unwrap().unwrap_err();
        assert_eq!(end.code(), tonic::Code::Aborted);
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn a_producer_that_ends_cleanly_ends_the_stream_cleanly() {
        let (_stop_tx, stop) = watch::channel(false);
        let (tx, rx) = mpsc::channel::<Result<u32, Status>>(4);
        let (last_tx, last) = oneshot::channel::<Status>();
        let mut s = ending(ReceiverStream::new(rx), stop, Some(last));
        tx.send(Ok(7)).await.unwrap();
        drop(tx);
        drop(last_tx);
        assert_eq!(s.next().await.unwrap().unwrap(), 7);
        assert!(s.next().await.is_none());
    }
}
