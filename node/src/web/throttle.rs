//! Progressive delays for sign-in attempts, instead of a lockout a stranger could trigger.
//!
//! Every attempt is counted as a failure *before* its password is checked (one lock, so N
//! parallel guesses are N counts); a right password takes its count back. Counts are kept
//! for three keys:
//!
//! - the **(account, address)** pair: after [`PAIR_FREE`] failures it waits
//!   `signin_delay`, then twice that after each further failure, up to [`MAX_DELAY`]. This is
//!   what stops one address guessing one account, and it stops nobody else.
//! - the **address** (an IPv6 address by its /64): after [`ADDRESS_FREE`] failures for any
//!   accounts, the same doubling. This stops one address spraying passwords over many accounts.
//! - the **account** from every address: after [`ACCOUNT_FREE`] failures, the same doubling,
//!   but only for addresses that already failed for this account. A pair with no failures
//!   passes, so a botnet cannot keep the real user out, while each of its addresses gets one
//!   guess before it waits with all the others.
//!
//! Attempts inside a delay never reach argon2 and are not counted (so hammering costs the
//! real user nothing). A key's failures are forgotten [`FORGET_AFTER`] after its last one.
//! The clock is a parameter of the `*_at` functions, so the unit tests need no sleeps.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one account from one address before it must wait.
pub const PAIR_FREE: u32 = 5;
/// Failures from one address (any accounts) before it must wait.
pub const ADDRESS_FREE: u32 = 20;
/// Failures of one account (from every address) before addresses that failed for it wait.
pub const ACCOUNT_FREE: u32 = 10;
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(5 * 60);
/// A key's failures are forgotten this long after its last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most keys tracked; the quietest go first beyond it.
const MAX_TRACKED: usize = 100_000;

/// An address as it is counted: IPv4 whole, IPv6 by its /64 (one subscriber's prefix, which
/// an attacker can fill with addresses at will).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(IpAddr);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Self(IpAddr::V6(Ipv6Addr::new(
                    s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                )))
            }
            v4 => Self(v4),
        }
    }
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, AddrKey),
    Address(AddrKey),
    Account(String),
}

/// The failures of one key.
#[derive(Debug, Clone, Copy)]
struct Tally {
    /// Failures, counting attempts still being checked.
    failures: u32,
    /// The latest failure (or admitted attempt): delays run from it.
    last: Instant,
}

/// Failed sign-ins per (account, address), per address and per account.
#[derive(Debug)]
pub struct Throttle {
    /// The first delay, doubled with each further failure.
    base: Duration,
    tallies: Mutex<HashMap<Key, Tally>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

/// An attempt let through to the password check; counted as a failure until
/// [`Attempt::succeeded`] or [`Attempt::unchecked`] says otherwise (dropped, it stays one).
#[derive(Debug)]
#[must_use = "say how the attempt ended"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    name: String,
    addr: AddrKey,
}

/// The delay owed after `failures` by a key that has `free` of them.
fn delay(base: Duration, free: u32, failures: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(20);
    base.saturating_mul(1 << doublings).min(MAX_DELAY.max(base))
}

impl Throttle {
    /// A throttle whose first delay is `base`.
    pub fn new(base: Duration) -> Self {
        Self {
            base,
            tallies: Mutex::default(),
        }
    }

    /// Lets `name` from `ip` try a password now (counting it), or says how long it must wait.
    pub fn admit(&self, name: &str, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        self.admit_at(name, ip, Instant::now())
    }

    /// [`Throttle::admit`] at `now`.
    pub fn admit_at(&self, name: &str, ip: IpAddr, now: Instant) -> Result<Attempt<'_>, Duration> {
        let addr = AddrKey::from(ip);
        let keys = keys(name, addr);
        let mut t = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let mut tally = |key: &Key| -> Option<Tally> {
            let found = t.get(key).copied()?;
            if now.saturating_duration_since(found.last) >= FORGET_AFTER {
                t.remove(key);
                return None;
            }
            Some(found)
        };
        let pair = tally(&keys[0]);
        let address = tally(&keys[1]);
        let account = tally(&keys[2]);
        let owed = |tally: Option<Tally>, free: u32| {
            tally.map_or(Duration::ZERO, |x| {
                let d = delay(self.base, free, x.failures);
                // A failure stamped after `now` (a request that read the clock later but took
                // the lock first) still owes no more than its delay.
                (x.last + d).saturating_duration_since(now).min(d)
            })
        };
        let mut wait = owed(pair, PAIR_FREE).max(owed(address, ADDRESS_FREE));
        // An address with no failures for this account is not held back by other addresses'.
        if pair.is_some() {
            wait = wait.max(owed(account, ACCOUNT_FREE));
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if t.len() + keys.len() > MAX_TRACKED {
            make_room(&mut t, now);
        }
        for key in keys {
            let x = t.entry(key).or_insert(Tally {
                failures: 0,
                last: now,
            });
            x.failures = x.failures.saturating_add(1);
            x.last = now;
        }
        Ok(Attempt {
            throttle: self,
            name: name.to_owned(),
            addr,
        })
    }

    /// The failures counted for `name` from `ip` (pair, address, account), for tests and logs.
    pub fn failures(&self, name: &str, ip: IpAddr) -> [u32; 3] {
        let t = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        keys(name, AddrKey::from(ip)).map(|k| t.get(&k).map_or(0, |x| x.failures))
    }
}

/// Drops forgotten keys; if that is not enough, the quietest tenth.
fn make_room(t: &mut HashMap<Key, Tally>, now: Instant) {
    t.retain(|_, x| now.saturating_duration_since(x.last) < FORGET_AFTER);
    if t.len() + 3 <= MAX_TRACKED {
        return;
    }
    let mut by_age: Vec<(Instant, Key)> = t.iter().map(|(k, x)| (x.last, k.clone())).collect();
    let cut = by_age.len() / 10;
    by_age.select_nth_unstable_by_key(cut, |(last, _)| *last);
    for (_, key) in by_age.into_iter().take(cut + 1) {
        t.remove(&key);
    }
}

fn keys(name: &str, addr: AddrKey) -> [Key; 3] {
    [
        Key::Pair(name.to_owned(), addr),
        Key::Address(addr),
        Key::Account(name.to_owned()),
    ]
}

impl Attempt<'_> {
    /// The password was wrong: the count stays and the delay runs from now.
    pub fn failed(self) {
        self.failed_at(Instant::now());
    }

    /// [`Attempt::failed`] at `now`.
    pub fn failed_at(self, now: Instant) {
        let mut t = self
            .throttle
            .tallies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for key in keys(&self.name, self.addr) {
            if let Some(x) = t.get_mut(&key) {
                x.last = x.last.max(now);
            }
        }
    }

    /// The password was right: the pair starts over; the address and the account take this
    /// attempt back but keep others' failures (a right password for one's own account must
    /// not wipe the count of guesses at others).
    pub fn succeeded(self) {
        let mut t = self
            .throttle
            .tallies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let [pair, address, account] = keys(&self.name, self.addr);
        t.remove(&pair);
        take_back(&mut t, address);
        take_back(&mut t, account);
    }

    /// The password could not be checked (the server was busy or failed): not a failure.
    pub fn unchecked(self) {
        let mut t = self
            .throttle
            .tallies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for key in keys(&self.name, self.addr) {
            take_back(&mut t, key);
        }
    }
}

fn take_back(t: &mut HashMap<Key, Tally>, key: Key) {
    if let Some(x) = t.get_mut(&key) {
        x.failures = x.failures.saturating_sub(1);
        if x.failures == 0 {
            t.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parallel_attempts_are_counted_before_their_check() {
        let th = Throttle::new(S);
        let t0 = Instant::now();
        // Fourteen attempts before any answer: only the free ones get through.
        let (through, refused): (Vec<_>, Vec<_>) = (0..14)
            .map(|_| th.admit_at("wang", ip("10.0.0.1"), t0))
            .partition(Result::is_ok);
        assert_eq!(through.len(), PAIR_FREE as usize);
        assert!(refused.iter().all(|r| r.as_ref().err() == Some(&S)));
        assert_eq!(th.failures("wang", ip("10.0.0.1")), [5, 5, 5]);
    }

    #[test]
    fn a_failure_stamped_after_now_owes_no_more_than_its_delay() {
        let th = Throttle::new(S);
        let a = ip("10.0.0.9");
        let now = Instant::now();
        let later = now + Duration::from_millis(300);
        for _ in 0..PAIR_FREE {
            th.admit_at("wang", a, later).unwrap().failed_at(later);
        }
        let wait = th.admit_at("wang", a, now).unwrap_err();
        assert_eq!(
            wait,
            delay(S, PAIR_FREE, PAIR_FREE),
            "not the delay plus 300 ms"
        );
    }

    #[test]
    fn delays_double_up_to_the_cap_and_a_success_starts_the_pair_over() {
        let th = Throttle::new(S);
        let a = ip("10.0.0.1");
        let mut now = Instant::now();
        for _ in 0..PAIR_FREE {
            th.admit_at("wang", a, now).unwrap().failed_at(now);
        }
        let mut waits = Vec::new();
        for _ in 0..12 {
            let wait = th.admit_at("wang", a, now).unwrap_err();
            // Still inside the delay: refused, and not counted.
            assert_eq!(
                th.admit_at("wang", a, now + wait / 2).unwrap_err(),
                wait / 2
            );
            waits.push(wait.as_secs());
            now += wait;
            th.admit_at("wang", a, now).unwrap().failed_at(now);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        // The delay runs from the answer, not from when the check began.
        let wait = th.admit_at("wang", a, now).unwrap_err();
        now += wait;
        let attempt = th.admit_at("wang", a, now).unwrap();
        assert!(
            th.admit_at("wang", a, now).is_err(),
            "counted while checked"
        );
        attempt.succeeded();
        assert!(th.admit_at("wang", a, now).is_ok());
        // Quiet for long enough, everything is forgotten.
        let th = Throttle::new(S);
        for _ in 0..PAIR_FREE {
            th.admit_at("li", a, now).unwrap().failed_at(now);
        }
        assert!(th.admit_at("li", a, now).is_err());
        assert!(th.admit_at("li", a, now + FORGET_AFTER).is_ok());
    }

    #[test]
    fn strangers_elsewhere_do_not_stop_a_clean_address() {
        let th = Throttle::new(S);
        let now = Instant::now();
        // Two strangers, five failures each: the account has used its free failures.
        for n in 1..=2 {
            for _ in 0..PAIR_FREE {
                th.admit_at("wang", ip(&format!("10.0.0.{n}")), now)
                    .unwrap()
                    .failed_at(now);
            }
        }
        assert_eq!(th.failures("wang", ip("10.0.0.1"))[2], ACCOUNT_FREE);
        // The real user from a clean address is let through to the password check.
        th.admit_at("wang", ip("10.9.9.9"), now)
            .unwrap()
            .succeeded();
        // A third stranger gets one guess, then waits with the others.
        th.admit_at("wang", ip("10.0.0.5"), now)
            .unwrap()
            .failed_at(now);
        assert!(th.admit_at("wang", ip("10.0.0.5"), now).is_err());
        // Another account from a stranger's address is not held back by "wang"'s failures.
        assert!(th.admit_at("li", ip("10.0.0.1"), now).is_ok());
    }

    #[test]
    fn an_address_spraying_accounts_waits_and_success_does_not_clear_it() {
        let th = Throttle::new(S);
        let now = Instant::now();
        let a = ip("2001:db8::1");
        for n in 0..ADDRESS_FREE {
            // Another address in the same /64 counts as the same one.
            let from = if n % 2 == 0 { a } else { ip("2001:db8::ffff") };
            th.admit_at(&format!("user{n}"), from, now)
                .unwrap()
                .failed_at(now);
        }
        assert_eq!(th.admit_at("fresh", a, now).unwrap_err(), S);
        assert!(
            th.admit_at("fresh", ip("2001:db8:0:1::1"), now).is_ok(),
            "another /64"
        );
        // Signing in to one's own account does not wipe the guesses at others.
        let now = now + S;
        th.admit_at("mine", a, now).unwrap().succeeded();
        assert_eq!(th.failures("x", a)[1], ADDRESS_FREE);
        // An unchecked attempt (the server was busy) is taken back everywhere.
        let th = Throttle::new(S);
        th.admit_at("wang", a, now).unwrap().unchecked();
        assert_eq!(th.failures("wang", a), [0, 0, 0]);
    }

    #[test]
    fn the_table_stays_bounded() {
        let th = Throttle::new(S);
        let now = Instant::now();
        for n in 0..(MAX_TRACKED as u32 / 2) {
            let from = IpAddr::from(std::net::Ipv4Addr::from(n));
            let _counted = th.admit_at("wang", from, now);
        }
        let len = th.tallies.lock().unwrap().len();
        assert!(len <= MAX_TRACKED, "{len}");
    }
}
