//! The admin console over real HTTP, on a fresh SQLite file and a fresh
//! PostgreSQL database: set-up links and passwords, signing in (the cookie's
//! flags, one answer for a wrong password and an unknown address, the
//! per-account rate limit) and out (here and everywhere), what each role may
//! change, cross-site refusals and the security headers of every response,
//! escaping, the audit log of console and API changes (each committed with
//! the change it names, or neither), the last owner when two owners take
//! each other's ownership at once, other tenants' objects, and the user
//! search's LIKE wildcards. A browser is played with a reqwest client that
//! shows redirects instead of following them.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::Instant;

use reqwest::Method;
use reqwest::header::HeaderMap;
use roster_proto::admin::{
    Access, AccessKind, ActorKind, AdminRole, AuditAction, AuditEntry, CreateAccess, CreateAdminToken, CreatedAdminToken, Job, Link,
    LinkInput, Page, Session, TenantSettings, UpdateAccess,
};
use roster_proto::{ConsoleAdminId, TenantId};
use roster_server::db::{Db, Dialect};
use roster_server::error::{AppError, ConsoleError};
use roster_server::service::admins::{SetupLink, add_admin, add_admin_as_operator, caller_of, list_admins, remove_admin};
use roster_server::service::audit::Caller;
use roster_server::store::console::ConsoleAdmin;
use support::world::*;
use support::{Engine, TestApp, session_succeeded, spawn_app, urlencode};

/// A password every rule accepts.
const GOOD: &str = "correct horse battery staple";
/// What a refused sign-in says, whatever the reason.
const WRONG_CREDENTIALS: &str = "the email address or the password is wrong";

/// A console response: its status, headers and HTML.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("a readable header"))
    }

    /// Where a redirect points.
    fn location(&self) -> &str {
        assert_eq!(self.status, 303, "not a redirect: {}", self.body);
        self.header("location").expect("a redirect names its target")
    }

    /// The session cookie a sign-in set, as a `Cookie` header holds it.
    fn cookie(&self) -> String {
        let set = self.header("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie ({}): {}", self.status, self.body));
        set.split(';').next().unwrap().trim().to_owned()
    }

    /// The page's alert (what went wrong), as the HTML writes it.
    fn alert(&self) -> &str {
        let start = self.body.find("role=\"alert\">").unwrap_or_else(|| panic!("no alert on the page ({}): {}", self.status, self.body));
        let rest = &self.body[start + "role=\"alert\">".len()..];
        &rest[..rest.find("</p>").expect("the alert's end")]
    }
}

/// A fresh server with one tenant (and its admin token for the JSON API),
/// and a browser for its console.
struct Console {
    app: TestApp,
    tenant: TenantId,
    token: String,
    browser: reqwest::Client,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

async fn console(engine: Engine) -> Console {
    let app = spawn_app(engine).await;
    let tenant = app.create_tenant("Acme").await;
    Console { app, tenant: tenant.tenant_id, token: tenant.admin_token, browser: browser() }
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(name, value)| format!("{}={}", urlencode(name), urlencode(value))).collect::<Vec<_>>().join("&")
}

/// Whether `body` shows `text` HTML-escaped, with named (`&lt;`) or numeric
/// (`&#60;`, askama's) character references.
fn shows_escaped(body: &str, text: &str) -> bool {
    let escape = |named: bool| {
        text.chars()
            .map(|c| match (c, named) {
                ('&', true) => "&amp;".to_owned(),
                ('<', true) => "&lt;".to_owned(),
                ('>', true) => "&gt;".to_owned(),
                ('"', true) => "&quot;".to_owned(),
                ('\'', true) => "&#x27;".to_owned(),
                ('&' | '<' | '>' | '"' | '\'', false) => format!("&#{};", u32::from(c)),
                _ => c.to_string(),
            })
            .collect::<String>()
    };
    body.contains(&escape(true)) || body.contains(&escape(false))
}

/// Asserts the headers every console response carries, whatever its status.
fn assert_security_headers(method: &Method, path: &str, reply: &Reply) {
    let csp = reply.header("content-security-policy").unwrap_or_else(|| panic!("{method} {path} ({}): no CSP", reply.status));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{method} {path}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{method} {path}: {csp}");
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{method} {path}");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{method} {path}");
}

impl Console {
    /// Sends a console request as a browser would, with `cookie` (a
    /// `name=value`), extra `headers` and a form; checks the security
    /// headers of the answer.
    async fn request(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Reply {
        let mut request = self.browser.request(method.clone(), format!("{}{path}", self.app.url));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(form) = form {
            request = request.header("content-type", "application/x-www-form-urlencoded").body(form_body(form));
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a body");
        let reply = Reply { status, headers, body };
        assert_security_headers(&method, path, &reply);
        reply
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.request(Method::GET, path, cookie, &[], None).await
    }

    /// A form posted from the console's own page (its `Origin`).
    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let origin = self.app.url.clone();
        self.request(Method::POST, path, cookie, &[("origin", &origin)], Some(form)).await
    }

    /// Adds a console admin as the operator does; its set-up link.
    async fn invite(&self, email: &str, role: AdminRole) -> SetupLink {
        add_admin_as_operator(&self.app.db, self.tenant, email, role).await.expect("add the admin")
    }

    /// Sets the password on a set-up link.
    async fn set_password(&self, link: &SetupLink, password: &str) -> Reply {
        self.post("/setup", None, &[("token", &link.secret), ("password", password), ("repeat", password)]).await
    }

    /// An admin who has set the password [`GOOD`] and not signed in yet.
    async fn admin_with_password(&self, email: &str, role: AdminRole) -> ConsoleAdminId {
        let link = self.invite(email, role).await;
        let set = self.set_password(&link, GOOD).await;
        assert!(set.location().starts_with("/login"), "{}", set.location());
        link.admin.id
    }

    async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post("/login", None, &[("email", email), ("password", password)]).await
    }

    /// An admin signed in with [`GOOD`]: its id and session cookie.
    async fn signed_in_as(&self, email: &str, role: AdminRole) -> (ConsoleAdminId, String) {
        let id = self.admin_with_password(email, role).await;
        let signed = self.sign_in(email, GOOD).await;
        assert_eq!(signed.location(), "/console");
        (id, signed.cookie())
    }

    /// The tenant's jobs, as the JSON API lists them.
    async fn jobs(&self) -> Vec<Job> {
        let page: Page<Job> = self.app.get("/api/v1/jobs?limit=100", &self.token).await.json();
        page.items
    }

    /// A job's sessions, as the JSON API lists them.
    async fn sessions(&self, job: &Job) -> Vec<Session> {
        let page: Page<Session> = self.app.get(&format!("/api/v1/jobs/{}/sessions?limit=100", job.id), &self.token).await.json();
        page.items
    }

    /// The tenant's whole audit log, newest first, in one page.
    async fn audit(&self) -> Vec<AuditEntry> {
        let page: Page<AuditEntry> = self.app.get("/api/v1/audit?limit=100", &self.token).await.json();
        assert!(page.next_cursor.is_none(), "more than one page of audit entries");
        page.items
    }

    /// Whether the server is redirecting `cookie` to sign in.
    async fn asks_to_sign_in(&self, cookie: &str) -> bool {
        let reply = self.get("/console", Some(cookie)).await;
        match reply.status {
            200 => false,
            303 => {
                assert_eq!(reply.location(), "/login");
                true
            }
            other => panic!("/console answered {other}: {}", reply.body),
        }
    }
}

/// The set-up page shows whom it is for; weak passwords are refused with
/// the reason; a good one spends the link; signing in sets a strict
/// cookie that opens the console, which is closed without it.
async fn a_set_up_link_sets_a_password_and_signing_in_opens_the_console(engine: Engine) {
    let c = console(engine).await;
    let email = "ann&co<b>@corp.example";
    let link = c.invite(email, AdminRole::Owner).await;
    let setup = format!("/setup?token={}", urlencode(&link.secret));
    let page = c.get(&setup, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(shows_escaped(&page.body, email), "{}", page.body);
    assert!(!page.body.contains("<b>@"), "the address is written raw: {}", page.body);

    let weak = [
        ("short", "short", "use at least 10"),
        ("password1234", "password1234", "one of the most common passwords"),
        (GOOD, "correct horse battery stapler", "the two passwords differ"),
    ];
    for (password, repeat, why) in weak {
        let refused = c.post("/setup", None, &[("token", &link.secret), ("password", password), ("repeat", repeat)]).await;
        assert_eq!(refused.status, 422, "{password:?}: {}", refused.body);
        assert!(refused.alert().contains(why), "{password:?}: {}", refused.alert());
        assert!(shows_escaped(&refused.body, email), "the page is shown again for {email}");
    }
    assert_eq!(c.get(&setup, None).await.status, 200, "a refused password leaves the link working");

    let set = c.set_password(&link, GOOD).await;
    assert!(set.location().starts_with("/login"), "{}", set.location());
    let spent = c.get(&setup, None).await;
    assert_eq!(spent.status, 401, "{}", spent.body);
    assert!(spent.alert().contains("unknown, used or expired"), "{}", spent.alert());
    assert_eq!(c.set_password(&link, "another good passphrase").await.status, 401, "a link sets a password once");

    let signed = c.sign_in(email, GOOD).await;
    assert_eq!(signed.location(), "/console");
    let set_cookie = signed.header("set-cookie").unwrap();
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    let (name, secret) = attributes[0].split_once('=').unwrap();
    assert_eq!(name, "roster_session", "{set_cookie}");
    assert!(secret.len() >= 40, "{set_cookie}");
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {set_cookie}");
    }
    assert!(!attributes.iter().any(|a| a.eq_ignore_ascii_case("secure")), "Secure over plain HTTP: {set_cookie}");
    let cookie = signed.cookie();
    let dashboard = c.get("/console", Some(&cookie)).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(shows_escaped(&dashboard.body, email), "the dashboard names who is signed in");

    assert_eq!(c.get("/console", None).await.location(), "/login");
    assert_eq!(c.get("/console/jobs", None).await.location(), "/login");
    assert!(c.asks_to_sign_in("roster_session=rst_console_made-up").await, "a cookie naming no session opens nothing");
    // Addresses are compared trimmed and without case.
    assert_eq!(c.sign_in(" ANN&CO<B>@Corp.Example ", GOOD).await.location(), "/console");
}

/// A wrong password, an unknown address and an account whose set-up link
/// is unused get the same 401 and no cookie.
async fn a_wrong_password_and_an_unknown_address_get_one_answer(engine: Engine) {
    let c = console(engine).await;
    c.admin_with_password("bob@corp.example", AdminRole::Admin).await;
    c.invite("new@corp.example", AdminRole::Viewer).await;
    let refusals = [
        ("a wrong password", c.sign_in("bob@corp.example", "not the password at all").await),
        ("an unknown address", c.sign_in("nobody@corp.example", GOOD).await),
        ("no password yet", c.sign_in("new@corp.example", GOOD).await),
    ];
    for (why, refused) in &refusals {
        assert_eq!(refused.status, 401, "{why}: {}", refused.body);
        assert_eq!(refused.header("set-cookie"), None, "{why}");
        assert_eq!(refused.alert(), WRONG_CREDENTIALS, "{why}");
    }
}

/// Ten wrong sign-ins for one account empty its bucket: the next attempt,
/// even with the right password, is 429 with Retry-After; another account
/// still signs in.
async fn repeated_wrong_sign_ins_for_one_account_are_refused(engine: Engine) {
    let c = console(engine).await;
    c.admin_with_password("carl@corp.example", AdminRole::Admin).await;
    c.admin_with_password("dora@corp.example", AdminRole::Admin).await;
    let started = Instant::now();
    let refused = c.sign_in("carl@corp.example", "a wrong password again").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    // The account's bucket from one address holds ten and refills one every
    // 30 s: ten wrong passwords (each checked: argon2 is built optimised
    // even in test builds) empty it.
    for attempt in 2..=10 {
        let refused = c.sign_in("carl@corp.example", &format!("wrong password number {attempt}")).await;
        assert_eq!(refused.status, 401, "attempt {attempt}: {}", refused.body);
        assert_eq!(refused.alert(), WRONG_CREDENTIALS);
    }
    // Too long to be anyone's password: refused before hashing (and before counting).
    let too_long = c.sign_in("carl@corp.example", &"x".repeat(257)).await;
    assert_eq!(too_long.status, 401, "{}", too_long.body);
    let limited = c.sign_in("carl@corp.example", "a wrong password again").await;
    assert!(started.elapsed().as_secs() < 25, "ten sign-ins took {:?}: too slow to test a 30 s refill", started.elapsed());
    assert_eq!(limited.status, 429, "{}", limited.body);
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.header("set-cookie"), None);
    let right = c.sign_in("CARL@corp.example", GOOD).await;
    assert_eq!(right.status, 429, "the account's bucket counts the right password too: {}", right.body);
    assert_eq!(right.header("set-cookie"), None);
    assert_eq!(c.sign_in("dora@corp.example", GOOD).await.location(), "/console", "another account's bucket is its own");
}

/// Signing out ends this browser's session; signing out everywhere ends
/// every session of the admin, and no one else's.
async fn signing_out_ends_the_session_and_everywhere_ends_all(engine: Engine) {
    let c = console(engine).await;
    let (_, first) = c.signed_in_as("cy@corp.example", AdminRole::Admin).await;
    assert!(!c.asks_to_sign_in(&first).await);
    let out = c.post("/logout", Some(&first), &[]).await;
    assert_eq!(out.location(), "/login?done=out");
    let cleared = out.header("set-cookie").unwrap();
    assert!(cleared.starts_with("roster_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert!(c.asks_to_sign_in(&first).await, "the signed-out cookie still works");
    // htmx's own requests (a poll, the pickers' suggestions) are not sent the
    // sign-in page to swap into the page: a 401 that sends the whole page there.
    let poll = c.request(Method::GET, "/console", Some(&first), &[("hx-request", "true")], None).await;
    assert_eq!(poll.status, 401, "{}", poll.body);
    assert_eq!(poll.header("hx-redirect"), Some("/login"));

    let second = c.sign_in("cy@corp.example", GOOD).await.cookie();
    let third = c.sign_in("cy@corp.example", GOOD).await.cookie();
    let (_, bystander) = c.signed_in_as("dee@corp.example", AdminRole::Admin).await;
    assert_ne!(second, third);
    assert!(!c.asks_to_sign_in(&second).await && !c.asks_to_sign_in(&third).await);
    let everywhere = c.post("/logout/everywhere", Some(&second), &[]).await;
    assert_eq!(everywhere.location(), "/login?done=everywhere");
    assert!(everywhere.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(c.asks_to_sign_in(&second).await, "the session that asked is ended");
    assert!(c.asks_to_sign_in(&third).await, "the admin's other session is ended");
    assert!(!c.asks_to_sign_in(&bystander).await, "another admin's session is not");
    let logged = c.audit().await;
    assert!(logged.iter().any(|e| e.action == AuditAction::AdminSignedOutEverywhere && e.actor == "cy@corp.example"), "{logged:?}");
}

/// The job form as the console's "New import job" page posts it.
fn new_job(name: &str) -> [(&str, &str); 2] {
    [("name", name), ("relative_paths", "OU=Staff")]
}

/// A viewer changes nothing; an admin creates jobs but cannot invite; an
/// owner invites (the set-up link shown once), removes admins (their
/// sessions end) and cannot remove or demote the last owner.
async fn each_role_changes_only_what_it_may(engine: Engine) {
    let c = console(engine).await;
    let job = create_staff_job(&c.app, &c.token, "corp").await;
    let access: Access =
        c.app.post("/api/v1/accesses", Some(&c.token), &CreateAccess { kind: AccessKind::User, name: "Copenhagen".into() }).await.json();
    let (owner_id, owner) = c.signed_in_as("olivia@corp.example", AdminRole::Owner).await;
    let (admin_id, admin) = c.signed_in_as("adam@corp.example", AdminRole::Admin).await;
    let (_, viewer) = c.signed_in_as("vera@corp.example", AdminRole::Viewer).await;
    let logged = c.audit().await;

    // A viewer sees the pages, and every change is refused.
    assert_eq!(c.get(&format!("/console/jobs/{}", job.id), Some(&viewer)).await.status, 200);
    assert_eq!(c.get("/console/jobs/new", Some(&viewer)).await.status, 403);
    let imports = format!("/console/jobs/{}/imports", job.id);
    let links = format!("/console/jobs/{}/links", job.id);
    let link_field = format!("access-{}", access.id);
    let sales = format!("CN=Sales,OU=Groups,{BASE}");
    let refused: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/console/jobs/new".into(), new_job("viewer's job").to_vec()),
        (imports.clone(), vec![("source", "stored")]),
        (imports, vec![("source", "fresh")]),
        (links.clone(), vec![(link_field.as_str(), sales.as_str()), ("step", "save")]),
        (links, vec![(link_field.as_str(), sales.as_str())]),
        (format!("/console/jobs/{}/registration-token", job.id), vec![]),
        (format!("/console/jobs/{}/structure/refresh", job.id), vec![]),
        ("/console/accesses".into(), vec![("kind", "user"), ("name", "Aarhus")]),
        ("/console/settings".into(), vec![("purge_after_days", "1"), ("session_retention_days", "")]),
        ("/console/settings/admins".into(), vec![("email", "eve@corp.example"), ("role", "owner")]),
        (format!("/console/settings/admins/{admin_id}/remove"), vec![]),
    ];
    for (path, form) in &refused {
        let reply = c.post(path, Some(&viewer), form).await;
        assert_eq!(reply.status, 403, "a viewer's POST {path}: {}", reply.body);
        assert!(reply.alert().contains("viewer"), "{path}: {}", reply.alert());
    }
    assert_eq!(c.jobs().await.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["corp"]);
    assert!(c.sessions(&job).await.is_empty(), "a viewer started an import");
    let stored: Vec<Link> = c.app.get(&format!("/api/v1/jobs/{}/links", job.id), &c.token).await.json();
    assert!(stored.is_empty(), "a viewer saved links: {stored:?}");
    let accesses: Page<Access> = c.app.get("/api/v1/accesses", &c.token).await.json();
    assert_eq!(accesses.items.len(), 1, "{accesses:?}");
    let settings: TenantSettings = c.app.get("/api/v1/settings", &c.token).await.json();
    assert_eq!(settings, TenantSettings::default());
    assert!(!c.asks_to_sign_in(&admin).await, "a viewer removed an admin");
    assert_eq!(c.audit().await, logged, "a viewer's refusals are not changes");

    // An admin creates a job, and cannot invite.
    let created = c.post("/console/jobs/new", Some(&admin), &new_job("admin's job")).await;
    let made = c.jobs().await.into_iter().find(|j| j.name == "admin's job").expect("the admin's job");
    assert_eq!(created.location(), format!("/console/jobs/{}/agents", made.id));
    assert_eq!(made.relative_paths, ["OU=Staff"]);
    let invite = [("email", "eve@corp.example"), ("role", "viewer")];
    let refused = c.post("/console/settings/admins", Some(&admin), &invite).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(c.post(&format!("/console/settings/admins/{owner_id}/remove"), Some(&admin), &[]).await.status, 403);
    assert!(!c.asks_to_sign_in(&owner).await);

    // An owner invites: 201, and the page shows the set-up link once.
    let invited = c.post("/console/settings/admins", Some(&owner), &invite).await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let marker = "id=\"setup-link\" class=\"secret\">";
    let start = invited.body.find(marker).expect("the set-up link") + marker.len();
    let url = &invited.body[start..start + invited.body[start..].find('<').unwrap()];
    let path = url.strip_prefix(&c.app.url).unwrap_or_else(|| panic!("{url} is not on {}", c.app.url));
    assert!(path.starts_with("/setup?token="), "{url}");
    let setup = c.get(path, None).await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    assert!(setup.body.contains("eve@corp.example"));
    assert!(!c.get("/console/settings", Some(&owner)).await.body.contains(path), "the set-up link is shown once");

    // The last owner stays an owner.
    let last = c.post(&format!("/console/settings/admins/{owner_id}/remove"), Some(&owner), &[]).await;
    assert_eq!(last.status, 409, "{}", last.body);
    assert!(last.alert().contains("last owner"), "{}", last.alert());
    let demoted = c.post("/console/settings/admins", Some(&owner), &[("email", "olivia@corp.example"), ("role", "admin")]).await;
    assert_eq!(demoted.status, 409, "{}", demoted.body);
    assert!(!c.asks_to_sign_in(&owner).await, "the last owner can still sign in");
    assert_eq!(c.sign_in("olivia@corp.example", GOOD).await.location(), "/console");

    // An owner removes an admin: its sessions end and it cannot sign in.
    let removed = c.post(&format!("/console/settings/admins/{admin_id}/remove"), Some(&owner), &[]).await;
    assert_eq!(removed.location(), "/console/settings");
    assert!(c.asks_to_sign_in(&admin).await, "a removed admin's session still works");
    assert_eq!(c.sign_in("adam@corp.example", GOOD).await.status, 401);
}

/// A state-changing request with a valid cookie is refused unless the
/// browser says it comes from the console's own pages; every console
/// response, of any status, carries the security headers (checked by
/// [`Console::request`]).
async fn cross_site_requests_are_refused_and_every_page_forbids_framing(engine: Engine) {
    let c = console(engine).await;
    c.admin_with_password("gus@corp.example", AdminRole::Admin).await;
    let (_, admin) = c.signed_in_as("hal@corp.example", AdminRole::Admin).await;
    let own = c.app.url.clone();
    let foreign: &[&[(&str, &str)]] = &[
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("sec-fetch-site", "cross-site"), ("origin", own.as_str())],
        &[],
    ];
    for headers in foreign {
        let reply = c.request(Method::POST, "/console/jobs/new", Some(&admin), headers, Some(&new_job("forged"))).await;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
        assert!(reply.alert().contains("came from another site"), "{headers:?}: {}", reply.alert());
        let logout = c.request(Method::POST, "/logout", Some(&admin), headers, None).await;
        assert_eq!(logout.status, 403, "{headers:?}");
        // A forged sign-in (login CSRF) sets no cookie.
        let sign_in = c.request(Method::POST, "/login", None, headers, Some(&[("email", "gus@corp.example"), ("password", GOOD)])).await;
        assert_eq!(sign_in.status, 403, "{headers:?}");
        assert_eq!(sign_in.header("set-cookie"), None, "{headers:?}");
    }
    assert!(c.jobs().await.is_empty(), "a cross-site request created a job");
    assert!(!c.asks_to_sign_in(&admin).await, "a cross-site request signed the admin out");

    // The same form from the console's own page is accepted.
    let same_origin = [("sec-fetch-site", "same-origin")];
    let created = c.request(Method::POST, "/console/jobs/new", Some(&admin), &same_origin, Some(&new_job("own"))).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let job = c.jobs().await.into_iter().next().expect("the job");

    let pages = [
        "/".to_owned(),
        "/login".into(),
        "/login?done=out".into(),
        "/setup?token=rst_setup_unknown".into(),
        "/static/console.css".into(),
        "/static/htmx.min.js".into(),
        "/static/nothing.js".into(),
        "/console".into(),
        "/console/jobs".into(),
        "/console/jobs/new".into(),
        format!("/console/jobs/{}", job.id),
        format!("/console/jobs/{}/sessions", job.id),
        format!("/console/jobs/{}/linking", job.id),
        format!("/console/jobs/{}/agents", job.id),
        "/console/jobs/not-a-job".into(),
        "/console/users".into(),
        "/console/accesses".into(),
        "/console/settings".into(),
        "/console/settings/audit".into(),
        "/console/no-such-page".into(),
        format!("/console/jobs/{}/no-such-tab", job.id),
    ];
    for page in &pages {
        for cookie in [Some(admin.as_str()), None] {
            let reply = c.get(page, cookie).await;
            assert!([200, 303, 401, 404].contains(&reply.status), "{page}: {}", reply.status);
            assert_eq!(reply.header("referrer-policy"), Some("no-referrer"), "{page}");
            if reply.status == 404 {
                assert!(reply.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{page}: the console's own page");
            }
        }
    }
}

/// Names an admin gave through the API are escaped on every page that
/// shows them.
async fn names_are_escaped_on_the_pages(engine: Engine) {
    let c = console(engine).await;
    let job_name = "<script>alert(1)</script>";
    let access_name = "<img src=x onerror=alert(2)>";
    let job = create_staff_job(&c.app, &c.token, job_name).await;
    let access = CreateAccess { kind: AccessKind::User, name: access_name.into() };
    assert_eq!(c.app.post("/api/v1/accesses", Some(&c.token), &access).await.status, 201);
    let (_, viewer) = c.signed_in_as("ivy@corp.example", AdminRole::Viewer).await;
    let pages = [
        "/console/jobs".to_owned(),
        "/console".into(),
        format!("/console/jobs/{}", job.id),
        format!("/console/jobs/{}/sessions", job.id),
        format!("/console/jobs/{}/linking", job.id),
        format!("/console/jobs/{}/agents", job.id),
    ];
    for page in &pages {
        let reply = c.get(page, Some(&viewer)).await;
        assert_eq!(reply.status, 200, "{page}: {}", reply.body);
        assert!(shows_escaped(&reply.body, job_name), "{page} does not show the name: {}", reply.body);
        assert!(!reply.body.contains("<script>alert"), "{page} writes the name raw");
    }
    for page in ["/console/accesses".to_owned(), format!("/console/jobs/{}/linking", job.id)] {
        let reply = c.get(&page, Some(&viewer)).await;
        assert!(shows_escaped(&reply.body, access_name), "{page} does not show the access: {}", reply.body);
        assert!(!reply.body.contains("<img src=x"), "{page} writes the access raw");
    }
}

/// Changes through the console and the API are in the audit log, newest
/// first, naming the admin or the token; pages of one walk it all once;
/// refused changes write nothing.
async fn the_audit_log_names_who_changed_what(engine: Engine) {
    let c = console(engine).await;
    let (owner_id, owner) = c.signed_in_as("judy@corp.example", AdminRole::Owner).await;
    let (_, viewer) = c.signed_in_as("kim@corp.example", AdminRole::Viewer).await;
    c.post("/console/jobs/new", Some(&owner), &new_job("audited")).await.location();
    let job = c.jobs().await.into_iter().find(|j| j.name == "audited").expect("the job");
    let saved = c.post("/console/settings", Some(&owner), &[("purge_after_days", "45"), ("session_retention_days", "")]).await;
    assert_eq!(saved.location(), "/console/settings");
    let access = c.app.post("/api/v1/accesses", Some(&c.token), &CreateAccess { kind: AccessKind::User, name: "Odense".into() }).await;
    assert_eq!(access.status, 201, "{:?}", access.body);
    let access: Access = access.json();

    let log = c.audit().await;
    let newest: Vec<_> = log.iter().take(3).map(|e| (e.action, e.actor_kind, e.target_id.clone())).collect();
    assert_eq!(
        newest,
        [
            (AuditAction::AccessCreated, ActorKind::Token, Some(access.id.to_string())),
            (AuditAction::SettingsSaved, ActorKind::Admin, None),
            (AuditAction::JobCreated, ActorKind::Admin, Some(job.id.to_string())),
        ],
        "{log:#?}"
    );
    assert!(log[0].actor.starts_with("admin token") && log[0].actor_id.is_some(), "{:?}", log[0]);
    for entry in &log[1..3] {
        assert_eq!((entry.actor.as_str(), entry.actor_id.clone()), ("judy@corp.example", Some(owner_id.to_string())));
    }
    assert!(log[2].summary.contains("audited"), "{:?}", log[2]);
    // Before them: the operator added both admins, who set their passwords.
    let earlier: Vec<_> = log[3..].iter().map(|e| (e.action, e.actor.as_str())).collect();
    assert_eq!(
        earlier,
        [
            (AuditAction::AdminPasswordSet, "kim@corp.example"),
            (AuditAction::AdminAdded, "operator"),
            (AuditAction::AdminPasswordSet, "judy@corp.example"),
            (AuditAction::AdminAdded, "operator"),
        ]
    );
    assert!(log.windows(2).all(|pair| pair[0].at >= pair[1].at), "not newest first: {log:#?}");

    // Pages of one entry walk the whole log, each entry once, in order.
    let mut walked: Vec<AuditEntry> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/v1/audit?limit=1".to_owned(),
            Some(cursor) => format!("/api/v1/audit?limit=1&cursor={}", urlencode(cursor)),
        };
        let page: Page<AuditEntry> = c.app.get(&path, &c.token).await.json();
        assert_eq!(page.items.len(), 1, "{path}: {page:?}");
        walked.extend(page.items);
        assert!(walked.len() <= log.len(), "the pages go on past the log: {walked:#?}");
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(walked.iter().map(|e| e.id).collect::<HashSet<_>>().len(), walked.len(), "an entry came twice");
    assert_eq!(walked, log);

    // The console's own audit page shows the same entries.
    let page = c.get("/console/settings/audit", Some(&viewer)).await;
    assert_eq!(page.status, 200);
    for action in ["access.created", "settings.saved", "job.created", "admin.added"] {
        assert!(page.body.contains(&format!("<code>{action}</code>")), "{action} missing: {}", page.body);
    }

    // A viewer's refused changes write nothing.
    assert_eq!(c.post("/console/settings", Some(&viewer), &[("purge_after_days", "2"), ("session_retention_days", "")]).await.status, 403);
    assert_eq!(c.post("/console/jobs/new", Some(&viewer), &new_job("not audited")).await.status, 403);
    assert_eq!(c.audit().await, log);
    let settings: TenantSettings = c.app.get("/api/v1/settings", &c.token).await.json();
    assert_eq!(settings.purge_after_days, 45);
}

/// Makes the server's database refuse every audit entry (`refuse`), as a
/// full disk or a damaged audit table would, or take them again.
async fn refuse_audit_entries(app: &TestApp, refuse: bool) {
    let statements: &[&str] = match (app.db.dialect, refuse) {
        (Dialect::Sqlite, true) => &["CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END"],
        (Dialect::Sqlite, false) => &["DROP TRIGGER no_audit"],
        (Dialect::Postgres, true) => &[
            "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$",
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION no_audit()",
        ],
        (Dialect::Postgres, false) => &["DROP TRIGGER no_audit ON audit_log", "DROP FUNCTION no_audit()"],
    };
    for sql in statements {
        sqlx::raw_sql(*sql).execute(&app.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A change commits with its audit entry or not at all, through the API
/// and the console: while the database refuses audit entries, creating a
/// job, renaming an access, revoking an admin token, saving the settings
/// and removing an admin each answer 500 and change nothing; once it takes
/// them again, the same requests change what they say, each with its entry.
async fn a_change_is_made_only_with_its_audit_entry(engine: Engine) {
    let c = console(engine).await;
    let access = CreateAccess { kind: AccessKind::User, name: "Aalborg".into() };
    let access: Access = c.app.post("/api/v1/accesses", Some(&c.token), &access).await.json();
    let spare = CreateAdminToken { label: Some("spare".into()), ..Default::default() };
    let spare = c.app.post("/api/v1/admin-tokens", Some(&c.token), &spare).await;
    assert_eq!(spare.status, 201, "{:?}", spare.body);
    let spare: CreatedAdminToken = spare.json();
    let (_, owner) = c.signed_in_as("otto@corp.example", AdminRole::Owner).await;
    let (admin_id, admin) = c.signed_in_as("alma@corp.example", AdminRole::Admin).await;
    let before = c.audit().await;
    let access_path = format!("/api/v1/accesses/{}", access.id);
    let rename = UpdateAccess { name: "Aarhus".into() };
    let token_path = format!("/api/v1/admin-tokens/{}", spare.token.id);
    let settings = TenantSettings { purge_after_days: 45, session_retention_days: Some(90) };
    let remove_path = format!("/console/settings/admins/{admin_id}/remove");
    let access_names = || async {
        let page: Page<Access> = c.app.get("/api/v1/accesses", &c.token).await.json();
        page.items.into_iter().map(|a| a.name).collect::<Vec<_>>()
    };

    refuse_audit_entries(&c.app, true).await;
    c.app.post("/api/v1/jobs", Some(&c.token), &staff_job("unaudited")).await.assert_problem(500);
    c.app.patch(&access_path, &c.token, &rename).await.assert_problem(500);
    c.app.delete(&token_path, &c.token).await.assert_problem(500);
    c.app.put("/api/v1/settings", &c.token, &settings).await.assert_problem(500);
    let removed = c.post(&remove_path, Some(&owner), &[]).await;
    assert_eq!(removed.status, 500, "{}", removed.body);

    assert!(c.jobs().await.is_empty(), "the job was created without its entry");
    assert_eq!(access_names().await, ["Aalborg"], "the access was renamed without its entry");
    assert_eq!(c.app.get("/api/v1/jobs", &spare.admin_token).await.status, 200, "the token was revoked without its entry");
    let kept: TenantSettings = c.app.get("/api/v1/settings", &c.token).await.json();
    assert_eq!(kept, TenantSettings::default(), "the settings were saved without their entry");
    assert!(!c.asks_to_sign_in(&admin).await, "the admin was removed without its entry");
    assert_eq!(c.audit().await, before);

    refuse_audit_entries(&c.app, false).await;
    let job = c.app.post("/api/v1/jobs", Some(&c.token), &staff_job("unaudited")).await;
    assert_eq!(job.status, 201, "{:?}", job.body);
    let job: Job = job.json();
    assert_eq!(c.app.patch(&access_path, &c.token, &rename).await.status, 200);
    assert_eq!(c.app.delete(&token_path, &c.token).await.status, 204);
    assert_eq!(c.app.put("/api/v1/settings", &c.token, &settings).await.status, 200);
    assert_eq!(c.post(&remove_path, Some(&owner), &[]).await.location(), "/console/settings");

    assert_eq!(c.jobs().await.into_iter().map(|j| j.id).collect::<Vec<_>>(), [job.id]);
    assert_eq!(access_names().await, ["Aarhus"]);
    c.app.get("/api/v1/jobs", &spare.admin_token).await.assert_problem(401);
    let saved: TenantSettings = c.app.get("/api/v1/settings", &c.token).await.json();
    assert_eq!(saved, settings);
    assert!(c.asks_to_sign_in(&admin).await, "the removed admin is still signed in");
    let after = c.audit().await;
    let (made, earlier) = after.split_at(after.len() - before.len());
    assert_eq!(earlier, before.as_slice(), "{after:#?}");
    let made: Vec<_> = made.iter().map(|e| (e.action, e.target_id.clone())).collect();
    assert_eq!(
        made,
        [
            (AuditAction::AdminRemoved, Some(admin_id.to_string())),
            (AuditAction::SettingsSaved, None),
            (AuditAction::AdminTokenRevoked, Some(spare.token.id.to_string())),
            (AuditAction::AccessRenamed, Some(access.id.to_string())),
            (AuditAction::JobCreated, Some(job.id.to_string())),
        ],
        "{after:#?}"
    );
}

/// `by` takes `of`'s ownership away as the console's settings page does:
/// removes it (`remove`) or makes it an admin.
async fn take_ownership(db: &Db, by: &ConsoleAdmin, of: &ConsoleAdmin, remove: bool) -> Result<(), AppError> {
    match remove {
        true => remove_admin(db, &caller_of(by), of.id).await,
        false => add_admin(db, &caller_of(by), &of.email, AdminRole::Admin).await.map(|_| ()),
    }
}

/// A tenant's only two owners take each other's ownership at the same
/// moment (each removing or demoting the other, every combination): one
/// change is made, the other is refused as the last owner's (409) with no
/// audit entry, and the tenant keeps exactly one owner. The owners are
/// counted in the transaction that makes the change, which waits for the
/// other's (on PostgreSQL a lock on the tenant's row).
async fn two_owners_taking_each_others_ownership_at_once_leave_one(engine: Engine) {
    let app = spawn_app(engine).await;
    for round in 0..16 {
        let tenant = roster_server::store::tenants::create_tenant(&app.db, &format!("Race {round}"), None).await.unwrap();
        let mut owners = Vec::new();
        for name in ["a", "b"] {
            let email = format!("{name}{round}@corp.example");
            owners.push(add_admin_as_operator(&app.db, tenant.tenant_id, &email, AdminRole::Owner).await.unwrap().admin);
        }
        let [a, b] = &owners[..] else { unreachable!() };
        let (a_removes, b_removes) = (round % 2 == 0, round % 4 < 2);
        let (by_a, by_b) = tokio::join!(take_ownership(&app.db, a, b, a_removes), take_ownership(&app.db, b, a, b_removes));
        let outcomes = [by_a, by_b];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: {outcomes:?}");
        for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert!(matches!(refused, AppError::Console(ConsoleError::LastOwner(_))), "round {round}: {refused:?}");
            assert_eq!(refused.problem().0.as_u16(), 409);
        }
        let admins = list_admins(&app.db, &Caller::operator(tenant.tenant_id)).await.unwrap();
        assert_eq!(admins.iter().filter(|a| a.role == AdminRole::Owner).count(), 1, "round {round}: {admins:?}");
        let log: Page<AuditEntry> = app.get("/api/v1/audit?limit=100", &tenant.admin_token).await.json();
        let actions: Vec<_> = log.items.iter().map(|e| e.action).collect();
        let removed = if outcomes[0].is_ok() { a_removes } else { b_removes };
        let change = if removed { AuditAction::AdminRemoved } else { AuditAction::AdminAdded };
        assert_eq!(actions, [change, AuditAction::AdminAdded, AuditAction::AdminAdded], "round {round}");
    }
}

/// A console admin asking for another tenant's job, by its id, is told it
/// does not exist, and changes nothing there.
async fn another_tenants_objects_are_not_found(engine: Engine) {
    let c = console(engine).await;
    let other = c.app.create_tenant("Other").await;
    let theirs = create_staff_job(&c.app, &other.admin_token, "theirs").await;
    let (_, admin) = c.signed_in_as("lea@corp.example", AdminRole::Owner).await;
    for tab in ["", "/sessions", "/linking", "/agents"] {
        let reply = c.get(&format!("/console/jobs/{}{tab}", theirs.id), Some(&admin)).await;
        assert_eq!(reply.status, 404, "{tab}: {}", reply.body);
        assert!(!reply.body.contains("theirs"), "{tab} names the other tenant's job");
    }
    let changes: [(String, &[(&str, &str)]); 4] = [
        (format!("/console/jobs/{}/imports", theirs.id), &[("source", "fresh")]),
        (format!("/console/jobs/{}/registration-token", theirs.id), &[]),
        (format!("/console/jobs/{}/structure/refresh", theirs.id), &[]),
        (format!("/console/jobs/{}", theirs.id), &new_job("renamed")),
    ];
    for (path, form) in &changes {
        assert_eq!(c.post(path, Some(&admin), form).await.status, 404, "POST {path}");
    }
    let jobs = c.get("/console/jobs", Some(&admin)).await;
    assert!(!jobs.body.contains("theirs"), "the jobs list shows the other tenant's job");
    let page: Page<Session> = c.app.get(&format!("/api/v1/jobs/{}/sessions", theirs.id), &other.admin_token).await.json();
    assert!(page.items.is_empty(), "{page:?}");
    let job: Job = c.app.get(&format!("/api/v1/jobs/{}", theirs.id), &other.admin_token).await.json();
    assert_eq!(job.name, "theirs");
    let their_log: Page<AuditEntry> = c.app.get("/api/v1/audit?limit=100", &other.admin_token).await.json();
    assert!(their_log.items.iter().all(|e| e.actor != "lea@corp.example"), "{their_log:?}");
}

/// The user search takes `%`, `_` and `\` literally: with no name holding
/// one, none matches, while plain text still finds users.
async fn the_user_search_takes_like_wildcards_literally(engine: Engine) {
    let World { app, admin, job, agent, user_access, .. } = world(engine).await;
    let links = vec![LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: user_access.id }];
    assert_eq!(app.put(&format!("/api/v1/jobs/{}/links", job.id), &admin, &links).await.status, 200);
    let records = [user(1, "OU=Staff", 512), user(2, "OU=Staff", 512), user(3, "OU=Staff", 512), group(200, "Sales", &[1, 2, 3])];
    let pushed = agent.push(&app, &records).await;
    session_succeeded(&app.wait_for_session(&admin, pushed.session.expect("the first push's import").id).await);
    let c = console_of(app, admin, &job).await;
    let (_, viewer) = c.signed_in_as("max@corp.example", AdminRole::Viewer).await;

    let everyone = c.get("/console/users?search=user", Some(&viewer)).await;
    assert_eq!(everyone.status, 200, "{}", everyone.body);
    for name in ["User 1", "User 2", "User 3"] {
        assert!(everyone.body.contains(&format!("<td>{name}</td>")), "{name} missing: {}", everyone.body);
    }
    let one = c.get("/console/users?search=USER2", Some(&viewer)).await;
    assert!(one.body.contains("<td>User 2</td>") && !one.body.contains("<td>User 1</td>"), "{}", one.body);
    for wildcard in ["%", "%%", "_", "ser_", "u%1", "\\", "user\\"] {
        let reply = c.get(&format!("/console/users?search={}", urlencode(wildcard)), Some(&viewer)).await;
        assert_eq!(reply.status, 200, "{wildcard}: {}", reply.body);
        assert!(reply.body.contains("No user matches."), "{wildcard:?} matched users: {}", reply.body);
        assert!(!reply.body.contains("<td>User "), "{wildcard:?} matched users");
    }
}

/// The tenant of a [`World`]'s job, and a console on its server.
async fn console_of(app: TestApp, admin: String, job: &Job) -> Console {
    let tenant: String =
        sqlx::query_scalar("SELECT tenant_id FROM jobs WHERE id = $1").bind(job.id.to_string()).fetch_one(&app.db.pool).await.unwrap();
    Console { app, tenant: tenant.parse().unwrap(), token: admin, browser: browser() }
}

/// A user's page is found when more than a page of older users have its
/// username in their own names (`user1` in `user100`..`user199`, `user1000`..).
async fn a_users_page_is_found_among_users_whose_names_contain_its_name(engine: Engine) {
    let World { app, admin, job, agent, user_access, .. } = world(engine).await;
    let links = vec![LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: user_access.id }];
    assert_eq!(app.put(&format!("/api/v1/jobs/{}/links", job.id), &admin, &links).await.status, 200);
    let older: Vec<u32> = (100..=199).chain(1000..=1010).collect();
    let directory = |numbers: &[u32]| {
        let mut records: Vec<_> = numbers.iter().map(|n| user(*n, "OU=Staff", 512)).collect();
        records.push(group(200, "Sales", numbers));
        records
    };
    let first = agent.push(&app, &directory(&older)).await.session.expect("the first push's import");
    session_succeeded(&app.wait_for_session(&admin, first.id).await);
    let everyone: Vec<u32> = older.iter().copied().chain([1]).collect();
    agent.push(&app, &directory(&everyone)).await;
    let manual = app.post(&format!("/api/v1/jobs/{}/imports", job.id), Some(&admin), &serde_json::json!({})).await;
    assert_eq!(manual.status, 202, "{:?}", manual.body);
    let manual: Session = manual.json();
    session_succeeded(&app.wait_for_session(&admin, manual.id).await);
    let users = all_users(&app, &admin, job.id, 500).await;
    assert_eq!(users.len(), everyone.len());
    let newest = users.iter().find(|u| u.username == "user1").expect("user1 is imported");
    let c = console_of(app, admin, &job).await;
    let (_, viewer) = c.signed_in_as("nell@corp.example", AdminRole::Viewer).await;
    let page = c.get(&format!("/console/users/{}", newest.id), Some(&viewer)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>User 1</h1>"), "{}", page.body);
}

/// The Linking tab at thousands of groups: the page stays small (one shared
/// list of suggestions, the first groups in the table, never a list of
/// every group per access), typing in a picker asks for the groups that
/// match, and a group chosen among them (its DN) or typed by its name
/// previews the same gains.
async fn the_linking_tab_stays_small_and_finds_any_of_thousands_of_groups(engine: Engine) {
    const GROUPS: u32 = 5000;
    let World { app, admin, job, agent, user_access, .. } = world(engine).await;
    let mut records: Vec<_> = (1..=3).map(|n| user(n, "OU=Staff", 512)).collect();
    records.extend((0..GROUPS).map(|g| group(1000 + g, &format!("Team {g:04}"), if g == 4321 { &[1, 2] } else { &[3] })));
    let pushed = agent.push(&app, &records).await;
    session_succeeded(&app.wait_for_session(&admin, pushed.session.expect("the first push's import").id).await);
    let c = console_of(app, admin, &job).await;
    let (_, cookie) = c.signed_in_as("gus@corp.example", AdminRole::Admin).await;

    let page = c.get(&format!("/console/jobs/{}/linking", job.id), Some(&cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.len() < 150_000, "the Linking page at {GROUPS} groups is {} bytes", page.body.len());
    assert!(page.body.contains(&format!("The first 200 of {GROUPS} groups: search to narrow them.")), "{}", page.body);
    assert_eq!(page.body.matches("<option ").count(), 50, "one shared list of the first suggestions");
    assert_eq!(page.body.matches("list=\"group-options\"").count(), 2, "a picker per access, each using the shared list");

    let field = format!("access-{}", user_access.id);
    let typed = c.get(&format!("/console/jobs/{}/group-suggestions?{field}={}", job.id, urlencode("team 4321")), Some(&cookie)).await;
    assert_eq!(typed.status, 200, "{}", typed.body);
    let dn = format!("CN=Team 4321,OU=Groups,{BASE}");
    assert_eq!(typed.body.matches("<option ").count(), 1, "{}", typed.body);
    assert!(typed.body.contains(&format!("<option value=\"{dn}\">Team 4321 (2 users)</option>")), "{}", typed.body);
    let many = c.get(&format!("/console/jobs/{}/group-suggestions?{field}=team", job.id), Some(&cookie)).await;
    assert_eq!(many.body.matches("<option ").count(), 50, "at most 50 suggestions at once");

    for group in [dn.as_str(), "team 4321"] {
        let preview = c.post(&format!("/console/jobs/{}/links", job.id), Some(&cookie), &[("step", "preview"), (&field, group)]).await;
        assert_eq!(preview.status, 200, "{group}: {}", preview.body);
        assert!(preview.body.contains(&format!("<strong>{}</strong>: 2 users", user_access.name)), "{group}: {}", preview.body);
    }
}

on_both_engines!(
    a_set_up_link_sets_a_password_and_signing_in_opens_the_console,
    a_wrong_password_and_an_unknown_address_get_one_answer,
    repeated_wrong_sign_ins_for_one_account_are_refused,
    signing_out_ends_the_session_and_everywhere_ends_all,
    each_role_changes_only_what_it_may,
    cross_site_requests_are_refused_and_every_page_forbids_framing,
    names_are_escaped_on_the_pages,
    the_audit_log_names_who_changed_what,
    a_change_is_made_only_with_its_audit_entry,
    two_owners_taking_each_others_ownership_at_once_leave_one,
    another_tenants_objects_are_not_found,
    the_user_search_takes_like_wildcards_literally,
    a_users_page_is_found_among_users_whose_names_contain_its_name,
    the_linking_tab_stays_small_and_finds_any_of_thousands_of_groups,
);
