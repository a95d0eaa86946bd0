//! The web client's files: served at `/` without a token, with a strict Content-Security-Policy,
//! revalidated by ETag; nothing outside the client's folder, and the API's answers unchanged.

use std::io::{Read, Write};

use natter_client::Client;

use crate::helpers::*;

const CSP_MUST_HAVE: [&str; 4] = [
    "default-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
];

#[tokio::test]
async fn the_page_and_its_modules_are_served_without_a_token_under_a_strict_csp() {
    let app = spawn_app().await;
    let anon = Client::new(&app.url);

    let page = anon.raw_with_headers("GET", "/", &[], None).await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/js/app.js">"#),
        "{html}"
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    for part in CSP_MUST_HAVE {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    // No inline script: every script element of the page names its source.
    for tag in html.split("<script").skip(1) {
        let head = tag.split('>').next().unwrap();
        assert!(head.contains("src="), "inline script: <script{head}>");
    }
    assert_eq!(page.header("cache-control"), Some("no-cache"));

    let same = anon
        .raw_with_headers("GET", "/index.html", &[], None)
        .await
        .unwrap();
    assert_eq!(same.body, page.body);

    let js = anon
        .raw_with_headers("GET", "/js/app.js", &[], None)
        .await
        .unwrap();
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let lib = anon
        .raw_with_headers("GET", "/vendor/preact-htm.js", &[], None)
        .await
        .unwrap();
    assert_eq!(lib.status, 200);
    let css = anon
        .raw_with_headers("GET", "/app.css", &[], None)
        .await
        .unwrap();
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    let head = anon
        .raw_with_headers("HEAD", "/js/app.js", &[], None)
        .await
        .unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(js.body.len())
    );
}

#[tokio::test]
async fn a_file_the_browser_already_has_is_answered_304_by_its_etag() {
    let app = spawn_app().await;
    let anon = Client::new(&app.url);
    let first = anon
        .raw_with_headers("GET", "/js/app.js", &[], None)
        .await
        .unwrap();
    let etag = first.header("etag").expect("an ETag").to_owned();

    let again = anon
        .raw_with_headers("GET", "/js/app.js", &[("if-none-match", &etag)], None)
        .await
        .unwrap();
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    let stale = anon
        .raw_with_headers("GET", "/js/app.js", &[("if-none-match", "\"other\"")], None)
        .await
        .unwrap();
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, first.body);
}

#[tokio::test]
async fn unknown_files_and_other_methods_are_the_api_404_and_the_api_is_untouched() {
    let app = spawn_app().await;
    let anon = Client::new(&app.url);
    for (method, path) in [
        ("GET", "/nothing.js"),
        ("GET", "/js/"),
        ("GET", "/vendor/preact-htm.d.ts"),
        ("POST", "/"),
        ("DELETE", "/index.html"),
        ("GET", "/api/v1/nothing-here"),
    ] {
        let resp = anon.raw(method, path, None).await.unwrap();
        assert_error_response(&resp, 404, "not_found");
    }
    // The API still wants its token.
    let me = anon.raw("GET", "/api/v1/users/me", None).await.unwrap();
    assert_error_response(&me, 401, "unauthorized");
}

/// Sends `target` as the request line's path as is (an HTTP client would normalise `..`).
fn raw_get(url: &str, target: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn no_path_leaves_the_client_folder() {
    let app = spawn_app().await;
    let url = app.url.clone();
    let answers = tokio::task::spawn_blocking(move || {
        [
            "/../../Cargo.toml",
            "/..%2F..%2FCargo.toml",
            "/%2e%2e/%2e%2e/Cargo.toml",
            "/js/../../../Cargo.toml",
            "//etc/passwd",
            "/.%2e/.%2e/README.md",
        ]
        .map(|t| (t, raw_get(&url, t)))
    })
    .await
    .unwrap();
    for (target, answer) in answers {
        let status = answer.lines().next().unwrap_or_default();
        assert!(
            status.contains(" 404 ") || status.contains(" 400 "),
            "{target}: {status}"
        );
        assert!(
            !answer.contains("[workspace]") && !answer.contains("root:"),
            "{target}"
        );
    }
}
