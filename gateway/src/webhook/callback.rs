//! Partners' HTTPS callbacks: `POST /partner-api/<partner>/acknowledge` and
//! `/partner-api/<partner>/respond` on the dashboard's port, JSON bodies signed like the
//! webhooks (Standard Webhooks headers, the partner's secret), answered with the same receipt
//! gRPC gives.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use fenghuo_node::disposal::{signature, view, Command};
use fenghuo_node::partner;
use fenghuo_node::state::NodeState;
use serde::Deserialize;
use serde_json::json;

/// The callback routes over the gateway's `node` (no session: the signature authenticates),
/// to be merged into the router that serves the dashboard's address.
pub fn routes<S>(node: Arc<NodeState>) -> Router<S> {
    Router::new()
        .route("/partner-api/{partner}/{action}", post(callback))
        .with_state(node)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// Checks the partner and the signature.
#[allow(clippy::result_large_err)]
fn authenticate(
    node: &NodeState,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let p = match partner::get(node.store.as_ref(), name) {
        Ok(Some(p)) if !p.disabled && !p.webhook_secret_hex.is_empty() => p,
        Ok(_) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "unknown partner, or no webhook secret",
            ))
        }
        Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    // The replaced secret too, while its overlap lasts: the partner switches at its pace.
    let keys = p.secrets(fenghuo_node::timespec::now_ms());
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    signature::verify(&keys, headers, body).map_err(|e| {
        tracing::warn!(partner = %name, error = %e, "partner callback refused");
        error(StatusCode::UNAUTHORIZED, e.to_string())
    })
}

#[derive(Debug, Deserialize)]
struct CallbackBody {
    id: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reference: String,
}

async fn run(node: &NodeState, name: &str, body: &[u8], answer: bool) -> Response {
    let b: CallbackBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    let cmd = if answer {
        match b.outcome.parse() {
            Ok(outcome) => Command::Answer {
                partner: name.to_owned(),
                id: b.id.clone(),
                outcome,
                reason: b.reason,
                reference: b.reference,
            },
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("outcome: {e}")),
        }
    } else {
        Command::Acknowledge {
            partner: name.to_owned(),
            id: b.id.clone(),
        }
    };
    use fenghuo_node::disposal::DisposalError;
    use fenghuo_node::writer::WriteError;
    match node.writer.submit(format!("partner/{name}"), cmd).await {
        Ok(w) => {
            if answer && w.seq > 0 {
                let author = format!("partner/{name}");
                fenghuo_node::services::relay::share_outcome(node, &author, &b.id).await;
            }
            let state = view::get(node.store.as_ref(), &b.id)
                .ok()
                .flatten()
                .map(|r| r.state.as_str())
                .unwrap_or_default();
            tracing::info!(partner = %name, request = %b.id, answer, unchanged = w.seq == 0, "partner callback");
            Json(json!({"id": b.id, "state": state, "unchanged": w.seq == 0})).into_response()
        }
        Err(WriteError::Disposal(DisposalError::NotFound(m))) => error(StatusCode::NOT_FOUND, m),
        Err(WriteError::Disposal(DisposalError::InvalidField { field, reason })) => {
            error(StatusCode::BAD_REQUEST, format!("{field}: {reason}"))
        }
        Err(WriteError::Disposal(DisposalError::Precondition(m))) => error(StatusCode::CONFLICT, m),
        Err(WriteError::Invalid(c)) => error(StatusCode::BAD_REQUEST, c.to_string()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// POST /partner-api/{partner}/acknowledge|respond.
async fn callback(
    State(node): State<Arc<NodeState>>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = match action.as_str() {
        "acknowledge" => false,
        "respond" => true,
        _ => return error(StatusCode::NOT_FOUND, "call acknowledge or respond"),
    };
    if let Err(r) = authenticate(&node, &name, &headers, &body) {
        return r;
    }
    run(&node, &name, &body, answer).await
}
