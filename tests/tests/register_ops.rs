//! The risk officer's work through the CLI (issue 17): identify → grade with the officer's
//! own level → measures added, edited, cancelled, done with notes → a situation note that
//! re-grades → closed as resolved; a false alarm ruled out straight away; and a risk shared
//! with the province carrying all of it to the gateway.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::province::{Province, TestProvince, GATEWAY};
use fenghuo_tests::register::{county_with_zhang, risk_as, show, ZHANG};
use fenghuo_tests::{TestNode, TestPki};
use serde_json::Value;

fn risk(node: &TestNode, pki: &TestPki, args: &[&str]) -> Value {
    risk_as(node, pki, ZHANG, args)
}

/// `fenghuo risk ARGS` as zhang, expected to fail; its stderr.
fn refused(node: &TestNode, pki: &TestPki, args: &[&str]) -> String {
    node.cli(pki, ZHANG).arg("risk").args(args).run().err()
}

/// The history entries of `r` with `action`.
fn entries<'a>(r: &'a Value, action: &str) -> Vec<&'a Value> {
    r["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == action)
        .collect()
}

fn summaries(r: &Value) -> Vec<String> {
    r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["summary"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_officer_grades_with_judgement_works_the_measures_and_resolves_the_risk() {
    let (pki, node) = county_with_zhang();
    let added = risk(
        &node,
        &pki,
        &[
            "add",
            "--title",
            "拆迁补偿视频传播",
            "--focus",
            "重要改革举措",
            "--behaviour",
            "聚集",
        ],
    );
    let id = added["id"].as_str().unwrap().to_owned();

    // Behaviours one at a time.
    let r = risk(
        &node,
        &pki,
        &[
            "update",
            &id,
            "--add-behaviour",
            "上访",
            "--add-behaviour",
            "堵路",
        ],
    );
    assert_eq!(r["behaviours"], serde_json::json!(["聚集", "上访", "堵路"]));
    let r = risk(&node, &pki, &["update", &id, "--remove-behaviour", "聚集"]);
    assert_eq!(r["behaviours"], serde_json::json!(["上访", "堵路"]));
    let err = refused(&node, &pki, &["update", &id, "--remove-behaviour", "聚集"]);
    assert!(err.contains("remove-behaviour"), "{err}");

    // Grade: the officer sets II against the computed level, with a reason (required).
    let err = refused(
        &node,
        &pki,
        &[
            "grade",
            &id,
            "--influence",
            "2",
            "--attention",
            "2",
            "--diffusion",
            "2",
            "--level",
            "重大",
        ],
    );
    assert!(err.contains("--reason"), "{err}");
    let graded = risk(
        &node,
        &pki,
        &[
            "grade",
            &id,
            "--influence",
            "2",
            "--attention",
            "2",
            "--diffusion",
            "2",
            "--level",
            "重大",
            "--reason",
            "同一小区上月已发生聚集",
        ],
    );
    assert_eq!(graded["level"], "II", "{graded:#}");
    assert_eq!(graded["grade"]["level"], "II");
    let computed = graded["grade"]["computed_level"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(computed, "II", "{graded:#}");
    assert_eq!(graded["grade"]["override_reason"], "同一小区上月已发生聚集");
    let summary = entries(&graded, "graded")[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("→ level {computed}"))
            && summary.contains("set to level II 重大 by the officer"),
        "{summary}"
    );
    // Level II, even by the officer's judgement, is a major issue: reported upward.
    assert_eq!(graded["scope"], "upstream", "{graded:#}");

    // Measures: a due date in the past is refused; the measures are then worked through.
    let err = refused(
        &node,
        &pki,
        &[
            "measure",
            "add",
            &id,
            "--action",
            "约谈",
            "--owner",
            "街道办",
            "--due",
            "2020-01-01",
        ],
    );
    assert!(err.contains("due") && err.contains("in the past"), "{err}");
    for action in ["约谈当事人", "发布权威说明"] {
        risk(
            &node,
            &pki,
            &[
                "measure",
                "add",
                &id,
                "--action",
                action,
                "--owner",
                "街道办",
                "--due",
                "2030-01-01",
            ],
        );
    }
    let edited = risk(
        &node,
        &pki,
        &[
            "measure",
            "edit",
            &id,
            "m1",
            "--owner",
            "信访办",
            "--due",
            "2030-02-01",
        ],
    );
    assert_eq!(edited["measures"][0]["owner"], "信访办");
    assert_eq!(edited["measures"][0]["due"], "2030-02-01");
    assert_eq!(edited["measures"][0]["overdue"], false);
    assert_eq!(
        entries(&edited, "measure-edited")[0]["summary"],
        "m1: owner: 街道办 → 信访办; due: 2030-01-01 → 2030-02-01"
    );
    let err = refused(
        &node,
        &pki,
        &["measure", "edit", &id, "m1", "--due", "2001-05-05"],
    );
    assert!(err.contains("in the past"), "{err}");

    // Resolving is refused while a measure is open, naming it.
    let err = refused(
        &node,
        &pki,
        &["close", &id, "--resolved", "--summary", "已化解"],
    );
    assert!(err.contains("m1, m2 still open"), "{err}");
    let err = refused(&node, &pki, &["set-status", &id, "resolved"]);
    assert!(err.contains("risk close"), "{err}");

    let cancelled = risk(
        &node,
        &pki,
        &["measure", "cancel", &id, "m2", "--reason", "由区里统一发布"],
    );
    assert_eq!(cancelled["measures"][1]["status"], "cancelled");
    assert_eq!(cancelled["measures"][1]["note"], "由区里统一发布");
    let done = risk(
        &node,
        &pki,
        &[
            "measure",
            "done",
            &id,
            "m1",
            "--note",
            "已约谈三户，诉求已登记",
        ],
    );
    assert_eq!(done["measures"][0]["status"], "done");
    assert_eq!(done["measures"][0]["note"], "已约谈三户，诉求已登记");

    // Dynamic management: a note, then a note that re-grades with the standard in force.
    let noted = risk(&node, &pki, &["note", &id, "转发量明显下降"]);
    assert_eq!(
        entries(&noted, "noted")[0]["summary"],
        "note: 转发量明显下降"
    );
    risk(&node, &pki, &["set-status", &id, "monitoring"]);
    let regraded = risk(
        &node,
        &pki,
        &[
            "note",
            &id,
            "一周无新帖",
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
        ],
    );
    assert_eq!(regraded["level"], "IV", "{regraded:#}");
    assert_eq!(regraded["grade"]["override_reason"], Value::Null);
    let summary = entries(&regraded, "noted")[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "note: 一周无新帖; re-graded influence 1 / attention 1 / diffusion 1 → level IV"
        ) && summary.contains("level II → IV"),
        "{summary}"
    );

    // Closed as resolved, with the summary; the record and the history keep it.
    let closed = risk(
        &node,
        &pki,
        &[
            "close",
            &id,
            "--resolved",
            "--summary",
            "诉求已解决，舆情平息",
        ],
    );
    assert_eq!(closed["status"], "resolved");
    assert_eq!(closed["closure"]["status"], "resolved");
    assert_eq!(closed["closure"]["text"], "诉求已解决，舆情平息");
    assert_eq!(closed["closure"]["by"], "staff/510104/zhang");

    let shown = show(&node, &pki, ZHANG, &id);
    let actions: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    for step in [
        "created",
        "updated",
        "graded",
        "measure-added",
        "measure-edited",
        "measure-updated",
        "noted",
        "status-set",
        "closed",
    ] {
        assert!(actions.contains(&step), "{step} missing from {actions:?}");
    }
    let all = summaries(&shown);
    for expected in [
        "m2: planned → cancelled 取消; reason: 由区里统一发布",
        "m1: planned → done 完成; note: 已约谈三户，诉求已登记",
        "resolved 化解: 诉求已解决，舆情平息; status monitoring → resolved",
    ] {
        assert!(
            all.iter().any(|s| s == expected),
            "{expected:?} not in {all:#?}"
        );
    }

    // `risk show` in words: the level, the notes, the closing, the measures with theirs.
    let text = node
        .cli(&pki, ZHANG)
        .args(["risk", "show", &id])
        .run()
        .ok()
        .stdout;
    for expected in [
        "resolved 化解",
        "诉求已解决，舆情平息",
        "note: 一周无新帖",
        "note: 转发量明显下降",
        "cancelled 取消",
        "由区里统一发布",
        "set to level II 重大 by the officer",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

#[test]
fn a_false_alarm_is_ruled_out_straight_from_identified_and_can_be_reopened() {
    let (pki, node) = county_with_zhang();
    let id = risk(
        &node,
        &pki,
        &[
            "add",
            "--title",
            "化工厂泄漏传言",
            "--focus",
            "emergency-trigger",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = refused(&node, &pki, &["close", &id, "--ruled-out"]);
    assert!(err.contains("--reason"), "{err}");
    // Another county's staff may neither note, grade, edit measures nor close here.
    pki.issue_staff("510105", "li");
    for args in [
        &["note", id.as_str(), "not mine"][..],
        &["close", &id, "--ruled-out", "--reason", "not mine"],
        &["measure", "edit", &id, "m1", "--owner", "x"],
        &[
            "grade",
            &id,
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
            "--level",
            "I",
            "--reason",
            "x",
        ],
    ] {
        let err = node
            .cli(&pki, "staff-510105-li")
            .arg("risk")
            .args(args)
            .run()
            .err();
        assert!(err.contains("permission denied"), "{args:?}: {err}");
    }
    let err = refused(&node, &pki, &["close", &id, "--resolved", "--summary", "x"]);
    assert!(
        err.contains("identified") && err.contains("resolved"),
        "{err}"
    );

    let out = risk(
        &node,
        &pki,
        &[
            "close",
            &id,
            "--ruled-out",
            "--reason",
            "环保局检测无异常，系谣言",
        ],
    );
    assert_eq!(out["status"], "ruled-out", "{out:#}");
    assert_eq!(out["level"], Value::Null, "no grade was needed");
    assert_eq!(out["closure"]["status"], "ruled-out");
    assert_eq!(out["closure"]["text"], "环保局检测无异常，系谣言");
    assert_eq!(
        entries(&out, "closed")[0]["summary"],
        "ruled out 排除 (false alarm 误报): 环保局检测无异常，系谣言; status identified → ruled-out"
    );
    // Listed by its status, in English or Chinese.
    for status in ["ruled-out", "排除"] {
        let list = node
            .cli(&pki, ZHANG)
            .args(["risk", "list", "--status", status, "--json"])
            .run()
            .ok()
            .json();
        assert_eq!(
            fenghuo_tests::register::ids(&list),
            std::slice::from_ref(&id),
            "{status}"
        );
    }
    // A closed risk takes no measure until it is reopened.
    let err = refused(
        &node,
        &pki,
        &[
            "measure",
            "add",
            &id,
            "--action",
            "a",
            "--owner",
            "o",
            "--due",
            "2030-01-01",
        ],
    );
    assert!(err.contains("reopen"), "{err}");
    let reopened = risk(&node, &pki, &["set-status", &id, "monitoring"]);
    assert_eq!(reopened["status"], "monitoring");
    assert_eq!(reopened["closure"], Value::Null);
}

/// The gateway's view of `id` once it has caught up with the county: what `risk show` gives
/// at the county.
fn assert_gateway_agrees(p: &Province, county: &str, id: &str) -> Value {
    p.wait_converged();
    let theirs = p.show(county, id);
    let ours = p.show(GATEWAY, id);
    assert!(
        ours == theirs,
        "the gateway's view of {id} differs from {county}'s:\n{county}: {theirs:#}\ngateway: {ours:#}"
    );
    ours
}

#[test]
fn a_risk_shared_with_the_province_carries_its_notes_judgement_and_closing_to_the_gateway() {
    const A: &str = "510104";
    let p = TestProvince::new("51").county(A).start();
    let id = p.risk(
        A,
        &[
            "add",
            "--title",
            "Bus route petition",
            "--focus",
            "key-work",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 1/1/1 computes IV; the officer sets III (not a major issue: nothing goes upward yet).
    let graded = p.risk(
        A,
        &[
            "grade",
            &id,
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
            "--level",
            "III",
            "--reason",
            "Second petition this month",
        ],
    );
    assert_eq!(graded["level"], "III", "{graded:#}");
    assert_eq!(graded["scope"], "local");
    p.risk(
        A,
        &[
            "measure",
            "add",
            &id,
            "--action",
            "Meet the petitioners",
            "--owner",
            "Transport",
            "--due",
            "2030-03-01",
        ],
    );
    p.risk(
        A,
        &["measure", "done", &id, "m1", "--note", "Met on Tuesday"],
    );
    p.risk(
        A,
        &["note", &id, "Petitioners satisfied with the timetable"],
    );

    // Shared: the snapshot carries all of it.
    p.risk(A, &["share", &id, "--scope", "province"]);
    let at_gateway = assert_gateway_agrees(&p, A, &id);
    assert_eq!(at_gateway["grade"]["computed_level"], "IV");
    assert_eq!(at_gateway["grade"]["level"], "III");
    assert_eq!(
        at_gateway["grade"]["override_reason"],
        "Second petition this month"
    );
    assert_eq!(at_gateway["measures"][0]["note"], "Met on Tuesday");
    let all = summaries(&at_gateway);
    assert!(
        all.iter()
            .any(|s| s == "note: Petitioners satisfied with the timetable"),
        "{all:#?}"
    );

    // What follows the share travels in the province feed: a note with a re-grade, then
    // the closing.
    p.risk(
        A,
        &[
            "note",
            &id,
            "Quiet for a week",
            "--influence",
            "1",
            "--attention",
            "1",
            "--diffusion",
            "1",
        ],
    );
    p.risk(
        A,
        &[
            "close",
            &id,
            "--resolved",
            "--summary",
            "New timetable agreed",
        ],
    );
    let at_gateway = assert_gateway_agrees(&p, A, &id);
    assert_eq!(at_gateway["status"], "resolved");
    assert_eq!(at_gateway["closure"]["text"], "New timetable agreed");
    assert_eq!(at_gateway["level"], "IV");
    assert!(
        summaries(&at_gateway)
            .iter()
            .any(|s| s.starts_with("note: Quiet for a week; re-graded")),
        "{at_gateway:#}"
    );
}

/// Over gRPC: the standard's thresholds and weights come as fields, and a client that skips
/// the CLI's checks gets `INVALID_ARGUMENT` naming the field, with nothing written.
#[tokio::test]
async fn the_new_calls_refuse_what_the_cli_would_not_send() {
    use fenghuo_proto::v1;
    let (pki, node) = county_with_zhang();
    let mut client = node.registry(&pki, ZHANG).await;
    let std = client
        .get_grading_standard(v1::GetGradingStandardRequest {})
        .await
        .unwrap()
        .into_inner();
    let shipped =
        fenghuo_node::domain::GradingStandard::from_toml(&std.toml).expect("the TOML it gives");
    assert_eq!(
        (
            std.threshold_level_i,
            std.threshold_level_ii,
            std.threshold_level_iii
        ),
        (
            shipped.thresholds.level_i,
            shipped.thresholds.level_ii,
            shipped.thresholds.level_iii
        )
    );
    assert_eq!(
        (
            std.weight_influence,
            std.weight_attention,
            std.weight_diffusion
        ),
        (
            shipped.weights.influence,
            shipped.weights.attention,
            shipped.weights.diffusion
        )
    );

    let id = client
        .create_risk(v1::CreateRiskRequest {
            title: "gRPC only".into(),
            focus: v1::FocusPoint::KeyWork as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let before = show(&node, &pki, ZHANG, &id);
    let code = |r: Result<tonic::Response<v1::Risk>, tonic::Status>, field: &str| {
        let s = r.unwrap_err();
        assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
        assert!(s.message().contains(field), "{field}: {s:?}");
    };
    code(
        client
            .add_note(v1::AddNoteRequest {
                id: id.clone(),
                note: "only one score".into(),
                influence: Some(3),
                ..Default::default()
            })
            .await,
        "diffusion",
    );
    code(
        client
            .close_risk(v1::CloseRiskRequest {
                id: id.clone(),
                status: v1::RiskStatus::Monitoring as i32,
                text: "x".into(),
            })
            .await,
        "status",
    );
    code(
        client
            .grade_risk(v1::GradeRiskRequest {
                id: id.clone(),
                influence: 3,
                attention: 3,
                diffusion: 3,
                override_level: 99,
                reason: "x".into(),
            })
            .await,
        "override_level",
    );
    code(
        client
            .grade_risk(v1::GradeRiskRequest {
                id: id.clone(),
                influence: 3,
                attention: 3,
                diffusion: 3,
                override_level: v1::Level::I as i32,
                reason: String::new(),
            })
            .await,
        "reason",
    );
    code(
        client
            .update_measure(v1::UpdateMeasureRequest {
                id: id.clone(),
                measure_id: "m1".into(),
                status: 42,
                note: String::new(),
            })
            .await,
        "status",
    );
    assert_eq!(show(&node, &pki, ZHANG, &id), before, "nothing was written");
}

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";

/// Counties A, B (A's neighbour) and C (not), every node knowing every county, and a risk
/// of A's; its id.
fn three_counties_and_a_risk() -> (Province, String) {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .county(C)
        .neighbours(A, B)
        .start();
    let id = p.risk(
        A,
        &["add", "--title", "跨区施工纠纷", "--focus", "重点工作中心"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.wait_converged();
    (p, id)
}

/// An alert A issues to the whole province; its id.
fn province_alert(p: &Province) -> String {
    p.cli(A)
        .args([
            "alert",
            "issue",
            "--headline",
            "施工现场聚集",
            "--severity",
            "moderate",
            "--urgency",
            "expected",
            "--certainty",
            "likely",
            "--audience",
            "province",
            "--json",
        ])
        .run()
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `alert watch --json --from-start --count n` at `name`: its first `n` journal events.
fn first_events(p: &Province, name: &str, n: usize) -> Vec<Value> {
    p.cli(name)
        .args(["alert", "watch", "--json", "--from-start", "--count"])
        .arg(n.to_string())
        .timeout(fenghuo_tests::province::SYNC_TIMEOUT)
        .run()
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_risk_shared_with_a_named_county_notifies_that_county_alone() {
    let (p, id) = three_counties_and_a_risk();

    // Named counties must be counties of the province that have joined, not A itself.
    for (bad, why) in [(A, "own county"), ("510199", "unknown county")] {
        let e = p
            .cli(A)
            .args(["risk", "share", &id, "--to", bad])
            .run()
            .err();
        assert!(e.contains("counties") && e.contains(why), "{bad}: {e}");
    }

    // Shared with C by name: C is not A's neighbour, so it travels in the province's feed.
    let r = p.risk(A, &["share", &id, "--to", C]);
    assert_eq!(r["shared_with"], serde_json::json!([C]), "{r:#}");
    assert_eq!(r["scope"], "province", "{r:#}");
    let e = p.cli(A).args(["risk", "share", &id, "--to", C]).run().err();
    assert!(e.contains("already shared"), "{e}");
    let text = p
        .cli(A)
        .args(["risk", "share", &id, "--to", &format!("{B},{C}")])
        .run()
        .ok()
        .stdout;
    assert!(
        text.contains("青羊区 510105") && text.contains("510106"),
        "{text}"
    );

    // An alert to the whole province after it: the first thing C hears of is the risk, and
    // B, named second, too; the gateway hears of it; a later open share to the neighbours
    // reaches nobody new at C.
    let alert = province_alert(&p);
    let at_c = first_events(&p, C, 2);
    assert_eq!(at_c[0]["kind"], "risk-shared", "{at_c:?}");
    assert_eq!(at_c[0]["id"], id.as_str());
    assert_eq!(at_c[1]["id"], alert.as_str(), "{at_c:?}");
    let at_b = first_events(&p, B, 2);
    assert!(
        at_b.iter()
            .any(|e| e["kind"] == "risk-shared" && e["id"] == id.as_str()),
        "{at_b:?}"
    );
    // C holds the risk, with whom it was shared.
    let held = p.show(C, &id);
    assert_eq!(held["shared_with"], serde_json::json!([C, B]), "{held:#}");
}

#[test]
fn a_county_not_named_holds_the_entry_but_is_not_told() {
    let (p, id) = three_counties_and_a_risk();
    p.risk(A, &["share", &id, "--to", C]);
    let alert = province_alert(&p);
    // B (A's neighbour, but not named) receives the province's feed and holds the entry, yet
    // its first journal event is the alert, not the risk.
    let at_b = first_events(&p, B, 1);
    assert_eq!(at_b[0]["id"], alert.as_str(), "{at_b:?}");
    // Opening it to the neighbours afterwards tells B (in the province's feed it now travels in).
    p.risk(A, &["share", &id, "--scope", "neighbours"]);
    let at_b = first_events(&p, B, 2);
    assert!(
        at_b.iter()
            .any(|e| e["kind"] == "risk-shared" && e["id"] == id.as_str()),
        "{at_b:?}"
    );
}
