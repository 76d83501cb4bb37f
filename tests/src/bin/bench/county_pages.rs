//! `county-pages`: every page a county's staff open, timed over HTTP on a county holding N
//! risks of its own (issue 17's goal: p99 ≤ 50 ms at 100,000).
//!
//! The county's store is the one [`crate::dataset`] writes for `dashboard-scale` (the same
//! risks, commands and views, through the node library's own checks), this time with every
//! feed the county writes, `local` included, as its own node would hold it. A county node
//! then starts on that store as every bench node does, and its real web router
//! (`fenghuo_node::web::router`, what `fenghuo-node run` serves behind TLS) answers requests
//! in this process through `tower::ServiceExt::oneshot`: an officer account is added to the
//! store, signs in through `GET /login` (its CSRF token and form cookie) and `POST /login`,
//! and every request carries the session cookie. What is left out is TLS and the socket.
//!
//! Each page's first request is timed apart (it may build the register's index: a node
//! builds it in the background when its pages start, this bench on first use); then a few
//! unmeasured requests, then the timed ones, each answer's whole body read.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use fenghuo_node::accounts::{self, Role};
use fenghuo_node::domain::{FocusPoint, Level, RiskStatus};
use fenghuo_node::feed::FeedSigner;
use fenghuo_node::identity::Identity;
use fenghuo_node::register::view as register_view;
use fenghuo_node::start;
use fenghuo_node::store::{SledStore, Store};
use fenghuo_node::timespec::now_ms;
use fenghuo_node::web::{self, Remote};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::dataset;
use crate::fenghuo::{free_port, Bench};
use crate::stats::{ms, peak_rss_mib, Latencies, Outcome};

/// What to build and measure.
#[derive(Debug)]
pub struct Options {
    /// Risks in the county's register.
    pub risks: u64,
    /// Timed requests per page (fewer for a page slower than [`PAGE_BUDGET`] allows).
    pub runs: usize,
}

/// The county measured, and its neighbours (declared; none of them runs).
const COUNTY: &str = "510104";
const NEIGHBOURS: [&str; 2] = ["510105", "510106"];
/// The officer who signs in.
const OFFICER: &str = "bench-officer";
const PASSWORD: &str = "bench officer password";
/// The display zone a node config without `time_zone` has: the views are marked built in
/// it, so the node does not rebuild them at start.
const ZONE: &str = "Asia/Shanghai";
/// The seed of the county's data set.
const SEED: u64 = 1;
/// Unmeasured requests per page after its first.
const WARM_UP: usize = 3;
/// About how long the timed requests of one page may take; a slower page gets fewer runs.
const PAGE_BUDGET: Duration = Duration::from_secs(20);
/// Fewest timed requests of a page.
const MIN_RUNS: usize = 20;
/// The goal of issue 17.
const GOAL_MS: f64 = 50.0;
/// Rows of a register page (`fenghuo_node::web::pages::register::PAGE`).
const PER_PAGE: u64 = 50;

/// One page to time.
struct Page {
    /// What it is, for people.
    name: String,
    /// The request path and query.
    path: String,
}

/// The county's pages: every route a county's staff open, the register under each kind
/// of query, and its CSV export.
fn pages(risks: u64, search: &str, risk: &str) -> Vec<Page> {
    let deep = (risks / PER_PAGE / 2).max(1);
    let p = |name: &str, path: String| Page {
        name: name.to_owned(),
        path,
    };
    vec![
        p("at a glance", "/".into()),
        p("register, first page", "/register".into()),
        p(
            &format!("register, page {deep}"),
            format!("/register?page={deep}"),
        ),
        p(
            &format!("register, search {search:?}"),
            format!("/register?q={search}"),
        ),
        p(
            "register, status monitoring",
            format!("/register?status={}", RiskStatus::Monitoring.as_str()),
        ),
        p(
            "register, level II",
            format!("/register?level={}", Level::II.as_str()),
        ),
        p(
            "register, focus point",
            format!("/register?focus={}", FocusPoint::ALL[0].as_str()),
        ),
        p("register, overdue measures", "/register?overdue=1".into()),
        p("register, gravest first", "/register?sort=level".into()),
        p(
            "register, status + level, earliest due first",
            format!(
                "/register?status={}&level={}&sort=due",
                RiskStatus::Graded.as_str(),
                Level::III.as_str()
            ),
        ),
        p("identify form", "/register/new".into()),
        p(
            "a risk with measures and history",
            format!("/register/{risk}"),
        ),
        p("inbox", "/inbox".into()),
        p("disposal", "/disposal".into()),
        p(
            "export register.csv (whole register)",
            "/export/register.csv".into(),
        ),
        p(
            "export register.csv, overdue only",
            "/export/register.csv?overdue=1".into(),
        ),
    ]
}

/// The router of a county node's pages, and a signed-in officer's cookie.
struct Client {
    router: Router,
    /// `fenghuo_session=…`.
    cookie: String,
    /// Where requests say they come from (the accept loop sets it from the TCP peer).
    remote: SocketAddr,
}

/// A GET or POST of `path` with `cookie` and `body` (a form when given).
fn request(
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
    remote: SocketAddr,
) -> anyhow::Result<Request<Body>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "county.bench")
        .extension(Remote(remote));
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    Ok(match form {
        Some(f) => b
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(f))?,
        None => b.body(Body::empty())?,
    })
}

/// The `name=value` of cookie `name` a response sets.
fn set_cookie(res: &axum::response::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| kv.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

async fn body_text(res: axum::response::Response) -> anyhow::Result<String> {
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `%xx` for every byte but unreserved ones.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    /// Signs `OFFICER` in as a browser does: the form, its CSRF token and cookie, the post.
    async fn sign_in(router: Router, remote: SocketAddr) -> anyhow::Result<Self> {
        let res = router
            .clone()
            .oneshot(request(Method::GET, "/login", None, None, remote)?)
            .await?;
        anyhow::ensure!(
            res.status() == StatusCode::OK,
            "GET /login: {}",
            res.status()
        );
        let form_cookie =
            set_cookie(&res, "fenghuo_signin").context("GET /login set no form cookie")?;
        let html = body_text(res).await?;
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the sign-in form has no CSRF token")?
            .to_owned();
        let form = format!(
            "username={OFFICER}&password={}&csrf={csrf}",
            urlencode(PASSWORD)
        );
        let res = router
            .clone()
            .oneshot(request(
                Method::POST,
                "/login",
                Some(&form_cookie),
                Some(form),
                remote,
            )?)
            .await?;
        anyhow::ensure!(
            res.status().is_redirection(),
            "POST /login: {} {}",
            res.status(),
            body_text(res).await.unwrap_or_default()
        );
        let cookie = set_cookie(&res, web::session::SESSION_COOKIE)
            .context("signing in set no session cookie")?;
        Ok(Self {
            router,
            cookie,
            remote,
        })
    }

    /// GETs `path` signed in, reads the whole body; its status and size.
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, usize)> {
        let res = self
            .router
            .clone()
            .oneshot(request(
                Method::GET,
                path,
                Some(&self.cookie),
                None,
                self.remote,
            )?)
            .await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes.len()))
    }
}

/// One page's figures.
struct Timed {
    page: Page,
    status: StatusCode,
    bytes: usize,
    first: Duration,
    lat: Latencies,
}

/// Times `page`: its first request, [`WARM_UP`] unmeasured ones, then up to `runs`.
async fn time_page(client: &Client, page: Page, runs: usize) -> anyhow::Result<Timed> {
    let t = Instant::now();
    let (status, bytes) = client.get(&page.path).await?;
    let first = t.elapsed();
    let t = Instant::now();
    for _ in 0..WARM_UP {
        client.get(&page.path).await?;
    }
    let each = t.elapsed() / WARM_UP as u32;
    let runs = if each.is_zero() {
        runs
    } else {
        runs.min(((PAGE_BUDGET.as_secs_f64() / each.as_secs_f64()) as usize).max(MIN_RUNS))
    };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let (s, _) = client.get(&page.path).await?;
        samples.push(t.elapsed());
        anyhow::ensure!(s == status, "{}: answered {s}, then {status}", page.path);
    }
    let lat = Latencies::new(samples);
    eprintln!(
        "  {} ({}): {status}, {} KiB; first {:.1} ms; {} runs: {}",
        page.name,
        page.path,
        bytes / 1024,
        ms(first),
        lat.len(),
        lat.line()
    );
    Ok(Timed {
        page,
        status,
        bytes,
        first,
        lat,
    })
}

/// A risk of the county with measures and the longest history among the first few hundred.
fn risk_with_history(store: &dyn Store, risks: u64) -> anyhow::Result<(String, usize, usize)> {
    let mut best: Option<(String, usize, usize)> = None;
    for n in 1..=risks.min(500) {
        let id = format!("{COUNTY}-{n}");
        let r = register_view::load_full(store, &id)?;
        if r.measures.is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|b| r.history.len() > b.2) {
            best = Some((id, r.measures.len(), r.history.len()));
        }
    }
    best.context("no risk with a measure among the first 500")
}

/// Seeds the county, starts its node, signs in and times every page.
pub async fn county_pages(o: Options) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        o.risks >= 1 && o.runs >= 1,
        "--risks and --runs must be at least 1"
    );
    let mut bench = Bench::new()?;
    let identity = Identity::county(COUNTY)?;
    let creds = bench.credentials(&identity)?;
    let signer = FeedSigner::from_pem_file(&creds.key.with_extension("feed.key"))?;
    let data = bench.dir().join(format!("data-{COUNTY}"));

    eprintln!(
        "writing {} risks into county {COUNTY}'s store at {}…",
        o.risks,
        data.display()
    );
    let started = Instant::now();
    let now = now_ms();
    let risks = o.risks;
    let seeded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = SledStore::open(&data)?;
        let written = dataset::county_store(
            COUNTY,
            NEIGHBOURS.iter().map(|n| n.to_string()).collect(),
            signer.signing_key().clone(),
            risks,
            now,
            SEED,
            &store,
        )?;
        start::mark_views_zone(&store, ZONE)?;
        accounts::add(&store, OFFICER, Role::Officer, PASSWORD, false, "bench")?;
        store.flush()?;
        Ok(written)
    })
    .await??;
    let seed_time = started.elapsed();
    eprintln!(
        "  written in {:.1} s: {} commands, {} feed entries, {} view keys",
        seed_time.as_secs_f64(),
        seeded.commands,
        seeded.entries,
        seeded.view_keys
    );

    let t = Instant::now();
    let node = bench.launch(COUNTY, "", free_port()?, None, &[]).await?;
    let open_time = t.elapsed();
    let store = node.state.store.clone();
    let (risk, measures, history) = risk_with_history(store.as_ref(), o.risks)?;
    // A word of some titles (one topic in eight).
    let search = "pension";

    let app = web::App::new(node.state.clone(), Duration::from_secs(3600));
    let router = web::router(app, Router::new());
    let remote: SocketAddr = "127.0.0.1:50000".parse()?;
    let client = Client::sign_in(router, remote).await?;

    eprintln!(
        "timing every county page (up to {} runs each; risk {risk}: {measures} measures, {history} history items)…",
        o.runs
    );
    let mut timed = Vec::new();
    for page in pages(o.risks, search, &risk) {
        timed.push(time_page(&client, page, o.runs).await?);
    }
    node.stop().await;

    let mut table = Vec::new();
    let mut lines = vec![format!(
        "county {COUNTY} with {} risks (written in {:.1} s; node started in {:.1} s); p99 goal {GOAL_MS} ms",
        o.risks,
        seed_time.as_secs_f64(),
        open_time.as_secs_f64()
    )];
    lines.push(format!(
        "  {:<48} {:>6} {:>9} {:>8} {:>8} {:>8} {:>5}",
        "page", "status", "first ms", "p50 ms", "p99 ms", "max ms", "runs"
    ));
    let mut all_ok = true;
    let mut all_meet = true;
    for t in &timed {
        let p99 = ms(t.lat.quantile(0.99));
        all_ok &= t.status == StatusCode::OK;
        all_meet &= p99 <= GOAL_MS;
        let mut v = t.lat.summary();
        v["page"] = t.page.name.clone().into();
        v["path"] = t.page.path.clone().into();
        v["status"] = t.status.as_u16().into();
        v["bytes"] = t.bytes.into();
        v["first_ms"] = ms(t.first).into();
        v["meets_goal"] = (p99 <= GOAL_MS).into();
        table.push(v);
        lines.push(format!(
            "  {:<48} {:>6} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>5}{}",
            t.page.name,
            t.status.as_u16(),
            ms(t.first),
            ms(t.lat.quantile(0.5)),
            p99,
            ms(t.lat.quantile(1.0)),
            t.lat.len(),
            if p99 <= GOAL_MS { "" } else { "  MISSES" }
        ));
    }
    lines.push(format!(
        "  every page answered 200: {all_ok}; every p99 ≤ {GOAL_MS} ms: {all_meet}; peak memory {:.0} MiB",
        peak_rss_mib()
    ));
    let figures: Value = json!({
        "risks": o.risks,
        "runs": o.runs,
        "county": COUNTY,
        "seed_seconds": seed_time.as_secs_f64(),
        "open_seconds": open_time.as_secs_f64(),
        "commands": seeded.commands,
        "entries": seeded.entries,
        "risk": { "id": risk, "measures": measures, "history": history },
        "goal_p99_ms": GOAL_MS,
        "all_ok": all_ok,
        "all_meet_goal": all_meet,
        "pages": table,
        "rss_mib": { "peak": peak_rss_mib() },
    });
    Ok(Outcome {
        workload: "county-pages",
        system: "fenghuo",
        durability: "reads only: no write is timed".into(),
        figures,
        line: lines.join("\n"),
    })
}
