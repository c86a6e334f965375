//! The admin console in Debian's real Chromium, against the real server,
//! the real agent binary and the Samba DC: the seed's flow from the set-up
//! link to a user's chain of groups, every page checked for overflow at
//! 390 and 1280 px and for serious accessibility violations (axe-core),
//! and the safety checks: a viewer changes nothing, a wrong password gets
//! no session, a cross-site POST with a valid cookie is refused, hostile
//! AD text is shown as text.

use std::process::Command;
use std::time::{Duration, Instant};

use roster_e2e::browser::{Browser, By};
use roster_e2e::{Agent, Engine, LdapTransport, Server, TestOu, binary, ldap_modify};
use roster_proto::admin::{Page, Session, SessionStatus};

/// The media type of an HTML form's body.
const FORM: &str = "application/x-www-form-urlencoded";

/// Runs `roster-server admin add` against the server's database and
/// returns the set-up link it prints.
fn setup_link(server: &Server, tenant: roster_proto::TenantId, email: &str, role: &str) -> String {
    let output = Command::new(binary("roster-server"))
        .args(["admin", "add", "--tenant", &tenant.to_string(), "--email", email, "--role", role, "--public-url", &server.url])
        .env("ROSTER_DATABASE_URL", &server.database_url)
        .output()
        .expect("run roster-server admin add");
    assert!(output.status.success(), "admin add failed: {}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout);
    printed.split_whitespace().find(|word| word.starts_with(&format!("{}/setup?token=", server.url))).expect("a set-up link").to_owned()
}

/// Checks the page the browser shows (both widths, axe) under `name`.
async fn checked(browser: &Browser, name: &str) {
    let minor = browser.check_page(name).await;
    for violation in minor {
        eprintln!("{name}: minor accessibility finding: {violation:?}");
    }
}

/// Sets the password on a set-up link page and signs in with it.
async fn set_password_and_sign_in(browser: &Browser, link: &str, email: &str, password: &str) {
    browser.goto(link).await;
    browser.find(&By::label("New password")).await.fill(password).await;
    browser.find(&By::label("Repeat password")).await.fill(password).await;
    browser.find(&By::button("Set password")).await.click().await;
    browser.wait_for(&By::button("Sign in"), Duration::from_secs(10)).await;
    browser.find(&By::label("Email")).await.fill(email).await;
    browser.find(&By::label("Password")).await.fill(password).await;
    browser.find(&By::button("Sign in")).await.click().await;
    browser.wait_for_url(Duration::from_secs(10), "signed in lands on the dashboard", |url| url.ends_with("/console")).await;
    browser.wait_for(&By::css("h1"), Duration::from_secs(10)).await;
}

/// Reloads the page until `done` says so, or fails after `timeout`.
async fn reload_until(browser: &Browser, url: &str, timeout: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        browser.goto(url).await;
        let text = browser.find(&By::css("main")).await.text().await;
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} within {timeout:?}; the page says:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The DN of the picker suggestion labelled `label`, once the shared
/// datalist offers it and nothing that does not match what was typed.
async fn wait_for_suggestion(browser: &Browser, label: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let options = browser
            .execute("return [...document.querySelectorAll('#group-options option')].map(o => [o.value, o.textContent.trim()]);", &[])
            .await;
        let options: Vec<(String, String)> = serde_json::from_value(options).expect("the suggestions as pairs");
        if let [(dn, text)] = options.as_slice()
            && text == label
        {
            return dn.clone();
        }
        assert!(Instant::now() < deadline, "the picker suggests only {label:?} within 10 s; it offers {options:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The session cookie as a `Cookie:` header value.
async fn cookie_header(browser: &Browser) -> String {
    let cookie = browser.get_cookies().await.into_iter().find(|c| c.name == "roster_session").expect("a session cookie");
    format!("{}={}", cookie.name, cookie.value)
}

#[tokio::test]
async fn the_seed_flow_in_a_real_browser() {
    let server = Server::start(Engine::Sqlite, false).await;
    let tenant = server.create_tenant("Console Corp");
    let ou = TestOu::create();
    ou.add_users(&["ann", "bob", "cid", "eve"]);
    // Hostile text from AD: shown as text, never as markup.
    ldap_modify(&format!(
        "dn: CN=eve,OU=In,{}\nchangetype: modify\nreplace: displayName\ndisplayName: <img src=x onerror=alert(1)>\n-\n",
        ou.dn
    ));
    // A nested group: Outer holds Inner (ann, bob) and cid.
    let inner = ou.add_group("Inner", &["ann", "bob"]);
    let outer = ou.add_group("Outer", &["cid"]);
    ldap_modify(&format!("dn: {outer}\nchangetype: modify\nadd: member\nmember: {inner}\n-\n"));
    ldap_modify(&format!("dn: {inner}\nchangetype: modify\nadd: member\nmember: CN=eve,OU=In,{}\n-\n", ou.dn));

    let browser = Browser::start().await;
    // The set-up link from the command line, then the password, then sign-in.
    let owner = "owner@console.test";
    let password = "correct horse battery staple";
    let link = setup_link(&server, tenant.tenant_id, owner, "owner");
    browser.goto(&link).await;
    checked(&browser, "setup").await;
    set_password_and_sign_in(&browser, &link, owner, password).await;
    checked(&browser, "dashboard").await;

    // A link spent once does not work twice.
    browser.goto(&link).await;
    assert!(browser.find(&By::css("main")).await.text().await.contains("unknown, used or expired"));

    // "Import users" → "New import job".
    browser.goto(&format!("{}/console", server.url)).await;
    browser.find(&By::link("Import users")).await.click().await;
    browser.wait_for(&By::link("New import job"), Duration::from_secs(10)).await;
    checked(&browser, "jobs").await;
    browser.find(&By::link("New import job")).await.click().await;
    browser.wait_for(&By::label("Name"), Duration::from_secs(10)).await;
    checked(&browser, "new-job").await;
    browser.find(&By::label("Name")).await.fill("Console staff").await;
    browser.find(&By::label("Relative paths")).await.fill(&format!("OU=In,{}", ou.relative)).await;
    browser.find(&By::label("Group paths")).await.fill(&ou.relative).await;
    browser.find(&By::button("Create import job")).await.click().await;
    browser.wait_for(&By::button("New registration token"), Duration::from_secs(10)).await;
    let agents_url = browser.current_url().await;
    let job_url = agents_url.trim_end_matches("/agents").to_owned();

    // General: scheduling off, so the test never meets a scheduled run.
    browser.find(&By::link("General")).await.click().await;
    browser.wait_for(&By::label("Import automatically"), Duration::from_secs(10)).await;
    checked(&browser, "job-general").await;
    browser.find(&By::label("Import automatically")).await.click().await;
    browser.find(&By::button("Save")).await.click().await;
    browser.wait_for(&By::text("Saved."), Duration::from_secs(10)).await;
    assert!(browser.find(&By::css("main")).await.text().await.contains("Automatic scheduling is off"));

    // Agents: a registration token and the command line to copy.
    browser.goto(&agents_url).await;
    browser.find(&By::button("New registration token")).await.click().await;
    let token = browser.wait_for(&By::css("#registration-token"), Duration::from_secs(10)).await.text().await;
    assert!(token.starts_with("rst_reg_"), "{token}");
    assert!(browser.find(&By::css("#install-command")).await.text().await.contains("Start-RosterAgent.ps1 -ServerUrl"));
    checked(&browser, "job-agents-token").await;

    // The agent registers and runs; its first snapshot is imported by itself, importing nobody (no links).
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    agent.run_ok(&["register", "--server", &server.url, "--token", &token]);
    let mut running = agent.spawn(&["run", "--heartbeat-every", "2"], 3);
    let sessions_url = format!("{job_url}/sessions");
    let history =
        reload_until(&browser, &sessions_url, Duration::from_secs(90), "the first import succeeded", |text| text.contains("succeeded"))
            .await;
    assert!(history.contains("first snapshot"), "{history}");
    checked(&browser, "job-sessions").await;
    let first_created = browser.find(&By::css("tbody tr td:nth-child(4)")).await.text().await;
    assert_eq!(first_created, "0", "the first import imports nobody: nothing is linked");

    // The Agents tab shows the running agent as healthy, with its heartbeats.
    let agents = reload_until(&browser, &agents_url, Duration::from_secs(60), "the agent shows as healthy with its host", |text| {
        text.contains("healthy") && text.contains("answers")
    })
    .await;
    assert!(agents.contains("heard"), "the heartbeat picture describes the agent's day:\n{agents}");
    let pictures = browser.execute("return document.querySelectorAll('figure svg[role=img]').length", &[]).await;
    assert_eq!(pictures, serde_json::json!(1), "one heartbeat picture");
    checked(&browser, "job-agents").await;

    // An access to link, made in the console.
    browser.find(&By::link("Accesses")).await.click().await;
    browser.wait_for(&By::label("Name"), Duration::from_secs(10)).await;
    browser.find(&By::label("Kind")).await.select_option_by_text("user").await;
    browser.find(&By::label("Name")).await.fill("HQ").await;
    browser.find(&By::button("Add access")).await.click().await;
    browser.wait_for(&By::css("tbody tr"), Duration::from_secs(10)).await;
    checked(&browser, "accesses").await;

    // Linking: "Load AD structure", the nested group linked to HQ, the preview, then saved.
    browser.goto(&format!("{job_url}/linking")).await;
    browser.find(&By::button("Load AD structure")).await.click().await;
    browser.wait_for(&By::text("The agent was asked for fresh data"), Duration::from_secs(10)).await;
    let linking =
        reload_until(&browser, &format!("{job_url}/linking"), Duration::from_secs(30), "the structure shows the groups", |text| {
            text.contains("Outer") && text.contains("Inner")
        })
        .await;
    assert!(linking.contains("users in the directory state"), "{linking}");
    checked(&browser, "job-linking").await;
    // The picker suggests the groups that match what is typed (htmx refills
    // the shared datalist); choosing a suggestion puts its DN in the field.
    let picker = browser.find(&By::label("Group for HQ")).await;
    picker.fill("Out").await;
    let suggestion = wait_for_suggestion(&browser, "Outer (4 users)").await;
    picker.fill(&suggestion).await;
    browser.find(&By::button("Preview changes")).await.click().await;
    browser.wait_for(&By::button("Confirm and save"), Duration::from_secs(30)).await;
    let preview = browser.find(&By::css("main")).await.text().await;
    assert!(preview.contains("HQ: 4 users"), "the preview names who gains HQ:\n{preview}");
    checked(&browser, "links-confirm").await;
    browser.find(&By::button("Confirm and save")).await.click().await;
    browser.wait_for(&By::text("Links saved."), Duration::from_secs(10)).await;

    // "Perform import": fresh data from the agent; the session page follows it live.
    browser.goto(&sessions_url).await;
    browser.find(&By::button("Perform import")).await.click().await;
    browser.wait_for(&By::css("#progress"), Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // None while the page replaces itself.
        let progress = browser.text_of("#progress").await.unwrap_or_default();
        if progress.contains("succeeded") {
            break;
        }
        assert!(!progress.contains("failed"), "{progress}");
        assert!(Instant::now() < deadline, "the import did not finish: {progress}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ended = browser.wait_for(&By::css("#progress"), Duration::from_secs(10)).await;
    drop(ended);
    let progress = browser.text_of("#progress").await.unwrap_or_default();
    assert!(progress.contains("Created\n4"), "four users created: {progress}");
    // The page reloads itself once the import has ended, listing the changes.
    browser.wait_for(&By::css("tbody tr"), Duration::from_secs(10)).await;
    let changes = browser.find(&By::css("main")).await.text().await;
    assert!(changes.contains(&format!("{} created", ou.sam("ann"))) || changes.contains("gains HQ"), "{changes}");
    checked(&browser, "session").await;

    // Users: the right people, hostile text as text, and a user's chain of groups.
    browser.find(&By::link("Users")).await.click().await;
    browser.wait_for(&By::label("Search"), Duration::from_secs(10)).await;
    let users = browser.find(&By::css("main")).await.text().await;
    for name in ["ann", "bob", "cid", "eve"] {
        assert!(users.contains(&ou.sam(name)), "{name} is listed:\n{users}");
    }
    assert!(users.contains("<img src=x onerror=alert(1)>"), "the display name shows as text:\n{users}");
    let images = browser.execute("return document.querySelectorAll('main img').length", &[]).await;
    assert_eq!(images, serde_json::json!(0), "no markup from AD");
    checked(&browser, "users").await;
    browser.find(&By::label("Search")).await.fill(&ou.sam("ann")).await;
    browser.find(&By::button("Search")).await.click().await;
    // The unfiltered list shows ann's link too: wait for the searched page before following it.
    browser.wait_for_url(Duration::from_secs(10), "the search", |url| url.contains("search=")).await;
    browser.wait_for(&By::link(&ou.sam("ann")), Duration::from_secs(10)).await.click().await;
    let user = browser.wait_for(&By::text("Accesses and why"), Duration::from_secs(10)).await;
    drop(user);
    let page = browser.find(&By::css("main")).await.text().await;
    assert!(page.contains("HQ"), "{page}");
    let chain = browser.find(&By::css("li.chain")).await.text().await;
    assert!(chain.contains("Inner") && chain.contains("Outer"), "the chain names both groups: {chain}");
    checked(&browser, "user").await;

    // Why someone is not imported: an account the job's directory does not hold, then one it does.
    browser.find(&By::link("Users")).await.click().await;
    browser.wait_for(&By::label("AD account"), Duration::from_secs(10)).await.fill("nobody-by-this-name").await;
    browser.find(&By::button("Explain")).await.click().await;
    browser.wait_for(&By::text("holds no account named nobody-by-this-name"), Duration::from_secs(10)).await;
    browser.find(&By::label("AD account")).await.fill(&ou.sam("cid")).await;
    browser.find(&By::button("Explain")).await.click().await;
    let explained = browser.wait_for(&By::css("#explain-heading + form + h3"), Duration::from_secs(10)).await.text().await;
    assert_eq!(explained, format!("{}: imported", ou.sam("cid")));
    checked(&browser, "users-explain").await;

    // A mass change is held, and decided on the dashboard: a safeguard of
    // no deactivation at all, then a user disabled in AD.
    browser.goto(&job_url).await;
    for (label, value) in [
        ("Deactivations at most (users)", "0"),
        ("Deactivations at most (% of active users)", "0"),
        ("Budgets apply from this many active users", "0"),
    ] {
        browser.find(&By::label(label)).await.fill(value).await;
    }
    browser.find(&By::button("Save")).await.click().await;
    browser.wait_for(&By::text("Saved."), Duration::from_secs(10)).await;
    ldap_modify(&format!("dn: CN=bob,OU=In,{}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n", ou.dn));
    browser.goto(&sessions_url).await;
    browser.find(&By::button("Perform import")).await.click().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // Read in one script: the page replaces itself once the import has ended.
        let Some(progress) = browser.text_of("#progress").await else {
            // Already reloaded: the ended session's page, checked below.
            break;
        };
        if progress.contains("held for approval") {
            break;
        }
        assert!(!progress.contains("succeeded") && !progress.contains("failed"), "the import must be held: {progress}");
        assert!(Instant::now() < deadline, "the import was not held: {progress}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The page reloads itself once the import has ended, showing the plan.
    browser.wait_for(&By::text("Held for approval"), Duration::from_secs(10)).await;
    let held = browser.find(&By::css("main")).await.text().await;
    assert!(held.contains(&ou.sam("bob")) && held.contains("deactivated"), "the held plan lists bob's deactivation:\n{held}");
    checked(&browser, "session-held").await;
    browser.find(&By::link("Dashboard")).await.click().await;
    let dashboard = browser.wait_for(&By::css("main"), Duration::from_secs(10)).await.text().await;
    assert!(dashboard.contains("Import held for approval") && dashboard.contains("held for approval"), "{dashboard}");
    checked(&browser, "dashboard-held").await;
    browser.find(&By::button("Approve")).await.click().await;
    let bob = roster_e2e::Admin::new(&server.url, &tenant.admin_token);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let users: Page<roster_proto::admin::User> = bob.get("/api/v1/users?limit=100").await;
        if users.items.iter().any(|u| u.username == ou.sam("bob") && !u.active) {
            break;
        }
        assert!(Instant::now() < deadline, "the approved plan was not applied");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The dashboard tells the truth: healthy, with the import just made.
    browser.find(&By::link("Dashboard")).await.click().await;
    let dashboard = browser.wait_for(&By::css("main"), Duration::from_secs(10)).await.text().await;
    assert!(dashboard.contains("healthy"), "{dashboard}");
    checked(&browser, "dashboard-after").await;

    // Settings: the audit log names the owner's changes; a viewer is invited.
    browser.find(&By::link("Settings")).await.click().await;
    browser.wait_for(&By::label("Grace period (days)"), Duration::from_secs(10)).await;
    let settings = browser.find(&By::css("main")).await.text().await;
    for action in
        ["job.created", "job.updated", "registration_token.issued", "access.created", "links.saved", "import.started", "session.approved"]
    {
        assert!(settings.contains(action), "the audit log records {action}:\n{settings}");
    }
    browser.find(&By::label("Email")).await.fill("viewer@console.test").await;
    browser.find(&By::label("Role")).await.select_option_by_text("viewer").await;
    browser.find(&By::button("Invite")).await.click().await;
    let viewer_link = browser.wait_for(&By::css("#setup-link"), Duration::from_secs(10)).await.text().await;
    checked(&browser, "settings").await;
    browser.find(&By::link("The whole audit log")).await.click().await;
    browser.wait_for(&By::text("Every change an admin made"), Duration::from_secs(10)).await;
    checked(&browser, "audit").await;

    // A cross-site POST with the owner's valid cookie is refused, and changes nothing.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let owner_cookie = cookie_header(&browser).await;
    let imports = sessions_url.replace("/sessions", "/imports");
    let before = sessions_of(&server, &tenant.admin_token, &job_url).await;
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let answer = http
            .post(&imports)
            .header("cookie", &owner_cookie)
            .header(header, value)
            .header("content-type", FORM)
            .body("source=stored")
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), 403, "{header}: {value}");
    }
    assert_eq!(sessions_of(&server, &tenant.admin_token, &job_url).await, before, "no import was started");

    // A wrong password gets no session.
    let wrong = http
        .post(format!("{}/login", server.url))
        .header("origin", &server.url)
        .header("content-type", FORM)
        .body("email=owner%40console.test&password=not+the+password+at+all")
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none(), "no cookie for a wrong password");

    // The viewer sees everything and changes nothing.
    browser.find(&By::button("Sign out")).await.click().await;
    browser.wait_for(&By::text("You are signed out."), Duration::from_secs(10)).await;
    checked(&browser, "login").await;
    set_password_and_sign_in(&browser, &viewer_link, "viewer@console.test", "a different long passphrase").await;
    browser.goto(&job_url).await;
    assert!(browser.try_find(&By::button("Save")).await.is_err(), "a viewer has no Save button");
    browser.goto(&sessions_url).await;
    assert!(browser.try_find(&By::button("Perform import")).await.is_err(), "a viewer cannot perform an import");
    let viewer_cookie = cookie_header(&browser).await;
    let answer = http
        .post(&imports)
        .header("cookie", &viewer_cookie)
        .header("origin", &server.url)
        .header("content-type", FORM)
        .body("source=stored")
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 403, "the server refuses a viewer's change, whatever the page shows");
    assert_eq!(sessions_of(&server, &tenant.admin_token, &job_url).await, before);

    running.terminate();
    let _ = running.finish(Duration::from_secs(30));
}

/// The job's sessions through the API (the job id is the console URL's last segment).
async fn sessions_of(server: &Server, token: &str, job_url: &str) -> Vec<(roster_proto::SessionId, SessionStatus)> {
    let job = job_url.rsplit('/').next().expect("a job id");
    let admin = roster_e2e::Admin::new(&server.url, token);
    let page: Page<Session> = admin.get(&format!("/api/v1/jobs/{job}/sessions?limit=100")).await;
    page.items.into_iter().map(|s| (s.id, s.status)).collect()
}
