//! Intake end to end (issue 18): a monitoring system written in Python (grpcio, its intake
//! certificate unmodified) streams a day of findings into county A, an RSS feed served here
//! is polled by A — 10,000 observations with duplicates in all —, and officers triage them
//! with the CLI: promote (the risk reaching neighbour B), attach (rising figures propose a
//! re-grade), dismiss; then the rates. A file import (CSV, dry run and real) at the end.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use fenghuo_tests::province::{Province, TestProvince, SYNC_TIMEOUT};
use fenghuo_tests::python;
use fenghuo_tests::wait::until;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
/// Distinct posts the Python system sends; with its repeated sightings, copies and repeats
/// it sends 1.35 times as many observations.
const POSTS: usize = 6000;
/// Distinct entries of the RSS feed, and entries that link to posts the system also sent.
const FEED_NEW: usize = 1500;
const FEED_SEEN: usize = 400;

/// The RSS feed: FEED_NEW news articles (every tenth about 补偿) and FEED_SEEN entries
/// linking to the system's weibo posts, all published an hour ago.
fn rss() -> String {
    let published = (jiff::Zoned::now() - jiff::SignedDuration::from_hours(1))
        .with_time_zone(jiff::tz::TimeZone::UTC);
    let published = jiff::fmt::rfc2822::to_string(&published).unwrap();
    let mut items = String::new();
    for j in 0..FEED_NEW {
        let topic = if j % 10 == 0 {
            "征地补偿标准引发村民不满"
        } else {
            "本地新闻：社区文化活动"
        };
        items.push_str(&format!(
            "<item><title>{topic} {j}</title><link>https://news.example.cn/society/{j}</link>\
             <guid>n{j}</guid><description>&lt;p&gt;{topic}，第{j}篇报道，记者现场采访&lt;/p&gt;</description>\
             <pubDate>{published}</pubDate></item>"
        ));
    }
    for i in 0..FEED_SEEN {
        items.push_str(&format!(
            "<item><title>转载 {i}</title><link>https://weibo.com/u/{}/status/{i}</link>\
             <guid>w{i}</guid><description>转载</description><pubDate>{published}</pubDate></item>",
            i % 50
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>某县新闻网</title><link>https://news.example.cn/</link>\
         <description>test</description>{items}</channel></rss>"
    )
}

/// Serves `body` as an RSS feed to every request on a loopback port; its URL.
fn serve_feed(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/feed.xml", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the request head to its end.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n\
                 Content-Length: {}\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    url
}

/// Runs the Python monitoring system against A with its intake certificate.
fn system(p: &Province, command: &str) -> Value {
    let pki = p.pki();
    let stem = format!("intake-{A}-yuqing-1");
    let addr = format!("127.0.0.1:{}", p.county(A).addr().port());
    let posts = POSTS.to_string();
    let out = python::run_script(
        "monitoring_system.py",
        &[
            &addr,
            "--ca",
            pki.ca_cert().to_str().unwrap(),
            "--cert",
            pki.cert(&stem).to_str().unwrap(),
            "--key",
            pki.key(&stem).to_str().unwrap(),
            "--posts",
            &posts,
            command,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "monitoring_system.py {command} failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

fn intake(p: &Province, county: &str, args: &[&str]) -> Value {
    p.cli(county)
        .arg("intake")
        .args(args)
        .arg("--json")
        .run()
        .ok()
        .json()
}

fn items(p: &Province, args: &[&str]) -> Vec<Value> {
    intake(p, A, &[&["list"], args].concat())
        .as_array()
        .unwrap()
        .clone()
}

/// The open item whose URL is `url`.
fn item_at(p: &Province, url: &str) -> Value {
    items(p, &["--all", "--limit", "1000"])
        .into_iter()
        .chain(items(p, &["--all", "--limit", "1000", "--offset", "1000"]))
        .find(|i| i["url"] == url)
        .unwrap_or_else(|| panic!("no item at {url}"))
}

#[test]
fn monitoring_systems_feed_intake_and_officers_triage_it_into_risks() {
    let feed = serve_feed(rss());
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .county_config(
            A,
            &format!(
                "[intake]\nretention_days = 90\npublish_every_secs = 1\n\
                 [[intake.rules]]\npattern = \"拆迁|补偿\"\nfocus = \"重要改革举措\"\n\
                 [[intake.feeds]]\nname = \"news\"\nurl = \"{feed}\"\nplatform = \"某县新闻网\"\nevery_secs = 30\n"
            ),
        )
        .start();
    p.pki().run_ca(["issue", "intake", A, "yuqing-1"]);

    // An intake certificate may submit, and nothing else.
    let denied = system(&p, "denied");
    assert_eq!(denied["code"], "PERMISSION_DENIED", "{denied}");
    let refused = p
        .cli_as(A, &format!("intake-{A}-yuqing-1"))
        .args(["risk", "list"])
        .run()
        .err();
    assert!(refused.contains("staff"), "{refused}");

    // One observation, twice: the second is a repeat of the same item; a bad one is refused
    // by name.
    let s = system(&p, "submit");
    assert_eq!(s["first"]["recorded"], "new", "{s}");
    assert_eq!(s["again"]["recorded"], "repeat", "{s}");
    assert_eq!(s["again"]["item_id"], s["first"]["item_id"], "{s}");
    let why = s["refused"].as_str().unwrap();
    assert!(
        why.starts_with("INVALID_ARGUMENT") && why.contains("views"),
        "{why}"
    );

    // A day of findings over a stream: every post is one item; re-sightings at the same URL
    // (tracking parameters, www., fragment) and copies of a text elsewhere are sightings;
    // the same system id again is a repeat.
    let day = system(&p, "stream");
    let sent = POSTS + POSTS / 5 + POSTS / 10 + POSTS / 20;
    assert_eq!(day["sent"], sent, "{day}");
    assert_eq!(day["received"], sent, "{day}");
    // The feed may have been polled first: its links to weibo posts then made their items,
    // and those posts count as sightings here.
    let new = day["new_items"].as_u64().unwrap() as usize;
    assert!((POSTS - FEED_SEEN..=POSTS).contains(&new), "{day}");
    assert_eq!(
        new + day["sightings"].as_u64().unwrap() as usize,
        POSTS + POSTS / 5 + POSTS / 10,
        "{day}"
    );
    assert_eq!(day["repeats"], POSTS / 20, "{day}");
    assert_eq!(day["refused"], 0, "{day}");
    assert_eq!(
        sent + 2 + FEED_NEW + FEED_SEEN,
        10_002,
        "10,000 observations and the two Submits"
    );

    // The RSS feed, polled at start: its new articles are items, its links to weibo posts are
    // sightings of theirs.
    let expected_items = POSTS + 1 + FEED_NEW;
    until(
        "the RSS feed's items",
        SYNC_TIMEOUT,
        Duration::from_millis(500),
        || {
            let n = items(
                &p,
                &[
                    "--all",
                    "--limit",
                    "1",
                    "--offset",
                    &(expected_items - 1).to_string(),
                ],
            )
            .len();
            if n == 1 {
                Ok(())
            } else {
                Err("fewer items than expected".into())
            }
        },
    );
    assert!(
        items(
            &p,
            &[
                "--all",
                "--limit",
                "1",
                "--offset",
                &expected_items.to_string()
            ]
        )
        .is_empty(),
        "more items than distinct posts and articles"
    );
    let post0 = item_at(&p, "https://weibo.com/u/0/status/0");
    // Its own, a re-sighting, a copy of its text and the feed's link: four sightings.
    assert_eq!(post0["sightings"], 4, "{post0:#}");
    assert_eq!(
        post0["views"], 5000,
        "the latest figures are kept: {post0:#}"
    );
    assert_eq!(post0["incident"], "account:weibo:user_0", "{post0:#}");

    // Groups: every account's posts are one candidate incident; the feed's section another.
    let user3 = items(
        &p,
        &["--incident", "account:weibo:user_3", "--limit", "1000"],
    );
    assert_eq!(user3.len(), POSTS / 50);
    let news = items(
        &p,
        &[
            "--incident",
            "site:news.example.cn/society",
            "--limit",
            "1000",
        ],
    );
    assert_eq!(news.len(), 1000, "limited to 1000");

    // Watch rules: flagged items come first; every tenth post and article is flagged.
    let open = items(&p, &["--limit", "1000"]);
    let flagged = POSTS / 10 + FEED_NEW / 10;
    assert!(open[..flagged.min(1000)]
        .iter()
        .all(|i| i["flags"][0]["focus"] == "reform-measure"));
    assert!(open[flagged..]
        .iter()
        .all(|i| i["flags"].as_array().unwrap().is_empty()));

    // Promote the douyin video: behaviours from its text, attention and diffusion from its
    // figures; the officer gives the focus and influence. Shared with the neighbour B.
    let video = item_at(&p, "https://www.douyin.com/video/777");
    let shown = intake(&p, A, &["show", &video["id"].to_string()]);
    assert_eq!(
        shown["suggestion"]["behaviours"],
        serde_json::json!(["聚集", "维权"])
    );
    assert_eq!(shown["suggestion"]["attention"], 4, "{shown:#}");
    assert_eq!(shown["suggestion"]["diffusion"], 4, "{shown:#}");
    let promoted = intake(
        &p,
        A,
        &[
            "promote",
            &video["id"].to_string(),
            "--focus",
            "major-event",
            "--influence",
            "3",
        ],
    );
    let risk = promoted["risk"].as_str().unwrap().to_owned();
    let r = p.risk(A, &["show", &risk]);
    assert_eq!(r["source"], "https://www.douyin.com/video/777", "{r:#}");
    assert_eq!(r["grade"]["attention"], 4, "{r:#}");
    p.risk(A, &["share", &risk, "--scope", "neighbours"]);
    until(
        "the promoted risk at B",
        SYNC_TIMEOUT,
        Duration::from_millis(300),
        || {
            let out = p.cli(B).args(["risk", "show", &risk, "--json"]).run();
            if out.status.success() {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    // Promoted once only.
    let again = p
        .cli(A)
        .args([
            "intake",
            "promote",
            &video["id"].to_string(),
            "--focus",
            "major-event",
        ])
        .run()
        .err();
    assert!(again.contains("already promoted"), "{again}");

    // Post 10 (flagged: the rule suggests the focus) with low scores of the officer's own;
    // post 20's higher figures, attached to it, propose a re-grade.
    let post10 = item_at(&p, "https://weibo.com/u/10/status/10");
    let low = intake(
        &p,
        A,
        &[
            "promote",
            &post10["id"].to_string(),
            "--influence",
            "2",
            "--attention",
            "1",
            "--diffusion",
            "1",
        ],
    );
    let low_risk = low["risk"].as_str().unwrap().to_owned();
    assert_eq!(p.risk(A, &["show", &low_risk])["focus"], "reform-measure");
    let post20 = item_at(&p, "https://weibo.com/u/20/status/20");
    let attached = intake(
        &p,
        A,
        &[
            "attach",
            &post20["id"].to_string(),
            "--risk",
            &low_risk,
            "--note",
            "同一村",
        ],
    );
    assert_eq!(attached["propose_regrade"]["diffusion"], 3, "{attached:#}");
    let history = p.risk(A, &["show", &low_risk])["history"].to_string();
    assert!(
        history.contains("同一村") && history.contains("转发 200"),
        "{history}"
    );

    // Dismissed with a reason; without one it is refused.
    let post30 = item_at(&p, "https://weibo.com/u/30/status/30");
    let no_reason = p
        .cli(A)
        .args([
            "intake",
            "dismiss",
            &post30["id"].to_string(),
            "--reason",
            " ",
        ])
        .run()
        .err();
    assert!(no_reason.contains("reason"), "{no_reason}");
    let dismissed = intake(
        &p,
        A,
        &[
            "dismiss",
            &post30["id"].to_string(),
            "--reason",
            "广告，与本地无关",
        ],
    );
    assert_eq!(dismissed["item"]["state"], "dismissed", "{dismissed:#}");

    // B identified the thread at bbs first and shared it; A's officer types the same
    // source later: one risk found first (post 10, which B files after A), one not.
    let b_first = p.risk(
        B,
        &[
            "add",
            "--title",
            "论坛帖子",
            "--focus",
            "重点工作中心",
            "--source",
            "https://bbs.example.cn/thread/999",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(B, &["share", &b_first, "--scope", "neighbours"]);
    std::thread::sleep(Duration::from_millis(5));
    let b_later = p.risk(
        B,
        &[
            "add",
            "--title",
            "拆迁补偿",
            "--focus",
            "重要改革举措",
            "--source",
            "https://weibo.com/u/10/status/10",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.risk(B, &["share", &b_later, "--scope", "neighbours"]);
    p.wait_converged();
    p.risk(
        A,
        &[
            "add",
            "--title",
            "论坛帖子",
            "--focus",
            "重点工作中心",
            "--source",
            "http://www.bbs.example.cn/thread/999/",
        ],
    );

    let rates = until(
        "A's rates to see B's risks",
        SYNC_TIMEOUT,
        Duration::from_millis(300),
        || {
            let r = intake(&p, A, &["rates", "--days", "7"]);
            if r["contested"] == 2 {
                Ok(r)
            } else {
                Err(r.to_string())
            }
        },
    );
    assert_eq!(rates["risks"], 3, "{rates:#}");
    assert_eq!(rates["risks_from_intake"], 2, "{rates:#}");
    assert_eq!(rates["found_first"], 1, "{rates:#}");
    assert_eq!(rates["discovery_rate"], 0.5, "{rates:#}");
    assert_eq!(rates["promoted"], 2, "{rates:#}");
    assert_eq!(rates["attached"], 1, "{rates:#}");
    assert_eq!(rates["dismissed"], 1, "{rates:#}");
    assert!(
        rates["collection_rate"].as_f64().unwrap() > 0.66,
        "{rates:#}"
    );
    let text = p.cli(A).args(["intake", "rates"]).run().ok().stdout;
    assert!(text.contains("采集率") && text.contains("66.6%"), "{text}");

    // The province sees A's figures (counts only), published when they change.
    let at_gateway = until(
        "A's figures at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(300),
        || {
            let all = p
                .gateway_cli()
                .args(["intake", "rates", "--json"])
                .run()
                .ok()
                .json();
            match all.as_array().unwrap().iter().find(|c| c["county"] == A) {
                Some(c) if c["dismissed"] == 1 && c["contested"] == 2 => Ok(c.clone()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    assert_eq!(at_gateway["risks_from_intake"], 2, "{at_gateway:#}");
    assert_eq!(at_gateway["county_name"], "锦江区", "{at_gateway:#}");
    let table = p.gateway_cli().args(["intake", "rates"]).run().ok().stdout;
    assert!(
        table.contains("锦江区 510104") && table.contains("66.6%"),
        "{table}"
    );

    // Observations never leave A: B holds no item.
    let at_b = p
        .cli(B)
        .args(["intake", "list", "--all", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(at_b, serde_json::json!([]));
}

#[test]
fn a_file_of_observations_is_checked_row_by_row_then_imported() {
    let p = TestProvince::new("51").county(A).start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("监测结果.csv");
    std::fs::write(
        &csv,
        "链接,平台,账号,内容,采集时间,阅读,转发,评论,点赞,编号\n\
         https://weibo.com/u/9/status/1,weibo,@wang,某街道拆迁补偿争议持续发酵,2026-12-07 09:30,1.2万,30,5,8,r1\n\
         https://weibo.com/u/9/status/2,weibo,@wang,第二条：补偿方案公示后仍有争议,2026-12-07 09:45,300,-3,1,1,r2\n\
         https://weibo.com/u/9/status/3,weibo,@wang,第三条：居民代表约见街道办负责人,2026-12-07 10:00,800,2,1,1,r3\n",
    )
    .unwrap();
    let file = csv.to_str().unwrap();

    // The dry run names the bad row by its line in Excel and its column, and records nothing.
    let dry = p.cli(A).args(["intake", "import", file, "--dry-run"]).run();
    assert!(!dry.status.success(), "{dry}");
    assert!(
        dry.stdout.contains("第3行") && dry.stdout.contains("转发"),
        "{dry}"
    );
    assert!(
        p.cli(A)
            .args(["intake", "list", "--all", "--json"])
            .run()
            .ok()
            .json()
            == serde_json::json!([])
    );

    // The real import records the good rows and refuses the bad one, again by line.
    let out = p.cli(A).args(["intake", "import", file, "--json"]).run();
    assert!(!out.status.success());
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["recorded"], 2, "{report:#}");
    assert_eq!(report["new_items"], 2, "{report:#}");
    assert!(
        report["row_errors"][0].as_str().unwrap().contains("第3行"),
        "{report:#}"
    );
    let listed = p
        .cli(A)
        .args(["intake", "list", "--all", "--json"])
        .run()
        .ok()
        .json();
    let first = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system_id"] == "r1")
        .unwrap()
        .clone();
    assert_eq!(first["views"], 12000, "{first:#}");
    assert_eq!(first["system"], "import", "{first:#}");
    assert_eq!(
        first["first_seen"], "2026-12-07T01:30:00.000Z",
        "China time: {first:#}"
    );

    // Importing the same file again records nothing new.
    let again: Value = serde_json::from_str(
        &p.cli(A)
            .args(["intake", "import", file, "--json"])
            .run()
            .stdout,
    )
    .unwrap();
    assert_eq!(again["repeats"], 2, "{again:#}");
}

#[test]
fn an_observation_on_an_open_stream_reaches_the_triage_list_without_waiting_for_more() {
    use fenghuo_proto::v1::{self, intake_client::IntakeClient};

    let p = TestProvince::new("51").county(A).start();
    p.pki().run_ca(["issue", "intake", A, "trickle"]);
    let creds = p.pki().credentials(&format!("intake-{A}-trickle"));
    let url = p.county(A).url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::Observation>(4);
    let call = rt.spawn(async move {
        let channel = fenghuo_tests::grpc::mtls_channel(&url, &creds)
            .await
            .unwrap();
        IntakeClient::new(channel)
            .submit_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    rt.block_on(tx.send(v1::Observation {
        url: "https://tieba.example/p/1".into(),
        platform: "tieba".into(),
        text: "一条慢慢到来的帖子，系统一分钟才发一条".into(),
        captured_at_ms: now,
        system_id: "t1".into(),
        ..Default::default()
    }))
    .unwrap();
    // The stream stays open; the observation is on the list all the same.
    let listed = until(
        "the item on the list",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let l = p
                .cli(A)
                .args(["intake", "list", "--json"])
                .run()
                .ok()
                .json();
            if l.as_array().unwrap().len() == 1 {
                Ok(l)
            } else {
                Err(l.to_string())
            }
        },
    );
    assert_eq!(listed[0]["system"], "trickle", "{listed:#}");
    drop(tx);
    let summary = rt.block_on(call).unwrap().unwrap().into_inner();
    assert_eq!((summary.received, summary.new_items), (1, 1));

    // Another county's monitoring system is refused here, and so is a system naming another.
    p.pki().run_ca(["issue", "intake", "510105", "elsewhere"]);
    let other = p.pki().credentials("intake-510105-elsewhere");
    let url = p.county(A).url();
    let refused = rt.block_on(async {
        let channel = fenghuo_tests::grpc::mtls_channel(&url, &other)
            .await
            .unwrap();
        IntakeClient::new(channel)
            .submit(v1::Observation {
                url: "https://tieba.example/p/2".into(),
                platform: "tieba".into(),
                text: "另一个县的系统不能往这里送".into(),
                captured_at_ms: now,
                system_id: "x1".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
    });
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("510105"), "{refused:?}");
    let creds = p.pki().credentials(&format!("intake-{A}-trickle"));
    let url = p.county(A).url();
    let renamed = rt.block_on(async {
        let channel = fenghuo_tests::grpc::mtls_channel(&url, &creds)
            .await
            .unwrap();
        IntakeClient::new(channel)
            .submit(v1::Observation {
                url: "https://tieba.example/p/3".into(),
                platform: "tieba".into(),
                text: "冒充另一个系统的名字提交".into(),
                captured_at_ms: now,
                system_id: "x2".into(),
                system: "yuqing-1".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
    });
    assert_eq!(renamed.code(), tonic::Code::PermissionDenied, "{renamed:?}");
}
