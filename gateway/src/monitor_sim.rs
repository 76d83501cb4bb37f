//! `fenghuo-gateway monitor-sim`: a county's monitoring system (舆情监测系统), for the demo and
//! for a vendor's engineers trying the integration. It streams made-up findings into a
//! county node's intake over gRPC `Intake.SubmitStream` with an intake certificate
//! (`fenghuo ca issue intake COUNTY SYSTEM`), at a gentle pace, as a crawler would: new
//! posts, the same posts seen again with rising figures, copies of a text elsewhere, and now
//! and then the same observation twice. Reconnects with backoff when the node is away.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use fenghuo_node::pki::client::{ClientFiles, NodeConnection};
use fenghuo_node::timespec;
use fenghuo_proto::v1::{self, intake_client::IntakeClient};

/// Options of `fenghuo-gateway monitor-sim`.
#[derive(Debug, clap::Args)]
pub struct MonitorSimArgs {
    /// The county node, https://host:port.
    #[arg(long, value_name = "URL")]
    node: String,
    /// The intake certificate (intake-<county>-<system>.crt).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Its key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The provincial CA certificate.
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The CRL the node's certificate is checked against.
    #[arg(long, value_name = "FILE")]
    crl: PathBuf,
    /// Time between two findings, on average (e.g. 3s).
    #[arg(long, default_value = "3s", value_parser = timespec::parse_duration)]
    every: Duration,
    /// Stop after this many findings (default: run until stopped).
    #[arg(long)]
    count: Option<u64>,
    /// Seed of the made-up findings (the same seed makes the same day).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// What the made-up posts are about, with keywords a crawler would have matched.
const TOPICS: &[(&str, &str)] = &[
    ("某社区旧改拆迁补偿标准不一，居民质疑评估结果", "拆迁"),
    ("暴雨过后多条道路内涝，市民反映排水不畅", "内涝"),
    ("有家长反映学校招生划片调整，孩子上学距离变远", "招生"),
    ("外卖骑手集中反映平台派单规则调整后收入下降", "骑手"),
    ("某楼盘延期交房，业主聚集维权要求开发商给出说法", "交房"),
    ("网传某医院收费异常，患者家属发帖质疑", "医院"),
    ("地铁施工夜间噪音扰民，附近居民多次投诉未果", "施工"),
    ("农民工讨薪视频在短视频平台传播，评论区情绪激烈", "讨薪"),
    ("社区团购平台突然停运，团长和用户预付款无法退回", "退款"),
    ("景区节假日门票涨价引发游客不满，相关话题上热搜", "涨价"),
];
const PLATFORMS: &[(&str, &str)] = &[
    ("weibo", "https://weibo.com/u/{a}/status/{n}"),
    ("douyin", "https://www.douyin.com/video/{n}"),
    ("本地论坛", "https://bbs.example.cn/thread/{n}"),
    ("今日头条", "https://www.toutiao.example/a{n}/"),
];

/// One post the simulator has "seen", for later sightings.
struct Seen {
    obs: v1::Observation,
    figures: v1::Engagement,
}

/// The made-up findings, one at a time.
struct Day {
    rng: fastrand::Rng,
    seen: Vec<Seen>,
    next: u64,
}

impl Day {
    fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            seen: Vec::new(),
            next: 0,
        }
    }

    fn finding(&mut self) -> v1::Observation {
        self.next += 1;
        let now = timespec::now_ms();
        let roll = self.rng.u8(0..100);
        if roll < 25 && !self.seen.is_empty() {
            // Seen again, its figures risen: the triage list shows the latest.
            let i = self.rng.usize(0..self.seen.len());
            let grow = self.rng.i64(2..6);
            let s = &mut self.seen[i];
            s.figures.views = s.figures.views.saturating_mul(grow);
            s.figures.reposts = s.figures.reposts.saturating_mul(grow).saturating_add(3);
            s.figures.comments = s.figures.comments.saturating_mul(grow);
            s.figures.likes = s.figures.likes.saturating_mul(grow);
            let mut o = s.obs.clone();
            o.engagement = Some(s.figures);
            o.captured_at_ms = now;
            o.system_id = format!("{}-again-{}", o.system_id, self.next);
            return o;
        }
        if roll < 33 && !self.seen.is_empty() {
            // Copied to another site: the same text, one item.
            let i = self.rng.usize(0..self.seen.len());
            let mut o = self.seen[i].obs.clone();
            o.url = format!("https://www.copy.example/p/{}", self.next);
            o.platform = "转载网站".into();
            o.account.clear();
            o.captured_at_ms = now;
            o.system_id = format!("copy-{}", self.next);
            return o;
        }
        if roll < 36 && !self.seen.is_empty() {
            // The crawler sends something twice.
            let last = &self.seen[self.seen.len() - 1];
            return last.obs.clone();
        }
        let (text, keyword) = TOPICS[self.rng.usize(0..TOPICS.len())];
        let (platform, url) = PLATFORMS[self.rng.usize(0..PLATFORMS.len())];
        let account = self.rng.u32(1..40);
        let n = 100_000 + self.next;
        let figures = v1::Engagement {
            views: self.rng.i64(50..20_000),
            reposts: self.rng.i64(0..80),
            comments: self.rng.i64(0..200),
            likes: self.rng.i64(0..500),
        };
        let obs = v1::Observation {
            url: url
                .replace("{a}", &account.to_string())
                .replace("{n}", &n.to_string()),
            platform: platform.into(),
            account: if platform == "今日头条" {
                String::new()
            } else {
                format!("@用户{account}")
            },
            text: format!("{text}（第{n}号帖）"),
            captured_at_ms: now,
            engagement: Some(figures),
            keywords: vec![keyword.into()],
            system_id: format!("sim-{n}"),
            system: String::new(),
        };
        self.seen.push(Seen {
            obs: obs.clone(),
            figures,
        });
        if self.seen.len() > 500 {
            self.seen.remove(0);
        }
        obs
    }
}

/// Runs the simulator until stopped (or `--count` findings).
pub fn run(args: MonitorSimArgs) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()
        .context("starting the runtime")?
        .block_on(simulate(args))
}

async fn simulate(args: MonitorSimArgs) -> anyhow::Result<()> {
    let node = NodeConnection {
        url: args.node.clone(),
        files: ClientFiles {
            cert: args.cert.clone(),
            key: args.key.clone(),
            ca: args.ca.clone(),
            crl: args.crl.clone(),
        },
        server: None,
    };
    let mut day = Day::new(args.seed);
    let mut sent = 0u64;
    let mut backoff = Duration::from_secs(1);
    loop {
        let channel = match node.channel().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "node unreachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        // One long-lived stream; the node records each finding within a moment.
        let (tx, rx) = tokio::sync::mpsc::channel::<v1::Observation>(16);
        let mut client = IntakeClient::new(channel);
        let call = tokio::spawn(async move {
            client
                .submit_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        loop {
            if args.count.is_some_and(|c| sent >= c) {
                drop(tx);
                let summary = call.await.context("the stream task")??.into_inner();
                tracing::info!(
                    received = summary.received,
                    new = summary.new_items,
                    sightings = summary.sightings,
                    "findings sent"
                );
                return Ok(());
            }
            let pause = args.every.mul_f64(0.5 + day.rng.f64());
            tokio::time::sleep(pause).await;
            if tx.send(day.finding()).await.is_err() {
                break;
            }
            sent += 1;
        }
        match call.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "stream ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "stream task failed; reconnecting"),
            Ok(Ok(_)) => {}
        }
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_new_posts_sightings_copies_and_repeats() {
        let mut day = Day::new(7);
        let findings: Vec<_> = (0..400).map(|_| day.finding()).collect();
        let ids: std::collections::HashSet<_> =
            findings.iter().map(|o| o.system_id.as_str()).collect();
        assert!(ids.len() < findings.len(), "some are sent twice");
        assert!(findings.iter().any(|o| o.system_id.contains("-again-")));
        assert!(findings.iter().any(|o| o.system_id.starts_with("copy-")));
        assert!(findings.iter().all(|o| o.url.starts_with("https://")));
        // The same seed makes the same day.
        let mut again = Day::new(7);
        assert_eq!(again.finding().url, findings[0].url);
    }
}
