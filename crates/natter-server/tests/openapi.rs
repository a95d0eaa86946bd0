//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document, public, that describes every route of
//! the router. The routes are read from `src/http/mod.rs` itself, so that a route added without
//! its `#[utoipa::path]` (or without listing it in the `OpenApi` derive) fails here.

use std::collections::BTreeSet;

use natter_client::Client;
use natter_server::Config;
use serde_json::Value;

/// The operations that need no bearer token.
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/api/v1/users"),
    ("post", "/api/v1/sessions"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/push/vapid"),
    ("get", "/healthz"),
    ("get", "/metrics"),
];

/// The WebSocket upgrade: the token in the header, or in the first frame.
const OPTIONAL_AUTH: &[(&str, &str)] = &[("get", "/api/v1/ws")];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Fetches the document from a running server, without a token.
async fn document() -> Value {
    let data = tempfile::tempdir().expect("a temporary directory");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        rate_limit: false,
        ..Config::default()
    };
    let server = natter_server::start(config)
        .await
        .expect("the server starts");
    let resp = Client::new(server.url())
        .raw("GET", "/api/v1/openapi.json", None)
        .await
        .expect("the request goes through");
    server.shutdown().await.expect("a clean shutdown");
    assert_eq!(resp.status, 200, "openapi.json needs no token");
    let ct = resp.content_type.unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    serde_json::from_slice(&resp.body).expect("openapi.json is JSON")
}

/// Drops `//` comments (the routes' paths hold no `//`).
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The index just past the parenthesis that closes the one opened before `from`.
fn close_paren(s: &str, from: usize) -> usize {
    let mut depth = 1;
    for (i, c) in s[from..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return from + i + 1;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in http/mod.rs");
}

/// The first string literal in `s`.
fn first_literal(s: &str) -> &str {
    let start = s.find('"').expect("a string literal") + 1;
    let len = s[start..].find('"').expect("a closed string literal");
    &s[start..start + len]
}

/// The HTTP methods that a route's method router names: `get(h)`, `.post(h)`,
/// `axum::routing::delete(h)`, … (a handler named like a method is not followed by `(`).
fn methods_in(expr: &str) -> Vec<&'static str> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    for &m in METHODS {
        let mut at = 0;
        while let Some(i) = expr[at..].find(m).map(|i| at + i) {
            at = i + m.len();
            let before_ok =
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            if before_ok && bytes.get(at) == Some(&b'(') {
                found.push(m);
            }
        }
    }
    found
}

/// Every `(method, path)` that `http::router` routes, read from its source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = strip_comments(include_str!("../src/http/mod.rs"));
    let nest = src.find(".nest(").expect("the API is nested");
    let prefix = first_literal(&src[nest..]).to_owned();
    let nested_var = src[nest..]
        .split_once(',')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(var, _)| var.trim().to_owned())
        .expect(".nest(\"prefix\", var)");
    let start = src
        .find(&format!("let {nested_var} = "))
        .expect("the nested router's binding");
    let end = start + src[start..].find(';').expect("the binding's end");

    let mut routes = BTreeSet::new();
    let mut at = 0;
    while let Some(i) = src[at..].find(".route(").map(|i| at + i) {
        let args_start = i + ".route(".len();
        let args_end = close_paren(&src, args_start);
        let args = &src[args_start..args_end - 1];
        let path = first_literal(args);
        let (_, method_router) = args.split_once(',').expect(".route(path, methods)");
        let full = if (start..end).contains(&i) {
            format!("{prefix}{path}")
        } else {
            path.to_owned()
        };
        let methods = methods_in(method_router);
        assert!(!methods.is_empty(), "no method found for route {full}");
        for m in methods {
            routes.insert((m.to_owned(), full.clone()));
        }
        at = args_end;
    }
    routes
}

/// Every `(method, path)` that the document describes, with its operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                ops.push((method.clone(), path.clone(), op));
            }
        }
    }
    ops
}

/// Follows a `$ref` to `#/components/...`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("a local $ref");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{r} resolves")),
            )
        }
        None => v,
    }
}

#[test]
fn the_route_parser_reads_the_router() {
    let routes = routes_in_source();
    for expected in [
        ("post", "/api/v1/users"),
        ("get", "/api/v1/users"),
        ("delete", "/api/v1/sessions/{id}"),
        ("get", "/api/v1/messages/{id}"),
        ("patch", "/api/v1/messages/{id}"),
        ("delete", "/api/v1/messages/{id}"),
        ("post", "/api/v1/media"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/push/vapid"),
        ("get", "/api/v1/ws"),
        ("get", "/healthz"),
    ] {
        let key = (expected.0.to_owned(), expected.1.to_owned());
        assert!(
            routes.contains(&key),
            "{expected:?} not parsed from http/mod.rs"
        );
    }
    assert!(
        !routes.contains(&(
            "get".to_owned(),
            "/api/v1/conversations/{id}/members".to_owned()
        )),
        "a handler named `get` is not a method"
    );
    assert!(routes.len() >= 30, "only {} routes parsed", routes.len());
}

#[tokio::test]
async fn openapi_json_is_3_1_and_describes_every_route() {
    let doc = document().await;
    let version = doc["openapi"].as_str().expect("an `openapi` field");
    assert!(version.starts_with("3.1"), "openapi {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let routed = routes_in_source();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without an OpenAPI operation: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&routed).collect();
    assert!(stale.is_empty(), "operations without a route: {stale:?}");

    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}: no responses"
        );
    }
    // Links name operations that exist.
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            for (name, link) in resolve(&doc, response)["links"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let target = link["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.contains(target),
                    "{method} {path} {status}: link {name} names no operation ({target:?})"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_bearer_scheme_guards_every_non_public_operation() {
    let doc = document().await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");

    let bearer = serde_json::json!({"bearer": []});
    let anonymous = serde_json::json!({});
    for (method, path, op) in operations(&doc) {
        let key = (method.as_str(), path.as_str());
        let security: Vec<Value> = op
            .get("security")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if PUBLIC.contains(&key) {
            assert!(
                security.is_empty() || security.contains(&anonymous),
                "{method} {path} is public but requires {security:?}"
            );
        } else if OPTIONAL_AUTH.contains(&key) {
            assert!(
                security.contains(&bearer) && security.contains(&anonymous),
                "{method} {path}: the token is optional: {security:?}"
            );
        } else {
            assert_eq!(
                security,
                vec![bearer.clone()],
                "{method} {path} must require the bearer token"
            );
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path}: no 401"
            );
        }
    }
}

#[tokio::test]
async fn every_error_answer_has_the_error_body() {
    let doc = document().await;
    let error_body = doc
        .pointer("/components/schemas/ErrorBody")
        .expect("an ErrorBody schema");
    assert_eq!(error_body["required"], serde_json::json!(["error"]));
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().expect("numeric statuses");
            // `/healthz` answers 503 with its health body, not an error.
            if code < 400 || path == "/healthz" {
                continue;
            }
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}: {response}"
            );
        }
    }
}

#[tokio::test]
async fn every_operation_with_a_body_documents_the_stalled_body_408() {
    let doc = document().await;
    let codes = doc
        .pointer("/components/schemas/ErrorCode/enum")
        .and_then(Value::as_array)
        .expect("the error codes");
    assert!(codes.contains(&Value::from("request_timeout")), "{codes:?}");
    let mut with_body = 0;
    for (method, path, op) in operations(&doc) {
        if op.get("requestBody").is_none() {
            continue;
        }
        with_body += 1;
        let response = op["responses"]
            .get("408")
            .unwrap_or_else(|| panic!("{method} {path}: no 408"));
        let description = resolve(&doc, response)["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            description.contains("request_timeout"),
            "{method} {path}: {description}"
        );
    }
    assert!(with_body > 5, "only {with_body} operations with a body");
}

#[tokio::test]
async fn the_websocket_send_and_sent_frames_are_described() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    let client = schemas["ClientFrame"].to_string();
    assert!(client.contains("\"send\""), "ClientFrame: {client}");
    assert!(client.contains("\"ref\""), "ClientFrame: {client}");
    let control = schemas["ControlFrame"].to_string();
    assert!(control.contains("\"sent\""), "ControlFrame: {control}");
    assert!(control.contains("\"created\""), "ControlFrame: {control}");
}
