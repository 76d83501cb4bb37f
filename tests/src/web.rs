//! [`Web`]: a small HTTPS client for the dashboard, trusting the test province's CA, with a
//! cookie jar: for the tests that check sign-in, CSRF, roles and refusals without a browser.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// What the dashboard answered.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The CSRF token of the first form in the body.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

/// A browser-less client of one dashboard.
#[derive(Debug)]
pub struct Web {
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    /// Cookies by name.
    pub cookies: BTreeMap<String, String>,
    /// The loopback address connections come from (`127.0.0.2`…), when not the OS's choice.
    from: Option<std::net::IpAddr>,
    /// Headers sent with every request (e.g. `X-Forwarded-For`).
    extra_headers: Vec<(String, String)>,
    runtime: tokio::runtime::Runtime,
}

impl Web {
    /// A client of the dashboard at `url` (`https://127.0.0.1:PORT`) trusting the CA in `ca`.
    pub fn new(url: &str, ca: &Path) -> Self {
        let addr = url
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("dashboard URL {url:?}: {e}"));
        let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("reading {}: {e}", ca.display()));
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let der: CertificateDer<'static> = der.expect("a PEM certificate");
            roots.add(der).expect("a CA certificate rustls accepts");
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            addr,
            tls: Arc::new(tls),
            cookies: BTreeMap::new(),
            from: None,
            extra_headers: Vec::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        }
    }

    /// Connects from `ip` (any of 127.0.0.0/8 on Linux), so the dashboard sees another client
    /// address than other clients'.
    pub fn from_address(mut self, ip: &str) -> Self {
        self.from = Some(ip.parse().unwrap_or_else(|e| panic!("address {ip:?}: {e}")));
        self
    }

    /// Sends header `name: value` with every request from now on.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn send(&mut self, method: &str, path: &str, form: Option<String>) -> Reply {
        let form_type = [("content-type", "application/x-www-form-urlencoded")];
        let headers: &[(&str, &str)] = if form.is_some() { &form_type } else { &[] };
        self.send_with(method, path, form.map(String::into_bytes), headers)
    }

    fn send_with(
        &mut self,
        method: &str,
        path: &str,
        form: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        for (k, v) in &self.extra_headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .expect("a well-formed request");
        let (addr, tls, from) = (self.addr, self.tls.clone(), self.from);
        let reply = self.runtime.block_on(async move {
            let tcp = match from {
                None => TcpStream::connect(addr).await,
                Some(ip) => {
                    let socket = if ip.is_ipv4() {
                        tokio::net::TcpSocket::new_v4()
                    } else {
                        tokio::net::TcpSocket::new_v6()
                    }
                    .expect("a socket");
                    socket
                        .bind(std::net::SocketAddr::new(ip, 0))
                        .unwrap_or_else(|e| panic!("binding {ip}: {e}"));
                    socket.connect(addr).await
                }
            }
            .expect("connecting to the dashboard");
            let name = ServerName::IpAddress(addr.ip().into());
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .expect("TLS with the dashboard (its certificate must chain to the province's CA)");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("HTTP/1.1 handshake");
            tokio::spawn(conn);
            let res = sender.send_request(req).await.expect("sending the request");
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let body = res
                .into_body()
                .collect()
                .await
                .expect("reading the body")
                .to_bytes();
            Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            }
        });
        for c in reply.header_all("set-cookie") {
            let Some((name, rest)) = c.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    /// POSTs `body` with extra `headers` (e.g. a partner's signed callback).
    pub fn post_raw(&mut self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.send_with("POST", path, Some(body.as_bytes().to_vec()), headers)
    }

    /// POSTs a `multipart/form-data` form to `path`: `fields` as text parts, then `files` as
    /// (field, file name, content) parts, as a browser sends an upload form.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Reply {
        let boundary = "----fenghuo-test-boundary-7d1f3a";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\ncontent-type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send_with(
            "POST",
            path,
            Some(body),
            &[("content-type", content_type.as_str())],
        )
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// POST `fields` as a form to `path`.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send("POST", path, Some(body))
    }

    /// Opens the sign-in page and posts `name` and `password` with its CSRF token.
    pub fn sign_in(&mut self, name: &str, password: &str) -> Reply {
        let form = self.get("/login");
        let csrf = form.csrf().expect("the sign-in form carries a CSRF token");
        self.post(
            "/login",
            &[("username", name), ("password", password), ("csrf", &csrf)],
        )
    }
}

/// Form encoding.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
