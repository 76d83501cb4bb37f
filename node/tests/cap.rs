//! `alert show --format cap` emits CAP 1.2 that an independent CAP parser (the `oasiscap`
//! crate) reads back with every field as Fenghuo meant it.

#![allow(clippy::unwrap_used)]

use fenghuo_node::comms::cap::{CapMessage, CapReference, MessageKind};
use fenghuo_node::domain::alert::{AlertAudience, Certainty, NewAlert, Severity, Urgency};
use oasiscap::v1dot2 as cap;

fn cap_time(s: &str) -> oasiscap::DateTime {
    s.parse().unwrap()
}

#[test]
fn an_update_round_trips_through_an_independent_cap_parser() {
    let alert = NewAlert {
        headline: "Gathering called at the county office on Saturday".into(),
        description:
            "Posts in three groups call people to the office gate at 9 & ask for <compensation>."
                .into(),
        instruction: "Send a liaison; report turnout by 10:00.".into(),
        event: "gathering called online".into(),
        urgency: Urgency::Expected,
        severity: Severity::Severe,
        certainty: Certainty::Likely,
        affected: vec!["510104".into(), "510105".into()],
        onset_ms: Some(1_764_147_600_000),
        expires_ms: Some(1_764_172_800_000),
        risk: Some("510104-7".into()),
        audience: AlertAudience::Neighbours,
    };
    let references = [CapReference {
        sender: "fenghuo://county/510104".into(),
        identifier: "510104-A1".into(),
        sent_ms: 1_764_104_400_000,
    }];
    let xml = CapMessage {
        identifier: "510104-A2",
        sender: "fenghuo://county/510104",
        sender_name: "County 510104",
        sent_ms: 1_764_108_000_000,
        kind: MessageKind::Update,
        references: &references,
        alert: &alert,
    }
    .to_xml();

    let parsed: oasiscap::Alert = xml.parse().unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let oasiscap::Alert::V1dot2(a) = parsed else {
        panic!("not read as CAP 1.2:\n{xml}");
    };
    assert_eq!(a.identifier, "510104-A2");
    assert_eq!(a.sender, "fenghuo://county/510104");
    assert_eq!(a.sent, cap_time("2025-11-25T22:00:00-00:00"));
    assert_eq!(a.status, cap::Status::Actual);
    assert_eq!(a.message_type, cap::MessageType::Update);
    assert_eq!(a.scope, cap::Scope::Restricted);
    assert_eq!(
        a.restriction.as_deref(),
        Some("Fenghuo federation, audience: neighbours")
    );
    let refs = a.references.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].identifier, "510104-A1");
    assert_eq!(refs[0].sent, cap_time("2025-11-25T21:00:00-00:00"));

    assert_eq!(a.info.len(), 1);
    let info = &a.info[0];
    assert_eq!(info.event, "gathering called online");
    assert_eq!(info.urgency, cap::Urgency::Expected);
    assert_eq!(info.severity, cap::Severity::Severe);
    assert_eq!(info.certainty, cap::Certainty::Likely);
    assert_eq!(info.onset, Some(cap_time("2025-11-26T09:00:00-00:00")));
    assert_eq!(info.expires, Some(cap_time("2025-11-26T16:00:00-00:00")));
    assert_eq!(info.sender_name.as_deref(), Some("County 510104"));
    assert_eq!(info.headline.as_deref(), Some(alert.headline.as_str()));
    assert_eq!(
        info.description.as_deref(),
        Some(alert.description.as_str())
    );
    assert_eq!(
        info.instruction.as_deref(),
        Some(alert.instruction.as_str())
    );
    assert_eq!(info.areas.len(), 1);
    assert_eq!(info.areas[0].description, "Counties 510104, 510105");
}
