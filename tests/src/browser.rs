//! A real browser for the admin console's tests: a small W3C WebDriver
//! client (JSON over HTTP with `reqwest`) driving Debian's `chromedriver` and
//! headless Chromium, and the checks every console page must pass
//! ([`Browser::check_page`]: no horizontal overflow at a phone's and a
//! laptop's width, no serious or critical axe-core violation).
//!
//! `scripts/test.sh` installs the three and names them in
//! `ROSTER_TEST_CHROMIUM`, `ROSTER_TEST_CHROMEDRIVER` and `ROSTER_TEST_AXE_JS`.
//! The helpers panic with the WebDriver command and the driver's message:
//! in a test, a panic is the failure report.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{TempDir, env};

/// The key that marks a web element in WebDriver's JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The widths every page is checked at: a phone's and a laptop's.
pub const WIDTHS: [u32; 2] = [390, 1280];

/// The window's height while a page is checked.
const HEIGHT: u32 = 900;

/// Chromium's flags (the profile directory comes on top). The machine has
/// no network but the package registries, so everything that would phone
/// home (QUIC, background networking, component updates, sync) is off;
/// `--no-sandbox` because the tests run as root; `--disable-dev-shm-usage`
/// because a container's `/dev/shm` may be small.
const CHROMIUM_ARGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A WebDriver command the driver refused or did not answer.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The method and the path under the session, e.g. `POST /element`.
    pub command: String,
    /// The W3C error code (`no such element`), or `no answer`.
    pub error: String,
    /// The driver's message, first line only (the rest is a C++ stack).
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebDriver {}: {}", self.command, self.message)
    }
}

impl std::error::Error for WebDriverError {}

/// How to find an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    /// A CSS selector.
    Css(String),
    /// A link (`<a>`) whose text is this, spaces normalised.
    Link(String),
    /// A `<button>` or `<input type=submit|button|reset>` with this text.
    Button(String),
    /// The form control a `<label>` with this text names (by `for` or nesting).
    Label(String),
    /// The innermost element whose text contains this.
    Text(String),
}

impl By {
    pub fn css(selector: &str) -> By {
        By::Css(selector.to_owned())
    }
    pub fn link(text: &str) -> By {
        By::Link(text.to_owned())
    }
    pub fn button(text: &str) -> By {
        By::Button(text.to_owned())
    }
    pub fn label(text: &str) -> By {
        By::Label(text.to_owned())
    }
    pub fn text(text: &str) -> By {
        By::Text(text.to_owned())
    }

    /// The W3C location strategy and its selector.
    fn locator(&self) -> (&'static str, String) {
        let control = "(self::input or self::select or self::textarea)";
        match self {
            By::Css(selector) => ("css selector", selector.clone()),
            By::Link(text) => ("xpath", format!("//a[normalize-space()={}]", xpath_literal(text))),
            By::Button(text) => {
                let t = xpath_literal(text);
                let input = format!("//input[@type='submit' or @type='button' or @type='reset'][normalize-space(@value)={t}]");
                ("xpath", format!("//button[normalize-space()={t}] | {input}"))
            }
            By::Label(text) => {
                // The label's own text, without a nested control's (a select's options).
                let label = format!("//label[normalize-space()={t} or normalize-space(text())={t}]", t = xpath_literal(text));
                ("xpath", format!("//*[{control} and @id = {label}/@for] | {label}//*[{control}]"))
            }
            By::Text(text) => {
                let t = xpath_literal(text);
                ("xpath", format!("//body//*[contains(normalize-space(), {t}) and not(*[contains(normalize-space(), {t})])]"))
            }
        }
    }
}

impl fmt::Display for By {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            By::Css(selector) => write!(f, "CSS {selector:?}"),
            By::Link(text) => write!(f, "link {text:?}"),
            By::Button(text) => write!(f, "button {text:?}"),
            By::Label(text) => write!(f, "field labelled {text:?}"),
            By::Text(text) => write!(f, "text {text:?}"),
        }
    }
}

/// `text` as an XPath 1.0 string literal (which has no escapes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("concat('{}')", text.split('\'').collect::<Vec<_>>().join("', \"'\", '"))
    }
}

/// A cookie as WebDriver reads and writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Seconds since the epoch; none for a session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
}

impl Cookie {
    /// A session cookie for the current page's host.
    pub fn new(name: &str, value: &str) -> Cookie {
        Cookie { name: name.to_owned(), value: value.to_owned(), ..Cookie::default() }
    }
}

/// An axe-core rule a page breaks, and where.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Violation {
    /// The rule, e.g. `image-alt`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule asks for.
    pub help: String,
    /// The offending elements' selectors.
    pub targets: Vec<String>,
    /// The first window width it was seen at.
    #[serde(default)]
    pub width: u32,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<&str> = self.targets.iter().take(3).map(String::as_str).collect();
        write!(f, "{} {} at {} px: {} ({}", self.impact, self.id, self.width, self.help, shown.join(", "))?;
        match self.targets.len().saturating_sub(shown.len()) {
            0 => write!(f, ")"),
            more => write!(f, ", and {more} more)"),
        }
    }
}

/// A page wider than the window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overflow {
    /// The window's inner width.
    pub width: u32,
    /// The document's, wider.
    pub scroll_width: u32,
    /// The widest elements past the window's edge, described.
    pub offenders: Vec<String>,
}

/// What [`Browser::try_check_page`] found wrong with a page.
#[derive(Debug, Clone, Default)]
pub struct PageProblems {
    /// The name the page was checked under.
    pub page: String,
    pub overflows: Vec<Overflow>,
    /// The serious and critical violations.
    pub violations: Vec<Violation>,
}

impl fmt::Display for PageProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "page {:?} fails its checks:", self.page)?;
        for overflow in &self.overflows {
            let offenders = overflow.offenders.join("; ");
            writeln!(f, "- {} px wide at a {} px window; widest past the edge: {offenders}", overflow.scroll_width, overflow.width)?;
        }
        for violation in &self.violations {
            writeln!(f, "- {violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PageProblems {}

/// Where screenshots go: `browser-artifacts/` in cargo's target directory
/// (found from this test's own path, `<target>/<profile>/deps/<test>`).
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target dir");
    target.join("browser-artifacts")
}

/// A running `chromedriver`, killed on drop.
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready; a
    /// port taken between choosing and binding it costs a retry.
    async fn start(program: &str, dir: &TempDir, http: &reqwest::Client) -> Driver {
        let output = dir.path().join("chromedriver.out");
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let out = std::fs::File::create(&output).expect("create chromedriver.out");
            let child = Command::new(program)
                .arg(format!("--port={port}"))
                // Verbose, so the log holds Chromium's own output when it does not start.
                .args(["--verbose".into(), format!("--log-path={}", dir.path().join("chromedriver.log").display())])
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("chromedriver.out"))
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("start {program}: {e}"));
            let mut driver = Driver { child, port };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = driver.child.try_wait().expect("wait for chromedriver") {
                    failures.push(format!("port {port}: {status}: {}", std::fs::read_to_string(&output).unwrap_or_default().trim()));
                    break;
                }
                let status = http.get(format!("http://127.0.0.1:{port}/status")).timeout(Duration::from_secs(2)).send().await;
                if let Ok(response) = status
                    && let Ok(status) = response.json::<Value>().await
                    && status["value"]["ready"] == true
                {
                    return driver;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver is not ready after 30 s: {}",
                    std::fs::read_to_string(&output).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("chromedriver did not start:\n{}", failures.join("\n"))
    }
}

/// Sends one WebDriver command and returns its `value`.
async fn send(http: &reqwest::Client, method: Method, url: &str, command: String, body: Value) -> Result<Value, WebDriverError> {
    let failed = |error: &str, message: String| WebDriverError { command: command.clone(), error: error.to_owned(), message };
    let mut request = http.request(method.clone(), url);
    if method == Method::POST {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| failed("no answer", e.to_string()))?;
    let status = response.status();
    let mut answer: Value = response.json().await.map_err(|e| failed("no answer", format!("{status}, not JSON: {e}")))?;
    let value = answer["value"].take();
    if status.is_success() {
        return Ok(value);
    }
    let error = value["error"].as_str().unwrap_or("unknown error");
    let message = value["message"].as_str().and_then(|m| m.lines().next()).unwrap_or(error).to_owned();
    Err(failed(error, message))
}

/// One headless Chromium session, its chromedriver and a fresh profile;
/// on drop the session ends (which closes Chromium) and the driver is killed.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// `/session/<id>`, the path every command is under.
    session: String,
    /// Dropped after the session is deleted, before `_dir` is removed.
    driver: Driver,
    /// The driver's log and Chromium's profile.
    _dir: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Blocking and best effort (drop cannot await): without it Chromium
        // would outlive the killed driver.
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.driver.port)) else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = write!(stream, "DELETE {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", self.session);
        // chromedriver keeps the connection open: read the answer's length, not to the end.
        let (mut answer, mut buffer) = (Vec::new(), [0; 1024]);
        while let Ok(n @ 1..) = stream.read(&mut buffer) {
            answer.extend_from_slice(&buffer[..n]);
            if http_answer_is_complete(&answer) {
                break;
            }
        }
    }
}

/// Whether `answer` holds an HTTP response's head and all of its `Content-Length` body.
fn http_answer_is_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|l| l.trim().parse::<usize>().ok());
    answer.len() >= end + 4 + length.unwrap_or(0)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (about a second).
    pub async fn start() -> Browser {
        let (chromedriver, chromium) = (env("ROSTER_TEST_CHROMEDRIVER"), env("ROSTER_TEST_CHROMIUM"));
        let dir = TempDir::new("browser");
        // reqwest is built without a TLS provider of its own; this is the workspace's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("HTTP client");
        let driver = Driver::start(&chromedriver, &dir, &http).await;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", dir.path().join("profile").display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
        }}});
        let url = format!("http://127.0.0.1:{}/session", driver.port);
        let session = send(&http, Method::POST, &url, "POST /session".into(), capabilities).await;
        let session = session.unwrap_or_else(|e| {
            let kept = artifacts_dir().join(format!("chromedriver-{}.log", std::process::id()));
            let _ = std::fs::create_dir_all(artifacts_dir()).and_then(|()| std::fs::copy(dir.path().join("chromedriver.log"), &kept));
            panic!("{e}\nchromedriver's log, with Chromium's output: {}", kept.display())
        });
        let id = session["sessionId"].as_str().expect("a session id");
        Browser { http, session: format!("/session/{id}"), driver, _dir: dir }
    }

    /// Sends `method path` (under the session) with `body`.
    pub async fn command(&self, method: Method, path: &str, body: Value) -> Result<Value, WebDriverError> {
        let url = format!("http://127.0.0.1:{}{}{path}", self.driver.port, self.session);
        send(&self.http, method.clone(), &url, format!("{method} {path}"), body).await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(Method::GET, path, Value::Null).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(Method::POST, path, body).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_owned()
    }

    /// The rendered text of the first element matching `css`, if any, read
    /// in one script: safe on a part of the page that replaces itself (a
    /// found element can go stale before its text is asked for).
    pub async fn text_of(&self, css: &str) -> Option<String> {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : null";
        self.execute(script, &[json!(css)]).await.as_str().map(str::to_owned)
    }

    /// Waits until the page's URL satisfies `done` (a navigation a click
    /// started has committed); the URL, or a failure after `timeout`.
    pub async fn wait_for_url(&self, timeout: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url().await;
            if done(&url) {
                return url;
            }
            assert!(Instant::now() < deadline, "{what}: still on {url} after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap_or_default().to_owned()
    }

    /// The first element `by` matches, or the driver's error.
    pub async fn try_find(&self, by: &By) -> Result<Element<'_>, WebDriverError> {
        let (using, value) = by.locator();
        let found = self.command(Method::POST, "/element", json!({"using": using, "value": value})).await?;
        Ok(self.element(&found))
    }

    /// The first element `by` matches; fails naming it and the page.
    pub async fn find(&self, by: &By) -> Element<'_> {
        match self.try_find(by).await {
            Ok(element) => element,
            Err(error) => panic!("no {by} on {}: {error}", self.current_url().await),
        }
    }

    /// Every element `by` matches (none is no failure).
    pub async fn find_all(&self, by: &By) -> Vec<Element<'_>> {
        let (using, value) = by.locator();
        let found = self.post("/elements", json!({"using": using, "value": value})).await;
        found.as_array().into_iter().flatten().map(|e| self.element(e)).collect()
    }

    /// Polls until `by` matches, for at most `timeout`.
    pub async fn wait_for(&self, by: &By, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.try_find(by).await {
                Ok(element) => return element,
                Err(error) if error.error != "no such element" => panic!("{error}"),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => {
                    let text = self.execute("return document.body ? document.body.innerText : ''", &[]).await;
                    let text: String = text.as_str().unwrap_or_default().chars().take(500).collect();
                    panic!("no {by} on {} within {timeout:?}; the page says:\n{text}", self.current_url().await);
                }
            }
        }
    }

    fn element(&self, found: &Value) -> Element<'_> {
        let id = found[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element: {found}"));
        Element { browser: self, id: id.to_owned() }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Like [`Browser::execute`]; the script ends by calling its last
    /// argument with the result (within the 30 s script timeout).
    pub async fn execute_async(&self, script: &str, args: &[Value]) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args})).await
    }

    /// Sets the viewport (the page's `innerWidth`) to `width` and the window to `height`.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let mut outer = width;
        for _ in 0..2 {
            self.post("/window/rect", json!({"width": outer, "height": height})).await;
            let inner = self.execute("return window.innerWidth", &[]).await.as_u64().unwrap_or_default() as u32;
            if inner == width {
                return;
            }
            outer = (outer + width).saturating_sub(inner);
        }
        panic!("cannot make the viewport {width} px wide");
    }

    /// Saves the viewport as `<artifacts>/<name>.png` and prints where.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).expect("a base64 screenshot");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        path
    }

    /// The current page's cookies.
    pub async fn get_cookies(&self) -> Vec<Cookie> {
        let cookies = self.get("/cookie").await;
        serde_json::from_value(cookies.clone()).unwrap_or_else(|e| panic!("cookies {cookies}: {e}"))
    }

    /// Sets a cookie on the current page's host.
    pub async fn add_cookie(&self, cookie: &Cookie) {
        self.post("/cookie", json!({"cookie": cookie})).await;
    }

    /// The checks every console page passes, failing with what it found;
    /// returns the minor and moderate violations, for a test to print.
    pub async fn check_page(&self, name: &str) -> Vec<Violation> {
        self.try_check_page(name).await.unwrap_or_else(|problems| panic!("{problems}"))
    }

    /// At each of [`WIDTHS`]: a screenshot (`<name>-<width>.png`), no
    /// horizontal overflow, and no serious or critical axe-core violation.
    /// Ok holds the minor and moderate violations, each rule and place once.
    pub async fn try_check_page(&self, name: &str) -> Result<Vec<Violation>, PageProblems> {
        let mut problems = PageProblems { page: name.to_owned(), ..PageProblems::default() };
        let mut milder: Vec<Violation> = Vec::new();
        for width in WIDTHS {
            self.set_window_size(width, HEIGHT).await;
            self.execute_async(SETTLE_JS, &[]).await;
            self.screenshot(&format!("{name}-{width}")).await;
            let overflow = self.execute(OVERFLOW_JS, &[]).await;
            let overflow: Option<Overflow> = serde_json::from_value(overflow.clone()).unwrap_or_else(|e| panic!("{overflow}: {e}"));
            problems.overflows.extend(overflow);
            for mut violation in self.axe().await {
                violation.width = width;
                let seen = |v: &Violation| v.id == violation.id && v.targets == violation.targets;
                if problems.violations.iter().chain(&milder).any(seen) {
                    continue;
                }
                match violation.impact.as_str() {
                    "serious" | "critical" => problems.violations.push(violation),
                    _ => milder.push(violation),
                }
            }
        }
        if problems.overflows.is_empty() && problems.violations.is_empty() { Ok(milder) } else { Err(problems) }
    }

    /// Runs axe-core on the page (injecting it first if needed).
    async fn axe(&self) -> Vec<Violation> {
        if self.execute("return typeof window.axe", &[]).await != "object" {
            let path = env("ROSTER_TEST_AXE_JS");
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
            self.execute(&source, &[]).await;
        }
        let found = self.execute_async(AXE_JS, &[]).await;
        serde_json::from_value(found.clone()).unwrap_or_else(|e| panic!("axe-core answered {found}: {e}"))
    }
}

/// Resolves once fonts are loaded and two frames have been laid out.
const SETTLE_JS: &str = "const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(null))));";

/// Null, or the overflow and the five widest elements past the right edge.
const OVERFLOW_JS: &str = "const width = window.innerWidth;
const scrollWidth = document.documentElement.scrollWidth;
if (scrollWidth <= width) return null;
const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + [...e.classList].map((c) => '.' + c).join('');
const offenders = [...document.querySelectorAll('body *')]
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([, r]) => r.right + window.scrollX > width + 0.5)
  .sort((a, b) => b[1].width - a[1].width)
  .slice(0, 5)
  .map(([e, r]) => `${describe(e)} (${Math.round(r.width)} px wide, to ${Math.round(r.right + window.scrollX)} px)`);
return {width, scrollWidth, offenders};";

/// axe-core's violations, shaped as [`Violation`]s.
const AXE_JS: &str = "const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact || 'unknown', help: v.help,
    targets: v.nodes.map((n) => n.target.flat(Infinity).join(' '))}))),
  (e) => done({error: String(e)}));";

/// An element on the current page.
#[derive(Debug, Clone)]
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

impl Element<'_> {
    async fn get(&self, what: &str) -> Value {
        self.browser.get(&format!("/element/{}/{what}", self.id)).await
    }

    async fn post(&self, what: &str, body: Value) -> Value {
        self.browser.post(&format!("/element/{}/{what}", self.id), body).await
    }

    pub async fn click(&self) {
        self.post("click", json!({})).await;
    }

    /// Clears the control and types `text` into it.
    pub async fn fill(&self, text: &str) {
        self.post("clear", json!({})).await;
        self.post("value", json!({"text": text})).await;
    }

    /// The rendered text.
    pub async fn text(&self) -> String {
        self.get("text").await.as_str().unwrap_or_default().to_owned()
    }

    /// The HTML attribute as written (none when absent).
    pub async fn attr(&self, name: &str) -> Option<String> {
        self.get(&format!("attribute/{name}")).await.as_str().map(str::to_owned)
    }

    /// The DOM property (a control's current `value`, `checked`).
    pub async fn property(&self, name: &str) -> Value {
        self.get(&format!("property/{name}")).await
    }

    /// Selects the `<option>` of this `<select>` whose text is `text`.
    pub async fn select_option_by_text(&self, text: &str) {
        let xpath = format!(".//option[normalize-space()={}]", xpath_literal(text));
        let option =
            self.browser.command(Method::POST, &format!("/element/{}/element", self.id), json!({"using": "xpath", "value": xpath})).await;
        let option = option.unwrap_or_else(|e| panic!("no option {text:?}: {e}"));
        self.browser.element(&option).click().await;
    }

    /// This element as an argument of [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}
