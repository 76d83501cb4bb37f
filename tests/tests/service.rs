//! The standard gRPC services next to `Registry`: health checking and server reflection,
//! over the same mutual TLS; and the grading standard the node grades with.

#![allow(clippy::unwrap_used)]

use fenghuo_proto::v1;
use fenghuo_tests::register::{county_with_zhang, ZHANG};
use fenghuo_tests::{TestNode, TestPki};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// Sends one reflection request and returns the one response.
async fn reflect(
    node: &TestNode,
    pki: &TestPki,
    request: MessageRequest,
) -> ServerReflectionResponse {
    let mut client = ServerReflectionClient::new(node.channel(pki, ZHANG).await.unwrap());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    responses
        .message()
        .await
        .unwrap()
        .expect("the reflection stream ended without a response")
}

#[tokio::test]
async fn health_reports_serving_over_mutual_tls() {
    let (pki, node) = county_with_zhang();
    let mut health = HealthClient::new(node.channel(&pki, ZHANG).await.unwrap());
    for service in ["", "fenghuo.v1.Registry"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("Health/Check {service:?}: {s:?}"))
            .into_inner();
        assert_eq!(
            answer.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
}

#[tokio::test]
async fn reflection_lists_the_registry_and_describes_it() {
    let (pki, node) = county_with_zhang();
    let listed = reflect(&node, &pki, MessageRequest::ListServices(String::new())).await;
    let Some(MessageResponse::ListServicesResponse(list)) = listed.message_response else {
        panic!("expected a service list, got {listed:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"fenghuo.v1.Registry"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let file = reflect(
        &node,
        &pki,
        MessageRequest::FileContainingSymbol("fenghuo.v1.Registry".into()),
    )
    .await;
    let Some(MessageResponse::FileDescriptorResponse(file)) = file.message_response else {
        panic!("expected a file descriptor, got {file:?}");
    };
    let bytes: Vec<u8> = file.file_descriptor_proto.concat();
    let text = String::from_utf8_lossy(&bytes);
    for symbol in [
        "fenghuo/v1/registry.proto",
        "fenghuo.v1",
        "Registry",
        "CreateRisk",
        "ListRisks",
    ] {
        assert!(
            text.contains(symbol),
            "the descriptor of fenghuo.v1.Registry lacks {symbol:?}"
        );
    }
}

#[tokio::test]
async fn the_node_tells_which_grading_standard_it_grades_with() {
    let (pki, node) = county_with_zhang();
    let mut registry = node.registry(&pki, ZHANG).await;
    let standard = registry
        .get_grading_standard(v1::GetGradingStandardRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!standard.version.is_empty());
    assert!(
        standard.toml.contains(&standard.version),
        "the TOML names its version:\n{}",
        standard.toml
    );

    let risk = registry
        .create_risk(v1::CreateRiskRequest {
            title: "Graded over gRPC".into(),
            focus: v1::FocusPoint::MajorEvent as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(risk.id, "510104-1");
    let graded = registry
        .grade_risk(v1::GradeRiskRequest {
            id: risk.id.clone(),
            influence: 5,
            attention: 5,
            diffusion: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let grade = graded.grade.as_ref().unwrap();
    assert_eq!(grade.level(), v1::Level::I);
    assert_eq!(grade.standard_version, standard.version);
    assert_eq!(grade.graded_by, "staff/510104/zhang");
    assert_eq!(graded.status(), v1::RiskStatus::Graded);

    // What gRPC wrote, the CLI reads.
    drop(registry);
    let shown = node
        .cli(&pki, ZHANG)
        .args(["risk", "show", "510104-1", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(shown["level"], "I");
    assert_eq!(
        shown["grade"]["standard_version"],
        standard.version.as_str()
    );
}
