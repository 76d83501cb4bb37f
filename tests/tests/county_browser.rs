//! A county officer's day in a real browser (headless Chromium, issue 17): signs in,
//! identifies a risk, grades it, adds a measure, writes a situation note, shares it with the
//! province, acknowledges an alert and answers a directive from the province, files a
//! disposal request to a partner, and closes the risk. Sign-in, identify, grade, the note
//! and the acknowledgment are done by keyboard alone (Tab, typing, Enter). Every page is
//! photographed at 1366×768 and at 390 px wide, and none scrolls sideways at 390 px.
//! Screenshots are kept under `target/test-output/county-browser/`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::browser::{self, keys, Browser};
use fenghuo_tests::province::{Province, TestProvince, GATEWAY, SYNC_TIMEOUT};

const A: &str = "510104";
const B: &str = "510105";
const PASSWORD: &str = "long enough password";
const PARTNER: &str = "weibo";
const WAIT: Duration = Duration::from_secs(20);

/// The province, county A serving its pages to officer `lin`, the partner registered, and an
/// alert and a directive from the province addressed to A; (province, pages URL, alert id,
/// directive id).
fn province() -> (Province, String, String, String) {
    let mut p = TestProvince::new("51")
        .county(A)
        .county(B)
        .neighbours(A, B)
        .start();
    let url = p.serve_county_pages(A, &[("lin", "officer")], PASSWORD);
    p.pki().issue_partner(PARTNER);
    p.gateway_cli()
        .args(["partner", "add", PARTNER, "--display-name", "微博"])
        .run()
        .ok();
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
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let directive = p
        .gateway_cli()
        .args([
            "directive",
            "issue",
            "--text",
            "请报送处置进展",
            "--deadline",
            "2d",
            "--to",
            A,
            "--json",
        ])
        .run()
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (p, url, alert, directive)
}

/// Opens `url` until `css` is on the page (what the province sent may still be on its way).
async fn open_until(b: &Browser, url: &str, css: &str) {
    let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
    loop {
        b.goto(url).await.unwrap();
        if b.wait_for(css, Duration::from_millis(500)).await.is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never appeared on {url}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the page no longer holds `html` (the form that was sent, once the page after it
/// has loaded).
async fn gone(b: &Browser, html: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while b.source().await.unwrap_or_default().contains(html) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_works_a_day_in_the_browser_by_keyboard_and_on_a_phone() {
    let (p, url, alert, directive) = tokio::task::spawn_blocking(province).await.unwrap();
    let out = browser::output_dir("county-browser").unwrap();
    let b = Browser::start(&out).await.unwrap();
    b.resize(1366, 768).await.unwrap();

    // Sign in by keyboard.
    b.goto(&format!("{url}/login")).await.unwrap();
    b.wait_for("input[name=username]", WAIT).await.unwrap();
    b.screenshot("01-sign-in").await.unwrap();
    b.fill_by_keyboard(
        &[
            ("input[name=username]", "lin"),
            ("input[name=password]", PASSWORD),
        ],
        "form button[type=submit]",
    )
    .await
    .unwrap();
    b.wait_for("#unread-alerts", WAIT).await.unwrap();
    b.screenshot("02-at-a-glance").await.unwrap();

    // Identify by keyboard: title, the first focus point (arrow down), department, Enter.
    b.goto(&format!("{url}/register/new")).await.unwrap();
    b.wait_for("#identify-form", WAIT).await.unwrap();
    b.screenshot("03-identify").await.unwrap();
    b.fill_by_keyboard(
        &[
            ("#f-title", "拆迁补偿视频扩散"),
            ("#f-department", "住建局"),
            ("#f-focus", keys::DOWN),
        ],
        "#identify-form button[type=submit]",
    )
    .await
    .unwrap();
    b.wait_for("#risk-title", WAIT).await.unwrap();
    assert_eq!(b.text("#risk-title").await.unwrap(), "拆迁补偿视频扩散");
    let risk_url = b.current_url().await.unwrap();
    let id = risk_url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(id, format!("{A}-1"));

    // Grade by keyboard: a digit picks the score in each select.
    b.fill_by_keyboard(
        &[
            ("#g-influence", "4"),
            ("#g-attention", "4"),
            ("#g-diffusion", "3"),
        ],
        "#form-grade button[type=submit]",
    )
    .await
    .unwrap();
    b.wait_for("#grade-level", WAIT).await.unwrap();
    assert!(!b.text("#grade-level").await.unwrap().is_empty());

    // A situation note by keyboard.
    b.fill_by_keyboard(
        &[("#n-note", "转发量上升，当事人情绪平稳")],
        "#form-note button[type=submit]",
    )
    .await
    .unwrap();
    // The page before the note has a history too: wait for the note itself.
    b.wait_for_text("转发量上升，当事人情绪平稳", WAIT)
        .await
        .unwrap();

    // A measure (the date typed as the page's date field takes it), then share.
    b.fill("#m-action", "约谈当事人").await.unwrap();
    b.fill("#m-owner", "信访办").await.unwrap();
    b.eval(
        "document.querySelector('#m-due').value = arguments[0];",
        vec!["2199-12-31".into()],
    )
    .await
    .unwrap();
    b.submit("#form-measure").await.unwrap();
    // The page before had an (empty) measures table: wait for the measure itself.
    b.wait_for_text("<td data-col=\"action\">约谈当事人", WAIT)
        .await
        .unwrap();
    b.click("#s-scope option[value=province]").await.unwrap();
    b.submit("#form-share").await.unwrap();
    b.wait_for("#risk-scope[data-scope=province]", WAIT)
        .await
        .unwrap();
    b.screenshot("04-risk").await.unwrap();
    tokio::task::block_in_place(|| {
        fenghuo_tests::wait::until(
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
        )
    });

    // The inbox: the alert acknowledged by keyboard, the directive answered.
    open_until(&b, &format!("{url}/inbox"), &format!("#ack-{alert}")).await;
    open_until(&b, &format!("{url}/inbox"), &format!("#answer-{directive}")).await;
    b.screenshot("05-inbox").await.unwrap();
    b.fill_by_keyboard(
        &[(&format!("#note-{alert}"), "已派员到场")],
        &format!("#ack-{alert} button[type=submit]"),
    )
    .await
    .unwrap();
    gone(
        &b,
        &format!("id=\"ack-{alert}\""),
        "the acknowledged alert's form",
    )
    .await;
    assert!(b.source().await.unwrap().contains("已派员到场"));
    b.fill(&format!("#text-{directive}"), "已约谈，舆情平稳")
        .await
        .unwrap();
    b.submit(&format!("#answer-{directive}")).await.unwrap();
    gone(
        &b,
        &format!("id=\"answer-{directive}\""),
        "the answered directive's form",
    )
    .await;

    // A disposal request to the partner the province registered.
    open_until(
        &b,
        &format!("{url}/disposal"),
        &format!("#d-partner option[value={PARTNER}]"),
    )
    .await;
    b.fill("#d-urls", "https://weibo.com/u/123/status/1")
        .await
        .unwrap();
    b.fill("#d-reason", "视频内容与事实不符").await.unwrap();
    b.fill("#d-basis", "《网络信息内容生态治理规定》第七条")
        .await
        .unwrap();
    b.fill("#d-risk", &id).await.unwrap();
    b.submit("#disposal-form").await.unwrap();
    // The page before had the (empty) table too, and a refused form comes back with the
    // URLs still in it: wait for the request's row.
    b.wait_for("#county-disposal td[data-col=request]", WAIT)
        .await
        .unwrap();
    assert!(b
        .source()
        .await
        .unwrap()
        .contains("https://weibo.com/u/123/status/1"));
    b.screenshot("06-disposal").await.unwrap();

    // Closed as ruled out (a false alarm) from the risk's page.
    b.goto(&risk_url).await.unwrap();
    b.click("#c-closure option[value=ruled-out]").await.unwrap();
    b.fill("#c-text", "复核为误报").await.unwrap();
    b.submit("#form-close").await.unwrap();
    b.wait_for("#risk-closure", WAIT).await.unwrap();
    assert!(b
        .text("#risk-closure")
        .await
        .unwrap()
        .contains("复核为误报"));
    b.screenshot("07-closed").await.unwrap();

    // Every page at 1366×768 and at 390 px wide: photographed, and nothing wider than a phone.
    let pages = [
        ("glance", "/".to_owned()),
        ("register", "/register".to_owned()),
        ("identify", "/register/new".to_owned()),
        ("risk", format!("/register/{id}")),
        ("inbox", "/inbox".to_owned()),
        ("disposal", "/disposal".to_owned()),
    ];
    for (width, height) in [(1366, 768), (390, 844)] {
        b.resize(width, height).await.unwrap();
        for (name, path) in &pages {
            b.goto(&format!("{url}{path}")).await.unwrap();
            b.wait_for("main", WAIT).await.unwrap();
            b.screenshot(&format!("{width}-{name}")).await.unwrap();
            if width == 390 {
                let wider = b.overflow_x().await.unwrap();
                assert_eq!(wider, 0, "{path} is {wider} px wider than a 390 px phone");
            }
        }
    }
    b.close().await.unwrap();
}
