//! Counties by name and times in the local zone, end to end (issue 17): a county issued with
//! `fenghuo ca issue county 510104 --name …` carries the name in its certificate (OpenSSL
//! reads it), the province's directory brings it to the gateway, and `fenghuo peers`,
//! `overview` and `health` show `name code` (the bare code stays in --json, with
//! `county_name` beside it); a county without a name is shown by the GB/T 2260 table's. The
//! CLI prints times with their offset in the zone of --time-zone, and --json in UTC.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use fenghuo_tests::province::{Province, TestProvince, SYNC_TIMEOUT};
use fenghuo_tests::wait;

const A: &str = "510104";
const B: &str = "510105";
/// Not the table's 锦江区, so what is shown can only come from the certificate.
const A_NAME: &str = "锦江试点区";

fn province() -> Province {
    TestProvince::new("51")
        .county_named(A, A_NAME)
        .county(B)
        .neighbours(A, B)
        .start()
}

#[test]
fn a_county_named_in_its_certificate_is_shown_by_that_name_and_times_carry_their_offset() {
    let p = province();

    // OpenSSL (any client, any stack) reads the name in the subject.
    let cert = p.pki().cert(&format!("county-{A}"));
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_comma_plus",
            "-in",
        ])
        .arg(&cert)
        .output()
        .expect("running openssl");
    let subject = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(subject.contains(&format!("O={A_NAME}")), "{subject}");
    assert!(subject.contains(&format!("CN=county/{A}")), "{subject}");

    // The gateway learns the name from the directory it publishes: overview --json keeps the
    // bare code and gives the name beside it.
    let overview = wait::until(
        "the gateway's overview to name county A",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let o = p
                .gateway_cli()
                .args(["overview", "--json"])
                .run()
                .ok()
                .json();
            let named = o["counties"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["county"] == A && c["county_name"] == A_NAME);
            if named {
                Ok(o)
            } else {
                Err(o["counties"].to_string())
            }
        },
    );
    let b = overview["counties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["county"] == B)
        .unwrap();
    assert_eq!(b["county_name"], "青羊区", "the table's name: {b}");

    // Tables show name and code.
    let text = p.gateway_cli().args(["overview"]).run().ok().stdout;
    assert!(text.contains(&format!("{A_NAME} {A}")), "{text}");
    assert!(text.contains(&format!("青羊区 {B}")), "{text}");
    let peers = p.gateway_cli().args(["peers"]).run().ok().stdout;
    assert!(peers.contains(&format!("county/{A} {A_NAME}")), "{peers}");
    let health = p.gateway_cli().args(["health"]).run().ok().stdout;
    assert!(health.contains(&format!("{A_NAME} {A}")), "{health}");
    let health_json = p.gateway_cli().args(["health", "--json"]).run().ok().json();
    assert!(
        health_json["counties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["county"] == A && c["county_name"] == A_NAME),
        "{health_json}"
    );

    // A county learns its neighbour's name through the province feed too.
    wait::until(
        "county B to show county A by name",
        SYNC_TIMEOUT,
        Duration::from_millis(200),
        || {
            let peers = p.cli(B).args(["peers"]).run().ok().stdout;
            if peers.contains(&format!("county/{A} {A_NAME}")) {
                Ok(())
            } else {
                Err(peers)
            }
        },
    );

    // Times: tables in the display zone with the offset, --json in UTC.
    let id = p.risk(
        A,
        &[
            "add",
            "--title",
            "Crowd at the station",
            "--focus",
            "major-event",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = p.cli(A).args(["risk", "list"]).run().ok().stdout;
    assert!(list.contains(&id) && list.contains(" +08:00"), "{list}");
    let utc = p
        .cli(A)
        .args(["--time-zone", "UTC", "risk", "list"])
        .run()
        .ok()
        .stdout;
    assert!(utc.contains(" +00:00") && !utc.contains("+08:00"), "{utc}");
    let urumqi = p
        .cli(A)
        .args(["risk", "list", "--time-zone=Asia/Urumqi"])
        .run()
        .ok()
        .stdout;
    assert!(urumqi.contains(" +06:00"), "{urumqi}");
    let json = p.risk(A, &["show", &id]);
    assert!(
        json["created_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    // An unknown zone is refused with its name.
    let err = p
        .cli(A)
        .args(["--time-zone", "Asia/Beijing", "risk", "list"])
        .run()
        .err();
    assert!(err.contains("Asia/Beijing"), "{err}");
    // A local time is accepted where a time is asked.
    p.gateway_cli()
        .args(["overview", "--since", "2026-01-01 08:00", "--json"])
        .run()
        .ok();
}
