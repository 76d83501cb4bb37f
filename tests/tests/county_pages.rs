//! Web pages on a county node: `fenghuo init node --web` writes the `[dashboard]` section,
//! `fenghuo-node run` then serves the same web layer as the gateway (sign-in, sessions, CSRF,
//! security headers) over HTTPS, and none of the gateway's own routes (partners' callbacks).
//! The county's accounts are made with `fenghuo staff add` and the county's own certificates,
//! with the county's roles (viewer, officer, leader).

#![allow(clippy::unwrap_used)]

use fenghuo_tests::cli::Cli;
use fenghuo_tests::web::Web;
use fenghuo_tests::{TestNode, TestPki};

const COUNTY: &str = "510104";
const PASSWORD: &str = "long enough password";

#[test]
fn a_county_node_serves_its_sign_in_page_over_https_and_its_staff_sign_in() {
    let pki = TestPki::new("51");
    let node = TestNode::builder(&pki, COUNTY)
        .dashboard()
        .staff("lin", "officer", PASSWORD)
        .start();
    let url = node.dashboard_url();
    assert_ne!(url, node.url(), "the pages have their own listener");
    // The pages' certificate is the county's own (`fenghuo ca issue web 510104`), from the
    // provincial web CA: OpenSSL verifies it, and it names the county.
    let own = pki.cert(&format!("county-{COUNTY}-web"));
    let verify = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(pki.web_ca_cert())
        .arg(&own)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = std::process::Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
            "-in",
        ])
        .arg(&own)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("county/510104"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");

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

#[test]
fn a_countys_accounts_are_made_by_its_own_people_with_the_countys_roles() {
    let pki = TestPki::new("51");
    pki.issue_staff(COUNTY, "zhang").issue_staff("510105", "li");
    let node = TestNode::builder(&pki, COUNTY).dashboard().start();
    let zhang = "staff-510104-zhang";

    // The county's staff member makes an officer, with a Chinese name and department.
    let out = node
        .add_staff_with(
            &pki,
            zhang,
            "lin",
            "officer",
            PASSWORD,
            &["--display-name", "林晓", "--department", "县委网信办"],
        )
        .ok();
    assert!(
        out.stdout.contains("林晓 (lin)") && out.stdout.contains("officer (经办人员)"),
        "{out}"
    );
    // The Chinese labels are accepted as roles; the node's own certificate may too.
    node.add_staff(&pki, "county-510104", "vic", "查看人员", PASSWORD)
        .ok();
    node.add_staff_with(
        &pki,
        "county-510104",
        "lead",
        "leader",
        PASSWORD,
        &["--display-name", "王主任"],
    )
    .ok();

    // Another county's staff may not, and is told who may.
    let e = node
        .add_staff(&pki, "staff-510105-li", "li", "officer", PASSWORD)
        .err();
    assert!(e.contains("permission denied"), "{e}");
    assert!(
        e.contains("county/510104") && e.contains("staff/510104/"),
        "names who may: {e}"
    );
    let e = node
        .cli(&pki, "staff-510105-li")
        .args(["staff", "list"])
        .run()
        .err();
    assert!(e.contains("permission denied"), "{e}");
    // A province role is refused, naming the county's roles.
    let e = node.add_staff(&pki, zhang, "ada", "admin", PASSWORD).err();
    assert!(
        e.contains("viewer (查看人员), officer (经办人员) or leader (分管领导)"),
        "{e}"
    );
    // A Chinese sign-in name cannot be an author path: refused, pointing at --display-name.
    let e = node
        .add_staff(&pki, zhang, "林晓", "officer", PASSWORD)
        .err();
    assert!(e.contains("--display-name"), "{e}");

    // `staff list` shows the names and departments.
    let list = node
        .cli(&pki, zhang)
        .args(["staff", "list", "--json"])
        .run()
        .ok()
        .json();
    let lin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "lin")
        .unwrap_or_else(|| panic!("{list:#}"));
    assert_eq!(lin["role"], "officer");
    assert_eq!(lin["display_name"], "林晓");
    assert_eq!(lin["department"], "县委网信办");
    assert_eq!(lin["created_by"], "fenghuo://staff/510104/zhang");
    assert_eq!(list.as_array().unwrap().len(), 3, "{list:#}");
    let table = node.cli(&pki, zhang).args(["staff", "list"]).run().ok();
    assert!(
        table.stdout.contains("林晓") && table.stdout.contains("分管领导"),
        "{table}"
    );

    // Each signs in on the county's pages; only the leader manages accounts.
    let url = node.dashboard_url();
    let signed_in = |name: &str| {
        let mut web = Web::new(&url, &pki.web_ca_cert());
        let r = web.sign_in(name, PASSWORD);
        assert_eq!(r.status, 303, "{name}: {}", r.body);
        let csrf = web.get("/").csrf().expect("a CSRF token on the page");
        (web, csrf)
    };
    let (mut vic, _) = signed_in("vic");
    assert_eq!(vic.get("/staff").status, 403, "a viewer");
    assert_eq!(vic.get("/export/staff.csv").status, 403, "a viewer");
    let (mut lin_web, lin_csrf) = signed_in("lin");
    let r = lin_web.get("/staff");
    assert_eq!(r.status, 403, "an officer: {}", r.body);
    let r = lin_web.post(
        "/staff",
        &[
            ("name", "wu"),
            ("role", "officer"),
            ("password", PASSWORD),
            ("csrf", &lin_csrf),
        ],
    );
    assert_eq!(r.status, 403, "an officer may not add accounts: {}", r.body);

    let (mut lead, lead_csrf) = signed_in("lead");
    let page = lead.get("/staff");
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["林晓", "县委网信办", "分管领导", "value=\"officer\""] {
        assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
    }
    assert!(
        !page.body.contains("value=\"admin\""),
        "a county offers only its own roles: {}",
        page.body
    );
    // The leader adds an officer on the page; a province role is refused there too.
    let r = lead.post(
        "/staff",
        &[
            ("name", "wu"),
            ("role", "经办人员"),
            ("display_name", "吴敏"),
            ("department", "县公安局"),
            ("password", PASSWORD),
            ("csrf", &lead_csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = lead.post(
        "/staff",
        &[
            ("name", "ann"),
            ("role", "analyst"),
            ("password", PASSWORD),
            ("csrf", &lead_csrf),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("leader (分管领导)"), "{}", r.body);
    let page = lead.get("/staff");
    assert!(
        page.body.contains("吴敏") && page.body.contains("王主任 (lead)"),
        "{}",
        page.body
    );
    signed_in("wu");

    // Removing an account with the CLI ends its sessions at their next request.
    node.cli(&pki, zhang)
        .args(["staff", "remove", "vic"])
        .run()
        .ok();
    let r = vic.get("/");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/login"));
}

#[test]
fn init_node_web_writes_the_dashboard_section_and_says_what_comes_next() {
    let pki = TestPki::new("51");
    pki.issue_county(COUNTY);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let out = Cli::new()
        .args([
            "init",
            "node",
            "--county",
            COUNTY,
            "--listen",
            "127.0.0.1:7401",
            "--web",
            "0.0.0.0:8443",
        ])
        .arg("--pki")
        .arg(pki.dir())
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--out")
        .arg(&config)
        .run()
        .ok();
    let text = std::fs::read_to_string(&config).unwrap();
    let web_cert = pki.cert("county-510104-web");
    assert!(
        text.contains("\n[dashboard]\nlisten = \"0.0.0.0:8443\"\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("cert = {:?}", web_cert.display().to_string())),
        "{text}"
    );
    // The next steps: the certificate to issue and the first account, with the node's
    // own certificate.
    for step in [
        "fenghuo ca issue web 510104",
        "county-510104-web.crt",
        "--cert",
        "county-510104.crt",
        "staff add <name> --role leader",
        "--password-stdin",
    ] {
        assert!(out.stderr.contains(step), "{step} missing:\n{out}");
    }
    // Without --web the section is there, commented out.
    let out = Cli::new()
        .args([
            "init",
            "node",
            "--county",
            COUNTY,
            "--listen",
            "127.0.0.1:7401",
        ])
        .arg("--pki")
        .arg(pki.dir())
        .arg("--data")
        .arg(dir.path().join("data"))
        .run()
        .ok();
    assert!(out.stdout.contains("# [dashboard]"), "{out}");
    assert!(!out.stdout.contains("\n[dashboard]"), "{out}");
    assert!(!out.stderr.contains("ca issue web"), "{out}");
    // That the node runs with the section and serves its pages: every test above starts
    // its county with a config `init node --web` wrote (`NodeBuilder::dashboard`).
}
