//! A push service stand-in (RFC 8030) for the Web Push tests: it listens on `127.0.0.1:0`, hands
//! out subscriptions whose keys it holds, and checks every push the server sends it as a strict
//! push service and the browser behind it would: the headers (RFC 8030), the VAPID
//! authorization (RFC 8292) and the encryption (RFC 8291 / RFC 8188), which it undoes by hand,
//! apart from the server's own code, to read the payload.
//!
//! ```ignore
//! let push = PushService::start().await;
//! let app = spawn_app_with(|c| c.push_allow = vec![push.prefix()]).await;
//! push.expect_vapid_key(&vapid_public_key_from_the_api);
//! let sub = push.subscription();
//! // POST /push/subscriptions with sub.to_wire(), send a message, then:
//! let got = push.next_push(&sub).await;
//! assert!(push.errors().is_empty(), "{:?}", push.errors());
//! ```
//!
//! Every violation is recorded as an error string (`.errors()`), never answered differently:
//! the stand-in answers what the test programmed (`.answer()`), so that one wrong header does
//! not change the flow a test watches. A push is recorded (`.received()`) when its body could
//! be decrypted and it was answered with a `2xx`; `.attempts()` counts every request.

// Not every test uses every part of the stand-in.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aes_gcm::{Aes128Gcm, KeyInit, Nonce, aead::Aead};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use natter_wire::{NewPushSubscription, PushKeys, PushPayload};
use p256::{
    PublicKey, SecretKey,
    ecdsa::{Signature, VerifyingKey, signature::Verifier},
    elliptic_curve::sec1::ToEncodedPoint,
};
use sha2::Sha256;
use tokio::sync::{Notify, watch};

/// How long [`PushService::next_push`] waits (generous: the machine may be busy, and a failed
/// push is retried after a growing wait).
pub const PUSH_ARRIVES: Duration = Duration::from_secs(10);

/// The largest body a push service must accept (RFC 8291 §4: 4096 octets of payload).
const MAX_BODY: usize = 4096;

/// How the stand-in answers the pushes to one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `201 Created`: accepted (the default).
    Created,
    /// `410 Gone`: the subscription expired or was unsubscribed.
    Gone,
    /// `404 Not Found`: no such subscription.
    NotFound,
    /// Any status (`429`, `503`, …).
    Status(u16),
    /// Never answers (until the stand-in is dropped).
    Hang,
    /// `n` answers of `status`, then `201` for ever.
    FailTimes(u32, u16),
}

/// A push the stand-in accepted: the decrypted payload and the headers it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub subscription_id: String,
    pub payload: PushPayload,
    /// The `TTL` header (0 if it was missing, which is also an error).
    pub ttl: u64,
    pub urgency: Option<String>,
    pub topic: Option<String>,
}

/// A browser's push subscription: its endpoint on the stand-in and its keys.
#[derive(Clone)]
pub struct TestSubscription {
    pub id: String,
    /// `http://127.0.0.1:PORT/push/<id>`.
    pub endpoint: String,
    secret: SecretKey,
    /// The uncompressed P-256 point (65 bytes): `p256dh`.
    pub public_key: Vec<u8>,
    /// The authentication secret.
    pub auth: [u8; 16],
}

impl std::fmt::Debug for TestSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSubscription")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl TestSubscription {
    /// The body of `POST /push/subscriptions`, as `PushSubscription.toJSON()` gives it.
    pub fn to_wire(&self) -> NewPushSubscription {
        NewPushSubscription {
            endpoint: self.endpoint.clone(),
            keys: PushKeys {
                p256dh: URL_SAFE_NO_PAD.encode(&self.public_key),
                auth: URL_SAFE_NO_PAD.encode(self.auth),
            },
        }
    }
}

/// What the stand-in knows of a subscription it handed out.
struct Sub {
    secret: SecretKey,
    public_key: Vec<u8>,
    auth: [u8; 16],
    answer: Answer,
    /// Requests received, failed ones included.
    attempts: u32,
    /// Failures answered under the current [`Answer::FailTimes`].
    failed: u32,
    /// Pushes already returned by `next_push`.
    taken: usize,
}

#[derive(Default)]
struct Inner {
    subs: HashMap<String, Sub>,
    vapid_key: Option<Vec<u8>>,
    errors: Vec<String>,
    pushes: Vec<Push>,
    messages: u64,
}

struct Shared {
    origin: String,
    inner: Mutex<Inner>,
    /// Woken on every recorded push.
    pushed: Notify,
    /// Set to true when the stand-in is dropped: hanging requests end.
    closing: watch::Receiver<bool>,
}

/// The stand-in; it stops when dropped.
pub struct PushService {
    shared: Arc<Shared>,
    close: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.close.send(true);
        self.task.abort();
    }
}

impl PushService {
    /// Starts listening on `127.0.0.1:0`.
    pub async fn start() -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the push service stand-in binds");
        let port = listener.local_addr().unwrap().port();
        let (close, closing) = watch::channel(false);
        let shared = Arc::new(Shared {
            origin: format!("http://127.0.0.1:{port}"),
            inner: Mutex::new(Inner::default()),
            pushed: Notify::new(),
            closing,
        });
        let router = Router::new()
            .route("/push/{id}", post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        PushService {
            shared,
            close,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`: what the VAPID `aud` claim must be.
    pub fn origin(&self) -> String {
        self.shared.origin.clone()
    }

    /// `http://127.0.0.1:PORT/`: the prefix the server is given as `--push-allow`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.shared.origin)
    }

    /// A new subscription with fresh keys, answered with `201` until told otherwise.
    pub fn subscription(&self) -> TestSubscription {
        let secret = SecretKey::random(&mut aes_gcm::aead::OsRng);
        let public_key = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        let auth: [u8; 16] = rand::random();
        let id = hex::encode(rand::random::<[u8; 12]>());
        self.lock().subs.insert(
            id.clone(),
            Sub {
                secret: secret.clone(),
                public_key: public_key.clone(),
                auth,
                answer: Answer::Created,
                attempts: 0,
                failed: 0,
                taken: 0,
            },
        );
        TestSubscription {
            endpoint: format!("{}/push/{id}", self.shared.origin),
            id,
            secret,
            public_key,
            auth,
        }
    }

    /// The server's VAPID public key (base64url, as `GET /api/v1/push/vapid` gives it): every
    /// push must carry it as `k`. Until it is set, every push is an error.
    pub fn expect_vapid_key(&self, public_key_b64url: &str) {
        let key = URL_SAFE_NO_PAD
            .decode(public_key_b64url)
            .unwrap_or_else(|e| panic!("VAPID key {public_key_b64url:?} is not base64url: {e}"));
        assert!(
            PublicKey::from_sec1_bytes(&key).is_ok() && key.len() == 65,
            "VAPID key {public_key_b64url:?} is not an uncompressed P-256 point"
        );
        self.lock().vapid_key = Some(key);
    }

    /// How pushes to `sub` are answered from now on (a new [`Answer::FailTimes`] counts its
    /// failures from now).
    pub fn answer(&self, sub: &TestSubscription, answer: Answer) {
        let mut inner = self.lock();
        let s = inner
            .subs
            .get_mut(&sub.id)
            .expect("a subscription of this stand-in");
        s.answer = answer;
        s.failed = 0;
    }

    /// How many requests were made to `sub`'s endpoint, failed ones included.
    pub fn attempts(&self, sub: &TestSubscription) -> u32 {
        self.lock().subs.get(&sub.id).map_or(0, |s| s.attempts)
    }

    /// Every violation seen so far; a test asserts that it is empty.
    pub fn errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    /// The pushes accepted for `sub`, oldest first.
    pub fn received(&self, sub: &TestSubscription) -> Vec<Push> {
        self.lock()
            .pushes
            .iter()
            .filter(|p| p.subscription_id == sub.id)
            .cloned()
            .collect()
    }

    /// Every push accepted, oldest first.
    pub fn all(&self) -> Vec<Push> {
        self.lock().pushes.clone()
    }

    /// What a device that wakes up now gets for `sub`: its accepted pushes, where of those with
    /// the same `Topic` only the newest is kept (RFC 8030 §5.4), oldest first.
    pub fn pending(&self, sub: &TestSubscription) -> Vec<Push> {
        let received = self.received(sub);
        received
            .iter()
            .enumerate()
            .filter(|(i, p)| match &p.topic {
                None => true,
                Some(t) => !received[i + 1..]
                    .iter()
                    .any(|q| q.topic.as_ref() == Some(t)),
            })
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The next accepted push for `sub` that this method has not returned yet, waiting up to
    /// [`PUSH_ARRIVES`] for it; panics if none arrives.
    pub async fn next_push(&self, sub: &TestSubscription) -> Push {
        let deadline = tokio::time::Instant::now() + PUSH_ARRIVES;
        loop {
            let notified = self.shared.pushed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(push) = self.take(sub) {
                return push;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no push for subscription {} within {PUSH_ARRIVES:?} ({} attempts; errors: \
                     {:?})",
                    sub.id,
                    self.attempts(sub),
                    self.errors()
                );
            }
        }
    }

    fn take(&self, sub: &TestSubscription) -> Option<Push> {
        let mut inner = self.lock();
        let taken = inner.subs.get(&sub.id)?.taken;
        let push = inner
            .pushes
            .iter()
            .filter(|p| p.subscription_id == sub.id)
            .nth(taken)
            .cloned()?;
        inner.subs.get_mut(&sub.id)?.taken += 1;
        Some(push)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }
}

/// `POST /push/{id}`: checks the request, decrypts it, records it and answers as programmed.
async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (answer, keys, vapid_key) = {
        let mut inner = shared.inner.lock().unwrap();
        let vapid_key = inner.vapid_key.clone();
        let Some(sub) = inner.subs.get_mut(&id) else {
            inner
                .errors
                .push(format!("push to an unknown subscription {id:?}"));
            return StatusCode::NOT_FOUND.into_response();
        };
        sub.attempts += 1;
        let answer = match sub.answer {
            Answer::FailTimes(n, status) if sub.failed < n => {
                sub.failed += 1;
                Answer::Status(status)
            }
            Answer::FailTimes(..) => Answer::Created,
            other => other,
        };
        let keys = (sub.secret.clone(), sub.public_key.clone(), sub.auth);
        (answer, keys, vapid_key)
    };

    let mut errors = Vec::new();
    let push = check(
        &shared.origin,
        vapid_key.as_deref(),
        &id,
        &headers,
        &body,
        &keys,
        &mut errors,
    );

    let status = match answer {
        Answer::Created => StatusCode::CREATED,
        Answer::Gone => StatusCode::GONE,
        Answer::NotFound => StatusCode::NOT_FOUND,
        Answer::Status(s) => StatusCode::from_u16(s).expect("a valid status"),
        Answer::FailTimes(..) => unreachable!("resolved above"),
        Answer::Hang => StatusCode::SERVICE_UNAVAILABLE,
    };
    let n = {
        let mut inner = shared.inner.lock().unwrap();
        inner
            .errors
            .extend(errors.into_iter().map(|e| format!("push to {id}: {e}")));
        match push {
            Some(push) if answer != Answer::Hang && status.is_success() => {
                inner.pushes.push(push);
                inner.messages += 1;
                Some(inner.messages)
            }
            _ => None,
        }
    };
    if n.is_some() {
        shared.pushed.notify_waiters();
    }

    if answer == Answer::Hang {
        // Holds the request open until the stand-in is dropped.
        let mut closing = shared.closing.clone();
        let _ = closing.wait_for(|closed| *closed).await;
    }
    let mut resp = status.into_response();
    if let Some(n) = n {
        // RFC 8030 §5: the push message's resource.
        resp.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("{}/message/{n}", shared.origin)).unwrap(),
        );
    }
    resp
}

/// Checks one push request as RFC 8030, 8291 and 8292 say, recording each violation in
/// `errors`; the push if its body could be decrypted and read.
fn check(
    origin: &str,
    vapid_key: Option<&[u8]>,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    (secret, public_key, auth): &(SecretKey, Vec<u8>, [u8; 16]),
    errors: &mut Vec<String>,
) -> Option<Push> {
    // A value that is not text is kept as its debug form, which then fails its check.
    let header = |name: &str| -> Option<String> {
        let v = headers.get(name)?;
        Some(v.to_str().map_or_else(|_| format!("{v:?}"), str::to_owned))
    };

    match header("content-encoding") {
        Some(ce) if ce == "aes128gcm" => {}
        other => errors.push(format!("Content-Encoding is {other:?}, not aes128gcm")),
    }
    let ttl = match header("ttl") {
        Some(t) => t.parse::<u64>().unwrap_or_else(|_| {
            errors.push(format!("TTL {t:?} is not a non-negative integer"));
            0
        }),
        None => {
            errors.push("no TTL header".into());
            0
        }
    };
    let urgency = header("urgency");
    if let Some(u) = &urgency
        && !["very-low", "low", "normal", "high"].contains(&u.as_str())
    {
        errors.push(format!(
            "Urgency {u:?} is not very-low, low, normal or high"
        ));
    }
    let topic = header("topic");
    if let Some(t) = &topic
        && (t.is_empty()
            || t.len() > 32
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        errors.push(format!(
            "Topic {t:?} is not 1 to 32 characters of the base64url alphabet"
        ));
    }
    match header("authorization") {
        Some(a) => check_vapid(origin, vapid_key, &a, errors),
        None => errors.push("no Authorization header (VAPID)".into()),
    }

    if body.len() > MAX_BODY {
        errors.push(format!(
            "the body is {} bytes, more than the {MAX_BODY} a push service must take",
            body.len()
        ));
    }
    let plaintext = match decrypt(secret, public_key, auth, body) {
        Ok(p) => p,
        Err(e) => {
            errors.push(format!("cannot decrypt the body: {e}"));
            return None;
        }
    };
    let payload = match serde_json::from_slice::<PushPayload>(&plaintext) {
        Ok(p) => p,
        Err(e) => {
            errors.push(format!(
                "the payload is not a PushPayload ({e}): {}",
                String::from_utf8_lossy(&plaintext)
            ));
            return None;
        }
    };
    Some(Push {
        subscription_id: id.to_owned(),
        payload,
        ttl,
        urgency,
        topic,
    })
}

/// `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292 §3).
fn check_vapid(origin: &str, expected: Option<&[u8]>, value: &str, errors: &mut Vec<String>) {
    let Some(params) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("vapid"))
        .map(|(_, rest)| rest)
    else {
        errors.push(format!(
            "Authorization {value:?} is not of the vapid scheme"
        ));
        return;
    };
    let mut t = None;
    let mut k = None;
    for param in params.split(',') {
        match param.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("k", v)) => k = Some(v.trim()),
            _ => errors.push(format!("unexpected Authorization parameter {param:?}")),
        }
    }
    let (Some(t), Some(k)) = (t, k) else {
        errors.push(format!("Authorization {value:?} lacks t= or k="));
        return;
    };

    let key = match URL_SAFE_NO_PAD.decode(k) {
        Ok(key) => key,
        Err(e) => {
            errors.push(format!("k {k:?} is not base64url without padding: {e}"));
            return;
        }
    };
    match expected {
        Some(expected) if expected == key.as_slice() => {}
        Some(expected) => errors.push(format!(
            "k {k:?} is not the server's VAPID key {:?}",
            URL_SAFE_NO_PAD.encode(expected)
        )),
        None => errors.push("no VAPID key expected: call expect_vapid_key first".into()),
    }
    let verifying = match VerifyingKey::from_sec1_bytes(&key) {
        Ok(v) if key.len() == 65 => v,
        _ => {
            errors.push(format!("k {k:?} is not an uncompressed P-256 point"));
            return;
        }
    };

    let parts: Vec<&str> = t.split('.').collect();
    let [header_b64, claims_b64, sig_b64] = parts[..] else {
        errors.push(format!("t {t:?} is not a JWS of three parts"));
        return;
    };
    let json = |part: &str, what: &str, errors: &mut Vec<String>| {
        let parsed = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(v) if v.is_object() => Some(v),
            Ok(v) => {
                errors.push(format!("the JWT {what} is not an object: {v}"));
                None
            }
            Err(e) => {
                errors.push(format!("the JWT {what} is not base64url JSON: {e}"));
                None
            }
        }
    };
    if let Some(h) = json(header_b64, "header", errors)
        && (h["typ"] != "JWT" || h["alg"] != "ES256")
    {
        errors.push(format!(
            "the JWT header is {h}, not {{\"typ\":\"JWT\",\"alg\":\"ES256\"}}"
        ));
    }
    match URL_SAFE_NO_PAD
        .decode(sig_b64)
        .ok()
        .filter(|s| s.len() == 64)
        .and_then(|s| Signature::from_slice(&s).ok())
    {
        Some(sig) => {
            let signed = format!("{header_b64}.{claims_b64}");
            if verifying.verify(signed.as_bytes(), &sig).is_err() {
                errors.push("the JWT signature does not verify with k".into());
            }
        }
        None => errors.push(format!(
            "the JWT signature {sig_b64:?} is not base64url of 64 bytes (r || s)"
        )),
    }
    let Some(claims) = json(claims_b64, "claims", errors) else {
        return;
    };
    if claims["aud"] != origin {
        errors.push(format!(
            "the JWT aud is {}, not the push service's origin {origin:?}",
            claims["aud"]
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    match claims["exp"].as_i64() {
        Some(exp) if exp <= now => errors.push(format!("the JWT exp {exp} is not in the future")),
        // A few seconds of slack for a token signed just before the clock ticked.
        Some(exp) if exp > now + 24 * 3600 + 5 => {
            errors.push(format!("the JWT exp {exp} is more than 24 h ahead"))
        }
        Some(_) => {}
        None => errors.push(format!("the JWT exp {} is not an integer", claims["exp"])),
    }
    match claims["sub"].as_str() {
        Some(sub) if sub.starts_with("mailto:") || sub.starts_with("https:") => {}
        _ => errors.push(format!(
            "the JWT sub {} is not a mailto: or https: URI",
            claims["sub"]
        )),
    }
}

/// Undoes RFC 8291 (Web Push message encryption) over RFC 8188 (`aes128gcm`), a single record.
fn decrypt(
    ua_secret: &SecretKey,
    ua_public: &[u8],
    auth: &[u8; 16],
    body: &[u8],
) -> Result<Vec<u8>, String> {
    // The RFC 8188 header: salt (16) || rs (u32 BE) || idlen (u8) || keyid (idlen).
    if body.len() < 21 {
        return Err(format!("{} bytes, shorter than the header", body.len()));
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes(body[16..20].try_into().unwrap()) as usize;
    let idlen = body[20] as usize;
    if idlen != 65 {
        return Err(format!(
            "idlen is {idlen}, not 65 (the sender's uncompressed public key)"
        ));
    }
    if body.len() < 21 + idlen {
        return Err("the body ends within the key id".into());
    }
    let as_public_bytes = &body[21..21 + idlen];
    let as_public = PublicKey::from_sec1_bytes(as_public_bytes)
        .map_err(|_| "the key id is not a P-256 public key".to_string())?;
    if as_public_bytes[0] != 0x04 {
        return Err("the key id is not an uncompressed point".into());
    }
    let record = &body[21 + idlen..];
    if rs < 18 {
        return Err(format!("rs {rs} is below the minimum of 18"));
    }
    if record.len() > rs {
        return Err(format!(
            "{} bytes of records with rs {rs}: more than the single record expected",
            record.len()
        ));
    }
    if record.len() < 17 {
        return Err(format!(
            "a record of {} bytes cannot hold a tag and a delimiter",
            record.len()
        ));
    }

    // RFC 8291 §3.3-3.4: the input keying material from the ECDH secret and the auth secret.
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public_bytes);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;

    // RFC 8188 §2.2-2.3: the content-encryption key and the nonce (record 0: nonce as is).
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;

    let plain = Aes128Gcm::new_from_slice(&cek)
        .map_err(|e| e.to_string())?
        .decrypt(Nonce::from_slice(&nonce), record)
        .map_err(|_| "AES-128-GCM authentication failed".to_string())?;

    // The last (only) record: data || 0x02 || zero padding.
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or("the record is all padding, without a delimiter")?;
    match plain[end] {
        0x02 => Ok(plain[..end].to_vec()),
        0x01 => Err("the padding delimiter is 0x01 (not the last record), not 0x02".into()),
        d => Err(format!("the padding delimiter is {d:#04x}, not 0x02")),
    }
}

// ---- The stand-in's own test, against an independent implementation ----

#[cfg(test)]
mod self_test {
    use web_push_native::{
        Auth, WebPushBuilder,
        jwt_simple::{
            algorithms::{ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair},
            claims::Claims,
        },
    };

    use super::*;

    fn payload(seq: i64) -> PushPayload {
        PushPayload {
            kind: "new_message".into(),
            conversation_id: "c1".into(),
            conversation_kind: "group".into(),
            conversation_name: Some("Team".into()),
            message_id: format!("m{seq}"),
            seq,
            sender: natter_wire::PushSender {
                id: "u1".into(),
                display_name: "Ada".into(),
            },
            mention: false,
            reply: false,
            sent_at: "2026-12-01T10:00:00.000Z".into(),
            preview: Some("See you at…".into()),
        }
    }

    /// A request as a push sender would build it with web-push-native: encrypted for `sub`,
    /// with `TTL` and `Content-Encoding`, and web-push-native's own VAPID header.
    fn build(
        sub: &TestSubscription,
        vapid: &ES256KeyPair,
        payload: &PushPayload,
    ) -> axum::http::Request<Vec<u8>> {
        WebPushBuilder::new(
            sub.endpoint.parse().unwrap(),
            PublicKey::from_sec1_bytes(&sub.public_key).unwrap(),
            Auth::clone_from_slice(&sub.auth),
        )
        .with_vapid(vapid, "mailto:postmaster@localhost")
        .build(serde_json::to_vec(payload).unwrap())
        .unwrap()
    }

    /// `vapid t=…, k=…` with `aud` the stand-in's origin, port included (RFC 8292 §2: the
    /// origin of the push resource).
    fn vapid_header(vapid: &ES256KeyPair, aud: &str, k: &ES256KeyPair) -> String {
        let claims = Claims::create(web_push_native::jwt_simple::prelude::Duration::from_hours(
            12,
        ))
        .with_audience(aud)
        .with_subject("mailto:postmaster@localhost");
        let token = vapid.sign(claims).unwrap();
        format!("vapid t={token}, k={}", public_b64(k))
    }

    fn public_b64(k: &ES256KeyPair) -> String {
        URL_SAFE_NO_PAD.encode(k.public_key().public_key().to_bytes_uncompressed())
    }

    /// Posts `req` with `authorization` instead of its own (if given) and extra headers.
    async fn post(
        req: axum::http::Request<Vec<u8>>,
        authorization: Option<String>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        // reqwest is built without a TLS provider of its own here (the server installs one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (parts, body) = req.into_parts();
        let mut rb = reqwest::Client::new().post(parts.uri.to_string());
        for (name, value) in &parts.headers {
            // reqwest sets Content-Length itself.
            if name == header::CONTENT_LENGTH
                || (name == header::AUTHORIZATION && authorization.is_some())
            {
                continue;
            }
            rb = rb.header(name.as_str(), value.to_str().unwrap());
        }
        if let Some(a) = authorization {
            rb = rb.header("authorization", a);
        }
        for (name, value) in extra {
            rb = rb.header(*name, *value);
        }
        rb.body(body).send().await.expect("the stand-in answers")
    }

    #[tokio::test]
    async fn push_service_decrypts_and_verifies_what_web_push_native_sends() {
        let push = PushService::start().await;
        let vapid = ES256KeyPair::generate();
        push.expect_vapid_key(&public_b64(&vapid));
        let sub = push.subscription();
        let wire = sub.to_wire();
        assert_eq!(wire.endpoint, format!("{}push/{}", push.prefix(), sub.id));
        assert_eq!(URL_SAFE_NO_PAD.decode(&wire.keys.p256dh).unwrap().len(), 65);
        assert_eq!(URL_SAFE_NO_PAD.decode(&wire.keys.auth).unwrap().len(), 16);

        // A correct push: decrypted, verified, recorded.
        let sent = payload(1);
        let resp = post(
            build(&sub, &vapid, &sent),
            Some(vapid_header(&vapid, &push.origin(), &vapid)),
            &[
                ("urgency", "high"),
                ("topic", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 201);
        assert!(resp.headers().contains_key("location"));
        assert_eq!(push.errors(), Vec::<String>::new());
        let got = push.next_push(&sub).await;
        assert_eq!(got.payload, sent);
        assert_eq!(got.subscription_id, sub.id);
        assert_eq!(got.ttl, 12 * 3600, "web-push-native's default TTL");
        assert_eq!(got.urgency.as_deref(), Some("high"));
        assert_eq!(
            got.topic.as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        );
        assert_eq!(push.attempts(&sub), 1);

        // web-push-native's own VAPID header names the origin without its port: wrong for a
        // push service on a port of its own (as this one), so it is recorded.
        post(build(&sub, &vapid, &sent), None, &[]).await;
        let errors = push.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("aud"), "{errors:?}");

        // A tampered body: recorded as an error, no push.
        let before = push.received(&sub).len();
        let mut req = build(&sub, &vapid, &sent);
        let last = req.body().len() - 1;
        req.body_mut()[last] ^= 1;
        post(req, Some(vapid_header(&vapid, &push.origin(), &vapid)), &[]).await;
        let errors = push.errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[1].contains("cannot decrypt"), "{errors:?}");
        assert_eq!(push.received(&sub).len(), before);

        // Another key as k: not the expected key, and the signature does not verify with it.
        let other = ES256KeyPair::generate();
        post(
            build(&sub, &vapid, &sent),
            Some(vapid_header(&vapid, &push.origin(), &other)),
            &[],
        )
        .await;
        let errors = push.errors();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[2].contains("not the server's VAPID key"),
            "{errors:?}"
        );
        assert!(
            errors[3].contains("signature does not verify"),
            "{errors:?}"
        );

        // Bad headers.
        post(
            build(&sub, &vapid, &sent),
            Some(vapid_header(&vapid, &push.origin(), &vapid)),
            &[("urgency", "urgent"), ("topic", "not a topic!")],
        )
        .await;
        let errors = push.errors();
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(errors[4].contains("Urgency"), "{errors:?}");
        assert!(errors[5].contains("Topic"), "{errors:?}");
    }

    #[tokio::test]
    async fn push_service_answers_as_programmed_and_collapses_topics() {
        let push = PushService::start().await;
        let vapid = ES256KeyPair::generate();
        push.expect_vapid_key(&public_b64(&vapid));
        let sub = push.subscription();
        let auth = || Some(vapid_header(&vapid, &push.origin(), &vapid));

        push.answer(&sub, Answer::FailTimes(2, 503));
        for expected in [503, 503, 201] {
            let resp = post(build(&sub, &vapid, &payload(1)), auth(), &[]).await;
            assert_eq!(resp.status(), expected);
        }
        assert_eq!(push.attempts(&sub), 3);
        assert_eq!(
            push.received(&sub).len(),
            1,
            "failed attempts deliver nothing"
        );

        push.answer(&sub, Answer::Gone);
        let resp = post(build(&sub, &vapid, &payload(2)), auth(), &[]).await;
        assert_eq!(resp.status(), 410);
        push.answer(&sub, Answer::Status(429));
        let resp = post(build(&sub, &vapid, &payload(2)), auth(), &[]).await;
        assert_eq!(resp.status(), 429);
        push.answer(&sub, Answer::Hang);
        let hung = tokio::time::timeout(
            Duration::from_millis(300),
            post(build(&sub, &vapid, &payload(2)), auth(), &[]),
        )
        .await;
        assert!(hung.is_err(), "a hanging push service does not answer");
        // The hung request reached the stand-in before the next answer is programmed.
        let deadline = tokio::time::Instant::now() + PUSH_ARRIVES;
        while push.attempts(&sub) < 6 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(push.attempts(&sub), 6);
        assert_eq!(push.received(&sub).len(), 1);

        // Topic collapse: per topic the newest; pushes without a topic all kept.
        push.answer(&sub, Answer::Created);
        let other = push.subscription();
        for (seq, topic) in [(2, Some("a")), (3, None), (4, Some("a")), (5, Some("b"))] {
            let extra: Vec<(&str, &str)> = topic.map(|t| ("topic", t)).into_iter().collect();
            post(build(&sub, &vapid, &payload(seq)), auth(), &extra).await;
        }
        post(
            build(&other, &vapid, &payload(9)),
            auth(),
            &[("topic", "a")],
        )
        .await;
        let seqs = |pushes: Vec<Push>| pushes.iter().map(|p| p.payload.seq).collect::<Vec<_>>();
        assert_eq!(seqs(push.received(&sub)), [1, 2, 3, 4, 5]);
        assert_eq!(seqs(push.pending(&sub)), [1, 3, 4, 5]);
        assert_eq!(seqs(push.pending(&other)), [9]);
        assert_eq!(seqs(push.all()), [1, 2, 3, 4, 5, 9]);
        for seq in 1..=5 {
            assert_eq!(push.next_push(&sub).await.payload.seq, seq);
        }
        assert_eq!(push.errors(), Vec::<String>::new());
    }
}
