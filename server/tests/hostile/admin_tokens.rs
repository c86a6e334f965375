//! Issue 10, item 14 (server side): admin tokens are listed, revoked and
//! may expire. Someone holding a revoked or expired admin token (a leaked
//! console token, a departed admin's) tries every admin route with it, and
//! a tenant tries to list or revoke another tenant's tokens.

use reqwest::Method;
use roster_proto::admin::{AdminToken, CreateAdminToken, CreatedAdminToken, Page};
use roster_proto::problem::ProblemKind;
use roster_server::store::{self, UnixMillis};
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::{Answer, Engine, TestApp, spawn_app};

const TOKENS: &str = "/api/v1/admin-tokens";

async fn db(app: &TestApp) -> store::Db {
    roster_server::db::Db::connect(&app.database_url).await.unwrap()
}

async fn issue(app: &TestApp, admin: &str, input: &CreateAdminToken) -> CreatedAdminToken {
    let answer = app.post(TOKENS, Some(admin), input).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()
}

async fn revoke(app: &TestApp, admin: &str, id: &str) -> Answer {
    app.send(Method::DELETE, &format!("{TOKENS}/{id}"), Some(admin), None, false).await
}

async fn listing(app: &TestApp, admin: &str) -> Answer {
    let answer = app.get(TOKENS, admin).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}

/// Every admin route the server documents (those under the default
/// `adminToken` security), with each path parameter filled in.
fn admin_routes() -> Vec<(Method, String)> {
    let document = serde_json::to_value(roster_server::http::openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            if !operation.is_object() || operation.get("security").is_some() {
                continue;
            }
            let filled: Vec<String> = path
                .split('/')
                .map(|segment| match segment {
                    "{index}" => "0".to_owned(),
                    s if s.starts_with('{') => uuid::Uuid::nil().to_string(),
                    s => s.to_owned(),
                })
                .collect();
            routes.push((method, filled.join("/")));
        }
    }
    assert!(routes.len() >= 20, "the document lists the admin routes: {routes:?}");
    assert!(routes.iter().any(|(m, p)| m == Method::DELETE && p.starts_with(TOKENS)), "{routes:?}");
    routes
}

/// Each token is refused on every admin route with exactly the answer an
/// unknown token gets (no oracle for revoked or expired).
async fn refused_everywhere(app: &TestApp, tokens: &[&str]) {
    for (method, path) in admin_routes() {
        let body = || Some(reqwest::Body::from("{}"));
        let unknown = app.send(method.clone(), &path, Some("rst_admin_never-issued"), body(), true).await;
        unknown.assert_problem(401).assert_kind(ProblemKind::Unauthorized);
        for token in tokens {
            let answer = app.send(method.clone(), &path, Some(token), body(), true).await;
            assert_eq!(answer.status, 401, "{method} {path}: {}", answer.body);
            assert_eq!(answer.body, unknown.body, "{method} {path}");
            assert_eq!(answer.www_authenticate, unknown.www_authenticate, "{method} {path}");
        }
    }
}

/// A revoked token (revoked by another admin, or by itself) and one past
/// its expiry open no admin route; before, neither could be revoked or
/// expire at all, so a leaked token worked forever.
async fn revoked_and_expired_tokens_are_refused_on_every_route(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.create_tenant("Acme").await.admin_token;
    let leaked = issue(&app, &admin, &CreateAdminToken { label: Some("laptop".into()), expires_in_days: None }).await;
    listing(&app, &leaked.admin_token).await;
    assert_eq!(revoke(&app, &admin, &leaked.token.id.to_string()).await.status, 204);

    // Revoking the token the request comes with takes effect at once.
    let own = issue(&app, &admin, &CreateAdminToken::default()).await;
    assert_eq!(revoke(&app, &own.admin_token, &own.token.id.to_string()).await.status, 204);
    app.get(TOKENS, &own.admin_token).await.assert_problem(401);

    // Time is driven through the store: a token issued with its expiry passed.
    let db = db(&app).await;
    let tenant = store::tenants::admin_token(&db, &admin).await.unwrap().unwrap().tenant_id;
    let expired =
        store::tenants::add_admin_token(&mut db.writer().await.unwrap(), tenant, Some("old"), Some(UnixMillis::now().minus_ms(1000)))
            .await
            .unwrap();

    refused_everywhere(&app, &[&leaked.admin_token, &own.admin_token, &expired.admin_token]).await;

    // The tenant's first token is untouched; the revoked ones are no longer
    // listed, the expired one is (to be revoked), and revoking twice is 404.
    let page: Page<AdminToken> = listing(&app, &admin).await.json();
    let ids: Vec<_> = page.items.iter().map(|t| t.id).collect();
    assert!(!ids.contains(&leaked.token.id) && !ids.contains(&own.token.id), "{ids:?}");
    assert!(ids.contains(&expired.token.id), "{ids:?}");
    revoke(&app, &admin, &leaked.token.id.to_string()).await.assert_problem(404).assert_kind(ProblemKind::NotFound);
}

/// Another tenant's token ids answer 404 like ids that do not exist, are
/// not listed, and stay in force.
async fn a_tenant_cannot_list_or_revoke_another_tenants_tokens(engine: Engine) {
    let app = spawn_app(engine).await;
    let acme = app.create_tenant("Acme").await.admin_token;
    let other = app.create_tenant("Other").await.admin_token;
    let target = issue(&app, &acme, &CreateAdminToken { label: Some("ci".into()), expires_in_days: Some(30) }).await;
    let acme_ids: Vec<_> = listing(&app, &acme).await.json::<Page<AdminToken>>().items.into_iter().map(|t| t.id).collect();
    assert_eq!(acme_ids.len(), 2);

    let seen: Page<AdminToken> = listing(&app, &other).await.json();
    assert_eq!(seen.items.len(), 1, "only Other's own token: {:?}", seen.items);
    assert!(seen.items.iter().all(|t| !acme_ids.contains(&t.id)));

    let nowhere = revoke(&app, &other, &uuid::Uuid::new_v4().to_string()).await;
    nowhere.assert_problem(404).assert_kind(ProblemKind::NotFound);
    for id in &acme_ids {
        let answer = revoke(&app, &other, &id.to_string()).await;
        answer.assert_problem(404);
        assert_eq!(answer.body, nowhere.body);
    }
    revoke(&app, &other, "not-a-uuid").await.assert_problem(404);
    listing(&app, &target.admin_token).await;
    listing(&app, &acme).await;
}

/// The listing names tokens by id and never holds a value or its hash.
async fn a_listing_never_holds_a_token_value(engine: Engine) {
    let app = spawn_app(engine).await;
    let first = app.create_tenant("Acme").await.admin_token;
    let mut values = vec![first.clone()];
    for n in 0..3 {
        values.push(issue(&app, &first, &CreateAdminToken { label: Some(format!("t{n}")), expires_in_days: Some(1) }).await.admin_token);
    }
    let answer = listing(&app, &first).await;
    let text = answer.body.to_string();
    for value in &values {
        assert!(!text.contains(value.as_str()), "a value is listed: {text}");
        let hash = roster_snapshot::sha256_hex(value.as_bytes()).into_string();
        assert!(!text.contains(&hash[..16]), "a hash is listed: {text}");
    }
    let page: Page<AdminToken> = answer.json();
    assert_eq!(page.items.len(), 4);
    for item in &page.items {
        let keys: Vec<_> = serde_json::to_value(item).unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["created_at", "expires_at", "id", "label", "last_used_at"]);
    }
}

/// An expiry is 1..=3650 days, a label a name; each issued token reports
/// when it expires, and use is recorded at most once a minute.
async fn issuing_checks_its_input_and_use_is_recorded(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.create_tenant("Acme").await.admin_token;
    for body in [
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 3651}),
        json!({"label": "  "}),
        json!({"label": "a\u{202E}b"}),
        json!({"label": "x".repeat(201)}),
    ] {
        app.post(TOKENS, Some(&admin), &body).await.assert_problem(422).assert_kind(ProblemKind::InvalidAdminToken);
    }
    app.post(TOKENS, Some(&admin), &json!({"expires_at": "2020-01-01T00:00:00Z"})).await.assert_problem(422);

    let before = time::OffsetDateTime::now_utc();
    let issued = issue(&app, &admin, &CreateAdminToken { label: Some(" console ".into()), expires_in_days: Some(7) }).await;
    assert_eq!(issued.token.label.as_deref(), Some("console"));
    let expires = issued.token.expires_at.unwrap();
    assert!(expires >= before + time::Duration::days(7) - time::Duration::seconds(1), "{expires}");
    assert!(expires <= time::OffsetDateTime::now_utc() + time::Duration::days(7), "{expires}");
    assert_eq!(issued.token.last_used_at, None);

    let used = |page: &Value| {
        page["items"].as_array().unwrap().iter().find(|t| t["id"] == json!(issued.token.id)).unwrap()["last_used_at"].clone()
    };
    let first = used(&listing(&app, &issued.admin_token).await.body);
    assert!(first.is_string(), "{first}");
    let second = used(&listing(&app, &issued.admin_token).await.body);
    assert_eq!(first, second, "written at most once a minute");
}

/// A token issued before migration 0006 keeps working, with an id, no
/// label and no expiry, and can then be revoked.
async fn tokens_from_before_the_migration_keep_working(engine: Engine) {
    let (database, pool) = crate::support::older::database_before_migration(engine, 6).await;
    let value = "rst_admin_issued-before-0006";
    let tenant = crate::support::old_tenant_with_token(&pool, value).await;
    pool.close().await;

    let db = roster_server::db::Db::connect(&database.url).await.unwrap();
    assert_eq!(store::tenants::tenant_for_admin_token(&db, value).await.unwrap(), Some(tenant));
    let (tokens, _) = store::tenants::list_admin_tokens(&db, tenant, 10, None).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!((tokens[0].label.as_deref(), tokens[0].expires_at), (None, None));
    assert!(store::tenants::revoke_admin_token(&mut db.writer().await.unwrap(), tenant, tokens[0].id).await.unwrap());
    assert_eq!(store::tenants::tenant_for_admin_token(&db, value).await.unwrap(), None);
}

/// `tenant create --expires-in-days` shows when the first admin token
/// expires, as the listing does: an operator is not left to guess how long
/// a token handed to someone stays good. Before: `CreatedTenant` had no
/// expiry, so a token given an expiry looked like one that never expires.
async fn a_created_tenant_shows_its_first_tokens_expiry(engine: Engine) {
    let app = spawn_app(engine).await;
    let db = db(&app).await;
    let at = UnixMillis::now().plus_days(30);
    let created = store::tenants::create_tenant(&db, "Expiring", Some(at)).await.unwrap();
    assert_eq!(created.admin_token_expires_at, Some(at.to_datetime()));
    let printed = serde_json::to_value(&created).unwrap();
    assert_eq!(printed["admin_token_expires_at"], json!(at.to_datetime().format(&time::format_description::well_known::Rfc3339).unwrap()));
    let listed: Page<AdminToken> = listing(&app, &created.admin_token).await.json();
    assert_eq!(listed.items[0].expires_at, created.admin_token_expires_at, "what the listing says");

    let forever = store::tenants::create_tenant(&db, "Forever", None).await.unwrap();
    assert_eq!(forever.admin_token_expires_at, None);
    assert_eq!(serde_json::to_value(&forever).unwrap()["admin_token_expires_at"], Value::Null, "shown as never, not left out");
}

on_both_engines!(
    tokens_from_before_the_migration_keep_working,
    revoked_and_expired_tokens_are_refused_on_every_route,
    a_tenant_cannot_list_or_revoke_another_tenants_tokens,
    a_listing_never_holds_a_token_value,
    issuing_checks_its_input_and_use_is_recorded,
    a_created_tenant_shows_its_first_tokens_expiry,
);
