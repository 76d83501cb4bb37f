//! The dashboard in a real browser (headless Chromium): a provincial admin signs in, the
//! overview shows exactly what the counties wrote, drills into a county and a risk, exports
//! CSV, and sees the page follow a new risk without reloading by hand. Screenshots of each
//! page are kept under `target/test-output/dashboard-browser/`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use fenghuo_tests::browser::{self, Browser};
use fenghuo_tests::province::{Province, TestProvince, SYNC_TIMEOUT};
use serde_json::Value;

const A: &str = "510104";
const B: &str = "510105";
const PASSWORD: &str = "long enough password";
const WAIT: Duration = Duration::from_secs(20);

fn json(p: &Province, name: &str, args: &[&str]) -> Value {
    p.cli(name).args(args).arg("--json").run().ok().json()
}

/// Adds a risk at `code`, shares it with the province, grades it with `score` on every
/// dimension (none: left ungraded); returns (id, level or "ungraded").
fn risk(
    p: &Province,
    code: &str,
    title: &str,
    focus: &str,
    score: Option<&str>,
) -> (String, String) {
    let id = json(
        p,
        code,
        &["risk", "add", "--title", title, "--focus", focus],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(p, code, &["risk", "share", &id, "--scope", "province"]);
    let level = match score {
        Some(s) => json(
            p,
            code,
            &[
                "risk",
                "grade",
                &id,
                "--influence",
                s,
                "--attention",
                s,
                "--diffusion",
                s,
            ],
        )["level"]
            .as_str()
            .unwrap()
            .to_owned(),
        None => "ungraded".to_owned(),
    };
    (id, level)
}

async fn text_becomes(b: &Browser, css: &str, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
    loop {
        let now = b.text(css).await.unwrap_or_default();
        if now.trim() == want || tokio::time::Instant::now() > deadline {
            return now.trim().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_see_the_counties_figures_drill_down_and_export() {
    let p = tokio::task::spawn_blocking(|| {
        TestProvince::new("51")
            .county(A)
            .county(B)
            .neighbours(A, B)
            .dashboard()
            .start()
    })
    .await
    .unwrap();
    let written = tokio::task::block_in_place(|| {
        p.add_staff("ada", "admin", PASSWORD);
        let w = vec![
            (
                A,
                risk(
                    &p,
                    A,
                    "Land dispute video trending",
                    "emergency-trigger",
                    Some("5"),
                ),
            ),
            (
                A,
                risk(&p, A, "School merger rumour", "reform-measure", Some("3")),
            ),
            (
                A,
                risk(
                    &p,
                    A,
                    "Festival crowd planning",
                    "activity-concentration",
                    None,
                ),
            ),
            (
                B,
                risk(
                    &p,
                    B,
                    "Fare rise complaints",
                    "policy-adjustment",
                    Some("4"),
                ),
            ),
            (B, risk(&p, B, "Stadium concert", "major-event", Some("1"))),
        ];
        p.wait_converged();
        p.wait_views(fenghuo_tests::province::GATEWAY);
        w
    });
    // What the test wrote, counted: per level, and per county per level.
    let mut per_level: BTreeMap<&str, u64> = BTreeMap::new();
    let mut per_county: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (county, (_, level)) in &written {
        *per_level.entry(level.as_str()).or_default() += 1;
        *per_county.entry((county, level.as_str())).or_default() += 1;
    }
    let url = p.dashboard_url();
    let out = browser::output_dir("dashboard-browser").unwrap();
    let b = Browser::start(&out).await.unwrap();

    // Not signed in: the sign-in page, whatever was asked for.
    b.goto(&format!("{url}/county/{A}")).await.unwrap();
    b.wait_for("form[action='/login']", WAIT).await.unwrap();
    assert!(b.current_url().await.unwrap().ends_with("/login"));
    b.screenshot("01-sign-in").await.unwrap();
    b.fill("input[name=username]", "ada").await.unwrap();
    b.fill("input[name=password]", PASSWORD).await.unwrap();
    b.submit("form[action='/login']").await.unwrap();
    if let Err(e) = b.wait_for("#active-total", WAIT).await {
        b.screenshot("01-sign-in-failed").await.unwrap();
        panic!("signing in failed: {e}\n{}", b.source().await.unwrap());
    }
    let session = b
        .cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "fenghuo_session")
        .expect("a session cookie");
    assert_eq!(session.secure, Some(true));
    assert_eq!(session.http_only, Some(true));
    assert_eq!(session.same_site.as_deref(), Some("Strict"));

    // The overview's numbers are what the counties wrote.
    assert_eq!(
        b.text("#active-total").await.unwrap(),
        written.len().to_string()
    );
    for l in ["I", "II", "III", "IV"] {
        let shown = b.text(&format!(".card [data-level='{l}']")).await.unwrap();
        assert_eq!(
            shown,
            per_level.get(l).copied().unwrap_or(0).to_string(),
            "level {l}"
        );
    }
    assert_eq!(
        b.text("#ungraded").await.unwrap(),
        per_level.get("ungraded").copied().unwrap_or(0).to_string()
    );
    let counties = b
        .texts("#counties tbody td[data-col='county']")
        .await
        .unwrap();
    assert_eq!(counties, [A, B]);
    for (row, county) in [A, B].iter().enumerate() {
        for l in ["I", "II", "III", "IV", "ungraded"] {
            let cells = b
                .texts(&format!("#counties tbody td[data-col='{l}']"))
                .await
                .unwrap();
            let want = per_county.get(&(*county, l)).copied().unwrap_or(0);
            assert_eq!(cells[row], want.to_string(), "{county} level {l}");
        }
    }
    assert!(
        b.source().await.unwrap().contains("<svg"),
        "charts are drawn as SVG"
    );
    b.screenshot("02-overview").await.unwrap();

    // Drill into county A, then into its level-I risk.
    b.click(&format!("#counties a[href^='/county/{A}']"))
        .await
        .unwrap();
    b.wait_for("#county-risks", WAIT).await.unwrap();
    let a_risks: Vec<&String> = written
        .iter()
        .filter(|(c, _)| *c == A)
        .map(|(_, (id, _))| id)
        .collect();
    assert_eq!(
        b.text("#county-active").await.unwrap(),
        a_risks.len().to_string()
    );
    let ids = b.texts("#county-risks td[data-col='risk']").await.unwrap();
    assert_eq!(ids.iter().collect::<Vec<_>>(), a_risks);
    b.screenshot("03-county").await.unwrap();
    let first = &written[0].1 .0;
    b.click(&format!("#county-risks a[href='/risk/{first}']"))
        .await
        .unwrap();
    b.wait_for("#risk-history", WAIT).await.unwrap();
    let page = b.source().await.unwrap();
    assert!(page.contains("Land dispute video trending"));
    let actions = b
        .texts("#risk-history td[data-col='action']")
        .await
        .unwrap();
    assert!(actions.len() >= 3, "created, shared, graded: {actions:?}");
    b.screenshot("04-risk").await.unwrap();

    // Export the county's risks as CSV with the signed-in session.
    let csv = b
        .fetch_text(&format!("{url}/export/county-risks.csv?county={A}"))
        .await
        .unwrap();
    std::fs::write(out.join("county-risks.csv"), &csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("risk,title,level,focus,status,source,updated")
    );
    let exported: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        exported,
        a_risks.iter().map(|s| s.as_str()).collect::<Vec<_>>()
    );

    // The other views render.
    for (path, shot, ready) in [
        ("/comms", "05-communications", "#reports"),
        ("/health", "06-health", "#health"),
        ("/linked", "07-linked", "#linked"),
        ("/staff", "08-staff", "#staff"),
    ] {
        b.goto(&format!("{url}{path}")).await.unwrap();
        b.wait_for(ready, WAIT).await.unwrap();
        b.screenshot(shot).await.unwrap();
    }
    // Both level-I/II gradings filed reports the province has not acknowledged.
    b.goto(&format!("{url}/comms")).await.unwrap();
    b.wait_for("#reports-awaiting", WAIT).await.unwrap();
    let graver = written
        .iter()
        .filter(|(_, (_, l))| l == "I" || l == "II")
        .count();
    assert_eq!(
        b.text("#reports-awaiting").await.unwrap(),
        graver.to_string()
    );

    // The overview follows a new risk on its own (server-sent events).
    b.goto(&format!("{url}/")).await.unwrap();
    b.wait_for("#active-total", WAIT).await.unwrap();
    tokio::task::block_in_place(|| risk(&p, B, "New rumour", "key-work", Some("2")));
    let want = (written.len() + 1).to_string();
    assert_eq!(
        text_becomes(&b, "#active-total", &want).await,
        want,
        "the page refreshed itself"
    );
    b.screenshot("09-overview-live").await.unwrap();
    b.close().await.unwrap();
}
