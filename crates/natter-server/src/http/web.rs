//! The web client's files (`web/app/`), embedded in the binary and served at `/` without a
//! token. Release builds carry the files; debug builds read them from the source tree at each
//! request, so that the client can be edited without rebuilding the server.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../web/app/"]
#[exclude = "*.d.ts"]
struct Assets;

/// The page may load only its own scripts, styles and images (and the blob URLs it makes of
/// media fetched with its token), and may talk only to this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether a request is for the web client rather than the API: a `GET` or `HEAD` outside
/// `/api/`.
fn is_web(req: &Request) -> bool {
    (req.method() == Method::GET || req.method() == Method::HEAD)
        && !req.uri().path().starts_with("/api/")
}

/// The content type of a served file, by its extension; only what the client ships.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Serves a file of the client, or answers like any unknown route.
pub async fn serve(req: Request) -> Response {
    if !is_web(&req) {
        return ApiError::not_found("no such route").into_response();
    }
    let path = match req.uri().path().trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found("no such route").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut resp = if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let len = file.data.len();
        let mut r = if req.method() == Method::HEAD {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(file.data.into_owned()))
        };
        r.headers_mut().insert(header::CONTENT_LENGTH, len.into());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidated on every load, so that an upgraded server serves its own client at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_embedded_with_its_vendored_library_and_licences() {
        for f in [
            "index.html",
            "vendor/preact-htm.js",
            "vendor/LICENSE-htm.txt",
            "vendor/LICENSE-preact.txt",
        ] {
            assert!(Assets::get(f).is_some(), "{f} is not embedded");
        }
        assert!(Assets::get("vendor/preact-htm.d.ts").is_none());
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
