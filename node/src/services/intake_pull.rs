//! Intake's RSS/Atom pull: one worker per configured feed (`[[intake.feeds]]` in node.toml)
//! fetches it every `every_secs`, makes its entries observations ([`crate::intake::feed`]),
//! keeps those that pass their checks, and hands them to a sink (the task that records
//! intake), so the pull knows nothing of the store.
//!
//! Polite to the sites it reads: a conditional GET (the last `ETag` and `Last-Modified`
//! sent back, a `304 Not Modified` is nothing new), bounded time and size per fetch, and on
//! failure a wait that doubles up to [`MAX_BACKOFF`], back to `every_secs` on the next
//! success. A failure streak is logged once, at its start; its end once, too. Each feed's
//! [`FeedStatus`] is kept for the health views.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::identity::validate_name;
use crate::intake::feed::{self, FeedError, Parsed};
use crate::intake::Observation;
use crate::services::worker::{self, Workers};
use crate::timespec::now_ms;

/// A feed's poll interval when the config names none.
pub const DEFAULT_EVERY_SECS: u64 = 300;
/// The shortest poll interval allowed: sites block readers that poll faster.
pub const MIN_EVERY_SECS: u64 = 30;
/// The longest wait after failures (or the feed's interval, if longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The largest feed document read; a larger response is a failure.
pub const MAX_FEED_BYTES: usize = 10 << 20;
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may stay silent mid-response.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one whole fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Where observations go: each fetch's checked observations as one batch.
pub type Sink = mpsc::Sender<Vec<Observation>>;

/// One feed to pull, as configured (`[[intake.feeds]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSource {
    /// The system name its observations carry (`[a-z0-9][a-z0-9_-]*`), unique per node; also
    /// the worker's name (`intake-pull <name>`).
    pub name: String,
    /// The feed's http(s) URL.
    pub url: String,
    /// The platform its observations are on (`某县论坛`, `news`).
    pub platform: String,
    /// Seconds between polls; at least [`MIN_EVERY_SECS`].
    #[serde(default = "default_every_secs")]
    pub every_secs: u64,
}

fn default_every_secs() -> u64 {
    DEFAULT_EVERY_SECS
}

impl FeedSource {
    /// Whether the source can be pulled: a system name, an http(s) URL, a platform, an
    /// interval of at least [`MIN_EVERY_SECS`].
    pub fn check(&self) -> Result<(), PullError> {
        let refuse = |reason: String| {
            Err(PullError::Config {
                name: self.name.clone(),
                reason,
            })
        };
        if validate_name(&self.name).is_err() {
            return refuse("name: not a name of lower-case letters, digits, '-' and '_'".into());
        }
        let url = self.url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) {
            return refuse(format!("url: {url:?} is not an http(s) URL"));
        }
        if self.platform.trim().is_empty() {
            return refuse("platform: empty".into());
        }
        if self.every_secs < MIN_EVERY_SECS {
            return refuse(format!(
                "every_secs: {} is below the least, {MIN_EVERY_SECS}",
                self.every_secs
            ));
        }
        Ok(())
    }

    /// The poll interval, never below [`MIN_EVERY_SECS`].
    pub fn every(&self) -> Duration {
        Duration::from_secs(self.every_secs.max(MIN_EVERY_SECS))
    }
}

/// Why a feed was not pulled, or its pull worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// A configured feed is not usable; names the feed and the key.
    #[error("intake feed {name:?}: {reason}")]
    Config {
        /// The feed's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two feeds have one name.
    #[error("intake feed {0:?} is configured twice")]
    Duplicate(String),
    /// The HTTP client could not be built (no TLS roots).
    #[error("HTTP client: {0}")]
    Client(String),
    /// The request failed: no connection, TLS, a timeout, the connection dropped.
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// The server answered other than 2xx or 304.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The document is larger than [`MAX_FEED_BYTES`].
    #[error("response larger than {MAX_FEED_BYTES} bytes")]
    TooLarge,
    /// The document is not a feed.
    #[error(transparent)]
    Parse(#[from] FeedError),
    /// The sink's receiver is gone: nothing would record what is pulled.
    #[error("the receiver of intake observations has closed")]
    SinkClosed,
}

/// One feed's pull, as the health views show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStatus {
    /// The feed's name.
    pub name: String,
    /// When it was last fetched (or tried), Unix ms.
    pub last_attempt_ms: Option<i64>,
    /// When it was last fetched successfully (304 included), Unix ms.
    pub last_success_ms: Option<i64>,
    /// Why the last fetch failed, if it did; cleared by a success.
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Observations handed on from the last successful fetch (0 for a 304).
    pub items_last_fetched: usize,
    /// Entries of the last successful fetch left out: without a link, or failing the checks.
    pub skipped_last_fetched: usize,
    /// When the next fetch is due, Unix ms.
    pub next_attempt_ms: Option<i64>,
}

/// The statuses of one node's feeds, shared by the pull workers and the health views.
#[derive(Debug, Default)]
pub struct FeedStatuses {
    /// By feed name.
    statuses: Mutex<BTreeMap<String, FeedStatus>>,
}

impl FeedStatuses {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Every feed's status, sorted by name.
    pub fn snapshot(&self) -> Vec<FeedStatus> {
        self.lock().values().cloned().collect()
    }

    /// The status of feed `name`, if it has been started.
    pub fn get(&self, name: &str) -> Option<FeedStatus> {
        self.lock().get(name).cloned()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut FeedStatus)) {
        let mut map = self.lock();
        let status = map.entry(name.to_owned()).or_insert_with(|| FeedStatus {
            name: name.to_owned(),
            ..FeedStatus::default()
        });
        change(status);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, FeedStatus>> {
        // Each write is one small update: a panic holding the lock leaves the map whole.
        self.statuses.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What one fetch brought.
#[derive(Debug)]
pub enum Fetched {
    /// `304 Not Modified`: nothing new since the last fetch.
    NotModified,
    /// The feed's entries (not yet checked).
    Feed(Parsed),
}

/// The HTTP(S) client the pull uses: rustls with the public (webpki) roots, bounded
/// connect, read and total times, at most 5 redirects.
pub fn client() -> Result<reqwest::Client, PullError> {
    reqwest::Client::builder()
        .user_agent(concat!("fenghuo-intake/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| PullError::Client(error_chain(&e)))
}

/// The wait before the next poll after `failures` failures in a row: the interval, doubled
/// per failure, at most [`MAX_BACKOFF`] (or the interval, if that is longer).
pub fn backoff(every: Duration, failures: u32) -> Duration {
    let cap = MAX_BACKOFF.max(every);
    every
        .checked_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
        .map_or(cap, |d| d.min(cap))
}

/// One feed's fetcher: what it remembers between fetches (the validators of the last
/// document, the failure streak).
#[derive(Debug)]
pub struct Poller {
    /// The feed.
    source: FeedSource,
    /// The shared client.
    client: reqwest::Client,
    /// The `ETag` of the last document parsed, sent as `If-None-Match`.
    etag: Option<String>,
    /// Its `Last-Modified`, sent as `If-Modified-Since`.
    last_modified: Option<String>,
    /// Failures since the last success.
    failures: u32,
}

impl Poller {
    /// A poller of `source` that has fetched nothing yet.
    pub fn new(source: FeedSource, client: reqwest::Client) -> Self {
        Self {
            source,
            client,
            etag: None,
            last_modified: None,
            failures: 0,
        }
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait before the next fetch: the interval, or the backoff after failures.
    pub fn delay(&self) -> Duration {
        backoff(self.source.every(), self.failures)
    }

    /// Fetches the feed once (`now_ms` caps the entries' times), counting the failure or
    /// resetting the count.
    pub async fn poll(&mut self, now_ms: i64) -> Result<Fetched, PullError> {
        let outcome = self.fetch(now_ms).await;
        match outcome {
            Ok(_) => self.failures = 0,
            Err(_) => self.failures = self.failures.saturating_add(1),
        }
        outcome
    }

    async fn fetch(&mut self, now_ms: i64) -> Result<Fetched, PullError> {
        let mut request = self.client.get(self.source.url.trim());
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &self.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| PullError::Fetch(error_chain(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(PullError::Status(status.as_u16()));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FEED_BYTES as u64)
        {
            return Err(PullError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| PullError::Fetch(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(PullError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let parsed = feed::parse(
            &body,
            &self.source.name,
            self.source.platform.trim(),
            now_ms,
        )?;
        // Remembered only once the document parsed: a broken one is fetched whole again.
        self.etag = etag;
        self.last_modified = last_modified;
        Ok(Fetched::Feed(parsed))
    }
}

/// An error with its causes (`error sending request: connection refused`): reqwest's own
/// message alone rarely says what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Pulls `source` until `stop` is set (or its sender dropped): fetch, hand the checked
/// observations to `sink`, record the status, wait. Fails only when the sink is closed.
pub async fn run(
    source: FeedSource,
    client: reqwest::Client,
    sink: Sink,
    statuses: Arc<FeedStatuses>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), PullError> {
    let span = tracing::info_span!("intake_pull", feed = %source.name);
    async move {
        let name = source.name.clone();
        let mut poller = Poller::new(source, client);
        // Failures in a row as last logged, to log a streak's start and end once each.
        let mut streak = 0;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let now = now_ms();
            statuses.update(&name, |s| s.last_attempt_ms = Some(now));
            let outcome = tokio::select! {
                outcome = poller.poll(now) => outcome,
                _ = stop.wait_for(|s| *s) => return Ok(()),
            };
            match outcome {
                Ok(fetched) => {
                    let (batch, skipped) = match fetched {
                        Fetched::NotModified => (Vec::new(), 0),
                        Fetched::Feed(parsed) => checked(parsed, now),
                    };
                    let items = batch.len();
                    tracing::debug!(items, skipped, "feed fetched");
                    if !batch.is_empty() {
                        tokio::select! {
                            sent = sink.send(batch) => sent.map_err(|_| PullError::SinkClosed)?,
                            _ = stop.wait_for(|s| *s) => return Ok(()),
                        }
                    }
                    if streak > 0 {
                        tracing::info!(failures = streak, "feed fetched again after failures");
                        streak = 0;
                    }
                    statuses.update(&name, |s| {
                        s.last_success_ms = Some(now);
                        s.last_error = None;
                        s.consecutive_failures = 0;
                        s.items_last_fetched = items;
                        s.skipped_last_fetched = skipped;
                    });
                }
                Err(e) => {
                    streak = poller.failures();
                    let retry_in_s = poller.delay().as_secs();
                    // Once per streak: a feed down for a day is one warning, not 24.
                    if streak == 1 {
                        tracing::warn!(error = %e, retry_in_s, "feed fetch failed; backing off");
                    } else {
                        tracing::debug!(error = %e, failures = streak, retry_in_s, "feed fetch failed again");
                    }
                    statuses.update(&name, |s| {
                        s.last_error = Some(e.to_string());
                        s.consecutive_failures = streak;
                    });
                }
            }
            let delay = poller.delay();
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let due = now_ms().saturating_add(delay_ms);
            statuses.update(&name, |s| s.next_attempt_ms = Some(due));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
    }
    .instrument(span)
    .await
}

/// The observations that pass their checks, and how many entries were left out (without a
/// link, or refused by the checks).
fn checked(parsed: Parsed, now_ms: i64) -> (Vec<Observation>, usize) {
    let mut skipped = parsed.without_link;
    let mut kept = Vec::with_capacity(parsed.observations.len());
    for o in parsed.observations {
        let url = o.url.clone();
        match o.check(now_ms) {
            Ok(o) => kept.push(o),
            Err(e) => {
                skipped += 1;
                tracing::debug!(%url, error = %e, "feed entry refused");
            }
        }
    }
    (kept, skipped)
}

/// Starts one pull worker per source (named `intake-pull <name>`), after checking them all;
/// each hands its observations to `sink` and writes its status in `statuses`.
pub fn spawn_all(
    workers: &Arc<Workers>,
    sources: &[FeedSource],
    sink: Sink,
    statuses: &Arc<FeedStatuses>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, PullError> {
    let mut names = std::collections::BTreeSet::new();
    for source in sources {
        source.check()?;
        if !names.insert(source.name.as_str()) {
            return Err(PullError::Duplicate(source.name.clone()));
        }
    }
    let client = client()?;
    Ok(sources
        .iter()
        .map(|source| {
            let (source, client, sink, statuses) = (
                source.clone(),
                client.clone(),
                sink.clone(),
                statuses.clone(),
            );
            worker::spawn(
                workers,
                format!("intake-pull {}", source.name),
                stop.clone(),
                move |stop| run(source, client, sink, statuses, stop),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the test server answers.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// The feed with `ETag: "v1"`, or 304 to a request that sends it back.
        Feed,
        /// 500.
        Broken,
        /// 200 with a page that is not a feed.
        NotAFeed,
        /// 200 announcing a body larger than the cap.
        Huge,
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>某县论坛</title><link>https://bbs.example.cn/</link><description>x</description>
<item><title>某村拆迁补偿款迟迟未发放</title><link>https://bbs.example.cn/t/1001</link><guid>bbs-1001</guid>
<pubDate>Mon, 07 Dec 2026 01:30:00 GMT</pubDate></item>
</channel></rss>"#;

    /// A one-request-per-connection HTTP server on 127.0.0.1 that records request heads.
    struct Server {
        url: String,
        mode: Arc<Mutex<Mode>>,
        requests: Arc<Mutex<Vec<String>>>,
    }

    impl Server {
        async fn start(mode: Mode) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/feed.xml", listener.local_addr().unwrap());
            let mode = Arc::new(Mutex::new(mode));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let (m, r) = (mode.clone(), requests.clone());
            tokio::spawn(async move {
                while let Ok((mut conn, _)) = listener.accept().await {
                    let (m, r) = (m.clone(), r.clone());
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match conn.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&head).to_lowercase();
                        r.lock().unwrap().push(head.clone());
                        let mode = *m.lock().unwrap();
                        let response = match mode {
                            Mode::Feed if head.contains("if-none-match: \"v1\"") => {
                                "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n".to_owned()
                            }
                            Mode::Feed => format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: \"v1\"\r\nLast-Modified: Mon, 07 Dec 2026 01:30:00 GMT\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{RSS}",
                                RSS.len()
                            ),
                            Mode::Broken => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                            Mode::NotAFeed => "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>".to_owned(),
                            Mode::Huge => format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n<rss>",
                                MAX_FEED_BYTES + 1
                            ),
                        };
                        let _ = conn.write_all(response.as_bytes()).await;
                        let _ = conn.shutdown().await;
                    });
                }
            });
            Server {
                url,
                mode,
                requests,
            }
        }

        fn set(&self, mode: Mode) {
            *self.mode.lock().unwrap() = mode;
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }

        fn source(&self) -> FeedSource {
            FeedSource {
                name: "bbs".into(),
                url: self.url.clone(),
                platform: "某县论坛".into(),
                every_secs: 60,
            }
        }
    }

    /// 2026-12-07 10:30 +08:00: after the sample's entry.
    const NOW: i64 = 1_796_610_600_000;

    #[tokio::test]
    async fn a_second_fetch_is_conditional_and_a_304_brings_nothing() {
        let server = Server::start(Mode::Feed).await;
        let mut poller = Poller::new(server.source(), client().unwrap());
        let Fetched::Feed(parsed) = poller.poll(NOW).await.unwrap() else {
            panic!("expected the feed");
        };
        assert_eq!(parsed.observations.len(), 1);
        assert_eq!(parsed.observations[0].system, "bbs");
        assert_eq!(parsed.observations[0].system_id, "bbs-1001");
        assert!(matches!(poller.poll(NOW).await, Ok(Fetched::NotModified)));
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert!(!requests[0].contains("if-none-match"), "{}", requests[0]);
        assert!(
            requests[1].contains("if-none-match: \"v1\""),
            "{}",
            requests[1]
        );
        assert!(
            requests[1].contains("if-modified-since: mon, 07 dec 2026 01:30:00 gmt"),
            "{}",
            requests[1]
        );
        assert_eq!(poller.failures(), 0);
    }

    #[tokio::test]
    async fn failures_grow_the_delay_and_a_success_resets_it() {
        let server = Server::start(Mode::Broken).await;
        let mut poller = Poller::new(server.source(), client().unwrap());
        let every = Duration::from_secs(60);
        assert_eq!(poller.delay(), every);
        assert!(matches!(
            poller.poll(NOW).await,
            Err(PullError::Status(500))
        ));
        assert_eq!(poller.failures(), 1);
        assert_eq!(poller.delay(), every * 2);
        server.set(Mode::NotAFeed);
        assert!(matches!(poller.poll(NOW).await, Err(PullError::Parse(_))));
        assert_eq!(poller.failures(), 2);
        assert_eq!(poller.delay(), every * 4);
        server.set(Mode::Huge);
        assert!(matches!(poller.poll(NOW).await, Err(PullError::TooLarge)));
        assert_eq!(poller.delay(), every * 8);
        server.set(Mode::Feed);
        assert!(matches!(poller.poll(NOW).await, Ok(Fetched::Feed(_))));
        assert_eq!(poller.failures(), 0);
        assert_eq!(poller.delay(), every);
        // No server at all is a failure too.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let mut gone = Poller::new(
            FeedSource {
                url: format!("http://{addr}/feed.xml"),
                ..server.source()
            },
            client().unwrap(),
        );
        assert!(matches!(gone.poll(NOW).await, Err(PullError::Fetch(_))));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let every = Duration::from_secs(300);
        assert_eq!(backoff(every, 0), every);
        assert_eq!(backoff(every, 1), every * 2);
        assert_eq!(backoff(every, 3), every * 8);
        assert_eq!(backoff(every, 4), MAX_BACKOFF);
        assert_eq!(backoff(every, 1000), MAX_BACKOFF);
        let daily = Duration::from_secs(86_400);
        assert_eq!(backoff(daily, 5), daily);
    }

    #[test]
    fn a_source_is_configured_with_defaults_and_checked() {
        let s: FeedSource = toml::from_str(
            "name = \"bbs\"\nurl = \"https://bbs.example.cn/rss\"\nplatform = \"论坛\"",
        )
        .unwrap();
        assert_eq!(s.every_secs, DEFAULT_EVERY_SECS);
        assert!(s.check().is_ok());
        assert!(toml::from_str::<FeedSource>(
            "name = \"a\"\nurl = \"https://x.cn\"\nplatform = \"p\"\nevery = 3"
        )
        .is_err());
        let refused = |f: FeedSource| f.check().unwrap_err().to_string();
        assert!(refused(FeedSource {
            name: "BBS".into(),
            ..s.clone()
        })
        .contains("name"));
        assert!(refused(FeedSource {
            url: "ftp://x.cn/rss".into(),
            ..s.clone()
        })
        .contains("url"));
        assert!(refused(FeedSource {
            url: "https://".into(),
            ..s.clone()
        })
        .contains("url"));
        assert!(refused(FeedSource {
            platform: " ".into(),
            ..s.clone()
        })
        .contains("platform"));
        assert!(refused(FeedSource {
            every_secs: 10,
            ..s.clone()
        })
        .contains("every_secs"));
        assert_eq!(
            FeedSource {
                every_secs: 10,
                ..s
            }
            .every(),
            Duration::from_secs(MIN_EVERY_SECS)
        );
    }

    #[tokio::test]
    async fn the_worker_hands_observations_on_reports_its_status_and_stops() {
        let server = Server::start(Mode::Feed).await;
        let workers = Workers::new();
        let statuses = FeedStatuses::new();
        let (tx, mut rx) = mpsc::channel(4);
        let (stop_tx, stop) = watch::channel(false);
        // A second feed where nothing listens: it fails, and says so in its status.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = FeedSource {
            name: "gone".into(),
            url: format!("http://{}/feed.xml", closed.local_addr().unwrap()),
            ..server.source()
        };
        drop(closed);
        let tasks = spawn_all(&workers, &[server.source(), gone], tx, &statuses, stop).unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].url, "https://bbs.example.cn/t/1001");
        // The status is written right after the hand-over: wait for it.
        let settled = |name: &'static str| {
            let statuses = statuses.clone();
            tokio::time::timeout(Duration::from_secs(30), async move {
                loop {
                    if let Some(s) = statuses.get(name).filter(|s| s.next_attempt_ms.is_some()) {
                        return s;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let status = settled("bbs").await.unwrap();
        assert_eq!(status.items_last_fetched, 1);
        assert_eq!(status.consecutive_failures, 0);
        assert!(status.last_success_ms.is_some());
        let failing = settled("gone").await.unwrap();
        assert_eq!(failing.consecutive_failures, 1);
        assert!(failing
            .last_error
            .is_some_and(|e| e.contains("fetch failed")));
        assert!(failing.last_success_ms.is_none());
        assert!(stop_tx.send(true).is_ok());
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .unwrap()
                .unwrap();
        }
        let w = workers.snapshot();
        let names: Vec<_> = w.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["intake-pull bbs", "intake-pull gone"]);
        assert!(w.iter().all(|w| w.state == worker::WorkerState::Stopped));
    }

    #[test]
    fn two_feeds_of_one_name_are_refused() {
        let s = FeedSource {
            name: "bbs".into(),
            url: "https://bbs.example.cn/rss".into(),
            platform: "论坛".into(),
            every_secs: 300,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let (tx, _rx) = mpsc::channel(1);
        let (_stop_tx, stop) = watch::channel(false);
        let r = spawn_all(
            &Workers::new(),
            &[s.clone(), s],
            tx,
            &FeedStatuses::new(),
            stop,
        );
        assert!(matches!(r, Err(PullError::Duplicate(_))));
    }
}
