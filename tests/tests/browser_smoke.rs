//! The browser harness itself: headless Chromium fills a form, clicks, and is photographed;
//! it accepts a certificate from no known root, cookies come back with their attributes, and
//! the page's fetch carries them.
//!
//! Screenshots stay in `<target>/test-output/browser-smoke/` for a person to look at.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use fenghuo_tests::browser::{self, Browser};
use rustls_pki_types::PrivatePkcs8KeyDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// `html` as a `data:` URL, every byte but letters and digits percent-encoded.
fn data_url(html: &str) -> String {
    let mut url = String::from("data:text/html;charset=utf-8,");
    for b in html.bytes() {
        if b.is_ascii_alphanumeric() {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[tokio::test]
async fn fills_clicks_reads_and_photographs_a_page() {
    let out = browser::output_dir("browser-smoke").unwrap();
    let browser = Browser::start(&out).await.unwrap();
    let page = r#"<!doctype html><title>smoke</title>
        <form id="greet" onsubmit="event.preventDefault(); greet()">
          <input id="name" name="name">
          <button id="go" type="button" onclick="greet()">Greet</button>
          <button type="submit">Send</button>
        </form>
        <p id="out"></p>
        <ul><li>one</li><li>two</li></ul>
        <script>
          function greet() {
            document.getElementById("out").textContent =
              "Hello, " + document.getElementById("name").value;
          }
        </script>"#;
    browser.goto(&data_url(page)).await.unwrap();
    assert!(browser.current_url().await.unwrap().starts_with("data:"));

    browser.fill("#name", "Zhang Wei").await.unwrap();
    browser.click("#go").await.unwrap();
    assert_eq!(browser.text("#out").await.unwrap(), "Hello, Zhang Wei");
    assert_eq!(browser.texts("li").await.unwrap(), ["one", "two"]);

    browser.fill("#name", "Li Na").await.unwrap();
    browser.submit("#greet").await.unwrap();
    assert_eq!(browser.text("#out").await.unwrap(), "Hello, Li Na");
    assert!(browser.source().await.unwrap().contains("Hello, Li Na"));

    let shot = browser.screenshot("greeted").await.unwrap();
    assert_eq!(shot, out.join("greeted.png"));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());

    let missing = browser
        .wait_for("#never", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(format!("{missing:#}").contains("#never"), "{missing:#}");
    browser.close().await.unwrap();
}

/// A TLS acceptor with a throw-away self-signed certificate for 127.0.0.1: like the
/// dashboard's, it chains to no root the browser knows.
fn self_signed_acceptor() -> TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()).into(),
    )
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// Answers `GET /` with a page that sets a session cookie, and `GET /export.csv` with the
/// `Cookie` header it received, as an attachment (a dashboard's CSV export in miniature).
async fn serve(listener: TcpListener, tls: TlsAcceptor) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let Ok(mut stream) = tls.accept(tcp).await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let path = request.split(' ').nth(1).unwrap_or("/");
            let cookie = request
                .lines()
                .find_map(|l| l.strip_prefix("Cookie: ").or(l.strip_prefix("cookie: ")))
                .unwrap_or("");
            let (headers, body) = if path == "/export.csv" {
                (
                    "Content-Type: text/csv\r\nContent-Disposition: attachment; filename=\"export.csv\"\r\n",
                    format!("cookie\n{cookie}\n"),
                )
            } else {
                (
                    "Content-Type: text/html\r\nSet-Cookie: session=s3cret; Path=/; Secure; HttpOnly; SameSite=Strict\r\n",
                    "<!doctype html><p id=hello>signed in</p>".to_owned(),
                )
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[tokio::test]
async fn accepts_the_certificate_reports_cookie_attributes_and_fetches_with_them() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, self_signed_acceptor()));
    let browser = Browser::start(&browser::output_dir("browser-cookies").unwrap())
        .await
        .unwrap();

    browser.goto(&format!("{base}/")).await.unwrap();
    browser
        .wait_for("#hello", Duration::from_secs(5))
        .await
        .unwrap();
    let cookies = browser.cookies().await.unwrap();
    let session = cookies.iter().find(|c| c.name == "session").unwrap();
    assert_eq!(session.value, "s3cret");
    assert_eq!(session.secure, Some(true), "{session:?}");
    assert_eq!(session.http_only, Some(true), "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Strict"), "{session:?}");
    assert_eq!(session.expiry, None, "a session cookie: {session:?}");

    let fetched = browser.fetch(&format!("{base}/export.csv")).await.unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.header("content-type"), Some("text/csv"));
    assert!(fetched
        .header("Content-Disposition")
        .unwrap()
        .contains("attachment"));
    assert_eq!(fetched.body, "cookie\nsession=s3cret\n");
    assert_eq!(
        browser
            .fetch_text(&format!("{base}/export.csv"))
            .await
            .unwrap(),
        fetched.body
    );

    // Dropped, not closed: dropping must leave nothing running either.
    drop(browser);
    server.abort();
}
