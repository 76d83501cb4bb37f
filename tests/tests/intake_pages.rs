//! Intake on a county's web port (issue 18), end to end against a real node: a monitoring
//! system configured in `[[intake.systems]]` POSTs signed observations from Python
//! (`standardwebhooks` signs), a repeat counts as a repeat, a refused observation is named,
//! a missing token and a tampered body get 401, a body over 4 MiB 413; then an officer sees the flagged item first
//! on `/intake`, promotes it through the form onto a new risk's page, attaches another to
//! that risk (a refused attach keeps what was typed), dismisses a third with a reason, and
//! `/intake/rates` counts one of each. An officer imports a CSV file (a dry run first, that
//! names the bad row's line and column and records nothing) and an Excel workbook on
//! `/intake/import`; the template downloads with a BOM; a file over 20 MiB gets 413.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use fenghuo_tests::python::run_script;
use fenghuo_tests::web::{Reply, Web};
use fenghuo_tests::{TestNode, TestPki};
use serde_json::{json, Value};

const A: &str = "510104";
const PASSWORD: &str = "long enough password";
const TOKEN: &str = "yuqing-2-token-0123456789abcdefghij";
/// `whsec_` and the base64 of 32 bytes, as Standard Webhooks prints a secret.
const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// POSTs `body` as the system from Python; (status, JSON answer).
fn push(node: &TestNode, pki: &TestPki, dir: &Path, body: &Value, tamper: bool) -> (u64, Value) {
    let url = format!("{}/intake/v1/observations", node.dashboard_url());
    let ca = pki.web_ca_cert();
    let token = dir.join("token");
    let secret = dir.join("secret");
    let body = body.to_string();
    let mut args = vec![
        url.as_str(),
        ca.to_str().unwrap(),
        token.to_str().unwrap(),
        secret.to_str().unwrap(),
        body.as_str(),
    ];
    if tamper {
        args.push("--tamper");
    }
    let out = run_script("intake_push.py", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = v["status"].as_u64().unwrap();
    let answer = serde_json::from_str(v["body"].as_str().unwrap()).unwrap_or(Value::Null);
    (status, answer)
}

fn observation(n: u32, url: &str, account: &str, text: &str, views: i64) -> Value {
    json!({
        "url": url,
        "platform": "weibo",
        "account": account,
        "text": text,
        "captured_at_ms": now_ms() - i64::from(n) * 1000,
        "engagement": {"views": views, "reposts": views / 20, "comments": 12, "likes": 40},
        "keywords": ["本县"],
        "system_id": format!("yq2-{n}"),
    })
}

/// POSTs `fields` with the item page's CSRF token to `/intake/{id}/{form}`.
fn post(web: &mut Web, id: u64, form: &str, fields: &[(&str, &str)]) -> Reply {
    let token = web.get(&format!("/intake/{id}")).csrf().unwrap();
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    web.post(&format!("/intake/{id}/{form}"), &all)
}

#[test]
fn a_system_posts_signed_observations_and_an_officer_triages_them_on_the_pages() {
    let pki = TestPki::new("51");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).unwrap();
    let config = format!(
        "[intake]\n\
         [[intake.rules]]\npattern = \"拆迁|补偿\"\nfocus = \"reform-measure\"\n\
         [[intake.systems]]\nname = \"yuqing-2\"\ntoken_file = \"{}\"\nsecret_file = \"{}\"\n\
         [[intake.feeds]]\nname = \"gone\"\nurl = \"http://{}/rss.xml\"\nplatform = \"某网站\"\n",
        dir.path().join("token").display(),
        dir.path().join("secret").display(),
        closed_port(),
    );
    let node = TestNode::builder(&pki, A)
        .dashboard()
        .config(&config)
        .staff("lin", "officer", PASSWORD)
        .staff("kan", "viewer", PASSWORD)
        .start();

    // Three new items (the first flagged by the rule), one refused by name.
    let flagged = observation(
        1,
        "https://weibo.com/u/1/p/100",
        "@zhang_san",
        "城东片区拆迁补偿标准不公，村民准备明天去县政府",
        80_000,
    );
    let batch = json!([
        flagged,
        observation(2, "https://news.example/society/2", "", "县城新开的菜市场人很多，停车难的问题再次被提起", 900),
        observation(3, "https://tieba.example/p/3", "@ad_bot", "招聘兼职刷单日结高薪，联系方式见主页链接", 30),
        {"url": "https://weibo.com/u/9/p/9", "platform": "weibo", "text": "负数", "captured_at_ms": now_ms(), "views": -3, "system_id": "yq2-bad"},
    ]);
    let (status, answer) = push(&node, &pki, dir.path(), &batch, false);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["received"], 4, "{answer}");
    assert_eq!(answer["new_items"], 3, "{answer}");
    assert_eq!(answer["refused"], 1, "{answer}");
    let refusal = answer["refusals"][0].as_str().unwrap();
    assert!(refusal.starts_with("#4 yq2-bad: views"), "{refusal}");

    // The same observation again is a repeat; a body changed after signing is refused.
    let (status, answer) = push(&node, &pki, dir.path(), &flagged, false);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["repeats"], 1, "{answer}");
    assert_eq!(answer["new_items"], 0, "{answer}");
    let (status, answer) = push(&node, &pki, dir.path(), &flagged, true);
    assert_eq!(status, 401, "{answer}");

    // Without a token: 401, no sign-in redirect; not JSON: still 401 before it is read.
    let mut anon = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    let r = anon.post_raw(
        "/intake/v1/observations",
        &[("content-type", "application/json")],
        "{}",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(node.log().contains("intake push refused"), "{}", node.log());
    // Over 4 MiB: 413. Sent with curl over HTTP/1.1, which reads the early answer while it
    // still sends; a client that only writes may see its connection closed instead, and over
    // HTTP/2 the stream is reset after the answer (curl exits 92), which hyper does for any
    // request body left unread.
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), format!("[\"{}\"]", "x".repeat(5 * 1024 * 1024))).unwrap();
    let curl = std::process::Command::new("curl")
        .args([
            "-s",
            "--http1.1",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
        ])
        .arg(pki.web_ca_cert())
        .args(["-H", "content-type: application/json", "--data-binary"])
        .arg(format!("@{}", big.path().display()))
        .arg(format!("{}/intake/v1/observations", node.dashboard_url()))
        .output()
        .expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "413", "{curl:?}");

    // The triage list: counts, the flagged item first, the navigation's count.
    let mut lin = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    assert_eq!(lin.sign_in("lin", PASSWORD).status, 303);
    // A feed that cannot be reached shows as failing where its findings are missed.
    fenghuo_tests::wait::until(
        "the failing feed on the list",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(200),
        || {
            let body = lin.get("/intake").body;
            if body.contains("data-feed=\"gone\" data-failures=\"1\"") && body.contains("订阅源")
            {
                Ok(())
            } else {
                Err("no failing feed yet".into())
            }
        },
    );
    let list = lin.get("/intake");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("id=\"intake-open\" data-n=\"3\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("id=\"intake-flagged\" data-n=\"1\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("id=\"intake-open-count\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("id=\"live-intake\""),
        "reloads on new observations"
    );
    let first_row = list
        .body
        .find("<tbody>")
        .map(|at| &list.body[at..])
        .unwrap();
    let first_row = &first_row[..first_row.find("</tr>").unwrap()];
    assert!(first_row.contains("href=\"/intake/1\""), "{first_row}");
    assert!(first_row.contains("重要改革举措"), "{first_row}");
    assert!(first_row.contains("data-col=\"views\""), "{first_row}");
    let en = lin.get("/intake?lang=en");
    assert!(en.body.contains("Flagged"), "{}", en.body);
    // The language is remembered: back to Chinese.
    assert_eq!(lin.get("/intake?lang=zh").status, 200);
    let all = lin.get("/intake?all=1");
    assert_eq!(all.status, 200);

    // The item: its link is safe, the promote form is prefilled from the suggestion.
    let item = lin.get("/intake/1");
    assert_eq!(item.status, 200, "{}", item.body);
    assert!(
        item.body.contains("rel=\"noopener noreferrer\""),
        "{}",
        item.body
    );
    for form in ["form-promote", "form-attach", "form-dismiss"] {
        assert!(item.body.contains(&format!("id=\"{form}\"")), "{form}");
    }
    assert!(
        item.body
            .contains("<option value=\"reform-measure\" selected>"),
        "{}",
        item.body
    );
    assert!(item.body.contains("由阅读/转发数建议"), "{}", item.body);

    // Promote: onto the new risk's page.
    let r = post(
        &mut lin,
        1,
        "promote",
        &[
            ("p_title", "城东片区拆迁补偿争议"),
            ("p_description", "村民对补偿标准不满"),
            ("p_focus", "reform-measure"),
            ("p_behaviours", "聚集、上访"),
            ("p_department", "住建局"),
            ("p_influence", "3"),
            ("p_attention", "3"),
            ("p_diffusion", "2"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let risk = format!("{A}-1");
    assert_eq!(
        r.header("location"),
        Some(format!("/register/{risk}").as_str())
    );
    let page = lin.get(&format!("/register/{risk}"));
    assert!(page.body.contains("城东片区拆迁补偿争议"), "{}", page.body);
    assert!(page.body.contains("聚集；上访"), "{}", page.body);
    let item = lin.get("/intake/1");
    assert!(
        item.body.contains("data-state=\"promoted\""),
        "{}",
        item.body
    );
    assert!(
        item.body.contains(&format!("href=\"/register/{risk}\"")),
        "{}",
        item.body
    );
    assert!(
        !item.body.contains("id=\"form-promote\""),
        "decided items have no forms"
    );

    // Attach: a risk that does not exist is refused with what was typed kept.
    let r = post(
        &mut lin,
        2,
        "attach",
        &[
            ("a_risk", "510104-99"),
            ("a_note", "停车难与拆迁无关但同片区"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-attach\""), "{}", r.body);
    assert!(r.body.contains("停车难与拆迁无关但同片区"), "{}", r.body);
    let r = post(
        &mut lin,
        2,
        "attach",
        &[("a_risk", &risk), ("a_note", "同片区")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let item = lin.get("/intake/2");
    assert!(
        item.body.contains("data-state=\"attached\""),
        "{}",
        item.body
    );

    // Dismiss: a reason is required.
    let r = post(&mut lin, 3, "dismiss", &[("d_reason", "  ")]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-dismiss\""), "{}", r.body);
    let r = post(&mut lin, 3, "dismiss", &[("d_reason", "广告，与本县无关")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let item = lin.get("/intake/3");
    assert!(
        item.body.contains("data-state=\"dismissed\""),
        "{}",
        item.body
    );
    assert!(item.body.contains("广告，与本县无关"), "{}", item.body);
    assert!(item.body.contains("lin"), "who dismissed it: {}", item.body);

    // The rates.
    let rates = lin.get("/intake/rates?days=7");
    assert_eq!(rates.status, 200, "{}", rates.body);
    assert!(
        rates
            .body
            .contains("data-promoted=\"1\" data-attached=\"1\" data-dismissed=\"1\""),
        "{}",
        rates.body
    );
    assert!(rates.body.contains("采集率"), "{}", rates.body);
    let list = lin.get("/intake");
    assert!(
        list.body.contains("id=\"intake-open\" data-n=\"0\""),
        "{}",
        list.body
    );

    // A viewer reads, without forms, and cannot triage.
    let mut kan = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    assert_eq!(kan.sign_in("kan", PASSWORD).status, 303);
    let item = kan.get("/intake/1");
    assert_eq!(item.status, 200, "{}", item.body);
    let token = item.csrf().unwrap();
    let r = kan.post("/intake/1/dismiss", &[("csrf", &token), ("d_reason", "x")]);
    assert_eq!(r.status, 403, "{}", r.body);
}

/// An Excel workbook with English headers and one observation captured at `at_s`.
fn workbook(at_s: i64) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("export").unwrap();
    for (c, h) in ["url", "platform", "account", "text", "captured_at", "views"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet
        .write_string(1, 0, "https://tieba.example/p/77")
        .unwrap();
    sheet.write_string(1, 1, "tieba").unwrap();
    sheet.write_string(1, 2, "@li_si").unwrap();
    sheet
        .write_string(1, 3, "镇上的自来水又停了三天，没有任何通知")
        .unwrap();
    sheet.write_string(1, 4, at_s.to_string()).unwrap();
    sheet.write_number(1, 5, 4200).unwrap();
    book.save_to_buffer().unwrap()
}

#[test]
fn an_officer_imports_a_file_with_a_dry_run_first() {
    let pki = TestPki::new("51");
    let node = TestNode::builder(&pki, A)
        .dashboard()
        .config("[intake]\n")
        .staff("lin", "officer", PASSWORD)
        .staff("kan", "viewer", PASSWORD)
        .start();
    let mut lin = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    assert_eq!(lin.sign_in("lin", PASSWORD).status, 303);
    let list = lin.get("/intake");
    assert!(
        list.body.contains("href=\"/intake/import\""),
        "the list links the import: {}",
        list.body
    );
    let form = lin.get("/intake/import");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("multipart/form-data"), "{}", form.body);
    assert!(form.body.contains("id=\"import-dry-run\""), "{}", form.body);
    let token = form.csrf().unwrap();

    // The template: UTF-8 with a BOM, the Chinese headers, one example row.
    let template = lin.get("/intake/import/template.csv");
    assert_eq!(template.status, 200, "{}", template.body);
    assert!(template.body.starts_with('\u{feff}'), "{:?}", template.body);
    assert!(
        template
            .body
            .contains("链接,平台,账号,内容,采集时间,阅读,转发,评论,点赞,编号"),
        "{}",
        template.body
    );
    assert_eq!(template.body.lines().count(), 2, "{}", template.body);
    assert!(template
        .header("content-type")
        .unwrap()
        .starts_with("text/csv"));

    // Chinese headers; line 3's 阅读 is not a number.
    let at = now_ms() / 1000 - 600;
    let csv = format!(
        "链接,平台,账号,内容,采集时间,阅读,转发,评论,点赞,编号\n\
         https://weibo.com/u/1/p/1,weibo,@zhang_san,城东片区拆迁补偿标准不公,{at},100,2,3,4,imp-1\n\
         https://weibo.com/u/2/p/2,weibo,@wang_wu,这一行的阅读数写错了,{at},很多,0,0,0,imp-2\n\
         https://news.example/3,news,,县城新开的菜市场停车难,{at},5,0,0,0,imp-3\n"
    );
    let upload = |web: &mut Web, token: &str, dry_run: bool, name: &str, bytes: &[u8]| {
        let mut fields = vec![("csrf", token), ("system", ""), ("sheet", "")];
        if dry_run {
            fields.push(("dry_run", "1"));
        }
        web.post_multipart("/intake/import", &fields, &[("file", name, bytes)])
    };

    // The dry run names the line and the column, and records nothing.
    let r = upload(&mut lin, &token, true, "舆情导出.csv", csv.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("data-rows=\"3\" data-good=\"2\" data-bad=\"1\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("共 3 行，可导入 2 行，有误 1 行"),
        "{}",
        r.body
    );
    let row = &r.body[r.body.find("<tr data-line=\"3\">").expect("line 3 listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("阅读"), "{row}");
    assert!(row.contains("很多"), "{row}");
    assert!(!r.body.contains("id=\"import-counts\""), "{}", r.body);
    let list = lin.get("/intake");
    assert!(
        list.body.contains("id=\"intake-open\" data-n=\"0\""),
        "a dry run records nothing: {}",
        list.body
    );

    // Without the session's token: refused.
    let r = upload(&mut lin, "forged", false, "舆情导出.csv", csv.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);

    // The import records the good rows, counts them, and lists the bad one.
    let r = upload(&mut lin, &token, false, "舆情导出.csv", csv.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("data-new=\"2\" data-sightings=\"0\" data-repeats=\"0\" data-refused=\"0\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("<tr data-line=\"3\">"), "{}", r.body);
    assert!(r.body.contains("href=\"/intake\""), "{}", r.body);
    let list = lin.get("/intake");
    assert!(
        list.body.contains("id=\"intake-open\" data-n=\"2\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("城东片区拆迁补偿标准不公"),
        "{}",
        list.body
    );
    // The same file again: repeats, nothing new.
    let r = upload(&mut lin, &token, false, "舆情导出.csv", csv.as_bytes());
    assert!(r.body.contains("data-new=\"0\""), "{}", r.body);
    assert!(r.body.contains("data-repeats=\"2\""), "{}", r.body);

    // An Excel workbook with English headers, its sheet named.
    let xlsx = workbook(at);
    let r = lin.post_multipart(
        "/intake/import",
        &[
            ("csrf", &token),
            ("system", "yuqing-2"),
            ("sheet", "export"),
        ],
        &[("file", "export.xlsx", &xlsx)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("data-new=\"1\""), "{}", r.body);
    assert!(r.body.contains("id=\"import-no-errors\""), "{}", r.body);

    // A file without a required column is refused whole, on the form, with its name.
    let r = upload(
        &mut lin,
        &token,
        true,
        "缺列.csv",
        "平台,内容\nweibo,x\n".as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"error-import\""), "{}", r.body);
    assert!(r.body.contains("缺列.csv"), "{}", r.body);
    assert!(r.body.contains("缺少“链接”列"), "{}", r.body);

    // Over 20 MiB: 413 and the form again, saying so. Sent with curl over HTTP/1.1, which
    // reads the early answer while it still sends (see the 4 MiB push above).
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), "x".repeat(21 * 1024 * 1024)).unwrap();
    let cookie = lin
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let answer = tempfile::NamedTempFile::new().unwrap();
    let curl = std::process::Command::new("curl")
        .args(["-s", "--http1.1", "-o"])
        .arg(answer.path())
        .args(["-w", "%{http_code}", "--cacert"])
        .arg(pki.web_ca_cert())
        .args(["-H", &format!("cookie: {cookie}")])
        .args(["-F", &format!("csrf={token}"), "-F"])
        .arg(format!("file=@{};filename=big.csv", big.path().display()))
        .arg(format!("{}/intake/import", node.dashboard_url()))
        .output()
        .expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "413", "{curl:?}");
    let page = std::fs::read_to_string(answer.path()).unwrap();
    assert!(page.contains("文件太大"), "{page}");

    // A viewer sees no link and cannot import.
    let mut kan = Web::new(&node.dashboard_url(), &pki.web_ca_cert());
    assert_eq!(kan.sign_in("kan", PASSWORD).status, 303);
    assert!(!kan.get("/intake").body.contains("href=\"/intake/import\""));
    let token = kan.get("/intake/import").csrf().unwrap();
    let r = upload(&mut kan, &token, false, "舆情导出.csv", csv.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);
}

/// A loopback address nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
