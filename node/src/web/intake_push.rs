//! `POST /intake/v1/observations`: monitoring systems that can only POST hand their
//! observations to the county node on its web port (docs/intake.md, "HTTPS endpoint").
//!
//! No session and no CSRF token: `Authorization: Bearer <token>` names the system (tokens
//! compared in constant time), and the body is signed after Standard Webhooks with the
//! system's secret (`webhook-id`, `webhook-timestamp` within five minutes, `webhook-signature`),
//! as partners sign their callbacks. A refused authentication says nothing of why (401), and
//! failures are throttled per client address like sign-ins ([`super::throttle`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use tracing::Instrument;

use super::session::same_secret;
use super::throttle::Throttle;
use super::{App, Remote};
use crate::config::IntakeCredentials;
use crate::disposal::signature;
use crate::intake::{Engagement, Observation};
use crate::services::intake_desk::BatchCounts;

/// The path systems POST to.
pub const PATH: &str = "/intake/v1/observations";
/// The largest body accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// The most observations in one body.
pub const MAX_OBSERVATIONS: usize = 1000;
/// Refusals the answer names (all are counted).
const MAX_REFUSALS_NAMED: usize = 50;
/// The throttle's account key: one endpoint, so failures count per address.
const THROTTLE_KEY: &str = "\u{0}intake-endpoint";

/// The systems allowed to POST, with their tokens and keys, and failed attempts per address.
#[derive(Debug, Default)]
pub struct Systems {
    systems: Vec<IntakeCredentials>,
    throttle: Throttle,
}

impl Systems {
    /// The systems of `[[intake.systems]]`, read at start.
    pub fn new(systems: Vec<IntakeCredentials>) -> Self {
        Self {
            systems,
            throttle: Throttle::default(),
        }
    }

    /// The system whose token `given` is: every token is compared, in constant time.
    fn by_token(&self, given: &str) -> Option<&IntakeCredentials> {
        let mut found = None;
        for s in &self.systems {
            if same_secret(&s.token, given) && found.is_none() {
                found = Some(s);
            }
        }
        found
    }
}

/// A whole number given as a JSON number or, as the proto's JSON mapping writes 64-bit
/// numbers, as a string.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Int(i64),
        Text(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Int(n)) => Ok(Some(n)),
        Some(N::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a whole number"))),
    }
}

/// Engagement figures nested as `engagement: {views, …}`.
#[derive(Debug, Default, Deserialize)]
struct Figures {
    #[serde(default, deserialize_with = "number")]
    views: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    reposts: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    comments: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    likes: Option<i64>,
}

/// One observation as JSON: the proto's `Observation` fields (snake_case, or the proto JSON
/// mapping's camelCase), figures flat or inside `engagement`.
#[derive(Debug, Default, Deserialize)]
struct Pushed {
    #[serde(default)]
    url: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    text: String,
    #[serde(default, alias = "capturedAtMs", deserialize_with = "number")]
    captured_at_ms: Option<i64>,
    #[serde(default)]
    engagement: Option<Figures>,
    #[serde(default, deserialize_with = "number")]
    views: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    reposts: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    comments: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    likes: Option<i64>,
    #[serde(default)]
    keywords: Vec<String>,
    /// Optional: when given it must be the token's system.
    #[serde(default)]
    system: String,
    #[serde(default, alias = "systemId")]
    system_id: String,
}

impl Pushed {
    fn observation(self, system: &str) -> Observation {
        let e = self.engagement.unwrap_or_default();
        Observation {
            url: self.url,
            platform: self.platform,
            account: self.account,
            text: self.text,
            captured_at_ms: self.captured_at_ms.unwrap_or(0),
            engagement: Engagement {
                views: self.views.or(e.views).unwrap_or(0),
                reposts: self.reposts.or(e.reposts).unwrap_or(0),
                comments: self.comments.or(e.comments).unwrap_or(0),
                likes: self.likes.or(e.likes).unwrap_or(0),
            },
            keywords: self.keywords,
            system: system.to_owned(),
            system_id: self.system_id,
        }
    }
}

/// The answer to a recorded body.
#[derive(Debug, Default, Serialize)]
struct Summary {
    received: u64,
    new_items: u64,
    sightings: u64,
    repeats: u64,
    refused: u64,
    refusals: Vec<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unauthorised() -> Response {
    let mut res = error(
        StatusCode::UNAUTHORIZED,
        "authentication failed: send `Authorization: Bearer <token>` and a Standard Webhooks signature of the body with the system's secret",
    );
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

fn too_many(wait: Duration) -> Response {
    let mut res = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed authentications from this address: wait and retry",
    );
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The observations of `body`: one object or an array of at most [`MAX_OBSERVATIONS`]; each
/// one's parse error kept for its refusal.
#[allow(clippy::result_large_err)]
fn parse(body: &[u8]) -> Result<Vec<Result<Pushed, String>>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
        )
    })?;
    let values = match value {
        Value::Array(a) if a.len() > MAX_OBSERVATIONS => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "{} observations in one body; at most {MAX_OBSERVATIONS}",
                    a.len()
                ),
            ))
        }
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "the body must be one observation (a JSON object) or an array of them",
            ))
        }
    };
    Ok(values
        .into_iter()
        .map(|v| serde_json::from_value::<Pushed>(v).map_err(|e| e.to_string()))
        .collect())
}

/// POST /intake/v1/observations.
pub async fn observations(
    State(app): State<Arc<App>>,
    remote: Option<Extension<Remote>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client: Option<IpAddr> =
        remote.map(|Extension(Remote(a))| app.client_address.of(a.ip(), &headers));
    let span = tracing::info_span!(
        "intake-push",
        client = client.map(|c| c.to_string()).unwrap_or_default(),
        system = tracing::field::Empty,
    );
    receive(app, client, headers, body).instrument(span).await
}

async fn receive(
    app: Arc<App>,
    client: Option<IpAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the body is larger than {} MiB: send fewer observations per request",
                    MAX_BODY / (1024 * 1024)
                ),
            )
        }
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let Some(desk) = app.node.intake.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "intake lives at county nodes: post to the county's node",
        );
    };
    let systems = &app.intake_push;
    if systems.systems.is_empty() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this county takes no observations over HTTPS ([[intake.systems]] is empty)",
        );
    }
    let ip = client.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let attempt = match systems.throttle.admit(THROTTLE_KEY, ip) {
        Ok(a) => a,
        Err(wait) => {
            tracing::info!(wait_s = wait.as_secs(), "intake push throttled");
            return too_many(wait);
        }
    };
    let Some(system) = bearer(&headers).and_then(|t| systems.by_token(t)) else {
        attempt.failed();
        tracing::info!("intake push refused: missing or unknown token");
        return unauthorised();
    };
    tracing::Span::current().record("system", system.name.as_str());
    if let Err(e) = signature::verify(&[system.key.as_slice()], &headers, &body) {
        attempt.failed();
        tracing::info!(error = %e, "intake push refused: signature");
        return unauthorised();
    }
    attempt.succeeded();

    let parsed = match parse(&body) {
        Ok(p) => p,
        Err(res) => {
            tracing::info!("intake push refused: unparsable body");
            return res;
        }
    };
    let mut summary = Summary {
        received: parsed.len() as u64,
        ..Summary::default()
    };
    let mut refusals: Vec<String> = Vec::new();
    let mut batch = Vec::with_capacity(parsed.len());
    // (number in the body, its system id) of each observation in `batch`.
    let mut numbered = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.into_iter().enumerate() {
        let n = i + 1;
        match p {
            Err(e) => refusals.push(format!("#{n}: {e}")),
            Ok(p) if !p.system.is_empty() && p.system != system.name => refusals.push(format!(
                "#{n} {}: system: this token is {:?}'s, not {:?}'s",
                p.system_id, system.name, p.system
            )),
            Ok(p) => {
                numbered.push((n, p.system_id.clone()));
                batch.push(p.observation(&system.name));
            }
        }
    }
    summary.refused = refusals.len() as u64;
    let now = crate::timespec::now_ms();
    let results = if batch.is_empty() {
        Vec::new()
    } else {
        match tokio::task::spawn_blocking(move || desk.record(batch, now)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "intake push: recording failed");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the node could not record the observations: retry later",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "intake push: the recording task failed");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the node could not record the observations",
                );
            }
        }
    };
    let mut counts = BatchCounts::default();
    for (r, (n, id)) in results.iter().zip(numbered) {
        counts.add(r);
        if let Err(e) = r {
            refusals.push(format!("#{n} {id}: {e}"));
        }
    }
    refusals.sort_by_key(|r| {
        r.trim_start_matches('#')
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse::<usize>().ok())
            .unwrap_or(0)
    });
    summary.new_items = counts.new_items;
    summary.sightings = counts.sightings;
    summary.repeats = counts.repeats;
    summary.refused += counts.refused;
    if summary.refused > 0 {
        // A system's bad data is its operator's business, not an alarm of this node.
        tracing::info!(refused = summary.refused, first = %refusals.first().map(String::as_str).unwrap_or_default(), "intake push: observations refused");
    }
    refusals.truncate(MAX_REFUSALS_NAMED);
    summary.refusals = refusals;
    tracing::info!(
        received = summary.received,
        new = summary.new_items,
        sightings = summary.sightings,
        repeats = summary.repeats,
        refused = summary.refused,
        "observations recorded over HTTPS"
    );
    (StatusCode::OK, Json(summary)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_flat_nested_and_as_strings() {
        let one = br#"{"url":"https://a.example/1","platform":"weibo","text":"x","capturedAtMs":"1700000000000","views":5,"engagement":{"views":9,"likes":"3"},"system_id":"a"}"#;
        let p = parse(one).unwrap();
        assert_eq!(p.len(), 1);
        let o = p.into_iter().next().unwrap().unwrap().observation("yq");
        assert_eq!(o.captured_at_ms, 1_700_000_000_000);
        assert_eq!(o.engagement.views, 5, "flat wins");
        assert_eq!(o.engagement.likes, 3);
        assert_eq!(o.system, "yq");
        let many = format!("[{}]", vec!["{}"; MAX_OBSERVATIONS + 1].join(","));
        assert!(parse(many.as_bytes()).is_err());
        assert!(parse(b"not json").is_err());
        assert!(parse(b"3").is_err());
        let typed = parse(br#"[{"views":"many"}]"#).unwrap();
        assert!(typed[0].is_err());
    }

    #[test]
    fn tokens_name_systems() {
        let s = Systems::new(vec![IntakeCredentials {
            name: "yq".into(),
            token: "t0k3n-abcdefghijklmnopqrstuvwxyz".into(),
            key: vec![1; 32],
        }]);
        assert!(s.by_token("t0k3n-abcdefghijklmnopqrstuvwxyz").is_some());
        assert!(s.by_token("t0k3n").is_none());
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
