//! The browser harness (`roster_e2e::browser`) against pages of its own,
//! served from a listener in the test: a clean sign-in form that it fills
//! and submits through the real headless Chromium, and a page broken on
//! purpose (an image without alt text, an unlabelled input, an element
//! 2000 px wide) whose problems `try_check_page` must report.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod console;

use std::collections::BTreeSet;
use std::time::Duration;

use roster_e2e::browser::{Browser, By, Cookie, WIDTHS, artifacts_dir};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SIGN_IN: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in</title></head>
<body><main>
<h1>Sign in</h1>
<form action="/signed-in" method="get">
<p><label for="email">Email</label> <input id="email" name="email" type="email"></p>
<p><label>Site <select name="site"><option>Copenhagen</option><option>Aarhus</option></select></label></p>
<p><button type="submit">Sign in</button></p>
</form>
</main></body>
</html>"#;

const SIGNED_IN: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Signed in</title></head>
<body><main>
<h1>Welcome</h1>
<p id="who">Signed in as <output id="email"></output> at <output id="site"></output></p>
<p>Alice's "desk" is ready.</p>
<p><a href="/">Back</a></p>
</main>
<script>
const query = new URLSearchParams(location.search);
document.getElementById('email').textContent = query.get('email');
document.getElementById('site').textContent = query.get('site');
</script>
</body>
</html>"#;

const BROKEN: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Broken on purpose</title></head>
<body><main>
<h1>Broken on purpose</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">
<input type="text" name="query">
<div id="too-wide" style="width: 2000px">Too wide</div>
</main></body>
</html>"#;

/// The pages by path; any other path answers 404.
const PAGES: [(&str, &str); 3] = [("/", SIGN_IN), ("/signed-in", SIGNED_IN), ("/broken", BROKEN)];

/// Serves [`PAGES`] over HTTP/1.1 on 127.0.0.1:0 for as long as the test's
/// runtime lives, one request per connection; returns the base URL.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or(target);
                let (status, body) = match PAGES.iter().find(|(p, _)| *p == path) {
                    Some((_, page)) => ("200 OK", *page),
                    None => ("404 Not Found", "not found"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_clean_page_passes_its_checks_and_its_form_submits() {
    let site = serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{site}/")).await;
    assert_eq!(browser.title().await, "Sign in");

    for violation in browser.check_page("self-test-sign-in").await {
        println!("axe, minor or moderate: {violation}");
    }
    for width in WIDTHS {
        let png = std::fs::read(artifacts_dir().join(format!("self-test-sign-in-{width}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the {width} px screenshot is not a PNG");
    }

    let email = browser.find(&By::label("Email")).await;
    email.fill("typed first, cleared by fill").await;
    email.fill("alice@example.test").await;
    assert_eq!(email.property("value").await, "alice@example.test");
    assert_eq!(email.attr("type").await.as_deref(), Some("email"));
    assert_eq!(email.attr("placeholder").await, None);
    browser.find(&By::label("Site")).await.select_option_by_text("Aarhus").await;
    browser.add_cookie(&Cookie::new("theme", "dark")).await;
    browser.find(&By::button("Sign in")).await.click().await;

    let who = browser.wait_for(&By::text("Signed in as alice@example.test"), Duration::from_secs(10)).await;
    assert_eq!(who.text().await, "Signed in as alice@example.test at Aarhus");
    assert_eq!(browser.current_url().await, format!("{site}/signed-in?email=alice%40example.test&site=Aarhus"));
    assert!(browser.get_cookies().await.iter().any(|c| c.name == "theme" && c.value == "dark"), "the cookie set before submitting");
    let quoted = browser.find(&By::text(r#"Alice's "desk""#)).await;
    assert_eq!(quoted.text().await, r#"Alice's "desk" is ready."#, "a text with both kinds of quote");
    assert_eq!(browser.execute("return arguments[0].id", &[who.as_arg()]).await, "who");
    assert_eq!(browser.execute_async("arguments[arguments.length - 1](arguments[0] + 1)", &[json!(41)]).await, 42);

    let missing = browser.try_find(&By::css("#absent")).await.unwrap_err();
    assert_eq!(missing.error, "no such element");
    assert!(missing.to_string().starts_with("WebDriver POST /element: no such element"), "{missing}");
    assert!(missing.to_string().contains("#absent"), "{missing}");
    assert!(browser.find_all(&By::css("#absent")).await.is_empty());
    assert_eq!(browser.find_all(&By::css("output")).await.len(), 2);

    browser.find(&By::link("Back")).await.click().await;
    browser.wait_for(&By::button("Sign in"), Duration::from_secs(10)).await;
    assert_eq!(browser.title().await, "Sign in");
}

#[tokio::test]
async fn check_page_reports_overflow_and_serious_violations() {
    let site = serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{site}/broken")).await;

    let problems = browser.try_check_page("self-test-broken").await.expect_err("the broken page fails its checks");
    println!("{problems}");
    let report = problems.to_string();
    assert_eq!(problems.overflows.iter().map(|o| o.width).collect::<Vec<_>>(), WIDTHS, "{report}");
    for overflow in &problems.overflows {
        assert!(overflow.scroll_width >= 2000, "{report}");
        assert!(overflow.offenders.first().is_some_and(|o| o.starts_with("div#too-wide (2000 px wide")), "{report}");
    }
    let rules: BTreeSet<&str> = problems.violations.iter().map(|v| v.id.as_str()).collect();
    assert!(rules.contains("image-alt") && rules.contains("label"), "{report}");
    assert!(problems.violations.iter().all(|v| v.impact == "serious" || v.impact == "critical"), "{report}");
    let image = problems.violations.iter().find(|v| v.id == "image-alt").unwrap();
    assert_eq!(image.targets, ["img"], "{report}");
    assert_eq!(image.width, WIDTHS[0], "each rule and place is reported once, at the first width");
    assert!(report.contains("image-alt") && report.contains("div#too-wide"), "{report}");
    for width in WIDTHS {
        assert!(artifacts_dir().join(format!("self-test-broken-{width}.png")).exists());
    }
}
