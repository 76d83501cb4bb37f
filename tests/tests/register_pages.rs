//! The register's operations on a county's pages (issue 17), end to end over HTTPS against a
//! real node that requires a leader's sign-off of closures (`[sign_off] closures = true`):
//! an officer grades with a level set by judgement (a reason required), writes situation
//! notes (one re-grading), edits, cancels and completes measures, adds and removes one
//! behaviour, and proposes a closure; the leader sends it back, then signs off the next one;
//! the closure names both; the officer reopens it. The history names people by display name,
//! department and county. Over gRPC the officer's certificate cannot close (the leader's
//! can), and a viewer's page posts are refused.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::web::{Reply, Web};
use fenghuo_tests::{TestNode, TestPki};

const A: &str = "510104";
const PASSWORD: &str = "long enough password";

fn signed_in(node: &TestNode, pki: &TestPki, name: &str) -> Web {
    let mut web = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    let r = web.sign_in(name, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    web
}

/// POSTs `fields` (with the page's CSRF token) to `/register/{id}/{form}`.
fn post(web: &mut Web, id: &str, form: &str, fields: &[(&str, &str)]) -> Reply {
    let token = web.get(&format!("/register/{id}")).csrf().unwrap();
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    web.post(&format!("/register/{id}/{form}"), &all)
}

/// The text inside the element with `id` on `page` (tags stripped), or panics.
fn text_of(page: &Reply, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} on the page: {}", page.body));
    let open_end = at + page.body[at..].find('>').unwrap() + 1;
    let close = open_end + page.body[open_end..].find("</dd>").unwrap_or(0);
    let mut out = String::new();
    let mut in_tag = false;
    for c in page.body[open_end..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn an_officer_uses_every_register_form_and_a_leader_signs_off_the_closure() {
    let pki = TestPki::new("51");
    let node = TestNode::builder(&pki, A)
        .dashboard()
        .config("[sign_off]\nclosures = true\n")
        .staff("kan", "viewer", PASSWORD)
        .start();
    let stem = format!("county-{A}");
    for (name, role, display, department) in [
        ("lin", "officer", "林晓", "县委网信办"),
        ("wang", "leader", "王强", "县委政法委"),
    ] {
        node.add_staff_with(
            &pki,
            &stem,
            name,
            role,
            PASSWORD,
            &["--display-name", display, "--department", department],
        )
        .ok();
    }
    let mut lin = signed_in(&node, &pki, "lin");

    // Identify.
    let token = lin.get("/register/new").csrf().unwrap();
    let r = lin.post(
        "/register/new",
        &[
            ("csrf", token.as_str()),
            ("title", "拆迁补偿视频扩散"),
            ("focus", "policy-adjustment"),
            ("behaviours", "聚集"),
            ("department", "住建局"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let id = format!("{A}-1");
    let page = lin.get(&format!("/register/{id}"));
    for form in [
        "form-grade",
        "form-note",
        "form-measure",
        "form-behaviour",
        "form-close",
    ] {
        assert!(page.body.contains(&format!("id=\"{form}\"")), "{form}");
    }
    assert!(page.body.contains("本县要求分管领导签批"), "{}", page.body);

    // Grade with a level set by judgement: refused without a reason (what was typed kept),
    // accepted with one; the page shows the set level, the computed one and the reason.
    let scores = [("influence", "2"), ("attention", "2"), ("diffusion", "2")];
    let mut judged = scores.to_vec();
    judged.push(("level", "重大"));
    let r = post(&mut lin, &id, "grade", &judged);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-grade\""), "{}", r.body);
    judged.push(("reason", "涉及群体性诉求"));
    let r = post(&mut lin, &id, "grade", &judged);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(
        page.body.contains("id=\"grade-level\" data-level=\"II\""),
        "{}",
        page.body
    );
    assert!(text_of(&page, "grade-override").contains("涉及群体性诉求"));
    assert!(
        page.body.contains("id=\"grade-computed\" data-level=\"")
            && !page
                .body
                .contains("id=\"grade-computed\" data-level=\"II\"")
    );

    // Situation notes: a partial re-grade is refused; a note alone, then a note that
    // re-grades (the computed level follows; no judgement this time).
    let r = post(
        &mut lin,
        &id,
        "note",
        &[("note", "热度上升"), ("note_influence", "5")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-note\"") && r.body.contains("热度上升"));
    let r = post(&mut lin, &id, "note", &[("note", "当事人情绪平稳")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &mut lin,
        &id,
        "note",
        &[
            ("note", "转发量激增"),
            ("note_influence", "5"),
            ("note_attention", "5"),
            ("note_diffusion", "5"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(page.body.contains("当事人情绪平稳") && page.body.contains("转发量激增"));
    assert!(
        page.body.contains("id=\"grade-level\" data-level=\"I\""),
        "{}",
        page.body
    );

    // Measures: two added; one edited, then cancelled (a reason required); the other done
    // with a note.
    for action in ["约谈当事人", "发布权威信息"] {
        let r = post(
            &mut lin,
            &id,
            "measure",
            &[
                ("action", action),
                ("owner", "信访办"),
                ("due", "2199-12-31"),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = post(
        &mut lin,
        &id,
        "measure-edit",
        &[("edit_measure", "m1"), ("edit_owner", "街道办")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &mut lin,
        &id,
        "measure-edit",
        &[("edit_measure", "m1"), ("edit_due", "2020-01-01")],
    );
    assert_eq!(r.status, 400, "a past due date: {}", r.body);
    assert!(r.body.contains("id=\"error-measure-edit\""));
    let r = post(
        &mut lin,
        &id,
        "measure-status",
        &[("measure", "m1"), ("measure_status", "cancelled")],
    );
    assert_eq!(r.status, 400, "cancelled without a reason: {}", r.body);
    for (m, status, note) in [
        ("m1", "cancelled", "当事人已外出"),
        ("m2", "done", "已在官方账号发布"),
    ] {
        let r = post(
            &mut lin,
            &id,
            "measure-status",
            &[
                ("measure", m),
                ("measure_status", status),
                ("measure_note", note),
            ],
        );
        assert_eq!(r.status, 303, "{m}: {}", r.body);
    }
    let page = lin.get(&format!("/register/{id}"));
    for seen in ["街道办", "当事人已外出", "已在官方账号发布", "已取消"] {
        assert!(page.body.contains(seen), "{seen}: {}", page.body);
    }

    // One behaviour added, another removed; removing one that is not there is refused.
    let r = post(
        &mut lin,
        &id,
        "behaviour",
        &[("behaviour_change", "add"), ("behaviour", "拉横幅")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &mut lin,
        &id,
        "behaviour",
        &[("behaviour_change", "remove"), ("behaviour", "聚集")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &mut lin,
        &id,
        "behaviour",
        &[("behaviour_change", "remove"), ("behaviour", "静坐")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert_eq!(text_of(&page, "risk-behaviours"), "拉横幅");

    // Over gRPC the officer's own certificate cannot close: the county wants a leader.
    pki.issue_staff(A, "lin").issue_staff(A, "wang");
    let e = node
        .cli(&pki, &format!("staff-{A}-lin"))
        .args(["risk", "close", &id, "--resolved", "--summary", "已化解"])
        .run()
        .err();
    assert!(e.contains("sign-off") && e.contains("签批"), "{e}");

    // The officer proposes closing as resolved: it waits, and the officer cannot sign off.
    let r = post(
        &mut lin,
        &id,
        "close",
        &[
            ("closure", "resolved"),
            ("close_text", "经约谈和发布信息，舆情平息"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(page.body.contains("id=\"sign-off\""), "{}", page.body);
    assert!(!page.body.contains("id=\"form-sign-off\""));
    assert!(
        !page.body.contains("data-status=\"resolved\""),
        "not closed yet"
    );
    let r = post(&mut lin, &id, "sign-off", &[]);
    assert_eq!(r.status, 400, "{}", r.body);

    // The leader sends it back with a reason, which the officer then reads.
    let mut wang = signed_in(&node, &pki, "wang");
    let r = post(&mut wang, &id, "return", &[]);
    assert_eq!(r.status, 400, "a reason is required: {}", r.body);
    let r = post(
        &mut wang,
        &id,
        "return",
        &[("return_reason", "请补充群众满意度")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(text_of(&page, "proposal-returned").contains("请补充群众满意度"));
    assert!(page.body.contains("id=\"form-close\""), "proposing again");

    // Proposed again; the leader signs it off: resolved, both people named.
    let r = post(
        &mut lin,
        &id,
        "close",
        &[
            ("closure", "resolved"),
            ("close_text", "舆情平息，群众满意"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(&mut wang, &id, "sign-off", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(
        page.body.contains("data-status=\"resolved\""),
        "{}",
        page.body
    );
    let closure = text_of(&page, "risk-closure");
    assert!(
        closure.contains("舆情平息，群众满意") && closure.contains("经办：林晓 (lin)"),
        "{closure}"
    );
    assert!(
        closure.contains("王强 (wang) · 县委政法委 · 锦江区 510104"),
        "{closure}"
    );
    // The history names people by display name, department and county.
    assert!(
        page.body
            .contains("林晓 (lin) · 县委网信办 · 锦江区 510104"),
        "{}",
        page.body
    );

    // Reopened by the officer: monitoring again, no stale proposal, closing offered again.
    let r = post(&mut lin, &id, "status", &[("status", "monitoring")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&format!("/register/{id}"));
    assert!(page.body.contains("data-status=\"monitoring\""));
    assert!(!page.body.contains("id=\"sign-off\"") && page.body.contains("id=\"form-close\""));

    // The leader's certificate closes over gRPC (ruled out, from any state).
    let out = node
        .cli(&pki, &format!("staff-{A}-wang"))
        .args([
            "risk",
            "close",
            &id,
            "--ruled-out",
            "--reason",
            "复核为误报",
            "--json",
        ])
        .run()
        .ok()
        .json();
    assert_eq!(out["status"], "ruled-out", "{out}");

    // A viewer reads the page without forms and is refused a post.
    let mut kan = signed_in(&node, &pki, "kan");
    let page = kan.get(&format!("/register/{id}"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"form-status\""));
    let token = page.csrf().unwrap();
    let r = kan.post(
        &format!("/register/{id}/note"),
        &[("csrf", token.as_str()), ("note", "x")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
}
