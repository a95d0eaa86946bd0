//! Media upload and download: streamed bodies, `Range`, `ETag` and a safe
//! `Content-Disposition`.

use axum::{
    Json as JsonOut,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use natter_wire as wire;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use super::{
    error::ApiError,
    extract::{Path, Query},
};
use crate::{
    app::{App, Caller},
    store::MediaRow,
};

#[derive(Deserialize)]
pub struct UploadQuery {
    filename: Option<String>,
}

/// `POST /api/v1/media?filename=<name>`: the raw bytes as the body.
#[utoipa::path(
    post,
    path = "/api/v1/media",
    operation_id = "uploadMedia",
    tag = "media",
    summary = "Upload media: the raw bytes as the body",
    description = "Any `Content-Type`: the type comes from the bytes. PNG, JPEG, GIF and WebP that decode are images and get `width`, `height` and a thumbnail; bytes of no recognised type are `application/octet-stream`.",
    params(
        ("filename" = Option<String>, Query, max_length = 255, description = "The file's name, kept for downloads"),
    ),
    request_body(
        description = "The raw bytes, with any `Content-Type`",
        content(
            (inline(super::openapi::Binary) = "application/octet-stream"),
            (inline(super::openapi::Binary) = "*/*"),
        ),
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = wire::Media),
        (status = 400, description = "`invalid_request`: an empty body or a bad filename", body = wire::ErrorBody),
        (status = 413, description = "`payload_too_large`: over the upload limit, past the caller's media quota (1 GiB by default; nothing is kept), or an image over 50 megapixels", body = wire::ErrorBody),
    ),
)]
pub async fn upload(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, JsonOut<wire::Media>), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let media = app
        .upload(
            &caller,
            q.filename.as_deref(),
            declared,
            body.into_data_stream(),
        )
        .await?;
    Ok((StatusCode::CREATED, JsonOut(media)))
}

/// `GET /api/v1/media/{id}`: the bytes.
#[utoipa::path(
    get,
    path = "/api/v1/media/{id}",
    operation_id = "downloadMedia",
    tag = "media",
    summary = "The bytes of a media",
    description = "Allowed for the uploader and for members of a conversation in which a message carries it. One `Range` is answered `206`; several get the whole body.",
    params(
        ("id" = String, Path, description = "A media id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-99`"),
        ("If-Range" = Option<String>, Header, description = "The `Range` applies only if this ETag matches"),
        ("If-None-Match" = Option<String>, Header, description = "ETags; a match is `304`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes", content_type = "*/*", body = inline(super::openapi::Binary),
            headers(
                ("Content-Length" = i64, description = "The length of the body"),
                ("ETag" = String, description = "The SHA-256, quoted"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("Cache-Control" = String, description = "`private`"),
                ("Content-Disposition" = String, description = "`inline` for PNG, JPEG, GIF and WebP, else `attachment`, with the filename"),
            )),
        (status = 206, description = "One range of the bytes", content_type = "*/*", body = inline(super::openapi::Binary),
            headers(("Content-Range" = String, description = "`bytes <first>-<last>/<size>`"))),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 404, description = "`not_found`: no such media that the caller can see", body = wire::ErrorBody),
        (status = 416, description = "`range_not_satisfiable`: the range lies outside the file", body = wire::ErrorBody,
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
    ),
)]
pub async fn download(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = app.media_for(&caller, &id).await?;
    let disposition = disposition(&m);
    serve(
        &app,
        &m,
        false,
        m.size as u64,
        &m.content_type,
        &disposition,
        &headers,
    )
    .await
}

/// `GET /api/v1/media/{id}/thumbnail`: the thumbnail; `404` if none.
#[utoipa::path(
    get,
    path = "/api/v1/media/{id}/thumbnail",
    operation_id = "mediaThumbnail",
    tag = "media",
    summary = "An image's thumbnail (at most 320 px on its longest side)",
    description = "Allowed for the uploader and for members of a conversation in which a message carries it. One `Range` is answered `206`; several get the whole body.",
    params(
        ("id" = String, Path, description = "A media id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-99`"),
        ("If-Range" = Option<String>, Header, description = "The `Range` applies only if this ETag matches"),
        ("If-None-Match" = Option<String>, Header, description = "ETags; a match is `304`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes", content_type = "*/*", body = inline(super::openapi::Binary),
            headers(
                ("Content-Length" = i64, description = "The length of the body"),
                ("ETag" = String, description = "The SHA-256, quoted"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("Cache-Control" = String, description = "`private`"),
            )),
        (status = 206, description = "One range of the bytes", content_type = "*/*", body = inline(super::openapi::Binary),
            headers(("Content-Range" = String, description = "`bytes <first>-<last>/<size>`"))),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 404, description = "`not_found`: no such media that the caller can see, or it has no thumbnail", body = wire::ErrorBody),
        (status = 416, description = "`range_not_satisfiable`: the range lies outside the file", body = wire::ErrorBody,
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
    ),
)]
pub async fn thumbnail(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = app.media_for(&caller, &id).await?;
    let Some(kind) = m.thumbnail_type.clone().filter(|_| m.has_thumbnail) else {
        return Err(ApiError::not_found("this media has no thumbnail"));
    };
    let len = app.thumbnail_len(&m).await?;
    serve(&app, &m, true, len, &kind, "inline", &headers).await
}

/// Types shown in the browser; everything else, and above all anything a browser would run
/// (HTML, SVG, JavaScript), is sent as an attachment.
fn inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// RFC 5987's `attr-char`: what may stand unescaped in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline` or `attachment`, with the filename as RFC 6266 wants it: an ASCII fallback in
/// `filename` (quotes, backslashes, slashes and non-ASCII replaced) and the exact name in
/// `filename*`.
fn disposition(m: &MediaRow) -> String {
    let kind = if m.is_image && inline(&m.content_type) {
        "inline"
    } else {
        "attachment"
    };
    match &m.filename {
        None => kind.to_owned(),
        Some(name) => {
            let fallback: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/') || c == ' ' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let exact = utf8_percent_encode(name, ATTR_CHAR);
            format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
        }
    }
}

fn etag(m: &MediaRow, thumbnail: bool) -> String {
    if thumbnail {
        format!("\"t-{}\"", m.sha256)
    } else {
        format!("\"{}\"", m.sha256)
    }
}

/// Whether `If-None-Match` names this entity (weak comparison, as RFC 9110 asks for it).
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    let Some(v) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

async fn serve(
    app: &App,
    m: &MediaRow,
    thumbnail: bool,
    size: u64,
    content_type: &str,
    disposition: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let tag = etag(m, thumbnail);
    let mut resp_headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(&mut resp_headers, header::ETAG, &tag);
    set(&mut resp_headers, header::CONTENT_TYPE, content_type);
    set(&mut resp_headers, header::CONTENT_DISPOSITION, disposition);
    set(&mut resp_headers, header::ACCEPT_RANGES, "bytes");
    set(
        &mut resp_headers,
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable",
    );
    // Uploaded bytes are the uploader's, not ours: opened directly in a browser, whatever they
    // hold (HTML, SVG with scripts) runs with no origin, no scripts and no forms.
    set(
        &mut resp_headers,
        header::CONTENT_SECURITY_POLICY,
        "sandbox",
    );
    if none_match(headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, resp_headers).into_response());
    }
    // A Range that does not parse is ignored (RFC 9110): the whole body is sent. So is one
    // under an `If-Range` that names another entity.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == tag);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_ok)
        .and_then(|v| http_range_header::parse_range_header(v).ok());
    let (status, offset, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(parsed) => match parsed.validate(size) {
            Ok(ranges) if ranges.len() == 1 => {
                let r = &ranges[0];
                set(
                    &mut resp_headers,
                    header::CONTENT_RANGE,
                    &format!("bytes {}-{}/{size}", r.start(), r.end()),
                );
                (
                    StatusCode::PARTIAL_CONTENT,
                    *r.start(),
                    r.end() - r.start() + 1,
                )
            }
            // Several ranges: the whole body, which RFC 9110 allows.
            Ok(_) => (StatusCode::OK, 0, size),
            Err(_) => {
                let mut resp = ApiError::from_status(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("the range lies outside the {size} bytes of this media"),
                )
                .into_response();
                set(
                    resp.headers_mut(),
                    header::CONTENT_RANGE,
                    &format!("bytes */{size}"),
                );
                return Ok(resp);
            }
        },
    };
    set(&mut resp_headers, header::CONTENT_LENGTH, &len.to_string());
    let reader = app.media_bytes(m, thumbnail, offset, len).await?;
    let body = Body::from_stream(ReaderStream::new(reader));
    Ok((status, resp_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(name: Option<&str>, ct: &str, is_image: bool) -> MediaRow {
        MediaRow {
            id: "m".into(),
            uploader_id: "u".into(),
            content_type: ct.into(),
            size: 1,
            filename: name.map(Into::into),
            width: None,
            height: None,
            has_thumbnail: false,
            thumbnail_type: None,
            sha256: "ab".into(),
            is_image,
            created_at: 0,
        }
    }

    #[test]
    fn images_are_inline_everything_else_an_attachment() {
        assert_eq!(disposition(&media(None, "image/png", true)), "inline");
        assert_eq!(
            disposition(&media(None, "application/pdf", false)),
            "attachment"
        );
        assert_eq!(
            disposition(&media(None, "application/octet-stream", false)),
            "attachment"
        );
    }

    #[test]
    fn filenames_are_escaped_for_both_parameters() {
        let d = disposition(&media(Some("a \"b\"/c\\😀.pdf"), "application/pdf", false));
        assert_eq!(
            d,
            "attachment; filename=\"a _b__c__.pdf\"; filename*=UTF-8''a%20%22b%22%2Fc%5C%F0%9F%98%80.pdf"
        );
        assert!(HeaderValue::from_str(&d).is_ok());
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"ab\""),
        );
        assert!(none_match(&h, "\"ab\""));
        assert!(!none_match(&h, "\"cd\""));
    }
}
