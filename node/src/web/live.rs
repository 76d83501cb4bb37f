//! Live pages: `/events` sends a server-sent event whenever the gateway's views have taken
//! new entries or communications (at most one a second), and with `?intake=1` (the intake
//! list, marked `#live-intake`) also when the county's intake desk recorded observations; `/assets/live.js` reloads the
//! page on it, unless someone is typing in a form, the page shows a refused form
//! (`data-stay`: reloading would post it again), or something was typed into a form (a
//! notice offers the reload then: a reload would throw the typing away).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::Stream;

use super::App;

/// At most one event per this long, however fast entries arrive.
const THROTTLE: Duration = Duration::from_secs(1);

const SCRIPT: &str = r#"// Fenghuo dashboard: reload when the gateway's figures change (server-sent events).
(function () {
  if (!window.EventSource) return;
  // A form sent back refused stays as it is: reloading would send it again.
  if (document.querySelector("[data-stay]")) return;
  var typing = function () {
    var a = document.activeElement;
    return a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a.type !== "submit";
  };
  // Something typed into a form is never thrown away by a reload: say there is news instead.
  var dirty = false;
  document.addEventListener("input", function () { dirty = true; });
  var stale = false;
  var tell = function () {
    if (document.getElementById("live-stale")) return;
    var zh = document.documentElement.lang !== "en";
    var a = document.createElement("a");
    a.id = "live-stale";
    a.href = "";
    a.setAttribute("role", "status");
    a.textContent = zh ? "有新内容：保存后刷新本页" : "New entries: reload when you are done";
    a.style.cssText = "position:fixed;right:1em;bottom:1em;background:#fff8e1;border:1px solid #e0b000;padding:.5em .8em;border-radius:6px";
    document.body.appendChild(a);
  };
  var source = document.getElementById("live-intake") ? "/events?intake=1" : "/events";
  new EventSource(source).addEventListener("changed", function () {
    if (dirty) { tell(); return; }
    if (typing()) { stale = true; return; }
    location.reload();
  });
  document.addEventListener("focusout", function () {
    setTimeout(function () {
      if (dirty) { if (stale) tell(); return; }
      if (stale && !typing()) location.reload();
    }, 2000);
  });
})();
"#;

/// GET /assets/live.js.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

/// What `/events` follows besides the views and communications.
#[derive(Debug, Default, serde::Deserialize)]
pub struct EventsQuery {
    /// `1`: also the intake desk's recordings (the intake list).
    #[serde(default)]
    intake: String,
}

/// GET /events: `changed` whenever views or communications move on (and with `?intake=1`
/// whenever observations were recorded).
pub async fn events(
    State(app): State<Arc<App>>,
    Query(q): Query<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let views = app.node.views.clone();
    let journal = app.node.journal.clone();
    let intake = match (q.intake.as_str(), &app.node.intake) {
        ("1", Some(desk)) => Some(desk.recorded()),
        _ => None,
    };
    let stream = futures_util::stream::unfold(
        (views, journal, intake),
        |(mut views, mut journal, mut intake)| async move {
            let recorded = async {
                match intake.as_mut() {
                    Some(r) => r.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = views.changed() => r.ok()?,
                r = journal.changed() => r.ok()?,
                r = recorded => r.ok()?,
            }
            tokio::time::sleep(THROTTLE).await;
            // Everything that arrived while we slept is in this one event.
            views.borrow_and_update();
            journal.borrow_and_update();
            if let Some(r) = intake.as_mut() {
                r.borrow_and_update();
            }
            let event = Event::default().event("changed").data(stamp());
            Some((Ok(event), (views, journal, intake)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The event's data: when it was sent, for a person reading the stream.
fn stamp() -> String {
    crate::timespec::now_ms().to_string()
}
