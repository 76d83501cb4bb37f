//! Figures: latency percentiles, spreads over runs, peak memory, and the one line (or JSON
//! object) each workload prints.

use std::time::Duration;

use serde_json::{json, Value};

/// Latencies, sorted once so percentiles are lookups.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    /// Sorts `samples`.
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.0–1.0), nearest rank; zero when there are no samples.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[i.min(self.0.len() - 1)]
    }

    /// p50, p99 and max in milliseconds, as JSON fields.
    pub fn summary(&self) -> Value {
        json!({
            "samples": self.len(),
            "p50_ms": ms(self.quantile(0.5)),
            "p99_ms": ms(self.quantile(0.99)),
            "max_ms": ms(self.quantile(1.0)),
        })
    }

    /// `p50 … ms, p99 … ms, max … ms`.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.quantile(1.0))
        )
    }
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Min, median and max of per-run rates, as JSON fields.
pub fn spread(rates: &[f64]) -> Value {
    let mut r = rates.to_vec();
    r.sort_by(f64::total_cmp);
    let pick = |i: usize| r.get(i).copied().unwrap_or(0.0);
    json!({
        "runs": rates,
        "min": pick(0),
        "median": pick(r.len() / 2),
        "max": pick(r.len().saturating_sub(1)),
    })
}

/// The process's peak resident memory in MiB (0 where /proc is missing).
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// The process's resident memory now, in MiB (0 where /proc is missing).
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// A `kB` field of /proc/self/status in MiB.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// What one workload measured on one system.
pub struct Outcome {
    /// `catch-up`, `fan-out`, `writes`, `province`, `alert-round-trip`, `dashboard-scale`.
    pub workload: &'static str,
    /// `fenghuo` or `nats`.
    pub system: &'static str,
    /// What an acknowledged write promises, in words (printed beside every figure).
    pub durability: String,
    /// The figures, for scripts.
    pub figures: Value,
    /// The figures, for people.
    pub line: String,
}

impl Outcome {
    /// Prints one line, or with `json` one JSON object (the script collects these).
    pub fn print(self, json: bool) {
        if json {
            let mut v = self.figures;
            v["workload"] = self.workload.into();
            v["system"] = self.system.into();
            v["durability"] = self.durability.into();
            println!("{v}");
        } else {
            println!(
                "{} [{}; {}]: {}",
                self.workload, self.system, self.durability, self.line
            );
        }
    }
}

impl Outcome {
    /// A live fan-out's outcome: `records` written over `wrote` to `receivers` (called
    /// `receivers_noun` in the line), with latencies `l`.
    pub fn fan_out(
        system: &'static str,
        durability: &str,
        receivers: usize,
        receivers_noun: &str,
        records: u64,
        wrote: Duration,
        l: &Latencies,
    ) -> Self {
        let achieved = records as f64 / wrote.as_secs_f64();
        let mut figures = l.summary();
        figures["receivers"] = receivers.into();
        figures["records"] = records.into();
        figures["rate"] = achieved.into();
        Self {
            workload: "fan-out",
            system,
            durability: durability.into(),
            line: format!(
                "{records} records at {achieved:.0}/s to {receivers} {receivers_noun} ({} samples): {}",
                l.len(),
                l.line()
            ),
            figures,
        }
    }
}

/// `N records, R runs: min …, median …, max … records/s` from a [`spread`].
pub fn spread_line(records: u64, runs: usize, s: &Value) -> String {
    let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
    format!(
        "{records} records, {runs} runs: min {:.0}, median {:.0}, max {:.0} records/s",
        f("min"),
        f("median"),
        f("max")
    )
}

/// 200 bytes, the record size every workload writes on both systems; `i` makes each unique.
pub fn record(i: u64) -> String {
    const FILL: &str = "Video of a crowd outside the township office is being reposted with claims that compensation was withheld; local accounts ask for a gathering on Saturday at nine in the morning near the gate.";
    let mut s = format!("{i:012} {FILL}");
    s.truncate(RECORD_BYTES);
    while s.len() < RECORD_BYTES {
        s.push('.');
    }
    s
}

/// The size of every benchmark record.
pub const RECORD_BYTES: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_200_bytes_and_unique() {
        assert_eq!(record(0).len(), RECORD_BYTES);
        assert_eq!(record(u64::MAX).len(), RECORD_BYTES);
        assert_ne!(record(1), record(2));
    }

    #[test]
    fn quantiles_pick_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.quantile(0.0), Duration::from_millis(1));
        assert_eq!(l.quantile(0.99), Duration::from_millis(99));
        assert_eq!(l.quantile(1.0), Duration::from_millis(100));
        assert_eq!(Latencies::new(vec![]).quantile(0.5), Duration::ZERO);
    }

    #[test]
    fn spread_orders_runs() {
        let s = spread(&[3.0, 1.0, 2.0]);
        assert_eq!(s["min"], 1.0);
        assert_eq!(s["median"], 2.0);
        assert_eq!(s["max"], 3.0);
    }
}
