//! The gateway's web dashboard without a browser: staff accounts made with `fenghuo staff`,
//! sign-in with its CSRF token and rate limit, session cookies, roles, CSRF on every form,
//! refusal of every page and export without a session, and exports equal to the gRPC views.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;
use fenghuo_tests::web::{Reply, Web};
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const PASSWORD: &str = "long enough password";

/// Every page, export and stream the dashboard serves (the sign-in page aside).
const PAGES: &[&str] = &[
    "/",
    "/?level=I&days=90",
    "/comms",
    "/health",
    "/linked",
    "/county/510104",
    "/risk/510104-1",
    "/staff",
    "/events",
    "/assets/live.js",
];
/// Every exportable table.
const TABLES: &[&str] = &[
    "levels",
    "focus",
    "status",
    "counties",
    "days",
    "rises",
    "alerts",
    "receipts",
    "reports",
    "directives",
    "answers",
    "health",
    "linked",
    "county-risks",
    "risk",
    "risk-measures",
    "risk-history",
    "staff",
    "disposal",
    "partners",
];
/// Every form.
const FORMS: &[&str] = &[
    "/reports/ack",
    "/directives",
    "/staff",
    "/staff/vic/remove",
    "/logout",
];

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

fn web(p: &Province) -> Web {
    Web::new(&p.dashboard_url(), &p.pki().web_ca_cert())
}

fn signed_in(p: &Province, name: &str) -> (Web, String) {
    let mut w = web(p);
    let r = w.sign_in(name, PASSWORD);
    assert_eq!(r.status, 303, "{name} signs in: {}", r.body);
    let home = w.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    let csrf = home.csrf().unwrap();
    (w, csrf)
}

fn refused(r: &Reply) -> bool {
    (r.status == 303 && r.header("location") == Some("/login")) || r.status == 401
}

fn strict_cookie(r: &Reply, name: &str) {
    let c = r
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.headers));
    for attr in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(c.contains(attr), "{name} cookie lacks {attr}: {c}");
    }
}

#[test]
fn staff_sign_in_with_csrf_rate_limits_and_roles_and_nothing_is_served_without_a_session() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        // Long delays, so the check below never depends on how fast this machine is.
        .dashboard_with("signin_delay = \"10m\"")
        .start();
    p.add_staff("ada", "admin", PASSWORD);
    p.add_staff("ann", "analyst", PASSWORD);
    p.add_staff("vic", "viewer", PASSWORD);
    let list = json(&p, GATEWAY, &["staff", "list"]);
    let roles: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().into(),
                a["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("ada", "admin"), ("ann", "analyst"), ("vic", "viewer")]
            .map(|(n, r)| (n.to_owned(), r.to_owned()))
    );
    assert!(
        !list.to_string().contains("argon2"),
        "hashes never leave the gateway"
    );
    // Bad input is refused at once with the reason.
    let e = p
        .gateway_cli()
        .args(["staff", "add", "x", "--role", "viewer", "--password-stdin"])
        .stdin("short\n")
        .run()
        .err();
    assert!(e.contains("12"), "{e}");
    let e = p
        .gateway_cli()
        .args([
            "staff",
            "add",
            "ada",
            "--role",
            "viewer",
            "--password-stdin",
        ])
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .err();
    assert!(e.contains("already exists"), "{e}");
    // A county's staff manage their own county's accounts (county_pages.rs), not the gateway's.
    let e = p
        .cli_as(GATEWAY, &p.staff(A))
        .args(["staff", "list"])
        .run()
        .err();
    assert!(
        e.contains("permission denied") && e.contains("provincial staff"),
        "{e}"
    );
    // A county role is refused at the gateway, naming the gateway's roles.
    let e = p
        .gateway_cli()
        .args([
            "staff",
            "add",
            "lin",
            "--role",
            "officer",
            "--password-stdin",
        ])
        .stdin(format!("{PASSWORD}\n"))
        .run()
        .err();
    assert!(
        e.contains("viewer (查看人员), analyst (研判人员) or admin (管理员)"),
        "{e}"
    );

    // Without a session: every page, export, stream and form is refused.
    let mut anon = web(&p);
    for page in PAGES {
        let r = anon.get(page);
        assert!(
            refused(&r),
            "GET {page} without a session: {} {}",
            r.status,
            r.body
        );
    }
    for t in TABLES {
        for ext in ["csv", "json"] {
            let path = format!("/export/{t}.{ext}?county={A}&risk={A}-1");
            let r = anon.get(&path);
            assert_eq!(r.status, 401, "GET {path} without a session: {}", r.body);
        }
    }
    for form in FORMS {
        let r = anon.post(form, &[("csrf", "x")]);
        assert_eq!(r.status, 401, "POST {form} without a session: {}", r.body);
    }

    // The sign-in form: its own strict cookie and CSRF token.
    let login = anon.get("/login");
    assert_eq!(login.status, 200);
    for field in ["name=\"username\"", "name=\"password\"", "name=\"csrf\""] {
        assert!(
            login.body.contains(field),
            "{field} missing: {}",
            login.body
        );
    }
    strict_cookie(&login, "fenghuo_signin");
    // A post without the form's cookie (another site's page) is refused, right password or not.
    let mut other = web(&p);
    let csrf = login.csrf().unwrap();
    let r = other.post(
        "/login",
        &[("username", "ada"), ("password", PASSWORD), ("csrf", &csrf)],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!other.cookies.contains_key("fenghuo_session"));

    // Failed sign-ins are limited: after five from this address, even the right password
    // waits (tests/tests/dashboard_signin.rs has the rest).
    let mut guess = web(&p);
    for _ in 0..5 {
        assert_eq!(guess.sign_in("vic", "wrong password!!").status, 401);
    }
    let r = guess.sign_in("vic", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert!(!guess.cookies.contains_key("fenghuo_session"));

    // An analyst: signed in with a strict session cookie.
    let mut ann = web(&p);
    let r = ann.sign_in("ann", PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    strict_cookie(&r, "fenghuo_session");
    let home = ann.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("ann (研判人员)"), "{}", home.body);
    assert!(home.body.contains("data-role=\"analyst\""), "{}", home.body);
    assert_eq!(
        ann.get("/staff").status,
        403,
        "analysts do not manage staff"
    );
    let csrf = home.csrf().unwrap();
    // Forms without the session's token, or with another, are refused and change nothing.
    let directive = [
        ("kind", "directive"),
        ("text", "Check the flood rumour"),
        ("deadline", "24h"),
        ("targets", A),
    ];
    assert_eq!(
        ann.post("/directives", &directive).status,
        400,
        "no token at all"
    );
    let mut forged = directive.to_vec();
    forged.push(("csrf", "0123456789abcdef"));
    assert_eq!(ann.post("/directives", &forged).status, 403);
    assert!(json(&p, GATEWAY, &["directive", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    let mut good = directive.to_vec();
    good.push(("csrf", &csrf));
    let r = ann.post("/directives", &good);
    assert_eq!(r.status, 303, "{}", r.body);
    let directives = json(&p, GATEWAY, &["directive", "list"]);
    assert_eq!(
        directives[0]["text"], "Check the flood rumour",
        "{directives:#}"
    );
    assert_eq!(directives[0]["issued_by"], "staff/51/ann", "{directives:#}");
    // A answers (in Chinese words); its answer shows on the comms page, per county.
    let d1 = directives[0]["id"].as_str().unwrap().to_owned();
    wait::until(
        "the directive at A",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = json(&p, A, &["directive", "list"]);
            if list[0]["id"] == d1.as_str() {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    );
    json(
        &p,
        A,
        &[
            "directive",
            "respond",
            &d1,
            "--status",
            "签收",
            "--text",
            "seen at A",
        ],
    );
    let answers = wait::until(
        "A's answer on the comms page",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let rows: Value = serde_json::from_str(&ann.get("/export/answers.json").body).unwrap();
            let a = rows
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["directive"] == d1.as_str() && r["county"] == A)
                .cloned();
            match a {
                Some(r) if r["text"] == "seen at A" => Ok(r),
                _ => Err(rows.to_string()),
            }
        },
    );
    assert!(
        answers["status"].as_str().unwrap().contains("已签收"),
        "{answers:#}"
    );
    let comms = ann.get("/comms");
    assert!(comms.body.contains("逐县答复"), "{}", comms.body);
    assert!(comms.body.contains("href=\"#answers\""), "{}", comms.body);
    // A bad deadline names the field.
    let mut bad = good.clone();
    bad[2] = ("deadline", "whenever");
    let r = ann.post("/directives", &bad);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("deadline"), "{}", r.body);

    // A county's report reaches the gateway; the analyst acknowledges it on the dashboard.
    let report = json(
        &p,
        A,
        &["report", "file", "--summary", "Crowd at the station"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait::until(
        "the report at the gateway",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let page = ann.get("/comms");
            if page.body.contains(&report) {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
    );
    let r = ann.post(
        "/reports/ack",
        &[("report", &report), ("note", "seen"), ("csrf", &csrf)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let acked = json(&p, GATEWAY, &["report", "list"]);
    let acked = acked
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == report.as_str())
        .unwrap()
        .clone();
    assert_eq!(acked["acknowledged_by"], "staff/51/ann", "{acked:#}");

    // A viewer reads but may not act (vic is still locked out: another viewer).
    p.add_staff("val", "viewer", PASSWORD);
    let (mut vic, vic_csrf) = signed_in(&p, "val");
    let mut as_viewer = directive.to_vec();
    as_viewer.push(("csrf", &vic_csrf));
    assert_eq!(vic.post("/directives", &as_viewer).status, 403);
    assert_eq!(vic.get("/export/counties.csv").status, 200);

    // An admin manages staff; a removed account's session ends at its next request.
    let (mut ada, ada_csrf) = signed_in(&p, "ada");
    let staff_page = ada.get("/staff");
    assert_eq!(staff_page.status, 200);
    assert!(staff_page.body.contains("vic"));
    let r = ada.post(
        "/staff",
        &[
            ("name", "bob"),
            ("role", "analyst"),
            ("password", PASSWORD),
            ("csrf", &ada_csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(json(&p, GATEWAY, &["staff", "list"])
        .to_string()
        .contains("\"bob\""));
    let r = ada.post("/staff/val/remove", &[("csrf", &ada_csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(refused(&vic.get("/")), "a removed account's session ends");
    // Signing out ends the session.
    assert_eq!(ada.post("/logout", &[("csrf", &ada_csrf)]).status, 303);
    assert!(refused(&ada.get("/")));
    assert_eq!(ada.get("/export/levels.json").status, 401);
}

#[test]
fn exports_equal_the_grpc_overview_and_every_table_exports() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .dashboard()
        .start();
    p.add_staff("ada", "admin", PASSWORD);
    let add = |code: &str, title: &str, focus: &str, source: &str| -> String {
        json(
            &p,
            code,
            &[
                "risk", "add", "--title", title, "--focus", focus, "--source", source,
            ],
        )["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let grade = |code: &str, id: &str, s: &str| {
        json(
            &p,
            code,
            &[
                "risk",
                "grade",
                id,
                "--influence",
                s,
                "--attention",
                s,
                "--diffusion",
                s,
            ],
        );
    };
    let a1 = add(
        A,
        "Land dispute video",
        "emergency-trigger",
        "https://video.example/v/1",
    );
    grade(A, &a1, "5");
    let b1 = add(
        B,
        "Same video, reposted",
        "emergency-trigger",
        "https://www.video.example/v/1?utm_source=x",
    );
    grade(B, &b1, "3");
    json(&p, B, &["risk", "share", &b1, "--scope", "province"]);
    p.wait_converged();

    let (mut w, _) = signed_in(&p, "ada");
    let o = json(&p, GATEWAY, &["overview"]);
    let counties: Value = serde_json::from_str(&w.get("/export/counties.json").body).unwrap();
    for row in counties.as_array().unwrap() {
        let grpc = o["counties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["county"] == row["county"])
            .unwrap();
        for k in [
            "I",
            "II",
            "III",
            "IV",
            "ungraded",
            "active",
            "resolved",
            "county_name",
        ] {
            assert_eq!(row[k], grpc[k], "{k} of {}: {row} vs {grpc}", row["county"]);
        }
    }
    let levels: Value = serde_json::from_str(&w.get("/export/levels.json").body).unwrap();
    for l in ["I", "II", "III", "IV"] {
        let row = levels
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["level"] == l)
            .unwrap();
        assert_eq!(row["active"], o["by_level"][l], "level {l}");
    }
    let csv = w.get("/export/counties.csv");
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    // Columns are only added (the intake figures, after `worst`), never renamed.
    assert!(
        csv.body.starts_with(
            "county_name,county,I,II,III,IV,ungraded,active,resolved,worst,\
             collection_rate,discovery_rate,intake_open\n"
        ),
        "{}",
        csv.body
    );
    // Filters apply to exports as to pages.
    let only_a: Value =
        serde_json::from_str(&w.get(&format!("/export/counties.json?county={A}")).body).unwrap();
    assert_eq!(only_a.as_array().unwrap().len(), 1);
    let bad = w.get("/export/counties.json?level=V");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("level"), "{}", bad.body);
    // The linked group spans both counties.
    let linked: Value = serde_json::from_str(&w.get("/export/linked.json").body).unwrap();
    let ids: Vec<&str> = linked
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["risk"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&a1.as_str()) && ids.contains(&b1.as_str()),
        "{linked:#}"
    );
    // The risk's history is there in full.
    let history: Value =
        serde_json::from_str(&w.get(&format!("/export/risk-history.json?risk={a1}")).body).unwrap();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert!(actions.len() >= 2, "{history:#}");
    // Every table exports as CSV and JSON.
    for t in TABLES {
        for ext in ["csv", "json"] {
            let path = format!("/export/{t}.{ext}?county={A}&risk={a1}");
            let r = w.get(&path);
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            if ext == "json" {
                assert!(
                    serde_json::from_str::<Value>(&r.body).unwrap().is_array(),
                    "{path}"
                );
            }
        }
    }
    // Pages render, with their security headers.
    for page in PAGES.iter().filter(|p| **p != "/events") {
        let r = w.get(page);
        assert_eq!(r.status, 200, "{page}: {}", r.body);
        assert!(r.header("content-security-policy").is_some(), "{page}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{page}");
    }
    assert_eq!(w.get("/county/519999").status, 404);
    assert_eq!(w.get("/risk/510104-999").status, 404);
    pages_speak_chinese_first_and_english_on_request(&mut w, &a1);
}

/// The province's pages in Chinese unless `?lang=en` asks for English (kept in a cookie);
/// counties shown by name and code; exports and `data-col` keys the same in both.
fn pages_speak_chinese_first_and_english_on_request(w: &mut Web, risk: &str) {
    let county = format!("/county/{A}");
    let risk_page = format!("/risk/{risk}");
    // Page, what it says in Chinese, what it says in English.
    let pages: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "/",
            vec![
                "全省概览".into(),
                "在管风险".into(),
                "区划代码".into(),
                "每日新增与化解".into(),
            ],
            vec![
                "Province overview".into(),
                "Active risks".into(),
                ">Code<".into(),
                "New and resolved per day".into(),
            ],
        ),
        (
            &county,
            vec![
                format!("锦江区 {A} 风险概况"),
                format!("锦江区 {A} 风险台账"),
                "已化解".into(),
            ],
            vec![
                format!("County 锦江区 {A}"),
                format!("锦江区 {A} risks"),
                "Resolved".into(),
            ],
        ),
        (
            &risk_page,
            vec![
                format!("风险点 {risk}"),
                format!("锦江区 {A}"),
                "防范措施".into(),
                "舆情源".into(),
            ],
            vec![
                format!("Risk {risk}"),
                format!("锦江区 {A}"),
                "Preventive measures".into(),
                "Source".into(),
            ],
        ),
        (
            "/comms",
            vec![
                "通报与指令".into(),
                "未结预警".into(),
                "逐县答复".into(),
                "下发".into(),
            ],
            vec![
                "Communications".into(),
                "Open alerts".into(),
                "Answers per county".into(),
                "Issue".into(),
            ],
        ),
        (
            "/linked",
            vec![
                "跨县关联风险".into(),
                format!("锦江区 {A}"),
                format!("青羊区 {B}"),
            ],
            vec![
                "Linked risks".into(),
                format!("锦江区 {A}"),
                format!("青羊区 {B}"),
            ],
        ),
        (
            "/health",
            vec!["联邦状态".into(), "后台任务".into(), "最近联系".into()],
            vec![
                "Federation health".into(),
                "Workers".into(),
                "Last contact".into(),
            ],
        ),
        (
            "/staff",
            vec!["工作人员账户".into(), "添加账户".into(), "用户名".into()],
            vec![
                "Staff accounts".into(),
                "Add an account".into(),
                "Display name".into(),
            ],
        ),
    ];
    // Words of the English pages the Chinese ones must not show (nor the other way round).
    let english_only = [
        "Province overview",
        "Active risks",
        "Preventive measures",
        "Open alerts",
        "Staff accounts",
        "Federation health",
        "Sign out",
        "Filter",
    ];
    let chinese_only = [
        "全省概览",
        "在管风险",
        "防范措施",
        "未结预警",
        "工作人员账户",
        "联邦状态",
        "退出",
        "筛选",
    ];
    for (path, zh, _) in &pages {
        let r = w.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.body.contains("<html lang=\"zh-CN\">"),
            "{path}: {}",
            r.body
        );
        for want in zh {
            assert!(
                r.body.contains(want.as_str()),
                "{path} lacks {want:?}: {}",
                r.body
            );
        }
        for english in english_only {
            assert!(
                !r.body.contains(english),
                "{path} shows {english:?} in Chinese: {}",
                r.body
            );
        }
    }
    let zh_csv = w.get("/export/counties.csv").body;
    let zh_cols = w.get("/").body.matches("data-col=\"county\"").count();
    // `?lang=en` switches, and the cookie keeps the choice for the next pages.
    for (i, (path, _, en)) in pages.iter().enumerate() {
        let asked = if i == 0 {
            format!("{path}?lang=en")
        } else {
            path.to_string()
        };
        let r = w.get(&asked);
        assert_eq!(r.status, 200, "{asked}: {}", r.body);
        assert!(r.body.contains("<html lang=\"en\">"), "{asked}: {}", r.body);
        for want in en {
            assert!(
                r.body.contains(want.as_str()),
                "{asked} lacks {want:?}: {}",
                r.body
            );
        }
        for chinese in chinese_only {
            assert!(
                !r.body.contains(chinese),
                "{asked} shows {chinese:?} in English: {}",
                r.body
            );
        }
    }
    assert_eq!(
        w.cookies.get("fenghuo_lang").map(String::as_str),
        Some("en")
    );
    // Exports and the scripts' keys do not change with the language.
    assert_eq!(w.get("/export/counties.csv").body, zh_csv);
    assert_eq!(
        w.get("/").body.matches("data-col=\"county\"").count(),
        zh_cols
    );
    // Errors speak the page's language too.
    let missing = w.get("/county/519999");
    assert!(missing.body.contains("Not Found"), "{}", missing.body);
    w.get("/?lang=zh");
    let missing = w.get("/county/519999");
    assert!(
        missing.body.contains("未找到") && missing.body.contains("519999"),
        "{}",
        missing.body
    );
}

/// The `counties` table's row of `county` on the overview page.
fn county_row(page: &str, county: &str) -> Option<String> {
    let table = &page[page.find("id=\"counties\"")?..];
    let table = &table[..table.find("</table>")?];
    table
        .split("<tr>")
        .find(|row| row.contains(&format!("href=\"/county/{county}")))
        .map(str::to_owned)
}

#[test]
fn the_overview_shows_each_countys_published_intake_figures() {
    let p = TestProvince::new("51")
        .county(A)
        .county(B)
        .county_config(A, "[intake]\npublish_every_secs = 1\n")
        .dashboard()
        .start();
    p.add_staff("ann", "analyst", PASSWORD);

    // One observation imported at A, promoted into a risk: A's collection rate is 100%.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("监测.csv");
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 600;
    std::fs::write(
        &csv,
        format!(
            "链接,平台,账号,内容,采集时间,阅读\n\
             https://weibo.com/u/9/status/1,weibo,@wang,某街道拆迁补偿争议持续发酵,{at},12000\n"
        ),
    )
    .unwrap();
    p.cli(A)
        .args(["intake", "import", csv.to_str().unwrap()])
        .run()
        .ok();
    let listed = json(&p, A, &["intake", "list"]);
    let id = listed[0]["id"].to_string();
    json(&p, A, &["intake", "promote", &id, "--focus", "major-event"]);
    // B runs no intake: it never publishes, and its row says so with a dash.
    json(
        &p,
        B,
        &[
            "risk",
            "add",
            "--title",
            "城西学校周边交通安全隐患",
            "--focus",
            "major-event",
            "--source",
            "https://news.example/b/1",
        ],
    );

    let (mut ann, _) = signed_in(&p, "ann");
    let row = wait::until(
        "A's 采集率 on the overview",
        SYNC_TIMEOUT,
        Duration::from_millis(300),
        || {
            let page = ann.get("/");
            match county_row(&page.body, A) {
                Some(row) if row.contains("100.0%") && county_row(&page.body, B).is_some() => {
                    Ok(row)
                }
                other => Err(format!("{other:?}")),
            }
        },
    );
    assert!(
        row.contains("data-col=\"collection_rate\""),
        "the column is there: {row}"
    );
    assert!(row.contains("(0/0)"), "discovery with its fraction: {row}");
    let page = ann.get("/");
    assert!(page.body.contains(">采集率<"), "{}", page.body);
    assert!(page.body.contains(">发现率<"), "{}", page.body);
    assert!(page.body.contains(">待研判<"), "{}", page.body);
    let b_row = county_row(&page.body, B).unwrap();
    let b_rate = &b_row[b_row.find("data-col=\"collection_rate\"").unwrap()..];
    assert!(
        b_rate[..b_rate.find("</td>").unwrap()].contains('—'),
        "{b_row}"
    );
    let en = ann.get("/?lang=en");
    assert!(en.body.contains("Collection rate"), "{}", en.body);
    ann.get("/?lang=zh");

    // The exports keep their keys and add the new ones.
    let exported: Value = serde_json::from_str(&ann.get("/export/counties.json").body).unwrap();
    let a = exported
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["county"] == A)
        .unwrap()
        .clone();
    assert_eq!(a["collection_rate"], "100.0%", "{a:#}");
    assert_eq!(a["discovery_rate"], "", "{a:#}");
    assert_eq!(a["intake_open"], 0, "{a:#}");
    for key in ["county_name", "county", "I", "active", "resolved", "worst"] {
        assert!(a.get(key).is_some(), "{key} kept: {a:#}");
    }
    let csv = ann.get("/export/counties.csv").body;
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("worst,collection_rate,discovery_rate,intake_open"),
        "{csv}"
    );

    // A's page: every figure with its definition, and when it was published.
    let county = ann.get(&format!("/county/{A}"));
    assert_eq!(county.status, 200, "{}", county.body);
    assert!(
        county.body.contains("舆情采集（近30天）"),
        "{}",
        county.body
    );
    assert!(
        county.body.contains("id=\"county-collection-rate\""),
        "{}",
        county.body
    );
    assert!(
        county.body.contains("由舆情采集转入的比例（1 / 1）"),
        "{}",
        county.body
    );
    assert!(county.body.contains("研判用时"), "{}", county.body);
    let published = &county.body[county.body.find("id=\"county-intake-published\"").unwrap()..];
    assert!(
        published[..published.find("</p>").unwrap()].contains("+08:00"),
        "a local time with its offset: {published}"
    );
    let b_page = ann.get(&format!("/county/{B}"));
    assert!(
        b_page.body.contains("id=\"county-intake-none\""),
        "{}",
        b_page.body
    );
}
