//! Waiting for a condition, never for a duration: a bounded loop of short attempts.
//!
//! For things that become true asynchronously by design (a node re-reads crl.pem every
//! couple of seconds). Starting a node never needs this: it signals readiness itself.

use std::time::{Duration, Instant};

/// Calls `attempt` every `interval` until it returns `Some`, and returns that; panics with
/// `what` and the last attempt's description once `timeout` has passed.
#[track_caller]
pub fn until<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt() {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!("gave up waiting for {what} after {tries} attempts in {timeout:?}; last attempt: {last}");
                }
            }
        }
        std::thread::sleep(interval);
    }
}
