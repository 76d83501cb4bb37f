//! Workers: the node's long-running tasks, each started through [`spawn`] with a name, its
//! own span, a stop signal, and a status in the node's [`Workers`] registry that the health
//! views (`GetHealth`, `fenghuo health`, the health page) read.
//!
//! A worker is an async function of its stop signal returning `Result<(), E>`. It is
//! `Running` from its start; `Stopped` when it returns `Ok`, or returns at all once told to
//! stop; `Failed` with the reason when it returns an error otherwise or panics. A failure is
//! logged here once, so a worker need not log its own end.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::timespec::now_ms;

/// Where a worker is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Started and not returned.
    Running,
    /// Returned normally, or was told to stop and returned.
    Stopped,
    /// Returned an error or panicked without being told to stop: what it said.
    Failed(String),
}

impl WorkerState {
    /// `running`, `stopped` or `failed`: the word scripts and the wire carry.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Failed(_) => "failed",
        }
    }

    /// Why it failed; empty unless it did.
    pub fn reason(&self) -> &str {
        match self {
            Self::Failed(r) => r,
            _ => "",
        }
    }
}

/// One worker's status, as the health views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStatus {
    /// Its name (`journal`, `sync-link county/510105`): unique within a node.
    pub name: String,
    /// Running, stopped or failed.
    pub state: WorkerState,
    /// When it started, Unix ms.
    pub started_at_ms: i64,
    /// When it stopped or failed, Unix ms; `None` while it runs.
    pub stopped_at_ms: Option<i64>,
}

/// The statuses of one node's workers, shared (`Arc<Workers>`) by the workers, which write
/// their own, and the health views, which read them all. Several nodes may run in one
/// process, so each has its own registry.
#[derive(Debug, Default)]
pub struct Workers {
    /// By name: a worker started again under the same name replaces its old status.
    statuses: Mutex<BTreeMap<String, WorkerStatus>>,
}

impl Workers {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Every worker's status, sorted by name.
    pub fn snapshot(&self) -> Vec<WorkerStatus> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, WorkerStatus>> {
        // A panic while holding this lock leaves the map whole (each write is one insert).
        self.statuses.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn started(&self, name: &str) {
        self.lock().insert(
            name.to_owned(),
            WorkerStatus {
                name: name.to_owned(),
                state: WorkerState::Running,
                started_at_ms: now_ms(),
                stopped_at_ms: None,
            },
        );
    }

    fn ended(&self, name: &str, state: WorkerState) {
        if let Some(s) = self.lock().get_mut(name) {
            s.state = state;
            s.stopped_at_ms = Some(now_ms());
        }
    }
}

/// Marks its worker stopped if the task is dropped before it returned (aborted, or the
/// runtime shut down), so no worker shows as running after it is gone.
struct Ended {
    workers: Arc<Workers>,
    name: String,
    recorded: bool,
}

impl Ended {
    fn record(mut self, state: WorkerState) {
        self.workers.ended(&self.name, state);
        self.recorded = true;
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        if !self.recorded {
            self.workers.ended(&self.name, WorkerState::Stopped);
        }
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_owned()
    }
}

/// Starts worker `name`: runs `run(stop)` in its own task inside the span
/// `worker{worker = name}`, recording in `workers` that it runs and then how it ended (see the
/// module's doc). Aborting the returned handle ends the worker, which then shows as stopped.
/// Must be called inside a tokio runtime.
pub fn spawn<F, Fut, E>(
    workers: &Arc<Workers>,
    name: impl Into<Cow<'static, str>>,
    stop: watch::Receiver<bool>,
    run: F,
) -> JoinHandle<()>
where
    F: FnOnce(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    let name = name.into().into_owned();
    let span = tracing::info_span!("worker", worker = %name);
    workers.started(&name);
    let ended = Ended {
        workers: workers.clone(),
        name,
        recorded: false,
    };
    let told_to_stop = stop.clone();
    // Built here, so `run` sees its stop signal before the task is first polled.
    let work = AssertUnwindSafe(run(stop)).catch_unwind();
    tokio::spawn(
        async move {
            // Turned into text at once: `E` need not be `Send`.
            let outcome = work.await.map(|r| r.map_err(|e| e.to_string()));
            let stopping = *told_to_stop.borrow();
            let state = match outcome {
                Ok(Ok(())) => WorkerState::Stopped,
                Ok(Err(e)) if stopping => {
                    // The error came with shutting down (say, the writer stopped first).
                    tracing::info!(error = %e, "worker stopped");
                    WorkerState::Stopped
                }
                Ok(Err(e)) => {
                    tracing::error!(worker = %ended.name, error = %e, "worker failed");
                    WorkerState::Failed(e)
                }
                Err(panic) => {
                    let reason = panic_message(panic.as_ref());
                    tracing::error!(worker = %ended.name, error = %reason, "worker failed");
                    WorkerState::Failed(reason)
                }
            };
            ended.record(state);
        }
        .instrument(span),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status of `name` in `workers`.
    fn status(workers: &Workers, name: &str) -> WorkerStatus {
        workers
            .snapshot()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no worker {name}"))
    }

    #[tokio::test]
    async fn a_worker_that_returns_ok_is_stopped() {
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let task = spawn(&workers, "ok", rx, |_| async { Ok::<_, String>(()) });
        assert!(task.await.is_ok());
        let s = status(&workers, "ok");
        assert_eq!(s.state, WorkerState::Stopped);
        assert!(s.stopped_at_ms.is_some_and(|t| t >= s.started_at_ms));
    }

    #[tokio::test]
    async fn a_worker_that_returns_an_error_has_failed_with_the_reason() {
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let task = spawn(&workers, "broken", rx, |_| async {
            Err::<(), _>("the disk is full")
        });
        assert!(task.await.is_ok());
        let s = status(&workers, "broken");
        assert_eq!(s.state, WorkerState::Failed("the disk is full".into()));
        assert_eq!(s.state.as_str(), "failed");
        assert_eq!(s.state.reason(), "the disk is full");
    }

    #[tokio::test]
    async fn a_worker_that_panics_has_failed() {
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let task = spawn(&workers, "panicky", rx, |_| async {
            if workers_panic() {
                panic!("out of cheese");
            }
            Ok::<_, String>(())
        });
        // The panic is caught inside the worker's task: the task itself ends normally.
        assert!(task.await.is_ok());
        let s = status(&workers, "panicky");
        assert!(
            matches!(&s.state, WorkerState::Failed(r) if r.contains("out of cheese")),
            "{s:?}"
        );
    }

    /// True, without the compiler knowing it (a bare `panic!` makes the rest unreachable).
    fn workers_panic() -> bool {
        std::hint::black_box(true)
    }

    #[tokio::test]
    async fn the_stop_signal_reaches_the_worker_and_it_is_then_stopped() {
        let workers = Workers::new();
        let (tx, rx) = watch::channel(false);
        let task = spawn(&workers, "waiter", rx, |mut stop| async move {
            let _ = stop.wait_for(|s| *s).await;
            Err::<(), _>("ended by the stop signal")
        });
        tokio::task::yield_now().await;
        assert_eq!(status(&workers, "waiter").state, WorkerState::Running);
        assert!(tx.send(true).is_ok());
        assert!(task.await.is_ok());
        // Told to stop: stopped, even though it returned an error.
        assert_eq!(status(&workers, "waiter").state, WorkerState::Stopped);
    }

    #[tokio::test]
    async fn an_aborted_worker_is_stopped() {
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let task = spawn(&workers, "forever", rx, |_| {
            std::future::pending::<Result<(), String>>()
        });
        task.abort();
        assert!(task.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(status(&workers, "forever").state, WorkerState::Stopped);
    }

    #[tokio::test]
    async fn statuses_are_named_and_sorted_by_name() {
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for name in ["journal", "alarm-log", "sync-link county/510105"] {
            tasks.push(spawn(&workers, name.to_owned(), rx.clone(), |_| async {
                // Logged inside the worker's span: the name travels with every line.
                tracing::info!("working");
                Ok::<_, String>(())
            }));
        }
        for t in tasks {
            assert!(t.await.is_ok());
        }
        let names: Vec<String> = workers.snapshot().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["alarm-log", "journal", "sync-link county/510105"]);
    }

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_span_carries_the_workers_name() {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        // A current-thread runtime: the default subscriber covers the worker's task too.
        let _default = tracing::subscriber::set_default(subscriber);
        let workers = Workers::new();
        let (_tx, rx) = watch::channel(false);
        let task = spawn(&workers, "named", rx, |_| async {
            tracing::info!("inside");
            Err::<(), _>("gave up")
        });
        assert!(task.await.is_ok());
        let text = String::from_utf8_lossy(&lines.0.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        assert!(text.contains("worker{worker=named}"), "{text}");
        assert!(text.contains("inside"), "{text}");
        assert!(text.contains("worker failed"), "{text}");
        assert_eq!(
            status(&workers, "named").state,
            WorkerState::Failed("gave up".into())
        );
    }
}
