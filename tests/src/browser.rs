//! A real browser for the dashboard's tests: headless Chromium driven through chromedriver
//! (WebDriver), so a test signs in, clicks and downloads as a person would.
//!
//! [`Browser::start`] runs `chromedriver --port=0` (the OS picks the port; chromedriver
//! prints it on its ready line, so there is no race and no sleeping) in a process group of
//! its own, then opens a session with headless Chromium that accepts any certificate: the
//! dashboard presents one from the test's own provincial CA. [`Browser::close`], or dropping
//! the [`Browser`], kills chromedriver and every Chromium process it started, and removes the
//! throw-away Chromium profile and temporary folder.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). `CHROMEDRIVER`
//! overrides the driver found on `PATH`; `CHROMIUM` overrides `/usr/bin/chromium`.
//!
//! ## Output
//!
//! Each browser test writes into [`output_dir`]`(test)`, which is
//! `<target>/test-output/<test>/` (next to `debug/`), emptied when the test asks for it, and
//! kept after the run so a person can look at it: screenshots as `<name>.png`, and
//! `chromedriver.log`, every WebDriver command with its answer.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use fenghuo_tests::browser::{self, Browser};
//!
//! let browser = Browser::start(&browser::output_dir("dashboard-sign-in")?).await?;
//! browser.goto("https://127.0.0.1:8443/").await?;
//! browser.fill("input[name=user]", "zhang").await?;
//! browser.submit("form#sign-in").await?;
//! browser.wait_for("table.risks", Duration::from_secs(10)).await?;
//! browser.screenshot("risks").await?;
//! let csv = browser.fetch_text("https://127.0.0.1:8443/risks.csv").await?;
//! browser.close().await?;
//! # let _ = csv;
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long chromedriver may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a page load or a script (such as [`Browser::fetch`]) may take.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Chromium when `CHROMIUM` is not set: where Debian's package puts it.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// What chromedriver prints once it listens, followed by the port and a full stop.
const READY_PREFIX: &str = "ChromeDriver was started successfully on port ";
/// The Debian packages that provide the browser and its driver, named in errors.
const PACKAGES: &str = "apt-get install chromium chromium-driver";

/// `<target>/test-output/<test>/`, emptied and created: where a browser test keeps its
/// screenshots and the chromedriver log.
pub fn output_dir(test: &str) -> anyhow::Result<PathBuf> {
    let dir = target_dir()?.join("test-output").join(test);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot empty {}", dir.display())),
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The target directory of the running test executable: `<target>/<profile>/deps/<test>`.
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running test executable")?;
    let mut dir = exe
        .parent()
        .context("the test executable has no parent folder")?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().context("the deps folder has no parent")?;
    }
    Ok(dir
        .parent()
        .context("the profile folder has no parent")?
        .to_path_buf())
}

/// A cookie as the browser holds it. The attributes are `None` when the WebDriver does not
/// report them (chromedriver reports all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCookie {
    /// The cookie's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The domain it is sent to.
    pub domain: Option<String>,
    /// The path it is sent under.
    pub path: Option<String>,
    /// Sent over HTTPS only.
    pub secure: Option<bool>,
    /// Hidden from page scripts.
    pub http_only: Option<bool>,
    /// `"Strict"`, `"Lax"` or `"None"`.
    pub same_site: Option<String>,
    /// Expiry as Unix seconds; `None` for a session cookie.
    pub expiry: Option<i64>,
}

/// The answer to a GET made by the page with its cookies ([`Browser::fetch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// Response headers as the page sees them, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, decoded as text.
    pub body: String,
}

impl Fetched {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// chromedriver and the Chromium it starts, all in one process group, killed together on
/// drop: killing chromedriver alone would orphan the browser.
#[derive(Debug)]
struct Driver {
    /// chromedriver, the group's leader. While it is not reaped its pid (the group id)
    /// cannot be reused, so killing the group never hits a stranger.
    child: Child,
    /// What chromedriver printed on stdout and stderr, for error messages.
    output: Arc<Mutex<String>>,
    /// `chromedriver.log` in the output folder, named in error messages.
    log: PathBuf,
}

impl Driver {
    /// SIGKILL to the whole group; nothing once the leader has been reaped.
    fn kill_group(&self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }

    /// Printed output and where the full log is, for an error message.
    fn describe(&self) -> String {
        let output = self.output.lock().map(|o| o.clone()).unwrap_or_default();
        format!(
            "chromedriver printed:\n{output}\n(its log: {})",
            self.log.display()
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// A headless Chromium session. Dropping it kills the browser and chromedriver;
/// [`Browser::close`] ends the session politely first.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver session.
    client: Client,
    /// Where [`Browser::screenshot`] writes.
    output_dir: PathBuf,
    /// The processes, killed when this drops (after the client, so no command is cut off).
    driver: Driver,
    /// Chromium's profile (cookies, cache) of this session alone, and its temporary
    /// folder; removed last, once no process writes to it.
    _scratch: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; screenshots and the driver's log
    /// go to `output_dir` (created if missing; see [`output_dir`]).
    pub async fn start(output_dir: &Path) -> anyhow::Result<Self> {
        let chromedriver = chromedriver()?;
        let chromium = chromium()?;
        std::fs::create_dir_all(output_dir)
            .with_context(|| format!("cannot create {}", output_dir.display()))?;
        let scratch = tempfile::Builder::new()
            .prefix("fenghuo-chromium-")
            .tempdir()
            .context("cannot create a scratch folder for Chromium")?;
        let profile = scratch.path().join("profile");
        // Chromium and chromedriver leave lock sockets and scoped folders in the temporary
        // folder when killed, and whatever the profile, Chromium writes into the home folder:
        // its crash reporter's database (`$XDG_CONFIG_HOME`), dconf's cache
        // (`$XDG_CACHE_HOME`), the NSS certificate store on the first TLS page
        // (`$XDG_DATA_HOME`). A home inside the scratch folder keeps the real one untouched.
        let tmp = scratch.path().join("tmp");
        let home = scratch.path().join("home");
        let xdg = [
            ("XDG_CONFIG_HOME", home.join(".config")),
            ("XDG_CACHE_HOME", home.join(".cache")),
            ("XDG_DATA_HOME", home.join(".local/share")),
        ];
        for dir in [&tmp].into_iter().chain(xdg.iter().map(|(_, dir)| dir)) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }

        let log = output_dir.join("chromedriver.log");
        let mut cmd = Command::new(&chromedriver);
        cmd.arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("TMPDIR", &tmp)
            .env("HOME", &home)
            .envs(xdg)
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", chromedriver.display()))?;
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().context("stdout was not piped")?;
        let stderr = child.stderr.take().context("stderr was not piped")?;
        tokio::spawn(drain(stderr, output.clone(), None));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(drain(stdout, output.clone(), Some(port_tx)));
        let driver = Driver { child, output, log };

        let port = match tokio::time::timeout(READY_TIMEOUT, port_rx).await {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => bail!(
                "chromedriver exited before listening; {}",
                driver.describe()
            ),
            Err(_) => bail!(
                "chromedriver did not say it listens within {READY_TIMEOUT:?}; {}",
                driver.describe()
            ),
        };

        let capabilities = json!({
            "browserName": "chrome",
            // The dashboard's certificate chains to the test's own CA, not to a public root.
            "acceptInsecureCerts": true,
            "timeouts": {
                "implicit": 0,
                "pageLoad": PAGE_TIMEOUT.as_millis(),
                "script": PAGE_TIMEOUT.as_millis(),
            },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // Root in a container: Chromium's sandbox needs user namespaces.
                    "--no-sandbox",
                    "--disable-gpu",
                    // /dev/shm is small in containers; Chromium then crashes on big pages.
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            bail!("capabilities are not a JSON object");
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| {
                anyhow!(
                    "chromedriver on port {port} did not open a Chromium session: {e}; {}",
                    driver.describe()
                )
            })?;
        Ok(Self {
            client,
            output_dir: output_dir.to_path_buf(),
            driver,
            _scratch: scratch,
        })
    }

    /// The underlying WebDriver client, for anything the thin methods here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where screenshots and the chromedriver log go.
    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    /// Navigates to `url` and returns once the page has loaded.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("cannot open {url}"))
    }

    /// The address of the page shown now (after any redirects).
    pub async fn current_url(&self) -> anyhow::Result<String> {
        let url = self
            .client
            .current_url()
            .await
            .context("cannot read the current URL")?;
        Ok(url.to_string())
    }

    /// The page's HTML as the browser holds it now (scripts' changes included).
    pub async fn source(&self) -> anyhow::Result<String> {
        self.client
            .source()
            .await
            .context("cannot read the page source")
    }

    /// The rendered text of the first element matching `css` (empty for a hidden element).
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        for attempt in 1.. {
            let element = self.find(css).await?;
            match element.text().await {
                Err(e) if reloaded(&e, attempt) => continue,
                other => return other.with_context(|| format!("cannot read the text of {css}")),
            }
        }
        unreachable!("the loop returns")
    }

    /// The rendered text of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> anyhow::Result<Vec<String>> {
        'again: for attempt in 1.. {
            let elements = self
                .client
                .find_all(Locator::Css(css))
                .await
                .with_context(|| format!("cannot look for {css}"))?;
            let mut texts = Vec::with_capacity(elements.len());
            for element in elements {
                match element.text().await {
                    Ok(t) => texts.push(t),
                    Err(e) if reloaded(&e, attempt) => continue 'again,
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot read the text of {css}"))
                    }
                }
            }
            return Ok(texts);
        }
        unreachable!("the loop returns")
    }

    /// Clears the field matching `css` and types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        for attempt in 1.. {
            let element = self.find(css).await?;
            match element.clear().await {
                Err(e) if reloaded(&e, attempt) => continue,
                other => other.with_context(|| format!("cannot clear {css}"))?,
            }
            match element.send_keys(value).await {
                Err(e) if reloaded(&e, attempt) => continue,
                other => return other.with_context(|| format!("cannot type into {css}")),
            }
        }
        unreachable!("the loop returns")
    }

    /// Clicks the first element matching `css`, as a pointer would (it must be visible).
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        for attempt in 1.. {
            let element = self.find(css).await?;
            match element.click().await {
                Err(e) if reloaded(&e, attempt) => continue,
                other => return other.with_context(|| format!("cannot click {css}")),
            }
        }
        unreachable!("the loop returns")
    }

    /// Submits the form matching `form_css` by clicking its first submit button, so the
    /// page's own validation and handlers run as for a person.
    pub async fn submit(&self, form_css: &str) -> anyhow::Result<()> {
        for attempt in 1.. {
            let form = self.find(form_css).await?;
            let button = match form
                .find(Locator::Css(
                    "button[type=submit], input[type=submit], button:not([type])",
                ))
                .await
            {
                Err(e) if reloaded(&e, attempt) => continue,
                other => other.with_context(|| format!("{form_css} has no submit button"))?,
            };
            match button.click().await {
                Err(e) if reloaded(&e, attempt) => continue,
                other => {
                    return other
                        .with_context(|| format!("cannot click the submit button of {form_css}"))
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// Resizes the window to `width` × `height` CSS pixels (headless: the viewport).
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client
            .set_window_size(width, height)
            .await
            .with_context(|| format!("cannot resize the window to {width}×{height}"))
    }

    /// Runs `script` (a function body; `arguments[0]`… are `args`) in the page and returns
    /// what it returns.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.client
            .execute(script, args)
            .await
            .with_context(|| format!("cannot run the script {script:?}"))
    }

    /// Types `keys` into whatever has the focus, as a keyboard would (see [`keys`] for Tab,
    /// Enter and the arrows).
    pub async fn press(&self, keys: &str) -> anyhow::Result<()> {
        let focused = self
            .client
            .active_element()
            .await
            .context("cannot find the focused element")?;
        if focused.send_keys(keys).await.is_ok() {
            return Ok(());
        }
        // Chromium 156 refuses keys sent to the element that had the focus when the focus is
        // on something not typable (the page itself, a link it just re-rendered): "stale
        // element" or "not interactable". A keyboard's keys go to whatever has the focus, so
        // send them as key actions, which need no element.
        use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for value in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client
            .perform_actions(actions)
            .await
            .with_context(|| format!("cannot type {keys:?}"))
    }

    /// Presses Tab, as a person without a mouse would, until the element matching `css` has
    /// the focus; fails after 200 presses (it is not in the page's tab order).
    pub async fn tab_to(&self, css: &str) -> anyhow::Result<()> {
        const FOCUSED: &str =
            "const e = document.activeElement; return !!e && e.matches(arguments[0]);";
        for _ in 0..200 {
            if self.eval(FOCUSED, vec![json!(css)]).await? == json!(true) {
                return Ok(());
            }
            self.press(keys::TAB).await?;
        }
        bail!("200 presses of Tab never reached {css}")
    }

    /// Fills a form by keyboard alone and sends it: for each (field, keys) of `steps`, Tab
    /// until the field has the focus and type the keys; then Tab to `submit` and press Enter.
    /// A page that reloads itself meanwhile (live pages do, when the views change and nothing
    /// is typed yet) is filled again from the start, up to five times.
    pub async fn fill_by_keyboard(
        &self,
        steps: &[(&str, &str)],
        submit: &str,
    ) -> anyhow::Result<()> {
        const MARK: &str = "window.__fenghuo_keyboard = true;";
        const MARKED: &str = "return window.__fenghuo_keyboard === true;";
        let mut last = None;
        for _ in 0..5 {
            let filled = async {
                self.eval(MARK, vec![]).await?;
                for (css, keys) in steps {
                    self.tab_to(css).await?;
                    self.press(keys).await?;
                }
                self.tab_to(submit).await?;
                anyhow::Ok(())
            }
            .await;
            let same_page = self.eval(MARKED, vec![]).await.ok() == Some(json!(true));
            match filled {
                Ok(()) if same_page => return self.press(keys::ENTER).await,
                Ok(()) => last = Some(anyhow!("the page reloaded while it was being filled")),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(last.unwrap_or_else(|| anyhow!("never filled")))
            .with_context(|| format!("filling {submit}'s form by keyboard"))
    }

    /// How much wider the page is than the window, in CSS pixels (0 when nothing scrolls
    /// sideways): a page that reads well on a phone has 0.
    pub async fn overflow_x(&self) -> anyhow::Result<i64> {
        let v = self
            .eval(
                "const d = document.documentElement; return d.scrollWidth - d.clientWidth;",
                vec![],
            )
            .await?;
        Ok(v.as_i64().unwrap_or(0))
    }

    /// Saves a PNG of the viewport as `<output dir>/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self
            .client
            .screenshot()
            .await
            .context("cannot take a screenshot")?;
        let path = self.output_dir.join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// The cookies visible to the current page's address (WebDriver gives no others), with
    /// their attributes.
    pub async fn cookies(&self) -> anyhow::Result<Vec<BrowserCookie>> {
        let cookies = self
            .client
            .get_all_cookies()
            .await
            .context("cannot read the cookies")?;
        Ok(cookies
            .into_iter()
            .map(|c| BrowserCookie {
                name: c.name().to_owned(),
                value: c.value().to_owned(),
                domain: c.domain().map(str::to_owned),
                path: c.path().map(str::to_owned),
                secure: c.secure(),
                http_only: c.http_only(),
                same_site: c.same_site().map(|s| s.to_string()),
                expiry: c.expires_datetime().map(|t| t.unix_timestamp()),
            })
            .collect())
    }

    /// Waits until an element matches `css` (the browser is asked every quarter second),
    /// failing with the current address once `timeout` has passed.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> anyhow::Result<()> {
        let found = self
            .client
            .wait()
            .at_most(timeout)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(_) => Ok(()),
            Err(e) => {
                let url = self.current_url().await.unwrap_or_default();
                Err(e).with_context(|| format!("no {css} on {url} within {timeout:?}"))
            }
        }
    }

    /// Waits until the page shows `text` (after a form's submission the page it replaces may
    /// still be there, with every element a selector would wait for), failing with the
    /// current address once `timeout` has passed.
    pub async fn wait_for_text(&self, text: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // A page being replaced may fail to answer: ask again.
            if self.source().await.is_ok_and(|s| s.contains(text)) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                let url = self.current_url().await.unwrap_or_default();
                anyhow::bail!("{text:?} not on {url} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A GET of `url` made by the current page's script with the browser's cookies, as a
    /// download link would send it. `url` must be on the current page's origin: the browser
    /// withholds cookies from (and hides answers of) other origins.
    pub async fn fetch(&self, url: &str) -> anyhow::Result<Fetched> {
        // Navigating would not do: a CSV with `Content-Disposition: attachment` becomes a
        // download, not a page whose text WebDriver can read.
        const SCRIPT: &str = r#"
            const [url, done] = arguments;
            fetch(url, { credentials: "include" })
                .then(async (r) => done({
                    status: r.status,
                    headers: [...r.headers],
                    body: await r.text(),
                }))
                .catch((e) => done({ error: String(e) }));
        "#;
        let answer = self
            .client
            .execute_async(SCRIPT, vec![json!(url)])
            .await
            .with_context(|| format!("cannot fetch {url} from the page"))?;
        if let Some(error) = answer.get("error") {
            bail!("the page could not fetch {url}: {error}");
        }
        let status = answer
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .with_context(|| format!("fetching {url} gave no status: {answer}"))?;
        let headers = answer
            .get("headers")
            .and_then(Value::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|pair| {
                        let name = pair.get(0)?.as_str()?;
                        let value = pair.get(1)?.as_str()?;
                        Some((name.to_owned(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = answer
            .get("body")
            .and_then(Value::as_str)
            .with_context(|| format!("fetching {url} gave no body: {answer}"))?
            .to_owned();
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }

    /// The body of [`Browser::fetch`]`(url)`; an error unless the status is 2xx.
    pub async fn fetch_text(&self, url: &str) -> anyhow::Result<String> {
        let fetched = self.fetch(url).await?;
        if !(200..300).contains(&fetched.status) {
            bail!(
                "GET {url} from the page answered {}: {}",
                fetched.status,
                fetched.body
            );
        }
        Ok(fetched.body)
    }

    /// Ends the session (Chromium quits), then stops chromedriver and waits for it.
    pub async fn close(self) -> anyhow::Result<()> {
        let Self {
            client,
            mut driver,
            _scratch,
            ..
        } = self;
        let closed = client.close().await.context("cannot end the session");
        driver.kill_group();
        driver
            .child
            .wait()
            .await
            .context("cannot wait for chromedriver")?;
        closed
    }

    async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no element matches {css}"))
    }
}

/// `CHROMEDRIVER`, or `chromedriver` on `PATH`.
fn chromedriver() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("CHROMEDRIVER is {}, which is not a file", path.display());
        }
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("chromedriver is not on PATH and CHROMEDRIVER is not set ({PACKAGES})")
        })
}

/// `CHROMIUM`, or Debian's `/usr/bin/chromium`.
fn chromium() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
    if !path.is_file() {
        bail!(
            "no Chromium at {} (set CHROMIUM, or {PACKAGES})",
            path.display()
        );
    }
    Ok(path)
}

/// Copies `from`'s lines into `output` until end of file; with `ready`, sends the port of
/// chromedriver's ready line through it. Keeps reading after that so the pipe never fills.
async fn drain(
    from: impl AsyncRead + Unpin,
    output: Arc<Mutex<String>>,
    mut ready: Option<tokio::sync::oneshot::Sender<u16>>,
) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(port) = line
            .strip_prefix(READY_PREFIX)
            .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
        {
            if let Some(tx) = ready.take() {
                let _ = tx.send(port);
            }
        }
        if let Ok(mut out) = output.lock() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    // Dropping `ready` unsent tells the waiter that chromedriver is gone.
}

/// Keys for [`Browser::press`] (WebDriver's code points for them).
pub mod keys {
    /// Tab: the next field.
    pub const TAB: &str = "\u{E004}";
    /// Enter: submits the form of a text field, or presses the focused button.
    pub const ENTER: &str = "\u{E007}";
    /// Arrow down: the next option of a focused select.
    pub const DOWN: &str = "\u{E015}";
}

/// Whether `e` says the element went away because the page reloaded between finding it and
/// using it (pages reload themselves when the views change), and `attempt` may try again.
fn reloaded(e: &fantoccini::error::CmdError, attempt: u32) -> bool {
    e.is_stale_element_reference() && attempt < 10
}
