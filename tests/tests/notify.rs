//! Notifications end to end (issue 19) on a two-county province (A = 510104, B = 510105,
//! neighbours): B's duty officer is reached by mail on a real SMTP server (Python's aiosmtpd)
//! and by WeCom, DingTalk and Feishu group robots and a Standard Webhooks receiver, each
//! simulated in Python checking the vendor's payload shape and signature. An alert A issues
//! reaches every channel once; a robot down for a while gets it afterwards, once; a restart
//! of B repeats nothing; channels that are wrong say so before anyone relies on them.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use fenghuo_tests::province::{Province, TestProvince};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";

/// The Python receivers, killed on drop.
struct Receivers {
    smtp: u16,
    http: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Receivers {
    fn start(secrets: &Secrets, down_first: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = fenghuo_tests::python::spawn_script(
            "notify_receivers.py",
            &[
                &dir.path().display().to_string(),
                "--dingtalk-secret",
                &secrets.dingtalk,
                "--feishu-secret",
                &secrets.feishu,
                "--webhook-secret",
                &secrets.webhook,
                "--down-first",
                &down_first.to_string(),
            ],
        );
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the receivers did not start: {line:?}")
        });
        Self {
            smtp: ports["smtp"].as_u64().unwrap() as u16,
            http: ports["http"].as_u64().unwrap() as u16,
            dir,
            child,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn lines(&self, file: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until each channel of `want` has accepted its count of messages containing
    /// `needle` (and no other channel any).
    #[track_caller]
    fn wait_on_every_channel(&self, what: &str, needle: &str, want: &BTreeMap<String, usize>) {
        wait::until(
            what,
            Duration::from_secs(60),
            Duration::from_millis(200),
            || {
                let got = self.received(needle);
                if got == *want {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            },
        );
    }

    /// Accepted messages whose title contains `needle`, counted per channel.
    fn received(&self, needle: &str) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for m in self.lines("received.jsonl") {
            let all = format!("{} {}", m["title"], m["text"]);
            if all.contains(needle) {
                *by.entry(m["channel"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        by
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Secrets {
    dingtalk: String,
    feishu: String,
    webhook: String,
}

fn secrets() -> Secrets {
    Secrets {
        dingtalk: "SEC0123456789abcdef0123456789abcdef".into(),
        feishu: "feishu-robot-secret".into(),
        webhook: format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        ),
    }
}

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn an_alert_from_a_neighbour_reaches_the_person_on_duty_through_every_channel_once() {
    let mut p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .county_config(
            B,
            "[notify]\npage_url = \"https://fenghuo.qingyang.example:8443/\"\n",
        )
        .start();
    let s = secrets();
    // The DingTalk robot is down for its first request.
    let r = Receivers::start(&s, 1);
    let files = tempfile::tempdir().unwrap();
    let ding = write(files.path(), "ding.secret", &s.dingtalk);
    let feishu = write(files.path(), "feishu.secret", &s.feishu);
    let wrong = write(files.path(), "wrong.secret", "not-the-secret");
    let hook = write(files.path(), "hook.secret", &s.webhook);
    let smtp = format!("127.0.0.1:{}", r.smtp);

    let channels: [(&str, Vec<String>); 5] = [
        (
            "lin-mail",
            vec![
                "--email".into(),
                "lin@county.example".into(),
                "--smtp".into(),
                smtp.clone(),
                "--tls".into(),
                "none".into(),
            ],
        ),
        (
            "duty-wecom",
            vec!["--wecom".into(), r.url("/wecom?key=wecom-key")],
        ),
        (
            "duty-ding",
            vec![
                "--dingtalk".into(),
                r.url("/dingtalk?access_token=ding-token"),
                "--secret-file".into(),
                ding.clone(),
            ],
        ),
        (
            "duty-feishu",
            vec![
                "--feishu".into(),
                r.url("/feishu"),
                "--secret-file".into(),
                feishu,
            ],
        ),
        (
            "sms-gateway",
            vec![
                "--webhook".into(),
                r.url("/webhook"),
                "--secret-file".into(),
                hook,
            ],
        ),
    ];
    for (name, args) in &channels {
        let mut cmd: Vec<&str> = vec!["notify", "channel", "add", name];
        cmd.extend(args.iter().map(String::as_str));
        let c = json(&p, B, &cmd);
        assert_eq!(c["name"], *name);
        // Secrets never come back.
        assert!(
            !c.to_string().contains("SEC0123") && !c.to_string().contains("key=wecom-key"),
            "{c}"
        );
    }
    // A robot with the wrong secret says so when tested, before anyone relies on it.
    json(
        &p,
        B,
        &[
            "notify",
            "channel",
            "add",
            "wrong-ding",
            "--dingtalk",
            &r.url("/dingtalk?access_token=ding-token"),
            "--secret-file",
            &wrong,
        ],
    );
    let test = p
        .cli(B)
        .args(["notify", "test", "--channel", "wrong-ding"])
        .run()
        .err();
    assert!(
        test.contains("310000") && test.contains("sign not match"),
        "{test}"
    );
    json(&p, B, &["notify", "channel", "remove", "wrong-ding"]);
    let test = json(&p, B, &["notify", "test", "--channel", "duty-feishu"]);
    assert_eq!(test["delivered"], true, "{test}");
    // Refusals name what is wrong.
    let e = p
        .cli(B)
        .args(["duty", "add", "lin", "--channel", "nope"])
        .run()
        .err();
    assert!(e.contains("no channel named \"nope\""), "{e}");
    let e = p
        .cli(B)
        .args([
            "duty",
            "add",
            "lin",
            "--channel",
            "lin-mail",
            "--schedule",
            "someday 9-5",
        ])
        .run()
        .err();
    assert!(e.contains("schedule"), "{e}");
    // Only B's own staff manage B's roster.
    let e = p.cli_as(B, &p.staff(A)).args(["duty", "list"]).run().err();
    assert!(e.contains("only 510105's own staff"), "{e}");

    let mut add: Vec<&str> = vec!["duty", "add", "lin", "--display-name", "林晓"];
    for (name, _) in &channels {
        add.extend(["--channel", name]);
    }
    json(&p, B, &add);
    let now = json(&p, B, &["duty", "now"]);
    assert_eq!(now.as_array().unwrap().len(), 1, "{now}");
    assert_eq!(now[0]["name"], "lin");

    let alert = json(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "某村村民聚集讨薪",
            "--severity",
            "severe",
            "--urgency",
            "immediate",
            "--certainty",
            "likely",
            "--audience",
            "neighbours",
            "--event",
            "gathering called online",
            "--expires",
            "1d",
        ],
    );
    let id = alert["id"].as_str().unwrap().to_owned();
    let everywhere: BTreeMap<String, usize> = ["dingtalk", "email", "feishu", "webhook", "wecom"]
        .iter()
        .map(|c| (c.to_string(), 1))
        .collect();
    r.wait_on_every_channel(
        "the alert on every channel of the person on duty",
        "某村村民聚集讨薪",
        &everywhere,
    );
    // Each message names the neighbour and links to the alert on B's pages.
    for m in r.lines("received.jsonl") {
        let all = format!("{} {} {}", m["title"], m["text"], m["link"]);
        if all.contains("某村村民聚集讨薪") {
            assert!(all.contains("锦江区 510104"), "{m}");
            assert!(
                all.contains(&format!("https://fenghuo.qingyang.example:8443/inbox#{id}")),
                "{m}"
            );
            assert!(all.contains("严重"), "{m}");
        }
    }
    // The robot that was down got it on the retry, and the record shows both attempts.
    let refused: Vec<Value> = r.lines("refused.jsonl");
    assert_eq!(
        refused.iter().filter(|x| x["why"] == "down").count(),
        1,
        "{refused:?}"
    );
    // Besides that, only the wrong secret's test was refused: every real message was good.
    assert_eq!(refused.len(), 2, "{refused:?}");
    let deliveries = json(&p, B, &["notify", "deliveries"]);
    let ding_record = deliveries
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "duty-ding" && d["event"] == format!("alert:{id}"))
        .unwrap_or_else(|| panic!("{deliveries}"));
    assert_eq!(ding_record["state"], "delivered");
    let attempts = ding_record["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{ding_record}");
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("503"),
        "{ding_record}"
    );
    // The issuer has nobody on its roster and notifies itself of nothing.
    assert!(json(&p, A, &["notify", "deliveries"])
        .as_array()
        .unwrap()
        .is_empty());

    // A restart resumes where it was: nothing is sent twice.
    p.stop(B);
    p.restart(B);
    let later = json(
        &p,
        A,
        &[
            "alert",
            "issue",
            "--headline",
            "第二条预警用于确认重启后继续",
            "--severity",
            "minor",
            "--urgency",
            "expected",
            "--certainty",
            "possible",
            "--audience",
            "neighbours",
            "--event",
            "gathering called online",
            "--expires",
            "1d",
        ],
    );
    assert!(later["id"].is_string());
    r.wait_on_every_channel(
        "the second alert on every channel after B's restart",
        "第二条预警用于确认重启后继续",
        &everywhere,
    );
    assert_eq!(
        r.received("某村村民聚集讨薪"),
        everywhere,
        "nothing sent twice"
    );
}
