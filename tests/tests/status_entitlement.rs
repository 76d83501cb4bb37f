//! `Federation.Feeds` and `Federation.Peers` (`fenghuo feeds`, `fenghuo peers`) show each
//! caller only what it is entitled to: a node's own staff and the province see everything;
//! another county's staff see the feeds this node would send their county, their own links
//! without addresses, and nothing of the local feed or of other links.

#![allow(clippy::unwrap_used)]

use fenghuo_tests::province::{feed, parse_feeds, Feeds, Province, TestProvince};

const A: &str = "510104";
const B: &str = "510105";
const C: &str = "510106";

/// `fenghuo feeds --json` on `name` as `stem`.
fn feeds_as(p: &Province, name: &str, stem: &str) -> Feeds {
    parse_feeds(
        &p.cli_as(name, stem)
            .args(["feeds", "--json"])
            .run()
            .ok()
            .json(),
    )
}

/// `fenghuo peers --json` on `name` as `stem`.
fn peers_as(p: &Province, name: &str, stem: &str) -> serde_json::Value {
    p.cli_as(name, stem)
        .args(["peers", "--json"])
        .run()
        .ok()
        .json()
}

#[test]
fn another_countys_staff_see_only_what_their_county_may_hold() {
    // A–B neighbours, B–C neighbours, A and C not.
    let p = TestProvince::abc();
    // A local risk (A's local feed) and one shared with A's neighbours.
    p.risk(A, &["add", "--title", "Local only", "--focus", "key-work"]);
    p.risk(
        A,
        &["add", "--title", "For neighbours", "--focus", "key-work"],
    );
    p.risk(A, &["share", "510104-2", "--scope", "neighbours"]);
    let own = p.feeds(A);
    let local = feed("county/510104", "local");
    let neighbours = feed("county/510104", "neighbours");
    assert!(
        own.contains_key(&local) && own.contains_key(&neighbours),
        "{own:?}"
    );
    p.wait_head(B, &neighbours, own[&neighbours]);

    // A's own staff and provincial staff see A's local feed.
    assert!(feeds_as(&p, A, &p.staff(A)).contains_key(&local));
    assert!(feeds_as(&p, A, &p.provincial_staff()).contains_key(&local));

    // B's staff: A's neighbours feed (B is named), never local; only feeds B may hold.
    let seen_by_b = feeds_as(&p, A, &p.staff(B));
    assert!(seen_by_b.contains_key(&neighbours), "{seen_by_b:?}");
    assert!(!seen_by_b.contains_key(&local), "{seen_by_b:?}");
    for (origin, audience) in seen_by_b.keys() {
        let o = p.member_of_path(origin).unwrap();
        assert!(p.entitled(B, &o, audience), "B shown {origin}#{audience}");
    }
    // C's staff: not A's neighbours feed either.
    let seen_by_c = feeds_as(&p, A, &p.staff(C));
    assert!(!seen_by_c.contains_key(&neighbours) && !seen_by_c.contains_key(&local));

    // Peers: A's own staff see every link with its address; B's staff only B's links with
    // A, no address, no node-wide counters; C's staff (no link with A) nothing.
    let all = peers_as(&p, A, &p.staff(A));
    let rows = all["peers"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["peer"] == "province/51"), "{all:#}");
    assert!(rows.iter().all(|r| r["address"] != ""), "{all:#}");
    let b_view = peers_as(&p, A, &p.staff(B));
    let rows = b_view["peers"].as_array().unwrap();
    assert!(!rows.is_empty(), "{b_view:#}");
    for r in rows {
        assert_eq!(r["peer"], "county/510105", "{b_view:#}");
        assert_eq!(r["address"], "", "{b_view:#}");
    }
    let c_view = peers_as(&p, A, &p.staff(C));
    assert_eq!(c_view["peers"].as_array().unwrap().len(), 0, "{c_view:#}");
}
