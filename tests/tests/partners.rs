//! Partner websites registered at the gateway (`fenghuo partner`): checked input, replace,
//! disable, and only the province manages them; a county lists whom it may address.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fenghuo_tests::province::{TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::wait;

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
        .args(["--handles", "抖音 videos, comments and live streams"])
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

    // A county lists the enabled partners it may address, at its node (the province feed
    // brought the declarations) or at the gateway: names, display names, what they handle;
    // never a webhook or a figure.
    let at_a = wait::until(
        "the declarations at A",
        SYNC_TIMEOUT,
        Duration::from_millis(100),
        || {
            let list = p
                .cli(A)
                .args(["partner", "list", "--json"])
                .run()
                .ok()
                .json();
            if list.as_array().unwrap().len() == 1 {
                Ok(list)
            } else {
                Err(list.to_string())
            }
        },
    );
    let want = serde_json::json!([{
        "name": "douyin",
        "display_name": "Douyin",
        "handles": "抖音 videos, comments and live streams",
    }]);
    assert_eq!(at_a, want, "weibo is disabled: not addressable");
    let for_a = p
        .cli_as(GATEWAY, &p.staff(A))
        .args(["partner", "list", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(for_a, want);
    let text = p.cli(A).args(["partner", "list"]).run().ok().stdout;
    for want in ["douyin", "抖音 videos", "--partner"] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    assert!(!text.contains("hooks.douyin.example"), "{text}");
    // Only the province manages partners: a county's staff may not add or show one, the
    // partner itself may not list them.
    let e = p.cli(A).args(["partner", "show", "douyin"]).run().err();
    assert!(e.contains("gateway"), "{e}");
    let e = p
        .cli_as(GATEWAY, &p.staff(A))
        .args(["partner", "add", "x", "--display-name", "X"])
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
