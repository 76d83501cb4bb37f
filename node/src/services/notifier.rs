//! The `notify` worker: follows the journal, turns what the rules say notifies into one
//! delivery per channel of each person on duty (`notifications::outbox`), and sends what is
//! due: mail over SMTP (`lettre`), the group robots' and the generic webhook's JSON over
//! HTTPS (`reqwest`). A failing channel is retried with backoff and logged at WARN; a restart
//! resumes from the outbox and the journal position kept with it.
//!
//! At its first start a node notifies nothing of its past: its position starts at the
//! journal's newest item.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use lettre::AsyncTransport as _;
use tokio::sync::watch;

use crate::notifications::channel::{self, Channel, ChannelKind, SmtpTls};
use crate::notifications::message::{self, Message};
use crate::notifications::outbox;
use crate::notifications::roster;
use crate::notifications::rules::{Arrival, Rules};
use crate::notifications::NotifyError;
use crate::services::journal::{self, JournalItem};
use crate::store::{Batch, Store};
use crate::timespec::now_ms;

/// Journal items considered per pass.
const ARRIVALS_PER_PASS: usize = 200;
/// Deliveries sent per pass.
const SENDS_PER_PASS: usize = 50;
/// How long one send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest sleep between passes (a restart of a channel is noticed by then at worst
/// plus its backoff).
const IDLE: Duration = Duration::from_secs(30);

/// What the notify worker and the `Notify` service's test share.
#[derive(Debug)]
pub struct Notifier {
    store: Arc<dyn Store>,
    rules: Rules,
    zone: TimeZone,
    http: reqwest::Client,
}

impl From<&JournalItem> for Arrival {
    fn from(j: &JournalItem) -> Self {
        Arrival {
            kind: j.kind.clone(),
            id: j.id.clone(),
            origin: j.origin.clone(),
            title: j.title.clone(),
            severity: j.severity.clone(),
            level: j.level.clone(),
        }
    }
}

impl Notifier {
    /// A notifier for the unit `rules` names, over `store`, reading schedules in `zone`.
    pub fn new(store: Arc<dyn Store>, rules: Rules, zone: TimeZone) -> Result<Self, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .user_agent(concat!("fenghuo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Invalid {
                field: "http client",
                reason: e.to_string(),
            })?;
        Ok(Self {
            store,
            rules,
            zone,
            http,
        })
    }

    /// The zone schedules are read in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// Where the unit's pages are (links point there).
    pub fn page_url(&self) -> &str {
        &self.rules.pages
    }

    /// Considers the journal items after the notifier's position: queues the deliveries they
    /// call for; how many items were considered.
    pub fn take_arrivals(&self, now: i64) -> Result<usize, NotifyError> {
        let store = self.store.as_ref();
        let Some(cursor) = outbox::cursor(store)? else {
            let mut batch = Batch::new();
            outbox::set_cursor(&mut batch, journal::last(store)?);
            store.commit(&batch)?;
            return Ok(0);
        };
        let items = journal::read_after(store, cursor, ARRIVALS_PER_PASS)?;
        let Some(last) = items.last().map(|i| i.cursor) else {
            return Ok(0);
        };
        let mut batch = Batch::new();
        for item in &items {
            let Some(m) = self.rules.message(&Arrival::from(item)) else {
                continue;
            };
            let people = roster::on_duty(store, now, &self.zone)?;
            if people.is_empty() {
                tracing::warn!(event = %m.event, "nobody on the duty roster: not notified (fenghuo duty add)");
                continue;
            }
            let mut to: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for p in &people {
                for c in &p.channels {
                    to.entry(c.clone()).or_default().push(p.name.clone());
                }
            }
            let to: Vec<(String, Vec<String>)> = to.into_iter().collect();
            let queued = outbox::enqueue(store, &mut batch, &m, &to, now)?;
            tracing::info!(event = %m.event, queued, people = people.len(), "notification queued");
        }
        outbox::set_cursor(&mut batch, last);
        store.commit(&batch)?;
        Ok(items.len())
    }

    /// Sends what is due; how many were delivered.
    pub async fn send_due(&self) -> Result<usize, NotifyError> {
        let due = outbox::due(self.store.as_ref(), now_ms(), SENDS_PER_PASS)?;
        let mut delivered = 0;
        for d in due {
            let result = match channel::get(self.store.as_ref(), &d.delivery.channel)? {
                Some(c) => self.send(&c, &d.delivery.message).await,
                None => Err(format!(
                    "no channel named {:?} (removed?): add it again to deliver",
                    d.delivery.channel
                )),
            };
            let (event, ch) = (d.delivery.message.event.clone(), d.delivery.channel.clone());
            let error = result.err().unwrap_or_default();
            let r = outbox::attempted(self.store.as_ref(), d, &error, now_ms())?;
            if error.is_empty() {
                delivered += 1;
                tracing::info!(%event, channel = %ch, attempts = r.attempts.len(), "notification delivered");
            } else {
                tracing::warn!(
                    %event,
                    channel = %ch,
                    attempts = r.attempts.len(),
                    retry_in_s = (r.next_at_ms - now_ms()).max(0) / 1000,
                    %error,
                    "notification not delivered; will retry"
                );
            }
        }
        Ok(delivered)
    }

    /// Sends `m` through `c` now; `Err` says what the receiver or the network said.
    pub async fn send(&self, c: &Channel, m: &Message) -> Result<(), String> {
        let now = now_ms();
        match &c.kind {
            ChannelKind::Email {
                to,
                smtp,
                tls,
                user,
                password,
                from,
            } => send_mail(m, to, smtp, *tls, user, password, from).await,
            ChannelKind::Wecom { url } => self.post_robot(message::wecom(url, m)).await,
            ChannelKind::Dingtalk { url, secret } => {
                let r = message::dingtalk(url, secret, m, now).map_err(|e| e.to_string())?;
                self.post_robot(r).await
            }
            ChannelKind::Feishu { url, secret } => {
                self.post_robot(message::feishu(url, secret, m, now)).await
            }
            ChannelKind::Webhook { url, secret } => self.post_webhook(url, secret, m, now).await,
        }
    }

    async fn post_robot(&self, r: message::RobotRequest) -> Result<(), String> {
        let resp = self
            .http
            .post(&r.url)
            .header("content-type", "application/json")
            .body(r.body.to_string())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", without_query(&r.url)))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", first_line(&body)));
        }
        message::robot_answer(&body)
    }

    async fn post_webhook(
        &self,
        url: &str,
        secret: &str,
        m: &Message,
        now: i64,
    ) -> Result<(), String> {
        let body = serde_json::to_vec(&message::webhook_body(m)).map_err(|e| e.to_string())?;
        let key = message::webhook_key(secret).map_err(|e| e.to_string())?;
        let wh = standardwebhooks::Webhook::from_bytes(key).map_err(|e| e.to_string())?;
        let id = format!(
            "msg_{}",
            hex::encode(&sha2_digest(m.event.as_bytes())[..12])
        );
        let ts = now.div_euclid(1000);
        let sig = wh.sign(&id, ts, &body).map_err(|e| e.to_string())?;
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", without_query(url)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = resp.text().await.unwrap_or_default();
            Err(format!("HTTP {status}: {}", first_line(&body)))
        }
    }
}

fn sha2_digest(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}

fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

async fn send_mail(
    m: &Message,
    to: &str,
    smtp: &str,
    tls: SmtpTls,
    user: &str,
    password: &str,
    from: &str,
) -> Result<(), String> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, Tokio1Executor};
    let (host, port) = smtp
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("smtp {smtp:?}: not HOST:PORT"))?;
    let builder = match tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| format!("smtp {host}: {e}"))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| format!("smtp {host}: {e}"))?,
    };
    let mut builder = builder.port(port).timeout(Some(SEND_TIMEOUT));
    if !user.is_empty() {
        builder = builder.credentials(Credentials::new(user.to_owned(), password.to_owned()));
    }
    let from = if from.is_empty() {
        format!("fenghuo@{host}")
    } else {
        from.to_owned()
    };
    let mail = lettre::Message::builder()
        .from(from.parse().map_err(|e| format!("from {from:?}: {e}"))?)
        .to(to.parse().map_err(|e| format!("to {to:?}: {e}"))?)
        .subject(&m.title)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(m.plain())
        .map_err(|e| e.to_string())?;
    builder
        .build()
        .send(mail)
        .await
        .map(|_| ())
        .map_err(|e| format!("smtp {smtp}: {e}"))
}

/// The `notify` worker: takes arrivals and sends what is due, after each new journal item
/// and at least every 30 s (sooner when a retry is due), until `stop`. Logs its errors and
/// goes on.
pub async fn run(
    notifier: Arc<Notifier>,
    mut journal: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), std::convert::Infallible> {
    loop {
        let taking = notifier.clone();
        let taken = match tokio::task::spawn_blocking(move || taking.take_arrivals(now_ms())).await
        {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "notify: reading the journal failed");
                0
            }
            Err(e) => {
                tracing::error!(error = %e, "notify: the journal task failed");
                0
            }
        };
        if let Err(e) = notifier.send_due().await {
            tracing::error!(error = %e, "notify: sending failed");
        }
        // More arrivals than one pass takes: go on at once (a failing pass waits).
        let behind = taken == ARRIVALS_PER_PASS;
        let wait = match outbox::next_due_ms(notifier.store.as_ref()) {
            Ok(Some(due)) => {
                Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(IDLE)
            }
            _ => IDLE,
        };
        if behind {
            continue;
        }
        tokio::select! {
            _ = journal.changed() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}
