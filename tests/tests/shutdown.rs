//! SIGTERM with long-lived streams open: a partner's `Subscribe`, a staff member's alert
//! `Watch` and a sync session, each from a client that never leaves. Every stream ends with
//! UNAVAILABLE, the gateway exits, and a restart on the same data folder takes its store.

#![allow(clippy::unwrap_used)]

use fenghuo_proto::v1::{
    self, alerts_client::AlertsClient, partner_service_client::PartnerServiceClient,
};
use fenghuo_tests::province::{TestProvince, GATEWAY, SYNC_TIMEOUT};
use fenghuo_tests::rogue::RoguePeer;

const A: &str = "510104";

/// How a stream ended: its error status, or "ended cleanly".
async fn end_of<T>(mut stream: tonic::Streaming<T>) -> Result<tonic::Status, String> {
    loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => return Err("the stream ended without a status".into()),
            Err(status) => return Ok(status),
        }
    }
}

#[test]
fn sigterm_ends_every_open_stream_with_unavailable_and_the_gateway_exits() {
    let mut p = TestProvince::new("51").county(A).start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    p.pki().issue_partner("weibo");
    p.cli(GATEWAY)
        .args(["partner", "add", "weibo", "--display-name", "Weibo"])
        .run()
        .ok();
    // A county the province knows of but that runs nowhere: its certificate opens a session
    // that nothing else competes with.
    p.pki().issue_county("510107");

    let subscribe = rt.block_on(async {
        PartnerServiceClient::new(p.channel_as(GATEWAY, "partner-weibo").await)
            .subscribe(v1::SubscribeRequest { cursor: 0 })
            .await
            .expect("subscribed")
            .into_inner()
    });
    let watch = rt.block_on(async {
        AlertsClient::new(p.channel_as(GATEWAY, &p.provincial_staff()).await)
            .watch(v1::WatchRequest {
                from_now: true,
                ..Default::default()
            })
            .await
            .expect("watching")
            .into_inner()
    });
    let rogue = rt.block_on(async {
        let r = RoguePeer::connect(&p.gateway().url(), &p.pki().credentials("county-510107"))
            .await
            .unwrap();
        r.hello(Vec::new()).await.unwrap();
        // The gateway's own Hello: the session is open on its side.
        r.wait_for("the gateway's hello", SYNC_TIMEOUT, |r| {
            (!r.frames().is_empty()).then_some(())
        })
        .await
        .unwrap();
        r
    });
    let subscribe = rt.spawn(end_of(subscribe));
    let watch = rt.spawn(end_of(watch));

    // Stop panics unless the process exits (successfully) within its generous guard.
    let signalled = std::time::Instant::now();
    p.stop(GATEWAY);
    eprintln!("the gateway exited {:?} after SIGTERM", signalled.elapsed());

    for (what, end) in [("Subscribe", subscribe), ("Watch", watch)] {
        let status = rt
            .block_on(async { tokio::time::timeout(SYNC_TIMEOUT, end).await })
            .unwrap_or_else(|_| panic!("{what} still open after the gateway exited"))
            .unwrap()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            status.code(),
            tonic::Code::Unavailable,
            "{what}: {status:?}"
        );
        assert!(
            status.message().contains("shutting down"),
            "{what}: {status:?}"
        );
    }
    let closed = rt
        .block_on(rogue.wait_for("the end of the sync session", SYNC_TIMEOUT, |r| r.closed()))
        .unwrap();
    assert!(
        closed.contains("shutting down"),
        "the sync session ended with {closed}"
    );
    let log = p.gateway().log();
    assert!(log.contains("store flushed"), "{log}");

    // Nothing holds the store any more: the gateway starts again on the same data folder.
    p.restart(GATEWAY);
    p.wait_links_up();
}
