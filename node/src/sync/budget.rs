//! The node-wide memory budget for received runs in flight: a run holds its encoded size from
//! the moment it is taken off a session's stream until the writer has verified and applied
//! (or refused) it. A session that finds the budget spent waits, and while it waits it reads
//! nothing more from its stream, so HTTP/2 flow control holds the sender back: however many
//! sessions deliver at once, the runs they hold together stay within the budget.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default budget: 64 MiB.
pub const DEFAULT_BYTES: usize = 64 << 20;

/// Bytes of received runs all sessions may hold at once.
#[derive(Debug, Clone)]
pub struct RunBudget {
    /// One permit per byte.
    bytes: Arc<Semaphore>,
    /// The whole budget, so a run larger than it can still go (alone).
    total: usize,
}

impl Default for RunBudget {
    fn default() -> Self {
        Self::new(DEFAULT_BYTES)
    }
}

/// Bytes held for one run; given back when dropped.
#[derive(Debug)]
pub struct Reserved {
    /// The bytes, as semaphore permits (none if the budget was closed, which it never is).
    _permit: Option<OwnedSemaphorePermit>,
}

impl RunBudget {
    /// A budget of `total` bytes (at least one; at most 4 GiB).
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, u32::MAX as usize);
        Self {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Waits until `bytes` of the budget are free and holds them. A run larger than the whole
    /// budget waits for all of it, so it is never refused for size here (frames are bounded
    /// by the transport), only kept alone.
    pub async fn reserve(&self, bytes: usize) -> Reserved {
        let n = bytes.clamp(1, self.total) as u32;
        // The semaphore is never closed, so this always holds the bytes.
        let permit = self.bytes.clone().acquire_many_owned(n).await.ok();
        Reserved { _permit: permit }
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// The whole budget.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_reservation_waits_until_the_budget_has_room() {
        let budget = RunBudget::new(100);
        let first = budget.reserve(60).await;
        assert_eq!(budget.available(), 40);
        let second = budget.reserve(60);
        tokio::pin!(second);
        // No room: the second waits (polled once, still pending) and allocates nothing.
        assert!((&mut second).now_or_never().is_none());
        drop(first);
        let _second = second.await;
        assert_eq!(budget.available(), 40);
    }

    #[tokio::test]
    async fn a_run_larger_than_the_budget_goes_alone() {
        let budget = RunBudget::new(100);
        let big = budget.reserve(1_000).await;
        assert_eq!(budget.available(), 0);
        drop(big);
        assert_eq!(budget.available(), 100);
    }
}
