//! Where sign-in passwords are checked: argon2id takes ~19 MiB a check, so checks run on a few
//! threads of their own (one per core, at most four), and an attempt that finds them all busy
//! waits briefly, then is told to come back. Own threads rather than the runtime's blocking
//! pool (hundreds of threads, each allocator arena keeping the blocks it freed): measured with
//! 48 parallel sign-ins from 48 addresses, the gateway grew by 488 MiB on the blocking pool and
//! by 313 MiB here, the same after three such floods (the allocator keeps what it freed; the
//! bound is the number of threads).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Semaphore};

/// At most this many checks run at once.
pub const MAX_THREADS: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// Why a check did not run to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Every thread stayed busy for the whole wait.
    #[error("every password-check thread is busy")]
    Busy,
    /// The check panicked.
    #[error("the password check failed")]
    Lost,
}

/// The password-check threads and the slots that keep work from queueing behind them.
pub struct PasswordChecks {
    /// One permit per thread: held from before a job is sent until it ends.
    slots: Arc<Semaphore>,
    /// To the threads; they stop when it is dropped.
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for PasswordChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChecks")
            .field("free", &self.slots.available_permits())
            .finish()
    }
}

impl Default for PasswordChecks {
    /// One thread per core, at most [`MAX_THREADS`].
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores.clamp(1, MAX_THREADS))
    }
}

impl PasswordChecks {
    /// `threads` threads (at least one).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking check loses its answer (the caller sees `Lost`), not the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a password-check thread");
            }
        }
        Self {
            slots: Arc::new(Semaphore::new(threads)),
            jobs,
        }
    }

    /// Runs `check` on a password-check thread, waiting at most `wait` for one to be free.
    pub async fn run<T: Send + 'static>(
        &self,
        wait: Duration,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CheckError> {
        let slot = tokio::time::timeout(wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| CheckError::Busy)?
            .map_err(|_| CheckError::Busy)?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The slot is held until the check ends, even if the browser went away meanwhile.
            let _slot = slot;
            let _ = tx.send(check());
        });
        self.jobs.send(job).map_err(|_| CheckError::Lost)?;
        rx.await.map_err(|_| CheckError::Lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boom() -> u8 {
        panic!("a check that panics")
    }

    #[tokio::test]
    async fn checks_run_on_a_bounded_number_of_threads_and_the_rest_are_turned_away() {
        assert!((1..=MAX_THREADS).contains(&PasswordChecks::default().slots.available_permits()));
        let checks = Arc::new(PasswordChecks::new(2));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut running = Vec::new();
        for _ in 0..2 {
            let (checks, gate) = (checks.clone(), gate.clone());
            running.push(tokio::spawn(async move {
                checks
                    .run(Duration::from_secs(60), move || {
                        let _ = gate.lock().unwrap().recv();
                        std::thread::current().name().map(str::to_owned)
                    })
                    .await
            }));
        }
        // Both threads are held (each holds its slot until its job ends): a third is turned away.
        while checks.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let third = checks.run(Duration::from_millis(10), || ()).await;
        assert_eq!(third, Err(CheckError::Busy));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for r in running {
            let name = r.await.unwrap().unwrap().unwrap();
            assert!(name.starts_with("password-check-"), "{name}");
        }
        // A check that panics loses its answer, not its thread.
        let lost = checks.run(Duration::from_secs(60), boom).await;
        assert_eq!(lost, Err(CheckError::Lost));
        for _ in 0..3 {
            assert_eq!(checks.run(Duration::from_secs(60), || 7).await, Ok(7));
        }
    }
}
