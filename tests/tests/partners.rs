//! Partner websites registered at the gateway (`fenghuo partner`): checked input, replace,
//! disable, and only the province manages them.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::province::{TestProvince, GATEWAY};

const A: &str = "510104";

#[test]
fn the_province_registers_partners_and_nobody_else_does() {
    let p = TestProvince::new("51").county(A).start();
    p.pki().issue_partner("weibo");
    let gw = || p.gateway_cli();
    let added = gw()
        .args([
            "partner",
            "add",
            "weibo",
            "--display-name",
            "Sina Weibo",
            "--json",
        ])
        .run()
        .ok()
        .json();
    assert_eq!(added["name"], "weibo");
    assert_eq!(added["webhook"], serde_json::Value::Null);
    let secret = p.dir().join("douyin.secret");
    std::fs::write(&secret, [9u8; 32]).unwrap();
    let hooked = gw()
        .args(["partner", "add", "douyin", "--display-name", "Douyin"])
        .args([
            "--webhook",
            "https://hooks.douyin.example/fenghuo",
            "--secret-file",
        ])
        .arg(&secret)
        .arg("--json")
        .run()
        .ok()
        .json();
    assert_eq!(hooked["webhook"], "https://hooks.douyin.example/fenghuo");
    let listed = gw().args(["partner", "list", "--json"]).run().ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["douyin", "weibo"]);
    assert!(
        !listed.to_string().contains("0909090909"),
        "the webhook secret never leaves the gateway"
    );

    // Bad input is refused with the field named; nothing is written.
    let short = p.dir().join("short.secret");
    std::fs::write(&short, b"too short").unwrap();
    for (args, field) in [
        (
            vec!["partner", "add", "Bad Name", "--display-name", "x"],
            "name",
        ),
        (
            vec!["partner", "add", "weibo", "--display-name", "again"],
            "already exists",
        ),
        (
            vec![
                "partner",
                "add",
                "x",
                "--display-name",
                "X",
                "--webhook",
                "http://plain.example/h",
                "--secret-file",
                secret.to_str().unwrap(),
            ],
            "webhook",
        ),
        (
            vec![
                "partner",
                "add",
                "x",
                "--display-name",
                "X",
                "--webhook",
                "https://x.example/h",
                "--secret-file",
                short.to_str().unwrap(),
            ],
            "secret",
        ),
        (vec!["partner", "show", "nobody"], "no partner"),
    ] {
        let e = gw().args(&args).run().err();
        assert!(e.contains(field), "{args:?}: {e}");
    }
    assert_eq!(
        gw().args(["partner", "list", "--json"]).run().ok().json(),
        listed
    );
    // The webhook and secret flags go together.
    let e = gw()
        .args([
            "partner",
            "add",
            "x",
            "--display-name",
            "X",
            "--webhook",
            "https://x.example/h",
        ])
        .run()
        .err();
    assert!(e.contains("--secret-file"), "{e}");

    // Replace keeps the partner; disable sticks.
    let replaced = gw()
        .args([
            "partner",
            "add",
            "weibo",
            "--display-name",
            "Weibo",
            "--replace",
            "--json",
        ])
        .run()
        .ok()
        .json();
    assert_eq!(replaced["display_name"], "Weibo");
    let disabled = gw()
        .args(["partner", "disable", "weibo", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(disabled["disabled"], true);
    let shown = gw()
        .args(["partner", "show", "weibo", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(shown["disabled"], true);

    // Only the province manages partners: a county node keeps none, a county's staff and the
    // partner itself are refused at the gateway.
    let e = p.cli(A).args(["partner", "list"]).run().err();
    assert!(e.contains("gateway"), "{e}");
    let e = p
        .cli_as(GATEWAY, &p.staff(A))
        .args(["partner", "list"])
        .run()
        .err();
    assert!(e.contains("permission denied"), "{e}");
    let e = p
        .cli_as(GATEWAY, "partner-weibo")
        .args(["partner", "list"])
        .run()
        .err();
    assert!(e.contains("permission denied"), "{e}");
}
