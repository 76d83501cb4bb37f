//! Driving load the same way on both systems: concurrent writers that each wait for their
//! acknowledgment, writes paced at a steady rate, and latencies from send and arrival times.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinHandle;

use crate::stats::Latencies;

/// Runs operations `0..n` on `writers` concurrent tasks, each waiting for its operation before
/// taking the next number; returns the elapsed time and every operation's latency.
pub async fn concurrent<F, Fut>(
    writers: usize,
    n: u64,
    op: F,
) -> anyhow::Result<(Duration, Vec<Duration>)>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let next = next.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                op(i).await?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok((started.elapsed(), lat))
}

/// Starts operations `0..records` at `rate` per second, each in its own task, and waits for
/// them all; returns the elapsed time and, for each key an operation returns (the number its
/// receivers will know the record by), when that operation started.
pub async fn paced<F, Fut>(
    rate: u64,
    records: u64,
    op: F,
) -> anyhow::Result<(Duration, HashMap<u64, Instant>)>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut writes = Vec::new();
    for i in 0..records {
        tick.tick().await;
        let t = Instant::now();
        let write = op(i);
        writes.push(tokio::spawn(async move { anyhow::Ok((write.await?, t)) }));
    }
    let mut sent = HashMap::new();
    for w in writes {
        let (key, t) = w.await??;
        sent.insert(key, t);
    }
    Ok((started.elapsed(), sent))
}

/// What a receiver saw: each record's key and when it arrived.
pub type Arrivals = Vec<(u64, Instant)>;

/// Joins every receiver's arrivals with the send times: one latency per record per receiver.
/// `receivers` names them in the error when one does not finish within 60 s.
pub async fn latencies(
    watchers: Vec<JoinHandle<anyhow::Result<Arrivals>>>,
    sent: &HashMap<u64, Instant>,
    receivers: &str,
) -> anyhow::Result<Latencies> {
    let mut samples = Vec::new();
    for w in watchers {
        let arrivals = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .with_context(|| format!("{receivers} did not get every record within 60 s"))???;
        samples.extend(
            arrivals
                .into_iter()
                .filter_map(|(key, at)| sent.get(&key).map(|t| at.saturating_duration_since(*t))),
        );
    }
    Ok(Latencies::new(samples))
}
