//! Fuzzing on stable Rust: property tests (proptest) with `arbitrary`-driven generators over the
//! WebSocket frame parsers, the request bodies and the cursor decoder. Whatever comes in is
//! either accepted or answered with a clear error: nothing panics, nothing is a `5xx`.
//!
//! Two layers:
//! - in process, fast: the cursor decoder, `ClientFrame` and `ServerFrame::parse`, the server's
//!   JSON body extractor and natter-core's validators, on arbitrary and on mutated valid input;
//! - against a real server: arbitrary, garbage and mutated valid bodies to the JSON endpoints,
//!   arbitrary query strings and path ids to the list and lookup endpoints, cursors to `/sync`
//!   and the WebSocket upgrade, and arbitrary text frames over one WebSocket connection (and as
//!   the first, `auth` frame);
//! - regressions: what the fuzzing found, as plain tests.
//!
//! With `--nocapture` the server properties print what their cases got (endpoint and status,
//! frame kind and answer), to see that the generators reach past the parsers.
//!
//! The generators know the protocol's field names, tags, ids and limits, so that a good share of
//! the inputs get past the parser and reach the rules behind it. Seeds are fixed, so a run is
//! reproducible; `PROPTEST_RNG_SEED` picks another seed and `PROPTEST_CASES` another number of
//! cases for every property, for a longer session:
//! `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=7 cargo test -p natter-server --test fuzz`.

use std::{cell::RefCell, sync::Arc, time::Duration};

use arbitrary::{Arbitrary, Unstructured};
use natter_client::{Client, ControlFrame, Error as ClientError, RawResponse, ServerFrame};
use natter_core::{Limits, MessageBody, MessageKind, validate};
use natter_server::{Config, Server, app::parse_cursor};
use natter_wire as wire;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::{
    prelude::*,
    test_runner::{RngSeed, TestCaseError, TestRunner},
};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// `cases` cases with a fixed seed, no regression files and a bounded shrink; the
/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` environment variables override the first two.
fn config(cases: u32) -> ProptestConfig {
    let env = ProptestConfig::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    ProptestConfig {
        cases: if set("PROPTEST_CASES") {
            env.cases
        } else {
            cases
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            env.rng_seed
        } else {
            RngSeed::Fixed(0x6e61_7474_6572)
        },
        failure_persistence: None,
        max_shrink_iters: 128,
        ..env
    }
}

/// The largest text frame sent: under the server's 64 KiB limit, which closes the connection.
const MAX_WS_FRAME: usize = 60 * 1024;
/// How long an answer that must come may take (generous: the machine is shared).
const ARRIVES: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse";

// ---------------------------------------------------------------------------------------------
// Generators: `arbitrary`'s `Unstructured` over proptest's bytes, so that proptest picks and
// shrinks the bytes and these functions give them a shape.
// ---------------------------------------------------------------------------------------------

/// Field names of the protocol: generated objects use them often.
const KEYS: &[&str] = &[
    "type",
    "token",
    "conversation_id",
    "typing",
    "up_to_seq",
    "cursor",
    "data",
    "error",
    "code",
    "message",
    "username",
    "password",
    "display_name",
    "device_name",
    "user_id",
    "name",
    "member_ids",
    "role",
    "client_id",
    "kind",
    "text",
    "media_id",
    "reply_to",
    "session_id",
    "online",
    "last_seen_at",
    "events",
    "ref",
    "created",
];

/// Tags and enumerated values of the protocol.
const TAGS: &[&str] = &[
    "auth",
    "typing",
    "delivered",
    "read",
    "ping",
    "send",
    "pong",
    "sent",
    "ready",
    "error",
    "resync_required",
    "typing_start",
    "typing_stop",
    "presence_update",
    "new_message",
    "message_updated",
    "message_deleted",
    "message_status",
    "conversation_updated",
    "conversation_removed",
    "conversation_status",
    "direct",
    "group",
    "text",
    "image",
    "file",
    "owner",
    "admin",
    "member",
    "Ping",
    "PING",
];

/// The tags of client frames.
const CLIENT_TAGS: &[&str] = &["auth", "typing", "delivered", "read", "ping", "send"];

/// Strings that have broken parsers before.
const NASTY: &[&str] = &[
    "",
    " ",
    "\t\n",
    "0",
    "-1",
    "-0",
    "+1",
    "1.5",
    "1e3",
    "0x10",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "null",
    "true",
    "me",
    "current",
    "2026-11-27T23:59:59.123Z",
    "2026-11-27T23:59:60Z",
    "2026-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999+23:59",
    "1970-01-01T00:00:00-00:00",
    "\u{feff}",
    "\u{0}",
    "\u{202e}",
    "%00",
    "%",
    "../..",
    "' OR 1=1 --",
    "<script>",
    "\\u0000",
    "💬",
];

/// The ids and the cursor of the world the fuzzed server holds, so that generated requests and
/// frames can name real things and get past "not found".
#[derive(Debug, Clone, Default)]
struct World {
    ids: Vec<String>,
    /// The conversations of the caller.
    convs: Vec<String>,
    cursor: String,
}

fn int(u: &mut Unstructured<'_>, lo: u32, hi: u32) -> u32 {
    u.int_in_range(lo..=hi).unwrap_or(lo)
}

fn pick<'a, T>(u: &mut Unstructured<'_>, xs: &'a [T]) -> &'a T {
    &xs[int(u, 0, xs.len() as u32 - 1) as usize]
}

/// True one time in `one_in`, and false once the bytes run out (when `int` gives its lowest).
fn chance(u: &mut Unstructured<'_>, one_in: u32) -> bool {
    int(u, 0, one_in - 1) == one_in - 1
}

/// A string: arbitrary UTF-8, a protocol word, a real id, a string at a limit's edge, or one of
/// the [`NASTY`] ones.
fn string(u: &mut Unstructured<'_>, w: &World) -> String {
    match int(u, 0, 7) {
        0 | 1 => u.arbitrary::<String>().unwrap_or_default(),
        2 => pick(u, TAGS).to_string(),
        3 => pick(u, KEYS).to_string(),
        4 if !w.ids.is_empty() => pick(u, &w.ids).clone(),
        4 => w.cursor.clone(),
        5 => {
            let n = *pick(
                u,
                &[
                    0usize, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025,
                    16_384, 16_385,
                ],
            );
            let c = *pick(
                u,
                &['a', 'x', '_', ' ', 'é', '😀', '\u{0}', '\u{200b}', '\n'],
            );
            std::iter::repeat_n(c, n).collect()
        }
        6 => pick(u, NASTY).to_string(),
        _ => {
            let mut s = pick(u, TAGS).to_string();
            s.push_str(&u.arbitrary::<String>().unwrap_or_default());
            s
        }
    }
}

/// A JSON number at an edge, arbitrary, or a float (non-finite ones become `null`).
fn number(u: &mut Unstructured<'_>) -> Value {
    match int(u, 0, 5) {
        0 => json!(*pick(
            u,
            &[
                0i64,
                1,
                -1,
                2,
                50,
                199,
                200,
                201,
                30_000,
                30_001,
                i64::from(i32::MAX) + 1,
                i64::MAX,
                i64::MIN,
            ]
        )),
        1 => json!(u.arbitrary::<i64>().unwrap_or(0)),
        2 => json!(*pick(u, &[u64::MAX, 1u64 << 63])),
        3 => json!(u.arbitrary::<f64>().unwrap_or(0.5)),
        4 => json!(*pick(u, &[0.5f64, -0.0, 1.0, 1e300, -1e-300, 2.5e10])),
        _ => json!(int(u, 0, 10)),
    }
}

fn key(u: &mut Unstructured<'_>, w: &World) -> String {
    if chance(u, 4) {
        string(u, w)
    } else {
        pick(u, KEYS).to_string()
    }
}

/// Any JSON value, nested at most `depth` deep.
fn value(u: &mut Unstructured<'_>, w: &World, depth: u32) -> Value {
    let last = if depth == 0 { 4 } else { 7 };
    match int(u, 0, last) {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary().unwrap_or(false)),
        2 => number(u),
        3 | 4 => Value::String(string(u, w)),
        5 => Value::Array((0..int(u, 0, 4)).map(|_| value(u, w, depth - 1)).collect()),
        _ => Value::Object(object(u, w, depth)),
    }
}

fn object(u: &mut Unstructured<'_>, w: &World, depth: u32) -> Map<String, Value> {
    let n = int(u, 0, 6);
    (0..n)
        .map(|_| (key(u, w), value(u, w, depth.saturating_sub(1))))
        .collect()
}

/// An object with a protocol `type` and arbitrary fields: the shape frames have.
fn frame_like(u: &mut Unstructured<'_>, w: &World) -> Value {
    let mut m = object(u, w, 2);
    let tag = if chance(u, 6) {
        value(u, w, 1)
    } else {
        Value::String(pick(u, TAGS).to_string())
    };
    m.insert("type".into(), tag);
    Value::Object(m)
}

/// An edit of a JSON value, as structure.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum JsonEdit {
    /// Removes the n-th field.
    Remove(u8),
    /// Replaces the n-th field's value with an arbitrary one.
    Replace(u8),
    /// Replaces the n-th field's value with another of the same JSON type: the value keeps its
    /// shape and reaches the rules behind the parser. Half the edits are these.
    Vary(u8),
    /// Gives the n-th field a value of another JSON type.
    Retype(u8),
    /// Adds an arbitrary field.
    Insert,
    /// Sets `type` to a protocol tag.
    SetType,
    /// Wraps the whole value in an array.
    Wrap,
    /// Replaces the whole value with a scalar.
    Scalar,
}

fn nth_key(m: &Map<String, Value>, n: u8) -> Option<String> {
    if m.is_empty() {
        return None;
    }
    m.keys().nth(usize::from(n) % m.len()).cloned()
}

fn retype(u: &mut Unstructured<'_>, v: &Value) -> Value {
    match v {
        Value::String(s) => match s.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => number(u),
        },
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Null => json!(false),
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        Value::Object(_) => Value::Array(vec![v.clone()]),
    }
}

fn vary(u: &mut Unstructured<'_>, w: &World, v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String(string(u, w)),
        Value::Number(_) => number(u),
        Value::Bool(b) => Value::Bool(!b),
        Value::Array(a) => Value::Array(a.iter().map(|v| vary(u, w, v)).collect()),
        Value::Null | Value::Object(_) => value(u, w, 1),
    }
}

fn edit_json(u: &mut Unstructured<'_>, w: &World, v: &mut Value, e: JsonEdit) {
    if let Value::Object(m) = v {
        match e {
            JsonEdit::Remove(n) => {
                if let Some(k) = nth_key(m, n) {
                    m.remove(&k);
                }
            }
            JsonEdit::Replace(n) => {
                if let Some(k) = nth_key(m, n) {
                    m.insert(k, value(u, w, 2));
                }
            }
            JsonEdit::Vary(n) => {
                if let Some(k) = nth_key(m, n) {
                    let new = if k == "type" && !chance(u, 4) {
                        let tags = if chance(u, 2) { CLIENT_TAGS } else { TAGS };
                        Value::String(pick(u, tags).to_string())
                    } else {
                        vary(u, w, &m[&k])
                    };
                    m.insert(k, new);
                }
            }
            JsonEdit::Retype(n) => {
                if let Some(k) = nth_key(m, n) {
                    let new = retype(u, &m[&k]);
                    m.insert(k, new);
                }
            }
            JsonEdit::Insert => {
                m.insert(key(u, w), value(u, w, 2));
            }
            JsonEdit::SetType => {
                m.insert("type".into(), Value::String(pick(u, TAGS).to_string()));
            }
            JsonEdit::Wrap => *v = Value::Array(vec![v.clone()]),
            JsonEdit::Scalar => *v = value(u, w, 0),
        }
    } else {
        *v = match e {
            JsonEdit::Wrap => Value::Array(vec![v.clone()]),
            _ => frame_like(u, w),
        };
    }
}

/// A piece of JSON syntax, or a byte.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Token {
    Quote,
    OpenBrace,
    CloseBrace,
    OpenBracket,
    CloseBracket,
    Comma,
    Colon,
    Backslash,
    Null,
    Minus,
    BigNumber,
    HugeExponent,
    LoneSurrogate,
    EscapedNul,
    Bom,
    Emoji,
    Space,
    Byte(u8),
}

impl Token {
    fn bytes(self) -> Vec<u8> {
        let s: &str = match self {
            Token::Quote => "\"",
            Token::OpenBrace => "{",
            Token::CloseBrace => "}",
            Token::OpenBracket => "[",
            Token::CloseBracket => "]",
            Token::Comma => ",",
            Token::Colon => ":",
            Token::Backslash => "\\",
            Token::Null => "null",
            Token::Minus => "-",
            Token::BigNumber => "123456789012345678901234567890",
            Token::HugeExponent => "1e999999",
            Token::LoneSurrogate => "\\ud800",
            Token::EscapedNul => "\\u0000",
            Token::Bom => "\u{feff}",
            Token::Emoji => "😀",
            Token::Space => " ",
            Token::Byte(b) => return vec![b],
        };
        s.as_bytes().to_vec()
    }
}

/// An edit of the serialized bytes.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum ByteEdit {
    Flip { at: u16, bit: u8 },
    Insert { at: u16, token: Token },
    Remove { at: u16, len: u8 },
    Truncate { at: u16 },
    Repeat { at: u16, len: u8, times: u8 },
}

fn edit_bytes(b: &mut Vec<u8>, e: ByteEdit) {
    let at = |i: u16, len: usize| {
        if len == 0 {
            0
        } else {
            usize::from(i) % (len + 1)
        }
    };
    match e {
        ByteEdit::Flip { at: i, bit } => {
            if !b.is_empty() {
                let i = usize::from(i) % b.len();
                b[i] ^= 1 << (bit % 8);
            }
        }
        ByteEdit::Insert { at: i, token } => {
            let i = at(i, b.len());
            b.splice(i..i, token.bytes());
        }
        ByteEdit::Remove { at: i, len } => {
            let i = at(i, b.len());
            let end = (i + usize::from(len % 8) + 1).min(b.len());
            b.drain(i..end);
        }
        ByteEdit::Truncate { at: i } => {
            let i = at(i, b.len());
            b.truncate(i);
        }
        ByteEdit::Repeat { at: i, len, times } => {
            let i = at(i, b.len());
            let end = (i + usize::from(len % 16) + 1).min(b.len());
            let chunk = b[i..end].to_vec();
            for _ in 0..(times % 8) {
                b.splice(end..end, chunk.iter().copied());
            }
        }
    }
}

/// `valid`, edited as JSON, then perhaps as bytes.
fn mutate(u: &mut Unstructured<'_>, w: &World, valid: &Value) -> Vec<u8> {
    let mut v = valid.clone();
    for _ in 0..int(u, 1, 2) {
        let e = if int(u, 0, 1) == 0 {
            JsonEdit::Vary(u.arbitrary().unwrap_or(0))
        } else {
            u.arbitrary().unwrap_or(JsonEdit::Insert)
        };
        edit_json(u, w, &mut v, e);
    }
    let mut b = serde_json::to_vec(&v).expect("a JSON value serializes");
    if chance(u, 4) {
        for _ in 0..int(u, 1, 4) {
            let e = u.arbitrary().unwrap_or(ByteEdit::Truncate { at: 0 });
            edit_bytes(&mut b, e);
        }
    }
    b
}

/// A body for an endpoint whose valid body is `valid`: as is, mutated, arbitrary JSON, or
/// garbage. Returns how it was made and the bytes.
fn body(u: &mut Unstructured<'_>, w: &World, valid: &Value) -> (&'static str, Vec<u8>) {
    match int(u, 0, 10) {
        0 => ("valid", serde_json::to_vec(valid).expect("serializes")),
        1..=5 => ("mutated", mutate(u, w, valid)),
        6 | 7 => {
            let v = if chance(u, 3) {
                value(u, w, 3)
            } else {
                Value::Object(object(u, w, 3))
            };
            (
                "arbitrary json",
                serde_json::to_vec(&v).expect("serializes"),
            )
        }
        8 => {
            let n = int(u, 0, 96) as usize;
            ("arbitrary bytes", u.bytes(n).unwrap_or_default().to_vec())
        }
        9 => ("arbitrary text", string(u, w).into_bytes()),
        _ => (
            "empty",
            pick(u, &["", " ", "\n", "{}", "[]", "null"])
                .as_bytes()
                .to_vec(),
        ),
    }
}

/// A text frame: valid, a mutated valid one, frame-shaped JSON, arbitrary JSON or garbage.
/// Always under [`MAX_WS_FRAME`].
fn ws_frame(u: &mut Unstructured<'_>, w: &World) -> (&'static str, String) {
    let valid = valid_client_frame(u, w);
    let (how, bytes) = match int(u, 0, 9) {
        0 => ("valid", serde_json::to_vec(&valid).expect("serializes")),
        1..=4 => ("mutated", mutate(u, w, &valid)),
        5 | 6 => (
            "frame-like",
            serde_json::to_vec(&frame_like(u, w)).expect("serializes"),
        ),
        7 => (
            "arbitrary json",
            serde_json::to_vec(&value(u, w, 3)).expect("serializes"),
        ),
        _ => ("arbitrary text", string(u, w).into_bytes()),
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.len() > MAX_WS_FRAME {
        let mut end = MAX_WS_FRAME;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        return ("truncated", text);
    }
    (how, text)
}

/// A well-formed client frame naming things of `w`.
fn valid_client_frame(u: &mut Unstructured<'_>, w: &World) -> Value {
    let conv = if w.convs.is_empty() || chance(u, 4) {
        string(u, w)
    } else {
        pick(u, &w.convs).clone()
    };
    let seq = i64::from(int(u, 0, 5));
    match int(u, 0, 5) {
        0 => json!({"type": "ping"}),
        5 => {
            json!({"type": "send", "ref": string(u, w), "conversation_id": conv, "text": string(u, w)})
        }
        1 => json!({"type": "auth", "token": string(u, w)}),
        2 => json!({"type": "typing", "conversation_id": conv, "typing": chance(u, 2)}),
        3 => json!({"type": "delivered", "conversation_id": conv, "up_to_seq": seq}),
        _ => json!({"type": "read", "conversation_id": conv, "up_to_seq": seq}),
    }
}

/// Builds a value from proptest's bytes with `make`.
fn from_bytes<T: std::fmt::Debug>(
    max: usize,
    make: impl Fn(&mut Unstructured<'_>) -> T + Clone,
) -> impl Strategy<Value = T> {
    proptest::collection::vec(any::<u8>(), 0..max)
        .prop_map(move |b| make(&mut Unstructured::new(&b)))
}

/// Bytes shown as text in failure reports.
struct Shown(Vec<u8>);

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = String::from_utf8_lossy(&self.0);
        let cut: String = s.chars().take(400).collect();
        if cut.len() < s.len() {
            write!(f, "{cut:?}… ({} bytes)", self.0.len())
        } else {
            write!(f, "{cut:?}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layer 1, in process: the cursor decoder.
// ---------------------------------------------------------------------------------------------

/// What `parse_cursor` must answer: a decimal position of 1–19 ASCII digits up to `i64::MAX`.
fn cursor_oracle(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u128 = s.bytes().fold(0, |n, b| n * 10 + u128::from(b - b'0'));
    i64::try_from(n).ok()
}

fn cursor_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,24}",
        "[0-9]{0,25}",
        "[-+ 0-9a-f_.e]{0,22}",
        (0..=i64::MAX).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<u64>(), 0..4usize).prop_map(|(n, zeros)| format!("{}{n}", "0".repeat(zeros))),
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn cursor_decoder_accepts_exactly_decimal_positions(s in cursor_like()) {
        match (parse_cursor(&s), cursor_oracle(&s)) {
            (Ok(got), Some(want)) => prop_assert_eq!(got, want),
            (Err(_), None) => {}
            (got, want) => prop_assert!(false, "parse_cursor({s:?}) = {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn cursor_decoder_round_trips(n in 0..=i64::MAX) {
        prop_assert_eq!(parse_cursor(&n.to_string()).ok(), Some(n));
        let s = format!("-{n}");
        prop_assert!(parse_cursor(&s).is_err(), "{:?}", s);
        let s = format!("+{n}");
        prop_assert!(parse_cursor(&s).is_err(), "{:?}", s);
        let s = format!(" {n}");
        prop_assert!(parse_cursor(&s).is_err(), "{:?}", s);
        let s = format!("{n}.0");
        prop_assert!(parse_cursor(&s).is_err(), "{:?}", s);
    }
}

#[test]
fn cursor_decoder_edges() {
    assert_eq!(parse_cursor("0").ok(), Some(0));
    assert_eq!(parse_cursor("9223372036854775807").ok(), Some(i64::MAX));
    assert!(parse_cursor("9223372036854775808").is_err());
    assert!(parse_cursor("99999999999999999999").is_err());
    assert!(parse_cursor("").is_err());
    assert!(parse_cursor("-0").is_err());
    assert!(
        parse_cursor("٣").is_err(),
        "non-ASCII digits are not decimal"
    );
}

// ---------------------------------------------------------------------------------------------
// Layer 1, in process: the frame parsers.
// ---------------------------------------------------------------------------------------------

fn in_process_world() -> World {
    World {
        ids: vec![
            "0190f1a2-7b3c-7d4e-8f00-000000000001".into(),
            "c1".into(),
            String::new(),
        ],
        convs: vec!["c1".into()],
        cursor: "42".into(),
    }
}

/// Text that looks like frames of either direction, or is arbitrary.
fn frame_text() -> impl Strategy<Value = String> {
    let w = in_process_world();
    let w2 = w.clone();
    let w3 = w.clone();
    prop_oneof![
        any::<String>(),
        from_bytes(512, move |u| ws_frame(u, &w).1),
        from_bytes(512, move |u| {
            let valid = valid_server_frame(u, &w2);
            String::from_utf8_lossy(&mutate(u, &w2, &valid)).into_owned()
        }),
        from_bytes(512, move |u| serde_json::to_string(&frame_like(u, &w3))
            .unwrap()),
    ]
}

/// A well-formed server frame of every kind.
fn valid_server_frame(u: &mut Unstructured<'_>, w: &World) -> Value {
    let message = json!({
        "id": "m1", "conversation_id": "c1", "seq": 3, "sender_id": "u1", "client_id": null,
        "kind": "text", "text": string(u, w), "media": null, "reply_to": null,
        "created_at": "2026-11-27T23:59:59.123Z", "edited_at": null, "deleted": false,
        "status": "sent",
    });
    let conversation = json!({
        "id": "c1", "type": "group", "name": "g", "members": [
            {"user_id": "u1", "role": "owner", "joined_at": "2026-11-27T23:59:59.123Z"}
        ],
        "created_at": "2026-11-27T23:59:59.123Z", "last_message_at": "2026-11-27T23:59:59.123Z",
        "last_seq": 3, "last_message": message.clone(), "unread_count": 0, "read_seq": 3,
        "all_delivered_seq": 3, "all_read_seq": 2,
    });
    let data = json!({"conversation_id": "c1", "user_id": "u1"});
    match int(u, 0, 16) {
        15 => {
            json!({"type": "sent", "ref": string(u, w), "created": chance(u, 2), "message": message})
        }
        16 => {
            json!({"type": "error", "ref": "r1", "error": {"code": "not_found", "message": "no"}})
        }
        0 => json!({"type": "ready", "cursor": "1", "session_id": "s", "user_id": "u1"}),
        1 => json!({"type": "pong"}),
        2 => json!({"type": "error", "error": {"code": "invalid_request", "message": "no"}}),
        3 => json!({"type": "resync_required", "cursor": "9"}),
        4 => json!({"type": "resync_required"}),
        5 => json!({"type": "typing_start", "data": data}),
        6 => json!({"type": "typing_stop", "data": data}),
        7 => json!({"type": "presence_update", "data":
            {"user_id": "u1", "online": true, "last_seen_at": null}}),
        8 => json!({"type": "new_message", "cursor": "5", "data": message}),
        9 => json!({"type": "message_updated", "cursor": "6", "data": message}),
        10 => json!({"type": "message_deleted", "cursor": "7", "data":
            {"conversation_id": "c1", "message_id": "m1", "seq": 3, "for_me": false}}),
        11 => json!({"type": "message_status", "cursor": "8", "data":
            {"conversation_id": "c1", "user_id": "u2", "status": "read", "up_to_seq": 3,
             "at": "2026-11-27T23:59:59.123Z"}}),
        12 => json!({"type": "conversation_updated", "cursor": "9", "data": conversation}),
        13 => json!({"type": "conversation_status", "cursor": "11", "data":
            {"conversation_id": "c1", "all_delivered_seq": 3, "all_read_seq": 2,
             "at": "2026-11-27T23:59:59.123Z"}}),
        _ => json!({"type": "conversation_removed", "cursor": "10", "data":
            {"conversation_id": "c1"}}),
    }
}

/// A server frame as the server would send it.
fn server_frame_text(f: &ServerFrame) -> String {
    match f {
        ServerFrame::Event(e) => serde_json::to_string(e),
        ServerFrame::Ephemeral(e) => serde_json::to_string(e),
        ServerFrame::Control(c) => serde_json::to_string(c),
    }
    .expect("a frame serializes")
}

proptest! {
    #![proptest_config(config(768))]

    /// Clients parse whatever a server (or a man in the middle) sends without panicking; what
    /// they accept reads back the same once written out again.
    #[test]
    fn server_frame_parser_never_panics(text in frame_text()) {
        if let Ok(frame) = ServerFrame::parse(&text) {
            let again = server_frame_text(&frame);
            let back = ServerFrame::parse(&again);
            prop_assert_eq!(back.as_ref().ok(), Some(&frame), "{} re-read from {}", again, text);
        }
    }

    /// Every kind of valid server frame parses, and to the kind its `type` names.
    #[test]
    fn valid_server_frames_parse(
        v in from_bytes(64, |u| valid_server_frame(u, &in_process_world()))
    ) {
        let text = v.to_string();
        let frame = ServerFrame::parse(&text);
        prop_assert!(frame.is_ok(), "{} does not parse: {:?}", text, frame);
        let again: Value = serde_json::from_str(&server_frame_text(&frame.unwrap())).unwrap();
        prop_assert_eq!(&again["type"], &v["type"]);
    }

    /// The server's frame parser: no panic; what it accepts reads back the same.
    #[test]
    fn client_frame_parser_never_panics(text in frame_text()) {
        if let Ok(frame) = serde_json::from_str::<wire::ClientFrame>(&text) {
            let again = serde_json::to_string(&frame).unwrap();
            let back = serde_json::from_str::<wire::ClientFrame>(&again).ok();
            prop_assert_eq!(back, Some(frame), "{} re-read from {}", again, text);
        }
    }

    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        let text = serde_json::to_string(&frame).unwrap();
        prop_assert_eq!(serde_json::from_str::<wire::ClientFrame>(&text).ok(), Some(frame));
    }
}

fn client_frame() -> impl Strategy<Value = wire::ClientFrame> {
    prop_oneof![
        Just(wire::ClientFrame::Ping),
        any::<String>().prop_map(|token| wire::ClientFrame::Auth { token }),
        (any::<String>(), any::<bool>()).prop_map(|(conversation_id, typing)| {
            wire::ClientFrame::Typing {
                conversation_id,
                typing,
            }
        }),
        (any::<String>(), any::<i64>()).prop_map(|(conversation_id, up_to_seq)| {
            wire::ClientFrame::Delivered {
                conversation_id,
                up_to_seq,
            }
        }),
        (any::<String>(), any::<i64>()).prop_map(|(conversation_id, up_to_seq)| {
            wire::ClientFrame::Read {
                conversation_id,
                up_to_seq,
            }
        }),
        (
            any::<Option<String>>(),
            any::<String>(),
            any::<Option<String>>(),
            any::<Option<String>>(),
        )
            .prop_map(|(reference, conversation_id, client_id, text)| {
                wire::ClientFrame::send(
                    reference,
                    conversation_id,
                    wire::SendMessageRequest {
                        client_id,
                        text,
                        ..Default::default()
                    },
                )
            }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Layer 1, in process: the JSON body extractor and the request types.
// ---------------------------------------------------------------------------------------------

/// Content types a client might send; `None` sends no header (read as JSON).
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("APPLICATION/JSON"),
    Some("application/vnd.natter+json"),
    Some(" application/json ;"),
    Some(""),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/jsonx"),
    Some("json"),
];

fn is_json_type(ct: Option<&str>) -> bool {
    ct.is_none_or(|ct| {
        let ct = ct.to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence == "application/json" || essence.ends_with("+json")
    })
}

/// The JSON request bodies of the API, by name.
const BODY_TYPES: &[&str] = &[
    "register",
    "login",
    "create",
    "send",
    "edit",
    "add_member",
    "typing",
    "rename",
    "set_role",
];

fn extract_one<T: serde::de::DeserializeOwned>(
    ct: Option<&[u8]>,
    bytes: &[u8],
) -> Result<bool, natter_server::http::error::ApiError> {
    use axum::extract::FromRequest;
    let mut req = axum::http::Request::builder().method("POST").uri("/");
    if let Some(ct) = ct {
        let v = axum::http::HeaderValue::from_bytes(ct).expect("a valid header value");
        req = req.header(axum::http::header::CONTENT_TYPE, v);
    }
    let req = req
        .body(axum::body::Body::from(bytes.to_vec()))
        .expect("a request");
    let fut = natter_server::http::extract::Json::<T>::from_request(req, &());
    futures::executor::block_on(fut).map(|_| true)
}

fn extract(
    kind: &str,
    ct: Option<&[u8]>,
    bytes: &[u8],
) -> (Result<bool, natter_server::http::error::ApiError>, bool) {
    macro_rules! both {
        ($t:ty) => {
            (
                extract_one::<$t>(ct, bytes),
                serde_json::from_slice::<$t>(bytes).is_ok(),
            )
        };
    }
    match kind {
        "register" => both!(wire::RegisterRequest),
        "login" => both!(wire::LoginRequest),
        "create" => both!(wire::CreateConversationRequest),
        "send" => both!(wire::SendMessageRequest),
        "edit" => both!(wire::EditMessageRequest),
        "add_member" => both!(wire::AddMemberRequest),
        "typing" => both!(wire::TypingRequest),
        "rename" => both!(wire::RenameRequest),
        _ => both!(wire::SetRoleRequest),
    }
}

/// A valid body of each kind, for the in-process and the server layers alike.
fn valid_body(kind: &str, w: &World, n: u32) -> Value {
    let id = |i: usize| w.ids.get(i).cloned().unwrap_or_default();
    match kind {
        "register" => json!({"username": format!("fuzz{n}"), "password": PASSWORD,
                             "display_name": "Fuzz"}),
        "login" => json!({"username": "alice", "password": PASSWORD, "device_name": "fuzz"}),
        "create" if n.is_multiple_of(2) => {
            json!({"type": "group", "name": "g", "member_ids": [id(1)]})
        }
        "create" => json!({"type": "direct", "user_id": id(1)}),
        "send" => json!({"client_id": format!("c{}", n % 4), "kind": "text", "text": "hi",
                         "reply_to": id(4)}),
        "edit" => json!({"text": "edited"}),
        "add_member" => json!({"user_id": id(2), "role": "admin"}),
        "typing" => json!({"typing": n.is_multiple_of(2)}),
        "rename" => json!({"name": "renamed"}),
        _ => json!({"role": "admin"}),
    }
}

#[derive(Debug)]
struct ExtractCase {
    kind: &'static str,
    content_type: Option<Vec<u8>>,
    how: &'static str,
    body: Shown,
}

fn extract_case(u: &mut Unstructured<'_>) -> ExtractCase {
    let w = in_process_world();
    let kind = *pick(u, BODY_TYPES);
    let content_type = if chance(u, 8) {
        // Any header bytes at all (those a header may hold).
        let raw: Vec<u8> = u.arbitrary().unwrap_or_default();
        Some(
            raw.into_iter()
                .filter(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f))
                .collect(),
        )
    } else {
        pick(u, CONTENT_TYPES).map(|s| s.as_bytes().to_vec())
    };
    let valid = valid_body(kind, &w, int(u, 0, 9));
    let (how, bytes) = body(u, &w, &valid);
    ExtractCase {
        kind,
        content_type,
        how,
        body: Shown(bytes),
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// The JSON extractor takes exactly the JSON bodies that fit the type, answers a non-JSON
    /// content type `415` and anything else that does not fit `400`, with a message.
    #[test]
    fn json_extractor_accepts_or_says_why(case in from_bytes(768, extract_case)) {
        let ct = case.content_type.as_deref();
        let (got, fits) = extract(case.kind, ct, &case.body.0);
        // A header that is not visible ASCII reads as no type at all, which is not JSON.
        let json_type = match ct {
            None => true,
            Some(b) => std::str::from_utf8(b).is_ok_and(|s| s.is_ascii() && is_json_type(Some(s))),
        };
        if case.how == "valid" && json_type {
            prop_assert!(fits && got.is_ok(), "refused a valid body: {case:?}: {got:?}");
        }
        match got {
            Ok(_) => prop_assert!(json_type && fits, "accepted {case:?}"),
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                if !json_type {
                    prop_assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
                } else {
                    prop_assert!(!fits, "refused a fitting body: {case:?}: {e:?}");
                    prop_assert_eq!((e.status.as_u16(), e.code), (400, "invalid_request"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layer 1, in process: natter-core's validators and message bodies.
// ---------------------------------------------------------------------------------------------

/// Small limits, so that arbitrary strings cross them often; any order of min and max.
fn small_limits() -> impl Strategy<Value = Limits> {
    (
        0..6usize,
        0..12usize,
        0..12usize,
        0..12usize,
        0..12usize,
        0..8u32,
    )
        .prop_map(|(min, max, bytes_max, text_max, id_max, page)| Limits {
            username_min: min,
            username_max: max,
            password_min_bytes: min,
            password_max_bytes: bytes_max,
            display_name_max: max,
            message_text_max: text_max,
            group_name_max: max,
            client_id_max: id_max,
            device_name_max: max,
            page_limit_max: page,
            page_limit_default: page,
            ..Limits::default()
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,14}",
        "[a-z0-9_.\\- ]{0,14}",
        "[ \t\n\u{a0}\u{3000}a-zé😀]{0,14}",
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn validators_never_panic_and_accept_only_what_fits(
        s in text(),
        opt in proptest::option::of(text()),
        n in proptest::option::of(prop_oneof![any::<i64>(), -3..300i64]),
        l in small_limits(),
    ) {
        let chars = |s: &str| s.chars().count();
        let fits = |n: usize, min: usize, max: usize| min <= n && n <= max;

        let user = validate::username(&s, &l);
        let alphabet = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        prop_assert_eq!(user.is_ok(), fits(chars(&s), l.username_min, l.username_max) && alphabet);
        if let Ok(u) = user { prop_assert_eq!(u, s.clone()); }

        let pw = validate::password(&s, &l);
        prop_assert_eq!(pw.is_ok(), fits(s.len(), l.password_min_bytes, l.password_max_bytes));

        let t = s.trim();
        match validate::display_name(&s, &l) {
            Ok(d) => { prop_assert_eq!(d.as_str(), t); prop_assert!(fits(chars(t), 1, l.display_name_max)); }
            Err(e) => { prop_assert!(!fits(chars(t), 1, l.display_name_max)); prop_assert!(!e.to_string().is_empty()); }
        }
        match validate::group_name(&s, &l) {
            Ok(g) => { prop_assert_eq!(g.as_str(), t); prop_assert!(fits(chars(t), 1, l.group_name_max)); }
            Err(_) => prop_assert!(!fits(chars(t), 1, l.group_name_max)),
        }
        match validate::message_text(&s, &l) {
            Ok(m) => { prop_assert_eq!(&m, &s); prop_assert!(!t.is_empty() && chars(&s) <= l.message_text_max); }
            Err(natter_core::Error::TooLarge(_)) => prop_assert!(chars(&s) > l.message_text_max),
            Err(natter_core::Error::Invalid(_)) => prop_assert!(t.is_empty() && chars(&s) <= l.message_text_max),
            Err(e) => prop_assert!(false, "message_text answered {e:?}"),
        }
        match validate::caption(opt.as_deref(), &l) {
            Ok(None) => prop_assert!(opt.as_deref().is_none_or(|c| c.trim().is_empty())),
            Ok(Some(c)) => { prop_assert_eq!(Some(c.as_str()), opt.as_deref()); prop_assert!(chars(&c) <= l.message_text_max); }
            Err(_) => prop_assert!(opt.as_deref().is_some_and(|c| !c.trim().is_empty() && chars(c) > l.message_text_max)),
        }
        prop_assert_eq!(validate::client_id(&s, &l).is_ok(), fits(chars(&s), 1, l.client_id_max));
        match validate::device_name(opt.as_deref(), &l) {
            Ok(None) => prop_assert!(opt.as_deref().is_none_or(|d| d.trim().is_empty())),
            Ok(Some(d)) => { prop_assert_eq!(Some(d.as_str()), opt.as_deref().map(str::trim)); prop_assert!(chars(&d) <= l.device_name_max); }
            Err(_) => prop_assert!(opt.as_deref().is_some_and(|d| chars(d.trim()) > l.device_name_max)),
        }
        match validate::page_limit(n, &l) {
            Ok(p) => match n {
                None => prop_assert_eq!(p, l.page_limit_default),
                Some(n) => { prop_assert_eq!(i64::from(p), n); prop_assert!(p >= 1 && p <= l.page_limit_max); }
            },
            Err(_) => prop_assert!(n.is_some_and(|n| n < 1 || n > i64::from(l.page_limit_max))),
        }
    }

    #[test]
    fn message_bodies_fit_their_kind(
        k in 0..MessageKind::ALL.len(),
        text in proptest::option::of(text()),
        media in proptest::option::of(text()),
    ) {
        let kind = MessageKind::ALL[k];
        match MessageBody::from_parts(kind, text.clone(), media.clone()) {
            Ok(b) => {
                prop_assert_eq!(b.kind(), kind);
                prop_assert_eq!(b.text(), text.as_deref());
                prop_assert_eq!(b.media_id(), media.as_deref());
                match kind {
                    MessageKind::Text => prop_assert!(text.is_some() && media.is_none()),
                    _ => prop_assert!(media.is_some()),
                }
            }
            Err(e) => {
                prop_assert!(matches!(e, natter_core::Error::Invalid(_)), "{e:?}");
                prop_assert!(!e.to_string().is_empty());
                match kind {
                    MessageKind::Text => prop_assert!(text.is_none() || media.is_some()),
                    _ => prop_assert!(media.is_none()),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layer 2: against a real server.
// ---------------------------------------------------------------------------------------------

/// A running server on a temporary data directory, with three users: alice owns a group with
/// bob and sent a message there, and has a direct conversation with bob; bob and carol share a
/// direct conversation that alice cannot see.
struct Fixture {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    url: String,
    alice: Client,
    group: String,
    direct: String,
    world: Arc<World>,
    // Dropped last, so that the database outlives the server.
    _data: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let data = tempfile::tempdir().expect("a temporary directory");
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.path().to_path_buf(),
            rate_limit: false,
            registration: natter_server::config::Registration::Open,
            ..Config::default()
        };
        let (server, alice, world) = rt.block_on(async move {
            let server = natter_server::start(config)
                .await
                .expect("the server starts");
            let anon = Client::new(server.url());
            let (alice, a) = anon.sign_up("alice", PASSWORD).await.expect("alice");
            let (bob, b) = anon.sign_up("bob", PASSWORD).await.expect("bob");
            let (_carol, c) = anon.sign_up("carol", PASSWORD).await.expect("carol");
            let direct = |from: &Client, to: &str| {
                let req = wire::CreateConversationRequest {
                    kind: "direct".into(),
                    user_id: Some(to.to_owned()),
                    ..Default::default()
                };
                let from = from.clone();
                async move {
                    from.create_conversation(&req)
                        .await
                        .expect("a direct")
                        .value
                }
            };
            let group = alice.create_group("fuzz", &[&b.id]).await.expect("a group");
            let with_bob = direct(&alice, &b.id).await;
            let hidden = direct(&bob, &c.id).await;
            let msg = alice
                .send_text(&group.id, "hello")
                .await
                .expect("a message");
            let sync = alice.raw("GET", "/api/v1/sync", None).await.expect("sync");
            let world = World {
                // 0: alice, 1: bob, 2: carol, 3: the group, 4: alice's message there, 5: the
                // direct conversation of alice and bob, 6: bob and carol's, hidden from alice.
                convs: vec![group.id.clone(), with_bob.id.clone()],
                ids: vec![a.id, b.id, c.id, group.id, msg.id, with_bob.id, hidden.id],
                cursor: sync.json()["next_cursor"]
                    .as_str()
                    .expect("a cursor")
                    .to_owned(),
            };
            (server, alice, world)
        });
        Fixture {
            rt,
            url: server.url(),
            server: Some(server),
            alice,
            group: world.ids[3].clone(),
            direct: world.ids[5].clone(),
            world: Arc::new(world),
            _data: data,
        }
    }

    /// `/healthz` answers `200` and the server shuts down cleanly.
    fn finish(mut self) {
        let server = self.server.take().expect("a server");
        let url = self.url.clone();
        self.rt.block_on(async move {
            let health = Client::new(&url)
                .raw("GET", "/healthz", None)
                .await
                .expect("healthz answers");
            assert_eq!(health.status, 200, "healthz: {}", health.text());
            server.shutdown().await.expect("a clean shutdown");
        });
    }
}

/// Counts of what the cases got, printed at the end (`--nocapture` shows them), to see that
/// the generators reach past the parsers.
#[derive(Default)]
struct Tally(RefCell<std::collections::BTreeMap<String, u32>>);

impl Tally {
    fn add(&self, key: impl std::fmt::Display) {
        *self.0.borrow_mut().entry(key.to_string()).or_default() += 1;
    }

    fn print(&self, name: &str) {
        let t = self.0.borrow();
        let lines: Vec<String> = t.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        eprintln!("{name}: {}", lines.join(", "));
    }
}

/// The error code API.md gives each status.
fn code_for(status: u16) -> Option<&'static str> {
    Some(match status {
        400 | 405 | 431 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        410 => "resync_required",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        416 => "range_not_satisfiable",
        429 => "rate_limited",
        _ => return None,
    })
}

/// Every answer: never `5xx`; an error is JSON `{"error": {"code", "message"}}` with the code
/// of its status; a success with a body is JSON.
fn check_answer(what: &dyn std::fmt::Debug, resp: &RawResponse) -> Result<(), TestCaseError> {
    let ct = resp
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    prop_assert!(
        resp.status < 500,
        "{:?} got {} {}",
        what,
        resp.status,
        resp.text()
    );
    if resp.status >= 400 {
        let Some(code) = code_for(resp.status) else {
            return Err(TestCaseError::fail(format!(
                "{what:?} got {}, a status API.md does not list: {}",
                resp.status,
                resp.text()
            )));
        };
        prop_assert!(
            ct.starts_with("application/json"),
            "{:?}: error with content type {:?}",
            what,
            ct
        );
        let body: Result<wire::ErrorBody, _> = serde_json::from_slice(&resp.body);
        prop_assert!(body.is_ok(), "{:?}: error body {:?}", what, resp.text());
        let body = body.unwrap();
        prop_assert_eq!(
            body.error.code.as_str(),
            code,
            "{:?}: {}",
            what,
            resp.text()
        );
        prop_assert!(!body.error.message.is_empty(), "{:?}: empty message", what);
    } else if resp.status != 204 && !resp.body.is_empty() {
        prop_assert!(
            ct.starts_with("application/json"),
            "{:?}: {} with content type {:?}",
            what,
            resp.status,
            ct
        );
        prop_assert!(
            serde_json::from_slice::<Value>(&resp.body).is_ok(),
            "{:?}: {} body is not JSON: {}",
            what,
            resp.status,
            resp.text()
        );
    }
    Ok(())
}

/// A fuzzed request to one of the JSON endpoints.
#[derive(Debug)]
struct BodyCase {
    kind: &'static str,
    content_type: Option<&'static str>,
    how: &'static str,
    body: Shown,
}

impl BodyCase {
    fn route(&self, w: &World) -> (&'static str, String, bool) {
        let (group, msg, bob) = (&w.ids[3], &w.ids[4], &w.ids[1]);
        match self.kind {
            "register" => ("POST", "/api/v1/users".into(), false),
            "login" => ("POST", "/api/v1/sessions".into(), false),
            "create" => ("POST", "/api/v1/conversations".into(), true),
            "send" => (
                "POST",
                format!("/api/v1/conversations/{group}/messages"),
                true,
            ),
            "edit" => ("PATCH", format!("/api/v1/messages/{msg}"), true),
            "add_member" => (
                "POST",
                format!("/api/v1/conversations/{group}/members"),
                true,
            ),
            "typing" => (
                "POST",
                format!("/api/v1/conversations/{group}/typing"),
                true,
            ),
            "rename" => ("PATCH", format!("/api/v1/conversations/{group}"), true),
            _ => (
                "PATCH",
                format!("/api/v1/conversations/{group}/members/{bob}"),
                true,
            ),
        }
    }

    /// A success's body must be the endpoint's object.
    fn answer_fits(&self, body: &[u8]) -> bool {
        let ok = |r: Result<(), serde_json::Error>| r.is_ok();
        match self.kind {
            "register" => ok(serde_json::from_slice::<wire::User>(body).map(drop)),
            "login" => ok(serde_json::from_slice::<wire::LoginResponse>(body).map(drop)),
            "send" | "edit" => ok(serde_json::from_slice::<wire::Message>(body).map(drop)),
            "typing" => body.is_empty(),
            _ => ok(serde_json::from_slice::<wire::Conversation>(body).map(drop)),
        }
    }
}

fn body_case(u: &mut Unstructured<'_>, w: &World) -> BodyCase {
    let kind = *pick(u, BODY_TYPES);
    let content_type = if chance(u, 5) {
        *pick(u, CONTENT_TYPES)
    } else {
        Some("application/json")
    };
    let valid = valid_body(kind, w, int(u, 0, 9));
    let (how, bytes) = body(u, w, &valid);
    BodyCase {
        kind,
        content_type,
        how,
        body: Shown(bytes),
    }
}

/// Arbitrary, garbage and mutated valid bodies to the JSON endpoints: never `5xx`, errors as
/// API.md says; a non-JSON content type is `415`, a body that is not JSON `400`, and a valid
/// body succeeds (or conflicts with an earlier one).
#[test]
fn server_answers_every_body_clearly() {
    let fx = Fixture::start();
    let world = fx.world.clone();
    let anon = Client::new(&fx.url);
    let strategy = {
        let w = world.clone();
        from_bytes(1024, move |u| body_case(u, &w))
    };
    let tally = Tally::default();
    let previous = RefCell::new(String::new());
    let mut runner = TestRunner::new(config(400));
    let result = runner.run(&strategy, |case| {
        let (method, path, authed) = case.route(&world);
        let pooled = if authed { &fx.alice } else { &anon };
        // A large body goes on a connection of its own: the server may answer before reading
        // it, and then the connection is unusable (see the regression test
        // `an_early_answer_does_not_break_the_next_request_on_the_connection`).
        let own;
        let client = if case.body.0.len() > 8 * 1024 {
            let fresh = Client::new(&fx.url);
            own = match pooled.token() {
                Some(t) => fresh.with_token(t),
                None => fresh,
            };
            &own
        } else {
            pooled
        };
        let resp = fx.rt.block_on(async {
            match case.content_type {
                Some(ct) => {
                    client
                        .raw(method, &path, Some((ct, case.body.0.clone())))
                        .await
                }
                None => {
                    let m = method.parse().expect("a method");
                    let r = client
                        .request(m, &path)
                        .body(case.body.0.clone())
                        .send()
                        .await?;
                    let status = r.status().as_u16();
                    let content_type = r
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = r.bytes().await?.to_vec();
                    Ok(RawResponse {
                        status,
                        content_type,
                        body,
                    })
                }
            }
        });
        let resp = resp.map_err(|e| {
            TestCaseError::fail(format!("{case:?}: {e:?}; previous: {}", previous.borrow()))
        })?;
        *previous.borrow_mut() = format!(
            "{case:?} ({method} {path}): {} {}",
            resp.status,
            resp.text()
        );
        let what = (&case, method, &path);
        let parse_error = resp.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid JSON body"));
        let at = if parse_error { " (parser)" } else { "" };
        tally.add(format_args!("{} {}{at}", case.kind, resp.status));
        check_answer(&what, &resp)?;
        // JSON syntax: a number out of `f64`'s range is JSON to the server's typed parser when
        // it is in a field the type ignores, but not to `Value`.
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&case.body.0).is_ok();
        if !is_json_type(case.content_type) {
            prop_assert_eq!(resp.status, 415, "{:?}: {}", what, resp.text());
        } else if !is_json {
            prop_assert_eq!(resp.status, 400, "{:?}: {}", what, resp.text());
        } else if case.how == "valid" {
            prop_assert!(
                resp.status < 300 || resp.status == 409,
                "{:?}: a valid body got {} {}",
                what,
                resp.status,
                resp.text()
            );
        }
        if (200..300).contains(&resp.status) {
            prop_assert!(
                case.answer_fits(&resp.body),
                "{:?}: {} with {}",
                what,
                resp.status,
                resp.text()
            );
        }
        Ok(())
    });
    tally.print("bodies (endpoint status)");
    if let Err(e) = result {
        panic!("{e}");
    }
    fx.finish();
}

/// A fuzzed query string to a list endpoint.
struct QueryCase {
    endpoint: &'static str,
    /// The id in the path, percent-encoded, for the endpoints that take one.
    id: String,
    query: String,
}

impl std::fmt::Debug for QueryCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCase")
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .field("query", &Shown(self.query.as_bytes().to_vec()))
            .finish()
    }
}

const QUERY_KEYS: &[&str] = &[
    "limit", "before", "after", "since", "query", "for", "cursor", "LIMIT",
];

/// Values for `timeout_ms` that never make `/sync` wait long.
const TIMEOUTS: &[&str] = &[
    "0",
    "1",
    "15",
    "30001",
    "-1",
    "18446744073709551616",
    "1.5",
    "",
    "abc",
];

fn query_value(u: &mut Unstructured<'_>, w: &World) -> String {
    match int(u, 0, 5) {
        0 => w.cursor.clone(),
        1 => number(u).to_string(),
        2 => pick(u, NASTY).to_string(),
        3 => crate::string(u, w),
        4 => format!("{}", int(u, 0, 300)),
        _ => crate::time_like(u),
    }
}

fn time_like(u: &mut Unstructured<'_>) -> String {
    let y = *pick(u, &[0u32, 1, 1969, 1970, 2026, 9999, 10000]);
    let mo = int(u, 0, 13);
    let d = int(u, 0, 32);
    let h = int(u, 0, 25);
    let off = *pick(u, &["Z", "z", "+00:00", "-23:59", "+24:00", "", "+01"]);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:59:59.999{off}")
}

fn query_case(u: &mut Unstructured<'_>, w: &World) -> QueryCase {
    let endpoint = *pick(
        u,
        &[
            "users",
            "conversations",
            "messages",
            "sync",
            "users/{id}",
            "conversations/{id}",
            "conversations/{id}/messages",
            "messages/{id}",
            "messages/{id}/receipts",
            "media/{id}",
        ],
    );
    let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let id = match int(u, 0, 3) {
        0 => w.ids.get(3).cloned().unwrap_or_default(),
        1 => pick(u, &w.ids).clone(),
        // (Cut before encoding: an id that decodes to invalid UTF-8 is a known bug, see
        // `a_path_id_that_is_not_utf8_is_a_json_not_found`.)
        _ => encode(&string(u, w).chars().take(500).collect::<String>()),
    };
    let query = match int(u, 0, 3) {
        // Arbitrary characters; `#` would end the query.
        0 => string(u, w).replace('#', "%23"),
        _ => {
            let mut parts = Vec::new();
            for _ in 0..int(u, 0, 4) {
                let raw = chance(u, 4);
                let k = if chance(u, 6) {
                    string(u, w)
                } else {
                    pick(u, QUERY_KEYS).to_string()
                };
                let v = query_value(u, w);
                if raw {
                    parts.push(format!("{k}={v}").replace('#', "%23"));
                } else {
                    parts.push(format!("{}={}", encode(&k), encode(&v)));
                }
            }
            if endpoint == "sync" && chance(u, 3) {
                let t = pick::<&str>(u, TIMEOUTS);
                parts.push(format!("timeout_ms={}", encode(t)));
            }
            parts.join(*pick(u, &["&", "&", "&&", ";"]))
        }
    };
    // The client refuses URLs over 64 KiB; the server's own limit on a request head (32 KiB,
    // answered `431`) stays within reach.
    // (Counting what the URL parser percent-encodes three times.)
    let mut query = query;
    let mut size = 0;
    let end = query
        .char_indices()
        .find(|(_, c)| {
            size += if c.is_ascii_alphanumeric() || "-._~&=%+;".contains(*c) {
                1
            } else {
                3 * c.len_utf8()
            };
            size > 60_000
        })
        .map_or(query.len(), |(i, _)| i);
    query.truncate(end);
    QueryCase {
        endpoint,
        id,
        query,
    }
}

/// Arbitrary query strings to the list endpoints and `/sync`: never `5xx`, errors as API.md
/// says.
#[test]
fn server_answers_every_query_clearly() {
    let fx = Fixture::start();
    let world = fx.world.clone();
    let strategy = {
        let w = world.clone();
        from_bytes(256, move |u| query_case(u, &w))
    };
    let tally = Tally::default();
    let mut runner = TestRunner::new(config(300));
    let result = runner.run(&strategy, |case| {
        let path = match case.endpoint {
            "messages" => format!("/api/v1/conversations/{}/messages", fx.group),
            e => format!("/api/v1/{}", e.replace("{id}", &case.id)),
        };
        let url = format!("{path}?{}", case.query);
        let resp = fx
            .rt
            .block_on(fx.alice.raw("GET", &url, None))
            .map_err(|e| TestCaseError::fail(format!("{case:?}: {e:?}")))?;
        tally.add(format_args!("{} {}", case.endpoint, resp.status));
        check_answer(&(&case, &url), &resp)
    });
    tally.print("queries (endpoint status)");
    if let Err(e) = result {
        panic!("{e}");
    }
    fx.finish();
}

/// The cursor decoder behind the server: `/sync?since=` and the WebSocket's `since` refuse a
/// malformed cursor with `400`, answer one past the head `410` (sync) and take the others.
#[test]
fn server_decodes_every_cursor_as_the_decoder_does() {
    let fx = Fixture::start();
    let head: i64 = fx.world.cursor.parse().expect("a decimal head");
    let strategy = prop_oneof![
        3 => cursor_like(),
        1 => (0..=head + 2).prop_map(|n| n.to_string()),
    ];
    let mut runner = TestRunner::new(config(100));
    let result = runner.run(&(strategy, any::<bool>()), |(since, ws)| {
        let enc = utf8_percent_encode(&since, NON_ALPHANUMERIC).to_string();
        let expected = parse_cursor(&since).ok();
        if ws {
            let r = fx.rt.block_on(fx.alice.refused_upgrade(Some(&enc)));
            match (r, expected) {
                (Ok(resp), None) => {
                    check_answer(&since, &resp)?;
                    prop_assert_eq!(resp.status, 400, "ws since={:?}: {}", since, resp.text());
                }
                (Err(ClientError::WebSocket(m)), Some(_)) if m.contains("accepted") => {}
                (r, _) => prop_assert!(false, "ws since={since:?} ({expected:?}): {r:?}"),
            }
        } else {
            let path = format!("/api/v1/sync?since={enc}");
            let resp = fx
                .rt
                .block_on(fx.alice.raw("GET", &path, None))
                .map_err(|e| TestCaseError::fail(format!("{since:?}: {e}")))?;
            check_answer(&since, &resp)?;
            let want = match expected {
                None => 400,
                Some(n) if n > head => 410,
                Some(_) => 200,
            };
            prop_assert_eq!(resp.status, want, "sync since={:?}: {}", since, resp.text());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    fx.finish();
}

/// What the server must answer a text frame with, before the `pong` of the ping after it.
#[derive(Debug, PartialEq)]
enum Expect {
    /// An `error` frame with this code.
    Error(&'static [&'static str]),
    /// A `pong` (the frame was a ping).
    Pong,
    /// Nothing.
    Nothing,
    /// A `sent` frame or an `error` frame, whatever its code (a `send`).
    Answer,
}

fn expect_for(text: &str, alice_convs: &[&str]) -> Expect {
    const INVALID: &[&str] = &["invalid_request"];
    const UNKNOWN: &[&str] = &["not_found", "invalid_request"];
    match serde_json::from_str::<wire::ClientFrame>(text) {
        Err(_) | Ok(wire::ClientFrame::Auth { .. }) => Expect::Error(INVALID),
        Ok(wire::ClientFrame::Ping) => Expect::Pong,
        Ok(wire::ClientFrame::Send { reference, .. }) => {
            if reference.is_some_and(|r| r.chars().count() > wire::MAX_REF_CHARS) {
                Expect::Error(INVALID)
            } else {
                Expect::Answer
            }
        }
        Ok(wire::ClientFrame::Typing {
            conversation_id, ..
        }) => {
            if alice_convs.contains(&conversation_id.as_str()) {
                Expect::Nothing
            } else {
                Expect::Error(UNKNOWN)
            }
        }
        Ok(
            wire::ClientFrame::Delivered {
                conversation_id,
                up_to_seq,
            }
            | wire::ClientFrame::Read {
                conversation_id,
                up_to_seq,
            },
        ) => {
            if up_to_seq < 0 {
                Expect::Error(INVALID)
            } else if alice_convs.contains(&conversation_id.as_str()) {
                Expect::Nothing
            } else {
                Expect::Error(UNKNOWN)
            }
        }
    }
}

/// The frames up to the next `pong`, durable events and ephemeral frames aside.
async fn replies_until_pong(
    socket: &mut natter_client::Socket,
) -> Result<Vec<ControlFrame>, String> {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(ServerFrame::Control(ControlFrame::Pong))) => return Ok(got),
            Ok(Some(ServerFrame::Control(c))) => got.push(c),
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("no pong within {ARRIVES:?}; got {got:?}")),
            Err(e) => return Err(format!("the socket failed: {e}; got {got:?}")),
        }
    }
}

struct FrameCase {
    how: &'static str,
    text: String,
}

impl std::fmt::Debug for FrameCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCase")
            .field("how", &self.how)
            .field("text", &Shown(self.text.as_bytes().to_vec()))
            .finish()
    }
}

/// Arbitrary text frames over one WebSocket: each is answered with an `error` frame or acted
/// on (a ping with a pong), and the connection stays open.
#[test]
fn websocket_answers_every_frame_and_stays_open() {
    let fx = Fixture::start();
    let world = fx.world.clone();
    let socket = fx
        .rt
        .block_on(fx.alice.connect(None))
        .expect("alice connects");
    let socket = RefCell::new(socket);
    let convs = [fx.group.as_str(), fx.direct.as_str()];
    let strategy = {
        let w = world.clone();
        from_bytes(768, move |u| {
            let (how, text) = ws_frame(u, &w);
            FrameCase { how, text }
        })
    };
    let tally = Tally::default();
    let mut runner = TestRunner::new(ProptestConfig {
        // The connection is the state under test: once it fails, shrinking shows nothing.
        max_shrink_iters: 0,
        ..config(400)
    });
    let result = runner.run(&strategy, |case| {
        let expect = expect_for(&case.text, &convs);
        if case.how == "valid" {
            prop_assert!(
                serde_json::from_str::<wire::ClientFrame>(&case.text).is_ok(),
                "a valid frame does not parse: {:?}",
                case
            );
        }
        let mut socket = socket.borrow_mut();
        let got = fx.rt.block_on(async {
            socket
                .send_text(case.text.clone())
                .await
                .map_err(|e| e.to_string())?;
            socket.ping().await.map_err(|e| e.to_string())?;
            let mut got = replies_until_pong(&mut socket).await?;
            if expect == Expect::Pong {
                // The fuzzed ping's pong came first; this one answers ours.
                got.extend(replies_until_pong(&mut socket).await?);
            }
            Ok::<_, String>(got)
        });
        let got = got.map_err(|e| TestCaseError::fail(format!("{case:?}: {e:?}")))?;
        tally.add(format_args!("{} {:?}", case.how, expect));
        match (&expect, got.as_slice()) {
            (Expect::Pong | Expect::Nothing, []) => {}
            (Expect::Answer, [ControlFrame::Sent { .. } | ControlFrame::Error { .. }]) => {}
            (Expect::Error(codes), [ControlFrame::Error { error, .. }]) => {
                prop_assert!(
                    codes.contains(&error.code.as_str()),
                    "{:?}: error {:?}, expected one of {:?}",
                    case,
                    error,
                    codes
                );
                prop_assert!(!error.message.is_empty(), "{:?}: an empty message", case);
            }
            _ => prop_assert!(false, "{case:?}: expected {expect:?}, got {got:?}"),
        }
        Ok(())
    });
    tally.print("frames (how expected)");
    if let Err(e) = result {
        panic!("{e}");
    }
    let mut socket = socket.into_inner();
    fx.rt.block_on(async {
        socket.ping().await.expect("a last ping");
        let rest = replies_until_pong(&mut socket).await.expect("a last pong");
        assert!(rest.is_empty(), "unexpected frames: {rest:?}");
        socket.close().await;
    });
    fx.finish();
}

/// An arbitrary first frame on a connection without the `Authorization` header: anything but
/// an `auth` frame with a live token is closed with 4001.
#[test]
fn websocket_refuses_every_bad_first_frame() {
    let fx = Fixture::start();
    let world = fx.world.clone();
    let token = fx.alice.token().expect("a token").to_owned();
    let strategy = {
        let w = world.clone();
        let token = token.clone();
        from_bytes(512, move |u| {
            if chance(u, 3) {
                let valid = json!({"type": "auth", "token": token});
                let b = mutate(u, &w, &valid);
                FrameCase {
                    how: "mutated auth",
                    text: String::from_utf8_lossy(&b).into_owned(),
                }
            } else {
                let (how, text) = ws_frame(u, &w);
                FrameCase { how, text }
            }
        })
    };
    let mut runner = TestRunner::new(config(40));
    let result = runner.run(&strategy, |case| {
        let authenticates = matches!(
            serde_json::from_str::<wire::ClientFrame>(&case.text),
            Ok(wire::ClientFrame::Auth { token: t }) if t == token
        );
        let outcome = fx.rt.block_on(async {
            let mut socket = Client::new(&fx.url).connect_raw(None).await?;
            socket.send_text(case.text.clone()).await?;
            let first = socket.next_within(ARRIVES).await;
            socket.close().await;
            first
        });
        match (authenticates, outcome) {
            (false, Err(ClientError::Closed { code: 4001, .. })) => {}
            (true, Ok(Some(ServerFrame::Control(ControlFrame::Ready { .. })))) => {}
            (_, other) => {
                prop_assert!(
                    false,
                    "{case:?} (authenticates: {authenticates}): {other:?}"
                )
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    fx.finish();
}

// ---------------------------------------------------------------------------------------------
// Regressions: what the fuzzing found, kept as plain tests.
// ---------------------------------------------------------------------------------------------

/// A request answered before its body is read (`415` for a wrong content type, `401` for a
/// missing token) leaves the rest of its body unread. The server then closes the connection,
/// but its answer does not say `Connection: close`, so a keep-alive client sends its next
/// request on a connection that is going away and gets no answer at all (reqwest/hyper:
/// `IncompleteMessage` or a broken pipe) instead of a response. Found by
/// `server_answers_every_body_clearly` (a body of tens of KiB with a non-JSON content type,
/// then the next request on that connection failed).
///
/// Checked over one raw connection, so that it does not depend on timing: the early answer
/// either says `Connection: close`, or the connection still answers the next request.
#[test]
fn an_early_answer_does_not_break_the_next_request_on_the_connection() {
    let fx = Fixture::start();
    let addr = fx.url.trim_start_matches("http://").to_owned();
    let token = fx.alice.token().expect("a token").to_owned();
    let typing = format!("/api/v1/conversations/{}/typing", fx.group);
    let auth = format!("Authorization: Bearer {token}\r\n");
    let cases = [
        // The control: a body that is read (and is not JSON) keeps the connection usable.
        (
            "400",
            format!("{auth}Content-Type: application/json\r\n"),
            256 * 1024,
        ),
        (
            "415",
            format!("{auth}Content-Type: text/plain\r\n"),
            256 * 1024,
        ),
        (
            "401",
            "Content-Type: application/json\r\n".to_owned(),
            256 * 1024,
        ),
        (
            "413",
            format!("{auth}Content-Type: application/json\r\n"),
            2 << 20,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, headers, len) in cases {
        let head = format!(
            "POST {typing} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {len}\r\n\r\n"
        );
        let got = fx.rt.block_on(early_answer_then_next(&addr, head, len));
        match got {
            Ok(note) => eprintln!("{what}: {note}"),
            Err(e) => wrong.push(format!("{what}: {e}")),
        }
    }
    fx.finish();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Sends `head` and a body of `len` bytes on a new connection, reads the answer, and then,
/// unless the answer said `Connection: close`, sends a login with `{}` on the same connection
/// and expects its `400`.
async fn early_answer_then_next(addr: &str, head: String, len: usize) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let r = async {
            wr.write_all(head.as_bytes()).await?;
            wr.write_all(&vec![b'x'; len]).await
        }
        .await;
        (wr, r)
    });
    let first = read_response(&mut rd).await?;
    let (mut wr, written) = tokio::time::timeout(ARRIVES, writer)
        .await
        .map_err(|_| format!("{first:?}, and the body could not be written in time"))?
        .map_err(|e| e.to_string())?;
    let status = first.lines().next().unwrap_or_default().to_owned();
    if first
        .to_ascii_lowercase()
        .contains("\r\nconnection: close\r\n")
    {
        return Ok(format!("{status}, with Connection: close"));
    }
    // Time for the server to do whatever it does with the rest of the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let next = "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 2\r\n\r\n{}";
    let sent = wr.write_all(next.as_bytes()).await;
    let second = match sent {
        Ok(()) => read_response(&mut rd).await,
        Err(e) => Err(e.to_string()),
    };
    let _ = rd.read(&mut [0; 1]).await;
    match second {
        Ok(r) if r.starts_with("HTTP/1.1 400") => {
            Ok(format!("{status}, then 400 on the same connection"))
        }
        other => Err(format!(
            "answered {status:?} without Connection: close (body write: {written:?}); the next \
             request on the connection got {other:?}"
        )),
    }
}

/// One HTTP/1.1 response with a `Content-Length`, as text.
async fn read_response(rd: &mut tokio::net::tcp::OwnedReadHalf) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Ok(String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned());
            }
        }
        let n = tokio::time::timeout(ARRIVES, rd.read(&mut chunk))
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "the connection closed after {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// An id in a path that percent-decodes to invalid UTF-8 (`%FF`) is refused by axum's `Path`
/// extractor before the handler runs: `400` with the text body `Invalid URL: Invalid UTF-8 in
/// \`id\`` (`text/plain`), where API.md wants `404 not_found` for a malformed id, with the JSON
/// error body. Every route with an id in its path does it. Found by
/// `server_answers_every_query_clearly` (an id cut in the middle of a percent-encoded
/// character).
#[test]

fn a_path_id_that_is_not_utf8_is_a_json_not_found() {
    let fx = Fixture::start();
    let routes = [
        ("GET", "/api/v1/users/%FF"),
        ("DELETE", "/api/v1/sessions/%FF"),
        ("GET", "/api/v1/conversations/%FF"),
        ("PATCH", "/api/v1/conversations/%FF"),
        ("POST", "/api/v1/conversations/%FF/members"),
        ("POST", "/api/v1/conversations/%FF/typing"),
        ("DELETE", "/api/v1/conversations/%FF/members/%FF"),
        ("PATCH", "/api/v1/conversations/%C3/members/me"),
        ("POST", "/api/v1/conversations/%FF/messages"),
        ("GET", "/api/v1/conversations/%FF/messages"),
        ("GET", "/api/v1/messages/%FF"),
        ("PATCH", "/api/v1/messages/%FF"),
        ("DELETE", "/api/v1/messages/%FF"),
        ("PUT", "/api/v1/messages/%FF/delivered"),
        ("PUT", "/api/v1/messages/%FF/read"),
        ("GET", "/api/v1/messages/%FF/receipts"),
        ("GET", "/api/v1/media/%FF"),
        ("GET", "/api/v1/media/%FF/thumbnail"),
    ];
    let mut wrong = Vec::new();
    for (method, path) in routes {
        let resp = fx
            .rt
            .block_on(fx.alice.raw_json(method, path, &json!({})))
            .expect("an answer");
        let json = resp
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/json"));
        if !(resp.status == 404 && json && resp.json()["error"]["code"] == "not_found") {
            wrong.push(format!("{method} {path}: {} {}", resp.status, resp.text()));
        }
    }
    fx.finish();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `GET /api/v1/ws` that is not a WebSocket upgrade (no `Connection: upgrade`) is refused by
/// axum's `WebSocketUpgrade` extractor with its own `400` and the text body `Connection header
/// did not include 'upgrade'` (`text/plain`), not the JSON error body. Found while fuzzing the
/// routes by hand after the two above.
#[test]

fn a_plain_get_on_the_websocket_route_is_a_json_error() {
    let fx = Fixture::start();
    let resp = fx
        .rt
        .block_on(fx.alice.raw("GET", "/api/v1/ws", None))
        .expect("an answer");
    fx.finish();
    let ct = resp.content_type.clone().unwrap_or_default();
    assert!(
        resp.status == 400
            && ct.starts_with("application/json")
            && resp.json()["error"]["code"] == "invalid_request",
        "{} {ct:?} {}",
        resp.status,
        resp.text()
    );
}
