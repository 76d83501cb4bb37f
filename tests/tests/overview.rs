//! The overview end to end on the three-county province (A = 510104, B = 510105,
//! C = 510106): the gateway's figures, kept current as entries arrive, equal a recount of the
//! risks it holds, and follow grades, shares, resolutions and rising levels.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

fn add(p: &Province, code: &str, title: &str, focus: &str) -> String {
    json(
        p,
        code,
        &["risk", "add", "--title", title, "--focus", focus],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn grade(p: &Province, code: &str, id: &str, score: &str) -> String {
    let r = json(
        p,
        code,
        &[
            "risk",
            "grade",
            id,
            "--influence",
            score,
            "--attention",
            score,
            "--diffusion",
            score,
        ],
    );
    r["level"].as_str().unwrap().to_owned()
}

/// The figures recounted from the risks `name` holds: (by level, by focus, by status,
/// per county per level), active risks only except by status.
fn recount(p: &Province, name: &str) -> Value {
    let risks = json(p, name, &["risk", "list", "--origin", "all", "--all"]);
    let mut by_level: BTreeMap<String, u64> = ["I", "II", "III", "IV", "ungraded"]
        .iter()
        .map(|l| (l.to_string(), 0))
        .collect();
    let mut by_focus: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut counties: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in risks.as_array().unwrap() {
        *by_status
            .entry(r["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
        if r["status"] == "resolved" || r["status"] == "ruled-out" {
            continue;
        }
        let level = r["level"].as_str().unwrap_or("ungraded").to_owned();
        *by_level.get_mut(&level).unwrap() += 1;
        *by_focus
            .entry(r["focus"].as_str().unwrap().to_owned())
            .or_default() += 1;
        *counties
            .entry(r["origin"].as_str().unwrap().to_owned())
            .or_default()
            .entry(level)
            .or_default() += 1;
    }
    serde_json::json!({"by_level": by_level, "by_focus": by_focus, "by_status": by_status, "counties": counties})
}

/// The same figures as `fenghuo overview --json` gives them.
fn figures(o: &Value) -> Value {
    let nonzero = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .filter(|(_, n)| n.as_u64().unwrap() > 0)
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect()
    };
    let mut counties: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in o["counties"].as_array().unwrap() {
        for l in ["I", "II", "III", "IV", "ungraded"] {
            let n = c[l].as_u64().unwrap();
            if n > 0 {
                counties
                    .entry(c["county"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(l.to_owned(), n);
            }
        }
    }
    serde_json::json!({
        "by_level": o["by_level"],
        "by_focus": nonzero(&o["by_focus"]),
        "by_status": nonzero(&o["by_status"]),
        "counties": counties,
    })
}

#[test]
fn the_gateways_overview_equals_a_recount_and_follows_every_change() {
    let p = TestProvince::abc();
    let a1 = add(&p, A, "Land dispute video trending", "emergency-trigger");
    assert_eq!(grade(&p, A, &a1, "5"), "I"); // reported upstream in the same write
    let a2 = add(&p, A, "School merger rumour", "reform-measure");
    let low = grade(&p, A, &a2, "1");
    json(&p, A, &["risk", "share", &a2, "--scope", "neighbours"]);
    let b1 = add(&p, B, "Fare rise complaints", "policy-adjustment");
    json(&p, B, &["risk", "share", &b1, "--scope", "province"]);
    let b2 = add(&p, B, "Stadium concert crowds", "activity-concentration");
    grade(&p, B, &b2, "2");
    json(&p, B, &["risk", "share", &b2, "--scope", "province"]);
    json(
        &p,
        B,
        &[
            "risk",
            "measure",
            "add",
            &b2,
            "--action",
            "Extra stewards",
            "--owner",
            "Culture bureau",
            "--due",
            "2026-12-31",
        ],
    );
    json(
        &p,
        B,
        &[
            "risk",
            "measure",
            "done",
            &b2,
            "m1",
            "--note",
            "Stewards on duty",
        ],
    );
    json(
        &p,
        B,
        &[
            "risk",
            "close",
            &b2,
            "--resolved",
            "--summary",
            "The concert passed quietly",
        ],
    );
    add(&p, C, "Local only", "key-work"); // never leaves C
                                          // A false alarm the province saw: counted by status, never as an open risk.
    let c2 = add(&p, C, "Rumoured factory closure", "reform-measure");
    json(&p, C, &["risk", "share", &c2, "--scope", "province"]);
    json(
        &p,
        C,
        &[
            "risk",
            "close",
            &c2,
            "--ruled-out",
            "--reason",
            "The factory denied it",
        ],
    );

    p.wait_converged();
    let o = json(&p, GATEWAY, &["overview"]);
    assert_eq!(figures(&o), recount(&p, GATEWAY), "{o:#}");
    assert_eq!(o["active"], 3, "{o:#}");
    assert_eq!(o["by_level"]["I"], 1);
    assert_eq!(o["by_level"]["ungraded"], 1);
    assert_eq!(o["by_status"]["resolved"], 1);
    assert_eq!(o["by_status"]["ruled-out"], 1, "{o:#}");
    let row = |o: &Value, c: &str| {
        o["counties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["county"] == c)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&o, A)["worst"], "I");
    assert_eq!(row(&o, B)["resolved"], 1);
    // C is listed, with nothing the province can see.
    assert_eq!(row(&o, C)["active"], 0);
    let sum = |o: &Value, k: &str| -> u64 {
        o["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d[k].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum(&o, "new"), 5, "{o:#}");
    assert_eq!(sum(&o, "resolved"), 1, "{o:#}");
    assert_eq!(o["days"].as_array().unwrap().len(), 30);

    // A level rising shows, and the counts move with it.
    let high = grade(&p, A, &a2, "4");
    assert!(high < low, "{high} should be graver than {low}");
    let o = wait::until(
        "the rise at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let o = json(&p, GATEWAY, &["overview"]);
            if o["rises"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["risk"] == a2.as_str())
            {
                Ok(o)
            } else {
                Err(o["rises"].to_string())
            }
        },
    );
    let rise = &o["rises"][0];
    assert_eq!(
        (rise["from"].as_str().unwrap(), rise["to"].as_str().unwrap()),
        (low.as_str(), high.as_str())
    );
    p.wait_views(GATEWAY);
    let o = json(&p, GATEWAY, &["overview"]);
    assert_eq!(figures(&o), recount(&p, GATEWAY), "{o:#}");

    // Filters: one county, one level, one focus point.
    let only_a = json(&p, GATEWAY, &["overview", "--county", A]);
    assert_eq!(only_a["counties"].as_array().unwrap().len(), 1);
    assert_eq!(only_a["active"], 2);
    let level_i = json(&p, GATEWAY, &["overview", "--level", "I"]);
    assert_eq!(level_i["active"], 1);
    let focus = json(&p, GATEWAY, &["overview", "--focus", "policy-adjustment"]);
    assert_eq!(focus["active"], 1);
    assert_eq!(focus["by_level"]["ungraded"], 1);
    // The rise is found through the county's and the level's own indexes, and only there.
    let rise_ids = |o: &Value| -> Vec<String> {
        o["rises"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["risk"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(rise_ids(&only_a), std::slice::from_ref(&a2), "{only_a:#}");
    let only_b = json(&p, GATEWAY, &["overview", "--county", B]);
    assert!(rise_ids(&only_b).is_empty(), "{only_b:#}");
    let to_high = json(&p, GATEWAY, &["overview", "--level", &high]);
    assert_eq!(rise_ids(&to_high), std::slice::from_ref(&a2), "{to_high:#}");
    let to_low = json(&p, GATEWAY, &["overview", "--level", &low]);
    assert!(rise_ids(&to_low).is_empty(), "{to_low:#}");
    let a_at_high = json(&p, GATEWAY, &["overview", "--county", A, "--level", &high]);
    assert_eq!(
        rise_ids(&a_at_high),
        std::slice::from_ref(&a2),
        "{a_at_high:#}"
    );

    // A county's own node counts what it holds: C sees its local risk (the ruled-out one is
    // no open risk).
    let at_c = json(&p, C, &["overview", "--county", C]);
    assert_eq!(at_c["active"], 1);
    // Bad input is refused with the field named.
    let err = p
        .cli(GATEWAY)
        .args(["overview", "--county", "5101"])
        .run()
        .err();
    assert!(err.contains("county"), "{err}");
}

#[test]
fn a_rise_the_gateway_first_saw_already_risen_is_read_from_the_risks_history() {
    let p = TestProvince::abc();
    // Graded III while local, then II: the report brings it to the province at II, with a
    // history that shows III then II. The gateway never saw it at III, yet it rose.
    let c1 = add(&p, C, "Petition over a closed market", "key-work");
    assert_eq!(grade(&p, C, &c1, "3"), "III");
    let graded_ii = json(
        &p,
        C,
        &[
            "risk",
            "grade",
            &c1,
            "--influence",
            "4",
            "--attention",
            "4",
            "--diffusion",
            "4",
        ],
    );
    assert_eq!(graded_ii["level"], "II", "{graded_ii:#}");
    let o = wait::until(
        "the rise at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let o = json(&p, GATEWAY, &["overview", "--county", C]);
            match o["rises"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["risk"] == c1.as_str())
            {
                Some(r) => Ok(r.clone()),
                None => Err(o.to_string()),
            }
        },
    );
    assert_eq!(
        (&o["from"], &o["to"]),
        (&"III".into(), &"II".into()),
        "{o:#}"
    );
    // When it rose: at C's second grading, not when the gateway learnt of it.
    let shown = json(&p, C, &["risk", "show", &c1]);
    let graded_at: Vec<&Value> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == "graded")
        .map(|h| &h["at"])
        .collect();
    assert_eq!(graded_at.len(), 2, "{shown:#}");
    assert_eq!(&o["at"], graded_at[1], "{o:#} {shown:#}");
    // Once only, whatever the paths it came by.
    p.wait_converged();
    let count = |o: &Value| {
        o["rises"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["risk"] == c1.as_str())
            .count()
    };
    assert_eq!(count(&json(&p, GATEWAY, &["overview"])), 1);
}

#[test]
fn health_shows_each_countys_link_and_a_silent_county_stands_out() {
    let mut p = TestProvince::abc();
    let row = |h: &Value, c: &str| {
        h["counties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["county"] == c)
            .unwrap()
            .clone()
    };
    // The gateway learns a county's certificate with the first run of its feeds, which may
    // arrive a moment after the links are up: wait for that, not only for the links.
    let h = wait::until(
        "every county's link and certificate to be known",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let h = json(&p, GATEWAY, &["health"]);
            let known = [A, B, C].iter().all(|c| {
                let r = row(&h, c);
                r["link"] == "connected" && r["certificate_expires"].as_str().is_some()
            });
            if known {
                Ok(h)
            } else {
                Err(h.to_string())
            }
        },
    );
    let now = std::time::SystemTime::now();
    for c in [A, B, C] {
        let r = row(&h, c);
        assert_eq!(r["link"], "connected", "{r:#}");
        assert_eq!(r["silent"], false, "{r:#}");
        assert_eq!(r["equivocations"], 0, "{r:#}");
        // Test certificates last a year: the expiry is known and in the future.
        let expires = r["certificate_expires"].as_str().unwrap();
        assert!(
            expires
                > fenghuo_node::timespec::format_ms(
                    now.duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as i64
                )
                .as_str(),
            "{r:#}"
        );
    }
    p.kill9(C);
    let h = wait::until(
        "C to turn silent",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let h = json(&p, GATEWAY, &["health", "--silent-after", "2s"]);
            if row(&h, C)["silent"] == true && row(&h, C)["link"] != "connected" {
                Ok(h)
            } else {
                Err(h.to_string())
            }
        },
    );
    assert_eq!(row(&h, A)["silent"], false, "{h:#}");
    let text = p
        .cli(GATEWAY)
        .args(["health", "--silent-after", "2s"])
        .run()
        .ok()
        .stdout;
    assert!(text.contains(&format!("{C} SILENT")), "{text}");
    assert!(text.contains("1 silent"), "{text}");
}

fn add_from(p: &Province, code: &str, title: &str, source: &str, scope: Option<&str>) -> String {
    let id = json(
        p,
        code,
        &[
            "risk",
            "add",
            "--title",
            title,
            "--focus",
            "major-event",
            "--source",
            source,
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if let Some(scope) = scope {
        json(p, code, &["risk", "share", &id, "--scope", scope]);
    }
    id
}

#[test]
fn risks_of_different_counties_sharing_a_source_are_linked() {
    let p = TestProvince::abc();
    let a1 = add_from(
        &p,
        A,
        "Video of the land dispute",
        "https://www.Video.example/v/1?utm_source=wx",
        Some("province"),
    );
    let b1 = add_from(
        &p,
        B,
        "Same video reposted",
        "seen at http://video.example/v/1/",
        Some("neighbours"),
    );
    add_from(
        &p,
        C,
        "Same video, kept local",
        "https://video.example/v/1",
        None,
    );
    add_from(
        &p,
        A,
        "Another video",
        "https://video.example/v/2",
        Some("province"),
    );
    let a3 = add_from(
        &p,
        A,
        "Account calling a gathering",
        "Weibo @Zhang_San",
        Some("province"),
    );
    let c2 = add_from(
        &p,
        C,
        "Same account",
        "weibo   @zhang_san",
        Some("province"),
    );
    p.wait_converged();
    let groups = json(&p, GATEWAY, &["linked"]);
    let by_source = |g: &Value, s: &str| {
        g.as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == s)
            .cloned()
    };
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups:#}");
    let video = by_source(&groups, "video.example/v/1").unwrap();
    let ids: Vec<&str> = video["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [a1.as_str(), b1.as_str()],
        "C's local risk stays out: {video:#}"
    );
    assert_eq!(video["counties"], serde_json::json!([A, B]));
    let account = by_source(&groups, "weibo @zhang_san").unwrap();
    assert_eq!(account["risks"].as_array().unwrap().len(), 2, "{account:#}");
    assert_eq!(account["risks"][1]["id"], c2.as_str());
    assert_eq!(account["risks"][0]["id"], a3.as_str());
    // Filtered by county.
    assert_eq!(
        json(&p, GATEWAY, &["linked", "--county", B])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // B's risk points elsewhere now: the video group is gone.
    json(
        &p,
        B,
        &["risk", "update", &b1, "--source", "https://other.example/x"],
    );
    wait::until(
        "the video group to go",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let g = json(&p, GATEWAY, &["linked"]);
            if by_source(&g, "video.example/v/1").is_none() {
                Ok(())
            } else {
                Err(g.to_string())
            }
        },
    );
}
