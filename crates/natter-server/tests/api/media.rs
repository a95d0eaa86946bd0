//! Media: uploads typed by their bytes, images measured and thumbnailed (EXIF orientation
//! included), size and pixel limits without leftovers, downloads with safe headers, `Range` and
//! `ETag`, who may fetch what, and erasure of the bytes once nothing refers to them.

use std::{
    io::Cursor,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_client::{Client, Media, RawResponseWithHeaders, SendMessageRequest};
use natter_server::Config;
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// How long erasure and collection may take before a test gives up (generous: busy machine).
const ERASED_WITHIN: Duration = Duration::from_secs(10);

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const YELLOW: [u8; 3] = [255, 255, 0];

const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

// ---- Making test bytes ----

/// A `w`×`h` image whose quadrants are red (top left), green (top right), blue (bottom left)
/// and yellow (bottom right), so that any rotation or mirroring shows.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    })
}

/// `img` encoded as `format`, in memory.
fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .unwrap_or_else(|e| panic!("cannot encode a test image as {format:?}: {e}"));
    out.into_inner()
}

fn png_rgba(w: u32, h: u32) -> Vec<u8> {
    encode(
        &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(quadrants(w, h)).to_rgba8()),
        ImageFormat::Png,
    )
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(quadrants(w, h)), ImageFormat::Jpeg)
}

/// A JPEG of `w`×`h` stored pixels with an APP1 Exif segment saying `orientation` (1–8) spliced
/// in right after the SOI marker.
fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let plain = jpeg(w, h);
    assert_eq!(&plain[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
    // A big-endian TIFF header and one IFD with one entry: Orientation (0x0112), SHORT, 1.
    let mut tiff = b"MM\x00\x2a".to_vec();
    tiff.extend(8u32.to_be_bytes());
    tiff.extend(1u16.to_be_bytes());
    tiff.extend(0x0112u16.to_be_bytes());
    tiff.extend(3u16.to_be_bytes());
    tiff.extend(1u32.to_be_bytes());
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_be_bytes());
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend(payload);
    out.extend(&plain[2..]);
    out
}

/// CRC-32 (IEEE), as PNG chunks need it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut typed = kind.to_vec();
    typed.extend(data);
    out.extend(&typed);
    out.extend(crc32(&typed).to_be_bytes());
}

/// A decompression bomb: a valid PNG header announcing `w`×`h` grey pixels, with a few bytes of
/// compressed data.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib of a single zero byte.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A small JPEG whose frame header (SOF0) announces `w`×`h` pixels.
fn jpeg_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut b = jpeg(16, 16);
    let sof = b
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    // FF C0, length (2), precision (1), height (2), width (2).
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// A small GIF whose logical screen is `w`×`h` pixels.
fn gif_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut b = encode(
        &DynamicImage::ImageRgb8(quadrants(16, 16)),
        ImageFormat::Gif,
    );
    b[6..8].copy_from_slice(&w.to_le_bytes());
    b[8..10].copy_from_slice(&h.to_le_bytes());
    b
}

/// A small lossless WebP whose VP8L header announces `w`×`h` pixels (each at most 16,383).
fn webp_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut b = encode(
        &DynamicImage::ImageRgb8(quadrants(16, 16)),
        ImageFormat::WebP,
    );
    let vp8l = b
        .windows(4)
        .position(|m| m == b"VP8L")
        .expect("a lossless WebP");
    // "VP8L", chunk size (4), signature 0x2F, then 14 bits of width - 1 and of height - 1.
    let at = vp8l + 9;
    assert_eq!(b[at - 1], 0x2F);
    let old = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let bits = (w - 1) | ((h - 1) << 14) | (old & 0xF000_0000);
    b[at..at + 4].copy_from_slice(&bits.to_le_bytes());
    b
}

/// `n` bytes of no recognised type, different for each `seed`.
fn file_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out: Vec<u8> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect();
    let prefix = b"natter test file\n";
    let k = prefix.len().min(n);
    out[..k].copy_from_slice(&prefix[..k]);
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---- Files on disk ----

fn media_dir(app: &TestApp) -> PathBuf {
    app.data_dir().join("media")
}

fn blob_path(app: &TestApp, sha: &str) -> PathBuf {
    media_dir(app).join("blobs").join(&sha[..2]).join(sha)
}

fn thumb_path(app: &TestApp, sha: &str) -> PathBuf {
    media_dir(app).join("thumbs").join(&sha[..2]).join(sha)
}

/// Every file below `dir` (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Asserts that nothing is left in the staging directory (within a short wait: a refused upload
/// removes its staged file as it fails).
async fn assert_staging_empty(app: &TestApp) {
    let staging = media_dir(app).join("staging");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = files_under(&staging);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("staged files were left behind: {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `path` no longer exists; panics after [`ERASED_WITHIN`].
async fn assert_gone(path: &Path) {
    let deadline = Instant::now() + ERASED_WITHIN;
    while path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} still exists after {ERASED_WITHIN:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- Requests ----

fn attach(kind: &str, media_id: &str, caption: Option<&str>) -> SendMessageRequest {
    SendMessageRequest {
        kind: Some(kind.into()),
        media_id: Some(media_id.into()),
        text: caption.map(Into::into),
        ..Default::default()
    }
}

async fn download(client: &Client, id: &str, headers: &[(&str, &str)]) -> RawResponseWithHeaders {
    client.download(id, headers).await.expect("an answer")
}

async fn thumbnail(client: &Client, id: &str, headers: &[(&str, &str)]) -> RawResponseWithHeaders {
    client
        .download_thumbnail(id, headers)
        .await
        .expect("an answer")
}

#[track_caller]
fn assert_status(resp: &RawResponseWithHeaders, status: u16) {
    assert_eq!(
        resp.status,
        status,
        "status (headers {:?}, body {})",
        resp.headers,
        resp.text()
    );
}

#[track_caller]
fn assert_header(resp: &RawResponseWithHeaders, name: &str, value: &str) {
    assert_eq!(
        resp.header(name),
        Some(value),
        "header {name} in {:?}",
        resp.headers
    );
}

/// Asserts that `client` gets `404 not_found` for the media `id` and for its thumbnail.
async fn assert_hidden(client: &Client, id: &str) {
    assert_error_response(&download(client, id, &[]).await.to_raw(), 404, "not_found");
    assert_error_response(&thumbnail(client, id, &[]).await.to_raw(), 404, "not_found");
}

/// Asserts that `client` gets the media `m` (whose bytes are `bytes`) and, if it has one, its
/// thumbnail.
async fn assert_fetchable(client: &Client, m: &Media, bytes: &[u8]) {
    let resp = download(client, &m.id, &[]).await;
    assert_status(&resp, 200);
    assert!(
        resp.body == bytes,
        "the downloaded bytes are the uploaded ones"
    );
    if m.has_thumbnail {
        assert_status(&thumbnail(client, &m.id, &[]).await, 200);
    }
}

// ---- Content-Disposition (RFC 6266) ----

/// The disposition type (lowercase) and parameters (names lowercase, quoted strings unescaped).
fn parse_disposition(v: &str) -> (String, Vec<(String, String)>) {
    let (kind, rest) = v.split_once(';').unwrap_or((v, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=') {
            name.push(c);
        }
        assert_eq!(
            chars.next(),
            Some('='),
            "a parameter without a value in {v:?}"
        );
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().expect("an escaped character")),
                    Some(c) => value.push(c),
                    None => panic!("an unterminated quoted string in {v:?}"),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ';') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        params.push((name.trim().to_ascii_lowercase(), value));
    }
    (kind.trim().to_ascii_lowercase(), params)
}

/// Decodes an RFC 8187 `ext-value` (`UTF-8''<percent-encoded>`).
fn decode_ext_value(v: &str) -> String {
    let (charset, rest) = v.split_once('\'').expect("a charset in the ext-value");
    assert!(charset.eq_ignore_ascii_case("utf-8"), "charset of {v:?}");
    let (_language, encoded) = rest.split_once('\'').expect("a language in the ext-value");
    let b = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3).expect("two hex digits after %");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits after %"));
            i += 3;
        } else {
            assert!(
                b[i].is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b[i]),
                "{:?} must be percent-encoded in {v:?}",
                b[i] as char
            );
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 in the ext-value")
}

/// A response's `Content-Disposition`: its type, its `filename` fallback and its decoded
/// `filename*`.
struct Disposition {
    kind: String,
    filename: Option<String>,
    filename_star: Option<String>,
}

#[track_caller]
fn disposition(resp: &RawResponseWithHeaders) -> Disposition {
    let v = resp
        .header("content-disposition")
        .unwrap_or_else(|| panic!("no Content-Disposition in {:?}", resp.headers));
    let (kind, params) = parse_disposition(v);
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    Disposition {
        kind,
        filename: get("filename"),
        filename_star: get("filename*").map(|v| decode_ext_value(&v)),
    }
}

// ---- Round trips ----

/// Uploads an image and checks the record, the file on disk, the download and the thumbnail:
/// `w`×`h` as shown, the thumbnail `tw`×`th` and of `thumb_type`, its quadrants `corners` (top
/// left, top right, bottom left, bottom right).
#[allow(clippy::too_many_arguments)]
async fn image_round_trip(
    app: &TestApp,
    client: &Client,
    bytes: Vec<u8>,
    mime: &str,
    (w, h): (i64, i64),
    (tw, th): (u32, u32),
    thumb_type: &str,
    corners: [[u8; 3]; 4],
) -> Media {
    let name = format!("picture.{}", mime.trim_start_matches("image/"));
    // The declared type says nothing: the server goes by the bytes.
    let m = client
        .upload(bytes.clone(), "application/octet-stream", Some(&name))
        .await
        .unwrap_or_else(|e| panic!("uploading a {mime}: {e}"));
    assert!(!m.id.is_empty());
    assert_eq!(m.content_type, mime);
    assert_eq!(m.size, bytes.len() as i64);
    assert_eq!(m.filename.as_deref(), Some(name.as_str()));
    assert_eq!(
        (m.width, m.height),
        (Some(w), Some(h)),
        "size of the {mime}"
    );
    assert!(m.has_thumbnail, "a {mime} has a thumbnail");
    assert_eq!(m.sha256, sha256_hex(&bytes));
    assert_timestamp(&m.created_at);

    // Stored by content.
    let on_disk = std::fs::read(blob_path(app, &m.sha256)).expect("the blob file");
    assert!(on_disk == bytes, "the blob file holds the uploaded bytes");
    assert!(thumb_path(app, &m.sha256).exists(), "the thumbnail file");

    let resp = download(client, &m.id, &[]).await;
    assert_status(&resp, 200);
    assert!(resp.body == bytes, "the {mime} comes back byte for byte");
    assert_header(&resp, "content-type", mime);
    assert_header(&resp, "content-length", &bytes.len().to_string());
    assert_header(&resp, "x-content-type-options", "nosniff");
    let d = disposition(&resp);
    assert_eq!(d.kind, "inline", "a {mime} is shown inline");
    assert_eq!(d.filename_star.as_deref(), Some(name.as_str()));
    assert_eq!(d.filename.as_deref(), Some(name.as_str()));
    let etag = resp.header("etag").expect("an ETag").to_owned();
    assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'));

    let t = thumbnail(client, &m.id, &[]).await;
    assert_status(&t, 200);
    assert_header(&t, "content-type", thumb_type);
    assert_header(&t, "content-length", &t.body.len().to_string());
    assert_header(&t, "x-content-type-options", "nosniff");
    assert_eq!(disposition(&t).kind, "inline");
    let t_etag = t.header("etag").expect("a thumbnail ETag");
    assert_ne!(t_etag, etag, "the thumbnail is another entity");
    let t_format = ImageFormat::from_mime_type(thumb_type).unwrap();
    assert_eq!(image::guess_format(&t.body).ok(), Some(t_format));
    let img = image::load_from_memory_with_format(&t.body, t_format)
        .expect("the thumbnail decodes")
        .to_rgb8();
    assert_eq!(img.dimensions(), (tw, th), "thumbnail size of the {mime}");
    assert_quadrants(&img, corners, &format!("thumbnail of the {mime}"));
    m
}

/// Asserts the colours at the centres of `img`'s quadrants (lossy formats: with tolerance).
#[track_caller]
fn assert_quadrants(img: &RgbImage, corners: [[u8; 3]; 4], what: &str) {
    let (w, h) = img.dimensions();
    let spots = [
        (w / 4, h / 4),
        (3 * w / 4, h / 4),
        (w / 4, 3 * h / 4),
        (3 * w / 4, 3 * h / 4),
    ];
    for (i, ((x, y), want)) in spots.into_iter().zip(corners).enumerate() {
        let got = img.get_pixel(x, y).0;
        assert!(
            got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 64),
            "{what}: quadrant {i} at ({x}, {y}) is {got:?}, expected about {want:?}"
        );
    }
}

/// Whether the image crate decodes `bytes` with an alpha channel (thumbnails keep it as PNG).
fn decodes_with_alpha(bytes: &[u8]) -> bool {
    image::load_from_memory(bytes).unwrap().color().has_alpha()
}

const UPRIGHT: [[u8; 3]; 4] = [RED, GREEN, BLUE, YELLOW];

#[tokio::test]
async fn png_jpeg_gif_and_webp_round_trip_with_size_and_thumbnail() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let png = png_rgba(640, 480);
    image_round_trip(
        &app,
        &alice,
        png,
        "image/png",
        (640, 480),
        (320, 240),
        "image/png",
        UPRIGHT,
    )
    .await;

    let jpg = jpeg(640, 480);
    image_round_trip(
        &app,
        &alice,
        jpg,
        "image/jpeg",
        (640, 480),
        (320, 240),
        "image/jpeg",
        UPRIGHT,
    )
    .await;

    let gif = encode(
        &DynamicImage::ImageRgb8(quadrants(640, 480)),
        ImageFormat::Gif,
    );
    let gif_thumb = if decodes_with_alpha(&gif) {
        "image/png"
    } else {
        "image/jpeg"
    };
    image_round_trip(
        &app,
        &alice,
        gif,
        "image/gif",
        (640, 480),
        (320, 240),
        gif_thumb,
        UPRIGHT,
    )
    .await;

    let webp = encode(
        &DynamicImage::ImageRgb8(quadrants(640, 480)),
        ImageFormat::WebP,
    );
    let webp_thumb = if decodes_with_alpha(&webp) {
        "image/png"
    } else {
        "image/jpeg"
    };
    image_round_trip(
        &app,
        &alice,
        webp,
        "image/webp",
        (640, 480),
        (320, 240),
        webp_thumb,
        UPRIGHT,
    )
    .await;

    assert_staging_empty(&app).await;
}

#[tokio::test]
async fn thumbnails_fit_in_320_px_and_keep_the_aspect_ratio() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    for (w, h) in [
        (300u32, 900u32),
        (1000, 10),
        (100, 50),
        (320, 320),
        (321, 200),
    ] {
        let bytes = jpeg(w, h);
        let m = alice.upload(bytes, "image/jpeg", None).await.unwrap();
        assert_eq!((m.width, m.height), (Some(w.into()), Some(h.into())));
        let t = thumbnail(&alice, &m.id, &[]).await;
        assert_status(&t, 200);
        let (tw, th) = image::load_from_memory(&t.body)
            .expect("the thumbnail decodes")
            .into_rgb8()
            .dimensions();
        assert!(
            tw.max(th) <= 320,
            "a {w}×{h} image has a {tw}×{th} thumbnail"
        );
        assert!(tw >= 1 && th >= 1);
        // The aspect ratio is kept, to within the rounding of one side.
        let expected_th = f64::from(tw) * f64::from(h) / f64::from(w);
        let expected_tw = f64::from(th) * f64::from(w) / f64::from(h);
        assert!(
            (f64::from(th) - expected_th).abs() <= 1.0
                || (f64::from(tw) - expected_tw).abs() <= 1.0,
            "a {w}×{h} image has a {tw}×{th} thumbnail: the aspect ratio is lost"
        );
        if w.max(h) > 320 {
            assert_eq!(tw.max(th), 320, "a {w}×{h} thumbnail uses the 320 px");
        }
    }
}

#[tokio::test]
async fn exif_orientation_is_respected_in_size_and_thumbnail() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    // Stored 400×200; orientation 1 shows it as stored, 6 turned 90° clockwise, 8 turned 90°
    // counter-clockwise.
    let cases = [
        (1u16, (400, 200), (320, 160), UPRIGHT),
        (6, (200, 400), (160, 320), [BLUE, RED, YELLOW, GREEN]),
        (8, (200, 400), (160, 320), [GREEN, YELLOW, RED, BLUE]),
    ];
    for (orientation, shown, thumb, corners) in cases {
        let bytes = jpeg_with_orientation(400, 200, orientation);
        let m = image_round_trip(
            &app,
            &alice,
            bytes.clone(),
            "image/jpeg",
            shown,
            thumb,
            "image/jpeg",
            corners,
        )
        .await;
        assert_eq!(m.sha256, sha256_hex(&bytes), "orientation {orientation}");
    }
}

#[tokio::test]
async fn an_arbitrary_file_round_trips_as_an_attachment_without_thumbnail() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let bytes = file_bytes(200_000, 1);
    let m = alice
        .upload(bytes.clone(), "application/x-whatever", Some("data.bin"))
        .await
        .unwrap();
    assert_eq!(m.content_type, "application/octet-stream");
    assert_eq!(m.size, 200_000);
    assert_eq!(m.filename.as_deref(), Some("data.bin"));
    assert_eq!((m.width, m.height), (None, None));
    assert!(!m.has_thumbnail);
    assert_eq!(m.sha256, sha256_hex(&bytes));
    assert_timestamp(&m.created_at);
    assert!(std::fs::read(blob_path(&app, &m.sha256)).unwrap() == bytes);
    assert!(!thumb_path(&app, &m.sha256).exists());

    let resp = download(&alice, &m.id, &[]).await;
    assert_status(&resp, 200);
    assert!(resp.body == bytes, "the file comes back byte for byte");
    assert_header(&resp, "content-type", "application/octet-stream");
    assert_header(&resp, "content-length", "200000");
    assert_header(&resp, "x-content-type-options", "nosniff");
    let d = disposition(&resp);
    assert_eq!(d.kind, "attachment");
    assert_eq!(d.filename_star.as_deref(), Some("data.bin"));
    assert!(resp.header("etag").is_some());

    assert_error_response(
        &thumbnail(&alice, &m.id, &[]).await.to_raw(),
        404,
        "not_found",
    );

    // A recognised non-image type keeps its type and is an attachment too.
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let m = alice
        .upload(pdf.clone(), "text/plain", Some("doc.pdf"))
        .await
        .unwrap();
    assert_eq!(m.content_type, "application/pdf");
    assert!(!m.has_thumbnail);
    let resp = download(&alice, &m.id, &[]).await;
    assert_status(&resp, 200);
    assert!(resp.body == pdf);
    assert_header(&resp, "content-type", "application/pdf");
    assert_eq!(disposition(&resp).kind, "attachment");

    // Without a filename.
    let m = alice
        .upload(file_bytes(10, 2), "application/octet-stream", None)
        .await
        .unwrap();
    assert_eq!(m.filename, None);
    let resp = download(&alice, &m.id, &[]).await;
    assert_status(&resp, 200);
    let d = disposition(&resp);
    assert_eq!(d.kind, "attachment");
    assert_eq!((d.filename, d.filename_star), (None, None));
}

#[tokio::test]
async fn the_type_comes_from_the_bytes_and_active_content_is_never_inline() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    // An image declared as text is an image.
    let png = png_rgba(50, 40);
    let m = alice.upload(png.clone(), "text/plain", None).await.unwrap();
    assert_eq!(m.content_type, "image/png");
    assert_eq!((m.width, m.height), (Some(50), Some(40)));
    assert!(m.has_thumbnail);
    let resp = download(&alice, &m.id, &[]).await;
    assert_header(&resp, "content-type", "image/png");
    assert_eq!(disposition(&resp).kind, "inline");
    // Shown in the browser, but in a sandbox: no scripts, no forms, no origin.
    assert_header(&resp, "content-security-policy", "sandbox");
    let thumb = thumbnail(&alice, &m.id, &[]).await;
    assert_status(&thumb, 200);
    assert_header(&thumb, "content-security-policy", "sandbox");

    // Things a browser would run, declared as images, are not images and never inline.
    let active: [(&str, &[u8], &str); 4] = [
        (
            "page.html",
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
            "image/png",
        ),
        (
            "pic.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><rect width=\"9\" height=\"9\"/></svg>",
            "image/svg+xml",
        ),
        (
            "pic.svg",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            "image/jpeg",
        ),
        ("run.js", b"alert(document.cookie);\n", "image/gif"),
    ];
    for (name, bytes, declared) in active {
        let m = alice
            .upload(bytes.to_vec(), declared, Some(name))
            .await
            .unwrap();
        assert!(
            !IMAGE_TYPES.contains(&m.content_type.as_str()),
            "{name} declared {declared} became {}",
            m.content_type
        );
        assert_eq!((m.width, m.height), (None, None), "{name}");
        assert!(!m.has_thumbnail, "{name}");
        let resp = download(&alice, &m.id, &[]).await;
        assert_status(&resp, 200);
        assert!(resp.body == bytes);
        assert_header(&resp, "content-type", &m.content_type);
        assert_header(&resp, "x-content-type-options", "nosniff");
        assert_header(&resp, "content-security-policy", "sandbox");
        let d = disposition(&resp);
        assert_eq!(d.kind, "attachment", "{name} must be an attachment");
        assert_eq!(d.filename_star.as_deref(), Some(name));
        assert_error_response(
            &thumbnail(&alice, &m.id, &[]).await.to_raw(),
            404,
            "not_found",
        );

        // Not an image, so not `kind: image`; any upload is a file.
        assert_api_error(
            alice
                .send_message(&conv.id, &attach("image", &m.id, None))
                .await,
            415,
            "unsupported_media_type",
        );
        let sent = alice
            .send_message(&conv.id, &attach("file", &m.id, Some(name)))
            .await
            .unwrap();
        assert!(sent.created);
        assert_eq!(sent.value.kind, "file");
        assert_eq!(sent.value.media.as_ref(), Some(&m));
    }
}

#[tokio::test]
async fn a_corrupt_image_is_stored_as_a_file_and_cannot_be_sent_as_an_image() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    // A real PNG cut off in the middle of its pixel data: the header parses, decoding fails.
    let whole = png_rgba(300, 300);
    let cut = whole[..whole.len() / 2].to_vec();
    // A JPEG signature followed by junk.
    let mut junk_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    junk_jpeg.extend(file_bytes(5000, 3));
    for (bytes, declared) in [(cut, "image/png"), (junk_jpeg, "image/jpeg")] {
        let m = alice
            .upload(bytes.clone(), declared, Some("broken"))
            .await
            .expect("a corrupt image is accepted as a file");
        assert_eq!(m.content_type, "application/octet-stream", "{declared}");
        assert_eq!((m.width, m.height), (None, None));
        assert!(!m.has_thumbnail);
        assert_eq!(m.size, bytes.len() as i64);
        assert!(!thumb_path(&app, &m.sha256).exists());

        let resp = download(&alice, &m.id, &[]).await;
        assert_status(&resp, 200);
        assert!(resp.body == bytes);
        assert_header(&resp, "content-type", "application/octet-stream");
        assert_eq!(disposition(&resp).kind, "attachment");
        assert_error_response(
            &thumbnail(&alice, &m.id, &[]).await.to_raw(),
            404,
            "not_found",
        );

        assert_api_error(
            alice
                .send_message(&conv.id, &attach("image", &m.id, None))
                .await,
            415,
            "unsupported_media_type",
        );
        let sent = alice
            .send_message(&conv.id, &attach("file", &m.id, None))
            .await
            .unwrap()
            .value;
        assert_eq!(sent.kind, "file");
    }
}

// ---- Limits ----

#[tokio::test]
async fn an_empty_upload_is_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    assert_api_error(
        alice.upload(Vec::new(), "image/png", Some("x.png")).await,
        400,
        "invalid_request",
    );
    let resp = chunked_upload(&app, &alice, &[]).await;
    assert_eq!(resp.0, 400, "an empty streamed upload: {}", resp.1);
    assert_eq!(resp.1["error"]["code"], "invalid_request");
    assert_staging_empty(&app).await;
    assert!(files_under(&media_dir(&app).join("blobs")).is_empty());
}

#[tokio::test]
async fn uploads_need_a_session() {
    let app = spawn_app().await;
    assert_api_error(
        app.anon()
            .upload(file_bytes(10, 1), "application/octet-stream", None)
            .await,
        401,
        "unauthorized",
    );
    assert!(files_under(&media_dir(&app).join("blobs")).is_empty());
}

#[tokio::test]
async fn a_filename_longer_than_255_characters_is_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let ok = "é".repeat(255);
    let m = alice
        .upload(file_bytes(10, 1), "text/plain", Some(&ok))
        .await
        .unwrap();
    assert_eq!(m.filename.as_deref(), Some(ok.as_str()));
    assert_api_error(
        alice
            .upload(file_bytes(10, 2), "text/plain", Some(&"é".repeat(256)))
            .await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn uploads_at_the_limit_pass_and_past_it_are_413_without_leftovers() {
    let app = spawn_app_with(|c| c.limits.upload_max_bytes = 1000).await;
    let (alice, _) = app.user("alice").await;

    let at = file_bytes(1000, 1);
    let m = alice
        .upload(at.clone(), "application/octet-stream", None)
        .await
        .expect("exactly the limit is accepted");
    assert_eq!(m.size, 1000);
    assert_eq!(m.sha256, sha256_hex(&at));
    let resp = download(&alice, &m.id, &[]).await;
    assert!(resp.body == at);

    let past = file_bytes(1001, 2);
    assert_api_error(
        alice
            .upload(past.clone(), "application/octet-stream", None)
            .await,
        413,
        "payload_too_large",
    );
    let resp = alice
        .raw_with_headers(
            "POST",
            "/api/v1/media",
            &[],
            Some(("application/octet-stream", past.clone())),
        )
        .await
        .unwrap();
    assert_error_response(&resp.to_raw(), 413, "payload_too_large");

    assert_staging_empty(&app).await;
    assert!(!blob_path(&app, &sha256_hex(&past)).exists());
    assert_eq!(
        files_under(&media_dir(&app).join("blobs")),
        vec![blob_path(&app, &m.sha256)],
        "only the accepted upload is stored"
    );
}

#[tokio::test]
async fn streamed_uploads_without_content_length_are_limited_too() {
    let app = spawn_app_with(|c| c.limits.upload_max_bytes = 1000).await;
    let (alice, _) = app.user("alice").await;

    let at = file_bytes(1000, 1);
    let (status, body) =
        chunked_upload(&app, &alice, &[&at[..300], &at[300..600], &at[600..]]).await;
    assert_eq!(status, 201, "exactly the limit, streamed: {body}");
    assert_eq!(body["size"], 1000);
    assert_eq!(body["sha256"], sha256_hex(&at).as_str());
    assert_eq!(body["filename"], "streamed.bin");
    let id = body["id"].as_str().unwrap();
    assert!(download(&alice, id, &[]).await.body == at);

    let past = file_bytes(1001, 2);
    let (status, body) = chunked_upload(&app, &alice, &[&past[..500], &past[500..]]).await;
    assert_eq!(status, 413, "one byte past the limit, streamed: {body}");
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Far past it: refused without the rest being stored.
    let far = file_bytes(200_000, 3);
    let chunks: Vec<&[u8]> = far.chunks(4096).collect();
    let (status, _) = chunked_upload(&app, &alice, &chunks).await;
    assert_eq!(status, 413);

    assert_staging_empty(&app).await;
    assert_eq!(
        files_under(&media_dir(&app).join("blobs")),
        vec![blob_path(&app, &sha256_hex(&at))],
        "only the accepted upload is stored"
    );
}

/// Uploads `chunks` with `Transfer-Encoding: chunked` and no `Content-Length`, over a plain TCP
/// connection (the SDK's HTTP client cannot stream a body without an extra feature). Returns the
/// status and the JSON body.
async fn chunked_upload(
    app: &TestApp,
    client: &Client,
    chunks: &[&[u8]],
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let addr = app.url.trim_start_matches("http://");
    let token = client.token().expect("a session");
    let mut req = format!(
        "POST /api/v1/media?filename=streamed.bin HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        req.extend(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend(*c);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer, and close, before it has read everything: that is allowed.
    let _ = stream.write_all(&req).await;
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut resp))
        .await
        .expect("the server answers and closes the connection");
    let text = String::from_utf8_lossy(&resp);
    let status: u16 = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "the answer is not chunked: {head}"
    );
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn the_default_upload_limit_is_25_mib() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let limit = 25 * 1024 * 1024;
    assert_eq!(Config::default().limits.upload_max_bytes, limit);

    let mut at = vec![0x5A; limit];
    at[..6].copy_from_slice(b"natter");
    let m = alice
        .upload(at.clone(), "application/octet-stream", None)
        .await
        .expect("25 MiB is accepted");
    assert_eq!(m.size, limit as i64);
    let resp = download(&alice, &m.id, &[("range", "bytes=-6")]).await;
    assert_status(&resp, 206);
    assert_eq!(resp.body, vec![0x5A; 6]);
    drop(at);

    let past = vec![0x5B; limit + 1];
    assert_api_error(
        alice.upload(past, "application/octet-stream", None).await,
        413,
        "payload_too_large",
    );
    assert_staging_empty(&app).await;
    assert_eq!(files_under(&media_dir(&app).join("blobs")).len(), 1);
}

#[tokio::test]
async fn decompression_bombs_are_refused_with_413_before_decoding() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the test's CRC-32");

    let bomb = bomb_png(100_000, 100_000);
    assert!(bomb.len() < 100, "a small file: {} bytes", bomb.len());
    assert_eq!(
        image::ImageReader::new(Cursor::new(&bomb))
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .unwrap(),
        (100_000, 100_000),
        "the test's bomb is a well-formed PNG header"
    );
    let started = Instant::now();
    let resp = alice
        .raw_with_headers(
            "POST",
            "/api/v1/media?filename=bomb.png",
            &[],
            Some(("image/png", bomb.clone())),
        )
        .await
        .unwrap();
    assert_error_response(&resp.to_raw(), 413, "payload_too_large");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not decoded"
    );
    assert_staging_empty(&app).await;
    assert!(files_under(&media_dir(&app).join("blobs")).is_empty());
    assert!(files_under(&media_dir(&app).join("thumbs")).is_empty());

    // The same in the other formats: small files whose headers announce huge sizes.
    for (name, bomb, (w, h)) in [
        ("jpeg", jpeg_bomb(60_000, 60_000), (60_000, 60_000)),
        ("gif", gif_bomb(65_535, 65_535), (65_535, 65_535)),
        ("webp", webp_bomb(9_999, 9_999), (9_999, 9_999)),
    ] {
        assert!(bomb.len() < 1000, "a small {name}: {} bytes", bomb.len());
        assert_eq!(
            image::ImageReader::new(Cursor::new(&bomb))
                .with_guessed_format()
                .unwrap()
                .into_dimensions()
                .unwrap(),
            (w, h),
            "the test's {name} bomb has a well-formed header"
        );
        let resp = alice
            .raw_with_headers(
                "POST",
                "/api/v1/media",
                &[],
                Some(("application/octet-stream", bomb)),
            )
            .await
            .unwrap();
        assert_error_response(&resp.to_raw(), 413, "payload_too_large");
    }
    assert_staging_empty(&app).await;
    assert!(files_under(&media_dir(&app).join("blobs")).is_empty());

    // The server is still well.
    let m = alice
        .upload(png_rgba(10, 10), "image/png", None)
        .await
        .unwrap();
    assert_eq!((m.width, m.height), (Some(10), Some(10)));
}

#[tokio::test]
async fn the_pixel_limit_is_configurable_and_exact() {
    let app = spawn_app_with(|c| c.max_image_pixels = 10_000).await;
    let (alice, _) = app.user("alice").await;
    assert_eq!(Config::default().max_image_pixels, 50_000_000);

    let m = alice
        .upload(png_rgba(100, 100), "image/png", None)
        .await
        .expect("exactly the pixel limit is accepted");
    assert_eq!((m.width, m.height), (Some(100), Some(100)));
    assert!(m.has_thumbnail);

    let over = jpeg(101, 100);
    assert_api_error(
        alice.upload(over.clone(), "image/jpeg", None).await,
        413,
        "payload_too_large",
    );
    assert_staging_empty(&app).await;
    assert!(!blob_path(&app, &sha256_hex(&over)).exists());
    assert_eq!(files_under(&media_dir(&app).join("blobs")).len(), 1);
}

// ---- Range and conditional requests ----

#[tokio::test]
async fn range_requests_get_206_or_416() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let bytes = file_bytes(1000, 7);
    let m = alice
        .upload(bytes.clone(), "application/octet-stream", Some("r.bin"))
        .await
        .unwrap();

    let cases: [(&str, usize, usize); 5] = [
        ("bytes=0-99", 0, 99),
        ("bytes=900-", 900, 999),
        ("bytes=-100", 900, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=999-999", 999, 999),
    ];
    for (range, first, last) in cases {
        let resp = download(&alice, &m.id, &[("range", range)]).await;
        assert_status(&resp, 206);
        assert_header(
            &resp,
            "content-range",
            &format!("bytes {first}-{last}/1000"),
        );
        assert_header(&resp, "content-length", &(last - first + 1).to_string());
        assert!(resp.body == bytes[first..=last], "the bytes of {range}");
        assert_header(&resp, "content-type", "application/octet-stream");
        assert_header(&resp, "x-content-type-options", "nosniff");
    }

    for range in ["bytes=1000-", "bytes=1000-1100", "bytes=5000-6000"] {
        let resp = download(&alice, &m.id, &[("range", range)]).await;
        assert_error_response(&resp.to_raw(), 416, "range_not_satisfiable");
        assert_header(&resp, "content-range", "bytes */1000");
    }

    // A Range under an If-Range naming another entity: the whole body.
    let resp = download(
        &alice,
        &m.id,
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    )
    .await;
    assert_status(&resp, 200);
    assert!(resp.body == bytes);

    // The thumbnail supports ranges too.
    let img = alice
        .upload(jpeg(400, 400), "image/jpeg", None)
        .await
        .unwrap();
    let whole = thumbnail(&alice, &img.id, &[]).await;
    assert_status(&whole, 200);
    let part = thumbnail(&alice, &img.id, &[("range", "bytes=0-9")]).await;
    assert_status(&part, 206);
    assert_header(
        &part,
        "content-range",
        &format!("bytes 0-9/{}", whole.body.len()),
    );
    assert_eq!(part.body, whole.body[..10]);
    let past = format!("bytes={}-", whole.body.len());
    let resp = thumbnail(&alice, &img.id, &[("range", &past)]).await;
    assert_error_response(&resp.to_raw(), 416, "range_not_satisfiable");
    assert_header(
        &resp,
        "content-range",
        &format!("bytes */{}", whole.body.len()),
    );
}

#[tokio::test]
async fn if_none_match_with_the_etag_is_304() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let bytes = jpeg(400, 300);
    let m = alice
        .upload(bytes.clone(), "image/jpeg", None)
        .await
        .unwrap();

    let first = download(&alice, &m.id, &[]).await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert_eq!(
        download(&alice, &m.id, &[]).await.header("etag"),
        Some(etag.as_str()),
        "the ETag is stable"
    );

    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_owned(),
    ] {
        let resp = download(&alice, &m.id, &[("if-none-match", &condition)]).await;
        assert_status(&resp, 304);
        assert!(resp.body.is_empty(), "a 304 has no body");
        assert_header(&resp, "etag", &etag);
    }
    let resp = download(&alice, &m.id, &[("if-none-match", "\"nope\"")]).await;
    assert_status(&resp, 200);
    assert!(resp.body == bytes);

    let t = thumbnail(&alice, &m.id, &[]).await;
    let t_etag = t.header("etag").expect("a thumbnail ETag").to_owned();
    assert_ne!(t_etag, etag);
    let resp = thumbnail(&alice, &m.id, &[("if-none-match", &t_etag)]).await;
    assert_status(&resp, 304);
    assert!(resp.body.is_empty());
    // The original's ETag does not match the thumbnail.
    let resp = thumbnail(&alice, &m.id, &[("if-none-match", &etag)]).await;
    assert_status(&resp, 200);
    assert_eq!(resp.body, t.body);
}

// ---- Filenames ----

#[tokio::test]
async fn filenames_with_quotes_slashes_and_emoji_are_kept_and_safely_sent() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let names = [
        "it's a \"quoted\" /slashed\\ 100% 😀; name=x.pdf",
        "../../etc/passwd",
        "café ☕ 日本語.txt",
        "plain.txt",
    ];
    for name in names {
        let m = alice
            .upload(file_bytes(100, 9), "text/plain", Some(name))
            .await
            .unwrap();
        assert_eq!(m.filename.as_deref(), Some(name), "kept as typed");
        let resp = download(&alice, &m.id, &[]).await;
        assert_status(&resp, 200);
        let raw = resp.headers.get("content-disposition").unwrap();
        assert!(
            raw.as_bytes().iter().all(|b| (0x20..0x7F).contains(b)),
            "Content-Disposition is printable ASCII: {raw:?}"
        );
        let d = disposition(&resp);
        assert_eq!(d.kind, "attachment");
        assert_eq!(d.filename_star.as_deref(), Some(name), "the exact name");
        let fallback = d.filename.expect("an ASCII filename fallback");
        assert!(
            fallback.is_ascii() && !fallback.contains(['/', '\\', '"']) && !fallback.is_empty(),
            "a safe fallback for {name:?}: {fallback:?}"
        );
    }

    // An image keeps its name and stays inline.
    let m = alice
        .upload(png_rgba(8, 8), "image/png", Some("Ünïcode \"pic\".png"))
        .await
        .unwrap();
    let d = disposition(&download(&alice, &m.id, &[]).await);
    assert_eq!(d.kind, "inline");
    assert_eq!(d.filename_star.as_deref(), Some("Ünïcode \"pic\".png"));

    // Control characters cannot split the header.
    let m = alice
        .upload(
            file_bytes(10, 1),
            "text/plain",
            Some("a\r\nSet-Cookie: x=y\r\n.txt"),
        )
        .await
        .unwrap();
    assert_eq!(m.filename.as_deref(), Some("aSet-Cookie: x=y.txt"));
    let resp = download(&alice, &m.id, &[]).await;
    assert_status(&resp, 200);
    assert!(resp.headers.get("set-cookie").is_none());
    assert_eq!(
        disposition(&resp).filename_star.as_deref(),
        Some("aSet-Cookie: x=y.txt")
    );
}

// ---- Who may fetch media ----

#[tokio::test]
async fn only_the_uploader_and_members_of_a_conversation_carrying_it_may_fetch_it() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, d) = app.user("dave").await;

    let bytes = jpeg(400, 300);
    let m = alice
        .upload(bytes.clone(), "image/jpeg", Some("pic.jpg"))
        .await
        .unwrap();

    // Not attached yet: the uploader only.
    assert_fetchable(&alice, &m, &bytes).await;
    for other in [&bob, &carol, &dave] {
        assert_hidden(other, &m.id).await;
    }
    assert_error_response(
        &download(&app.anon(), &m.id, &[]).await.to_raw(),
        401,
        "unauthorized",
    );
    assert_error_response(
        &thumbnail(&app.anon(), &m.id, &[]).await.to_raw(),
        401,
        "unauthorized",
    );
    assert_hidden(&alice, "no-such-media").await;

    // Another user's media cannot be attached, even by the uploader's contacts.
    let group = alice.create_group("friends", &[&b.id]).await.unwrap();
    assert_api_error(
        bob.send_message(&group.id, &attach("image", &m.id, None))
            .await,
        404,
        "not_found",
    );

    let sent = alice
        .send_message(&group.id, &attach("image", &m.id, Some("look")))
        .await
        .unwrap();
    assert!(sent.created);
    let sent = sent.value;
    assert_eq!(sent.kind, "image");
    assert_eq!(
        sent.text.as_deref(),
        Some("look"),
        "the caption is the text"
    );
    assert_eq!(sent.media.as_ref(), Some(&m));
    assert_eq!(bob.message(&sent.id).await.unwrap().media, Some(m.clone()));

    // A member sees it; others still do not.
    assert_fetchable(&bob, &m, &bytes).await;
    assert_fetchable(&alice, &m, &bytes).await;
    assert_hidden(&carol, &m.id).await;
    assert_hidden(&dave, &m.id).await;

    // Seeing it does not make it Bob's to send.
    assert_api_error(
        bob.send_message(&group.id, &attach("file", &m.id, None))
            .await,
        404,
        "not_found",
    );

    // Dave joins later: he sees only the messages sent after, so not this one's media...
    alice.add_member(&group.id, &d.id, None).await.unwrap();
    assert_hidden(&dave, &m.id).await;
    // ...until a later message carries it.
    let again = alice
        .send_message(&group.id, &attach("file", &m.id, None))
        .await
        .unwrap()
        .value;
    assert_eq!(again.kind, "file");
    assert_fetchable(&dave, &m, &bytes).await;

    // A removed member loses access at once.
    alice.remove_member(&group.id, &b.id).await.unwrap();
    assert_hidden(&bob, &m.id).await;
    assert_fetchable(&alice, &m, &bytes).await;
    assert_fetchable(&dave, &m, &bytes).await;
    assert_hidden(&carol, &m.id).await;
}

// ---- Erasure ----

#[tokio::test]
async fn deleting_a_message_for_everyone_erases_its_media() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("g", &[&b.id]).await.unwrap();

    let bytes = jpeg(500, 400);
    let m = alice
        .upload(bytes.clone(), "image/jpeg", None)
        .await
        .unwrap();
    let (blob, thumb) = (blob_path(&app, &m.sha256), thumb_path(&app, &m.sha256));
    assert!(blob.exists() && thumb.exists());
    let msg = alice
        .send_message(&group.id, &attach("image", &m.id, Some("soon gone")))
        .await
        .unwrap()
        .value;
    assert_fetchable(&bob, &m, &bytes).await;

    alice.delete_message(&msg.id).await.unwrap();
    assert_gone(&blob).await;
    assert_gone(&thumb).await;
    assert_hidden(&alice, &m.id).await;
    assert_hidden(&bob, &m.id).await;
    let seen = bob.message(&msg.id).await.unwrap();
    assert!(seen.deleted);
    assert_eq!((seen.text, seen.media), (None, None));
    assert!(files_under(&media_dir(&app).join("blobs")).is_empty());
    assert!(files_under(&media_dir(&app).join("thumbs")).is_empty());
    assert_staging_empty(&app).await;

    // An admin deleting someone else's message erases its media too.
    let m = bob
        .upload(png_rgba(30, 30), "image/png", None)
        .await
        .unwrap();
    let msg = bob
        .send_message(&group.id, &attach("image", &m.id, None))
        .await
        .unwrap()
        .value;
    alice.delete_message(&msg.id).await.unwrap();
    assert_gone(&blob_path(&app, &m.sha256)).await;
    assert_gone(&thumb_path(&app, &m.sha256)).await;
    assert_hidden(&bob, &m.id).await;
}

#[tokio::test]
async fn deleting_for_me_keeps_the_media() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let bytes = file_bytes(3000, 5);
    let m = alice
        .upload(bytes.clone(), "application/octet-stream", Some("f.bin"))
        .await
        .unwrap();
    let msg = alice
        .send_message(&conv.id, &attach("file", &m.id, None))
        .await
        .unwrap()
        .value;
    bob.delete_message_for_me(&msg.id).await.unwrap();
    assert_eq!(bob.message(&msg.id).await.unwrap().media, None);
    assert_eq!(alice.message(&msg.id).await.unwrap().media, Some(m.clone()));
    assert_fetchable(&alice, &m, &bytes).await;
    assert!(blob_path(&app, &m.sha256).exists());
}

#[tokio::test]
async fn identical_uploads_share_bytes_which_outlive_the_first_deletion() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("g", &[&b.id]).await.unwrap();

    let bytes = png_rgba(200, 100);
    let ma = alice
        .upload(bytes.clone(), "image/png", None)
        .await
        .unwrap();
    let mb = bob.upload(bytes.clone(), "image/png", None).await.unwrap();
    assert_ne!(ma.id, mb.id, "two uploads are two media");
    assert_eq!(ma.sha256, mb.sha256);
    let blob = blob_path(&app, &ma.sha256);
    let thumb = thumb_path(&app, &ma.sha256);
    assert_eq!(
        files_under(&media_dir(&app).join("blobs")),
        vec![blob.clone()]
    );
    assert_eq!(
        files_under(&media_dir(&app).join("thumbs")),
        vec![thumb.clone()]
    );

    let from_alice = alice
        .send_message(&group.id, &attach("image", &ma.id, None))
        .await
        .unwrap()
        .value;
    let from_bob = bob
        .send_message(&group.id, &attach("image", &mb.id, None))
        .await
        .unwrap()
        .value;

    alice.delete_message(&from_alice.id).await.unwrap();
    assert_hidden(&alice, &ma.id).await;
    assert_hidden(&bob, &ma.id).await;
    // Bob's upload, with the same bytes, is whole.
    assert!(blob.exists() && thumb.exists());
    assert_fetchable(&bob, &mb, &bytes).await;
    assert_fetchable(&alice, &mb, &bytes).await;

    bob.delete_message(&from_bob.id).await.unwrap();
    assert_gone(&blob).await;
    assert_gone(&thumb).await;
    assert_hidden(&bob, &mb.id).await;
}

#[tokio::test]
async fn media_carried_by_two_messages_outlives_deleting_one() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let with_bob = alice.create_group("with bob", &[&b.id]).await.unwrap();
    let with_carol = alice.create_group("with carol", &[&c.id]).await.unwrap();

    let bytes = file_bytes(5000, 11);
    let m = alice
        .upload(
            bytes.clone(),
            "application/octet-stream",
            Some("shared.bin"),
        )
        .await
        .unwrap();
    let to_bob = alice
        .send_message(&with_bob.id, &attach("file", &m.id, None))
        .await
        .unwrap()
        .value;
    let to_carol = alice
        .send_message(&with_carol.id, &attach("file", &m.id, None))
        .await
        .unwrap()
        .value;
    assert_fetchable(&bob, &m, &bytes).await;
    assert_fetchable(&carol, &m, &bytes).await;

    alice.delete_message(&to_bob.id).await.unwrap();
    // No message Bob can see carries it any more; Carol's still does.
    assert_hidden(&bob, &m.id).await;
    assert_fetchable(&carol, &m, &bytes).await;
    assert_fetchable(&alice, &m, &bytes).await;
    assert!(blob_path(&app, &m.sha256).exists());

    // The last message that carries it goes: so do its bytes.
    alice.delete_message(&to_carol.id).await.unwrap();
    assert_gone(&blob_path(&app, &m.sha256)).await;
    assert_hidden(&carol, &m.id).await;
    assert_hidden(&alice, &m.id).await;
}

#[tokio::test]
async fn concurrent_identical_uploads_share_one_file() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let bytes = png_rgba(120, 90);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (alice, bytes) = (alice.clone(), bytes.clone());
        tasks.spawn(async move { alice.upload(bytes, "image/png", None).await.unwrap() });
    }
    let media = tasks.join_all().await;
    let mut ids: Vec<&str> = media.iter().map(|m| m.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "six uploads are six media");
    let sha = sha256_hex(&bytes);
    assert!(media.iter().all(|m| m.sha256 == sha));
    assert_eq!(
        files_under(&media_dir(&app).join("blobs")),
        vec![blob_path(&app, &sha)]
    );
    assert_eq!(
        files_under(&media_dir(&app).join("thumbs")),
        vec![thumb_path(&app, &sha)]
    );
    assert_staging_empty(&app).await;
    for m in &media {
        assert_fetchable(&alice, m, &bytes).await;
    }
}

#[tokio::test]
async fn uploads_never_attached_are_collected_once_old_enough() {
    assert_eq!(
        Config::default().media_orphan_age,
        Duration::from_secs(24 * 3600)
    );
    // Old enough after a second (short, yet long enough to attach an upload in time on a busy
    // machine), looked for every 100 ms.
    let age = Duration::from_secs(1);
    let app = spawn_app_with(|c| {
        c.media_orphan_age = age;
        c.media_gc_interval = Duration::from_millis(100);
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    // Attached at once: kept.
    let kept_bytes = jpeg(300, 200);
    let kept = alice
        .upload(kept_bytes.clone(), "image/jpeg", None)
        .await
        .unwrap();
    alice
        .send_message(&conv.id, &attach("image", &kept.id, None))
        .await
        .unwrap();

    // Never attached: one with bytes of its own, one sharing the kept upload's bytes.
    let orphan_bytes = file_bytes(4000, 13);
    let orphan = alice
        .upload(orphan_bytes.clone(), "application/octet-stream", None)
        .await
        .unwrap();
    let uploaded = Instant::now();
    let twin = alice
        .upload(kept_bytes.clone(), "image/jpeg", None)
        .await
        .unwrap();
    assert_eq!(twin.sha256, kept.sha256);
    // Young uploads stay.
    assert_fetchable(&alice, &orphan, &orphan_bytes).await;

    let orphan_blob = blob_path(&app, &orphan.sha256);
    assert_gone(&orphan_blob).await;
    assert!(
        uploaded.elapsed() >= age / 2,
        "collected after {:?}, before it was old enough",
        uploaded.elapsed()
    );
    assert_hidden(&alice, &orphan.id).await;
    let deadline = Instant::now() + ERASED_WITHIN;
    while download(&alice, &twin.id, &[]).await.status != 404 {
        assert!(
            Instant::now() < deadline,
            "the unattached twin is collected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_hidden(&alice, &twin.id).await;

    // Well past the age, the attached upload and its bytes (shared with the twin) remain.
    tokio::time::sleep(age + Duration::from_millis(300)).await;
    assert_fetchable(&alice, &kept, &kept_bytes).await;
    assert_fetchable(&bob, &kept, &kept_bytes).await;
    assert!(blob_path(&app, &kept.sha256).exists());
    assert!(thumb_path(&app, &kept.sha256).exists());
    assert_eq!(
        files_under(&media_dir(&app).join("blobs")),
        vec![blob_path(&app, &kept.sha256)]
    );
}

#[tokio::test]
async fn uploads_stop_at_the_media_quota_and_only_the_owner_sees_its_usage() {
    let app = spawn_app_with(|c| c.media_quota = Some(1000)).await;
    let (alice, a) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let me = alice.me().await.unwrap();
    assert_eq!((me.media_bytes, me.media_quota), (Some(0), Some(1000)));

    let first = file_bytes(600, 1);
    alice
        .upload(first.clone(), "application/octet-stream", None)
        .await
        .unwrap();
    // Exactly up to the quota is accepted.
    let second = file_bytes(400, 2);
    alice
        .upload(second.clone(), "application/octet-stream", None)
        .await
        .expect("an upload that reaches the quota exactly");
    let me = alice.me().await.unwrap();
    assert_eq!((me.media_bytes, me.media_quota), (Some(1000), Some(1000)));

    // One byte past it is refused, declared or streamed, and nothing of it stays.
    let past = file_bytes(1, 3);
    let refused = alice
        .raw_with_headers(
            "POST",
            "/api/v1/media",
            &[],
            Some(("application/octet-stream", past.clone())),
        )
        .await
        .unwrap();
    assert_error_response(&refused.to_raw(), 413, "payload_too_large");
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quota"),
        "{}",
        refused.text()
    );
    let (status, body) = chunked_upload(&app, &alice, &[&past[..]]).await;
    assert_eq!(status, 413, "streamed past the quota: {body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_staging_empty(&app).await;
    let mut stored = files_under(&media_dir(&app).join("blobs"));
    stored.sort();
    let mut expected = vec![
        blob_path(&app, &sha256_hex(&first)),
        blob_path(&app, &sha256_hex(&second)),
    ];
    expected.sort();
    assert_eq!(stored, expected, "only the accepted uploads are stored");
    assert_eq!(alice.me().await.unwrap().media_bytes, Some(1000));

    // The quota is the user's own: another user uploads freely, and never sees alice's usage.
    bob.upload(past.clone(), "application/octet-stream", None)
        .await
        .unwrap();
    let seen = bob
        .raw("GET", &format!("/api/v1/users/{}", a.id), None)
        .await
        .unwrap()
        .json();
    assert_eq!(seen["username"], "alice");
    assert!(seen.get("media_bytes").is_none() && seen.get("media_quota").is_none());
    let found = bob.search_users("alice", None).await.unwrap().users;
    assert_eq!((found[0].media_bytes, found[0].media_quota), (None, None));
}

#[tokio::test]
async fn without_a_quota_usage_is_reported_and_uploads_are_not_counted_against_one() {
    let app = spawn_app_with(|c| {
        c.media_quota = None;
        c.limits.upload_max_bytes = 1000;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    for seed in 0..3 {
        alice
            .upload(file_bytes(1000, seed), "application/octet-stream", None)
            .await
            .unwrap();
    }
    let me = alice.me().await.unwrap();
    assert_eq!((me.media_bytes, me.media_quota), (Some(3000), None));
}
