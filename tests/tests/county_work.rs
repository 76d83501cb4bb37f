//! A county officer's day on the county node's web pages (issue 17), end to end: real
//! binaries, a province of two neighbouring counties and a gateway; county 510104 serves its
//! pages. The officer signs in (Chinese by default, English after the switch), identifies a
//! risk through the form, grades it (the page shows the level and the thresholds), adds a
//! measure (a past due date refused with what was typed kept), shares it with the province
//! (the gateway gets it), acknowledges an alert the gateway addressed to the county, answers
//! a directive, and files a disposal request to a partner the province registered; the
//! header's unread counts fall as they act. A viewer reads and is refused every write (403).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use fenghuo_tests::web::{Reply, Web};

const A: &str = "510104";
const B: &str = "510105";
const PASSWORD: &str = "long enough password";
const PARTNER: &str = "weibo";

/// The province, with county A serving its pages to officer `lin` and viewer `kan`.
fn province() -> (Province, String) {
    let mut p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();
    let url = p.serve_county_pages(A, &[("lin", "officer"), ("kan", "viewer")], PASSWORD);
    (p, url)
}

fn signed_in(p: &Province, url: &str, name: &str) -> Web {
    let mut web = Web::new(url, &p.pki().web_ca_cert());
    let r = web.sign_in(name, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    web
}

/// The `data-n` of the header's unread count `id` on `page`.
fn unread(page: &Reply, id: &str) -> usize {
    let marker = format!("id=\"{id}\" data-n=\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in the header: {}", page.body))
        + marker.len();
    let rest = &page.body[at..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

fn csrf(web: &mut Web, path: &str) -> String {
    let page = web.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    page.csrf().expect("a CSRF token on the page")
}

/// GETs `path` until `pred` holds for the page.
fn wait_page(web: &mut Web, path: &str, what: &str, pred: impl Fn(&Reply) -> bool) -> Reply {
    wait::until(what, SYNC_TIMEOUT, Duration::from_millis(200), || {
        let page = web.get(path);
        if page.status == 200 && pred(&page) {
            Ok(page)
        } else {
            Err(format!("{}: {}", page.status, page.body))
        }
    })
}

#[test]
fn an_officer_works_the_register_and_the_inbox_in_chinese_and_a_viewer_only_reads() {
    let (p, url) = province();
    p.pki().issue_partner(PARTNER);
    p.gateway_cli()
        .args([
            "partner",
            "add",
            PARTNER,
            "--display-name",
            "微博",
            "--json",
        ])
        .run()
        .ok();
    let mut lin = signed_in(&p, &url, "lin");

    // Chinese by default; English after the switch, kept by the cookie; and back.
    let home = lin.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<html lang=\"zh-CN\">"), "{}", home.body);
    for zh in ["台账", "收件箱", "概况", "处置"] {
        assert!(home.body.contains(zh), "{zh} missing: {}", home.body);
    }
    let en = lin.get("/?lang=en");
    assert!(en.body.contains("<html lang=\"en\">"), "{}", en.body);
    assert!(en.body.contains("At a glance") && en.body.contains("Register"));
    assert_eq!(
        lin.cookies.get("fenghuo_lang").map(String::as_str),
        Some("en")
    );
    let register = lin.get("/register");
    assert!(
        register.body.contains("<html lang=\"en\">"),
        "{}",
        register.body
    );
    lin.get("/register?lang=zh");
    assert!(lin.get("/register").body.contains("<html lang=\"zh-CN\">"));

    // Identify: a form without a focus point comes back with what was typed.
    let token = csrf(&mut lin, "/register/new");
    let fields = [
        ("csrf", token.as_str()),
        ("title", "拆迁补偿视频扩散"),
        ("source", "https://weibo.com/u/123"),
        ("risk_point", "城东片区"),
        ("behaviours", "聚集\n拉横幅"),
        ("department", "住建局"),
        ("description", "视频称补偿不公。"),
    ];
    let r = lin.post("/register/new", &fields);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("拆迁补偿视频扩散") && r.body.contains("住建局"),
        "{}",
        r.body
    );
    let mut with_focus = fields.to_vec();
    with_focus.push(("focus", "policy-adjustment"));
    let r = lin.post("/register/new", &with_focus);
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/register/{A}-1"));
    let id = format!("{A}-1");
    let risk = lin.get(&location);
    assert!(risk.body.contains("拆迁补偿视频扩散") && risk.body.contains("政策调整热点难点"));
    let list = lin.get("/register?q=%E6%8B%86%E8%BF%81");
    assert!(list.body.contains("data-total=\"1\""), "{}", list.body);
    let csv = lin.get("/export/register.csv");
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains(&id), "{}", csv.body);

    // Grade: the page shows the level and the standard's thresholds.
    let token = risk.csrf().unwrap();
    let r = lin.post(
        &format!("/register/{id}/grade"),
        &[
            ("csrf", &token),
            ("influence", "3"),
            ("attention", "3"),
            ("diffusion", "2"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let risk = lin.get(&location);
    assert!(
        risk.body.contains("id=\"grade-level\" data-level=\""),
        "{}",
        risk.body
    );
    assert!(risk.body.contains("id=\"thresholds\"") && risk.body.contains("I ≥ "));

    // A measure due in the past is refused, the form kept; a later one is added.
    let measure = |due: &str| {
        vec![
            ("csrf", token.clone()),
            ("action", "约谈当事人".to_owned()),
            ("owner", "信访办".to_owned()),
            ("due", due.to_owned()),
        ]
    };
    let post = |web: &mut Web, path: &str, f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web.post(path, &f)
    };
    let r = post(
        &mut lin,
        &format!("/register/{id}/measure"),
        measure("2020-01-01"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-measure\""), "{}", r.body);
    assert!(r.body.contains("value=\"约谈当事人\"") && r.body.contains("value=\"2020-01-01\""));
    let r = post(
        &mut lin,
        &format!("/register/{id}/measure"),
        measure("2199-12-31"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(lin.get(&location).body.contains("约谈当事人"));

    // Shared with the province: the gateway gets it.
    let r = lin.post(
        &format!("/register/{id}/share"),
        &[("csrf", &token), ("scope", "province")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    wait::until(
        "the shared risk at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            if p.risk_ids(GATEWAY).contains(&id) {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
    );

    // Shared with a named county too: an unknown code is refused beside the form, the
    // neighbour by name is recorded (and shown by name).
    let r = lin.post(
        &format!("/register/{id}/share-with"),
        &[("csrf", &token), ("counties", "510199")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-share-with\""), "{}", r.body);
    let r = lin.post(
        &format!("/register/{id}/share-with"),
        &[("csrf", &token), ("counties", B)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get(&location);
    assert!(page.body.contains("id=\"shared-with\""), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "datalist id=\"sw-known\"><option value=\"{B}\">青羊区 {B}"
        )),
        "{}",
        page.body
    );

    // An alert the gateway addresses to the county: counted, acknowledged with a note, gone.
    let alert = p
        .gateway_cli()
        .args([
            "alert",
            "issue",
            "--headline",
            "县政府门前聚集",
            "--severity",
            "severe",
            "--urgency",
            "expected",
            "--certainty",
            "likely",
            "--audience",
            A,
            "--expires",
            "1d",
            "--json",
        ])
        .run()
        .ok()
        .json();
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    let inbox = wait_page(&mut lin, "/register", "the alert in the header", |page| {
        unread(page, "unread-alerts") == 1
    });
    let token = inbox.csrf().unwrap();
    let r = lin.post(
        "/inbox/alerts/ack",
        &[("csrf", &token), ("id", &alert_id), ("note", "已派员到场")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get("/inbox");
    assert_eq!(unread(&page, "unread-alerts"), 0, "{}", page.body);
    assert!(page.body.contains("已派员到场"), "{}", page.body);

    // A directive: counted, answered, gone.
    let directive = p
        .gateway_cli()
        .args([
            "directive",
            "issue",
            "--text",
            "请报送拆迁补偿舆情处置进展",
            "--deadline",
            "2d",
            "--to",
            A,
            "--json",
        ])
        .run()
        .ok()
        .json();
    let directive_id = directive["id"].as_str().unwrap().to_owned();
    let page = wait_page(&mut lin, "/inbox", "the directive in the inbox", |page| {
        unread(page, "unread-directives") == 1
    });
    assert!(page.body.contains("请报送拆迁补偿舆情处置进展"));
    let r = lin.post(
        "/inbox/directives/respond",
        &[
            ("csrf", &token),
            ("id", &directive_id),
            ("status", "responded"),
            ("text", "已约谈，舆情平稳"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(unread(&lin.get("/inbox"), "unread-directives"), 0);

    // A disposal request to the partner the province registered (once its declaration
    // reached the county).
    wait_page(&mut lin, "/disposal", "the partner at the county", |page| {
        page.body.contains(&format!("option value=\"{PARTNER}\""))
    });
    let r = lin.post(
        "/disposal",
        &[
            ("csrf", &token),
            ("partner", PARTNER),
            ("urls", "https://weibo.com/u/123/status/1"),
            ("action", "label"),
            ("reason", "视频内容与事实不符"),
            ("legal_basis", "网络信息内容生态治理规定"),
            ("risk", &id),
            ("deadline", "48h"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lin.get("/disposal");
    assert!(
        page.body.contains("https://weibo.com/u/123/status/1") && page.body.contains(&id),
        "{}",
        page.body
    );

    // At a glance: the county's own counts.
    let glance = lin.get("/");
    assert!(
        glance.body.contains("id=\"glance-active\""),
        "{}",
        glance.body
    );

    // A viewer reads, and every write is refused.
    let mut kan = signed_in(&p, &url, "kan");
    let page = kan.get(&location);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("form-grade"), "{}", page.body);
    let token = page.csrf().unwrap();
    for (path, fields) in [
        (
            "/register/new".to_owned(),
            vec![
                ("csrf", token.as_str()),
                ("title", "x"),
                ("focus", "major-event"),
            ],
        ),
        (
            format!("/register/{id}/grade"),
            vec![
                ("csrf", token.as_str()),
                ("influence", "1"),
                ("attention", "1"),
                ("diffusion", "1"),
            ],
        ),
        (
            "/inbox/alerts/ack".to_owned(),
            vec![("csrf", token.as_str()), ("id", alert_id.as_str())],
        ),
        (
            "/disposal".to_owned(),
            vec![("csrf", token.as_str()), ("partner", PARTNER)],
        ),
    ] {
        let r = kan.post(&path, &fields);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    assert_eq!(p.risk_ids(A).len(), 1, "the viewer's posts wrote nothing");
}
