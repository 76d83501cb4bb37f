//! Web pages on a county node: `fenghuo-node run` with a `[dashboard]` section serves the
//! same web layer as the gateway (sign-in, sessions, CSRF, security headers) over HTTPS, and
//! none of the gateway's own routes (partners' callbacks).

#![allow(clippy::unwrap_used)]

use fenghuo_tests::web::Web;
use fenghuo_tests::{TestNode, TestPki};

const COUNTY: &str = "510104";
const PASSWORD: &str = "long enough password";

#[test]
fn a_county_node_serves_its_sign_in_page_over_https_and_its_staff_sign_in() {
    let pki = TestPki::new("51");
    let node = TestNode::builder(&pki, COUNTY)
        .dashboard()
        .staff_account("lin", "analyst", PASSWORD)
        .start();
    let url = node.dashboard_url();
    assert_ne!(url, node.url(), "the pages have their own listener");

    // The sign-in page, over HTTPS with the web CA's certificate (Web refuses anything else).
    let mut anon = Web::new(&url, &pki.web_ca_cert());
    let login = anon.get("/login");
    assert_eq!(login.status, 200, "{}", login.body);
    for field in ["name=\"username\"", "name=\"password\"", "name=\"csrf\""] {
        assert!(
            login.body.contains(field),
            "{field} missing: {}",
            login.body
        );
    }
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    assert!(
        login
            .header("content-security-policy")
            .is_some_and(|p| p.contains("default-src 'none'")),
        "{:?}",
        login.headers
    );
    // Nothing else without a session.
    let r = anon.get("/");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/login"));
    // The partners' callbacks are the gateway's: a county does not serve them.
    let r = anon.post_raw("/partner-api/weibo/acknowledge", &[], "{}");
    assert_eq!(r.status, 404, "{}", r.body);

    // A wrong password is refused and opens no session.
    let mut wrong = Web::new(&url, &pki.web_ca_cert());
    let r = wrong.sign_in("lin", "not the password at all");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!wrong.cookies.contains_key("fenghuo_session"));

    // The county's staff member signs in and sees the county's pages.
    let mut lin = Web::new(&url, &pki.web_ca_cert());
    let r = lin.sign_in("lin", PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(lin.cookies.contains_key("fenghuo_session"));
    let home = lin.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("lin"), "{}", home.body);
    let csrf = home
        .csrf()
        .expect("the signed-in page carries a CSRF token");

    // Signing out needs the session's CSRF token, and ends the session.
    let r = lin.post("/logout", &[("csrf", "forged")]);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = lin.post("/logout", &[("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let r = lin.get("/");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/login"));
}
