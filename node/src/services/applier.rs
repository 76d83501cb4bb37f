//! The view applier: keeps the views current with entries received from peers, off the
//! writer thread, gathering commits under sustained traffic and yielding to sync while it
//! stores a backlog. Applying itself is [`crate::dispatch`]'s.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::dispatch::apply_pending;
use crate::overview;
use crate::store::{Store, StoreError};
use crate::writer::Urgent;

/// Entries the view applier applies per pass.
const APPLY_SLICE: u64 = 5000;

/// Under sustained traffic, let commits gather after the first: one pass applies them all.
/// Views of received entries lag by this much more; in return the applier runs a few times
/// less often, which at 1,000 entries/s across ten nodes on two cores took a quarter off the
/// sync latencies.
const GATHER: Duration = Duration::from_millis(50);
/// A commit after this long without one is applied at once: sporadic traffic (an alert, its
/// acknowledgment) gains nothing from gathering, and each gather was half of an alert's
/// issue-to-acknowledgment round trip.
const QUIET: Duration = Duration::from_millis(100);

/// How long to let commits gather after one arrives `since_last` after the last pass that
/// applied received entries; never when those entries include communications people wait on.
fn gather_after(since_last: Duration, urgent: bool) -> Duration {
    if urgent || since_last >= QUIET {
        Duration::ZERO
    } else {
        GATHER
    }
}
/// While sync is storing a backlog, the applier rests this many times as long as its last
/// slice took: views get about a quarter of a core, sync the rest (views were over 40 % of
/// the CPU during a catch-up, slowing it), and views catch up when sync quiets down.
const YIELD_FACTOR: u32 = 3;

/// What the applier does after a pass.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Apply the next slice at once.
    Apply,
    /// Rest this long, then apply the next slice.
    Rest(Duration),
    /// Everything is applied: wait for the next commit.
    Wait,
}

/// After a pass that applied `applied` entries in `busy`, with `sync_active` telling whether
/// the writer committed meanwhile.
fn next_after(applied: u64, busy: Duration, sync_active: bool) -> Next {
    if applied < APPLY_SLICE {
        Next::Wait
    } else if sync_active {
        Next::Rest(busy * YIELD_FACTOR)
    } else {
        Next::Apply
    }
}

/// Keeps the views current with entries received from peers: after every commit, applies
/// what is new, off the writer thread, yielding to sync while it stores a backlog (see
/// [`YIELD_FACTOR`]). The feeds of `origin` (this node) are not its business: the writer
/// applies every entry of them in the commit that stores it, as it must check commands
/// against them (and a commit may be seen half-applied for a moment: the applier could
/// otherwise find an entry of this node stored but not yet marked applied). Bumps `passes`
/// after every pass that applied something. Lets commits gather under sustained traffic,
/// not after a quiet spell nor when `urgent` says communications arrived. Ends when the
/// writer stops; it does not watch the stop signal. Runs as the worker `view-applier` (see
/// [`super::worker`]); it logs its errors and goes on, so it never fails.
pub async fn run(
    lock: Arc<std::sync::Mutex<()>>,
    store: Arc<dyn Store>,
    mut commits: watch::Receiver<u64>,
    urgent: Urgent,
    origin: String,
    passes: watch::Sender<u64>,
) -> Result<(), Infallible> {
    // When a pass last applied received entries: the traffic the gathering is for
    // (this node's own commits wake the applier too, but give it nothing to apply).
    let mut last_applied = Instant::now();
    loop {
        let s = store.clone();
        let own = origin.clone();
        let lock = lock.clone();
        commits.borrow_and_update();
        let started = Instant::now();
        // In slices, so a large backlog never holds up shutdown for long.
        let applied = match tokio::task::spawn_blocking(move || {
            // Not while the writer rebuilds the views after a re-key.
            let _views = lock.lock().unwrap_or_else(|p| p.into_inner());
            let n = apply_pending(s.as_ref(), APPLY_SLICE, Some(&own))?;
            // This task alone writes the linked-risk index (see `overview::linked`).
            overview::linked::fold_pending(s.as_ref())?;
            Ok::<_, StoreError>(n)
        })
        .await
        {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "applying received entries to the views failed");
                0
            }
            Err(e) => {
                tracing::error!(error = %e, "view applier panicked");
                0
            }
        };
        if applied > 0 {
            passes.send_modify(|n| *n += 1);
            last_applied = Instant::now();
        }
        let sync_active = commits.has_changed().unwrap_or(false);
        match next_after(applied, started.elapsed(), sync_active) {
            Next::Apply => continue,
            Next::Rest(d) => {
                tokio::time::sleep(d).await;
                continue;
            }
            Next::Wait => {}
        }
        if commits.changed().await.is_err() {
            break;
        }
        let gather = gather_after(last_applied.elapsed(), urgent.take());
        if !gather.is_zero() {
            // Communications arriving meanwhile end the gathering.
            tokio::select! {
                _ = tokio::time::sleep(gather) => {}
                _ = urgent.wait() => {}
            }
            urgent.take();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_gather_only_under_sustained_traffic() {
        assert_eq!(gather_after(Duration::from_millis(5), false), GATHER);
        assert_eq!(gather_after(Duration::from_millis(5), true), Duration::ZERO);
        assert_eq!(gather_after(QUIET, false), Duration::ZERO);
        assert_eq!(gather_after(Duration::from_secs(30), false), Duration::ZERO);
    }

    #[test]
    fn the_applier_yields_to_sync_only_while_it_stores_a_backlog() {
        let ms = Duration::from_millis;
        assert_eq!(next_after(10, ms(1), true), Next::Wait);
        assert_eq!(next_after(APPLY_SLICE, ms(40), false), Next::Apply);
        assert_eq!(
            next_after(APPLY_SLICE, ms(40), true),
            Next::Rest(ms(40) * YIELD_FACTOR)
        );
    }
}
