//! The cryptography of one Web Push request: the payload encrypted for the subscription
//! (RFC 8291, `aes128gcm`) and the VAPID authorization that identifies the server (RFC 8292).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};

/// How long a VAPID token is valid (RFC 8292: at most 24 hours).
const TOKEN_SECS: i64 = 12 * 3600;

/// The server's VAPID identity.
pub struct Vapid {
    key: SigningKey,
    /// Base64url of the uncompressed public point: what browsers subscribe with.
    public: String,
    subject: String,
}

impl Vapid {
    /// The identity of the P-256 secret key `secret` (32 bytes), contact `subject`
    /// (`mailto:…` or `https://…`); none if `secret` is no such key.
    pub fn new(secret: &[u8], subject: &str) -> Option<Vapid> {
        let key = SigningKey::from_slice(secret).ok()?;
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_encoded_point(false).as_bytes());
        Some(Vapid {
            key,
            public,
            subject: subject.to_owned(),
        })
    }

    /// A fresh secret key.
    pub fn generate() -> [u8; 32] {
        loop {
            let bytes: [u8; 32] = rand::random();
            if SigningKey::from_slice(&bytes).is_ok() {
                return bytes;
            }
        }
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=…, k=…` for a push to `url` at `now_secs` (Unix seconds).
    /// Written here rather than taken from `web-push-native`, whose token names the endpoint's
    /// host without its port as the audience, which a push service on a port of its own refuses.
    pub fn authorization(&self, url: &reqwest::Url, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": url.origin().ascii_serialization(),
            "exp": now_secs + TOKEN_SECS,
            "sub": self.subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={token}, k={}", self.public)
    }
}

/// `payload` encrypted for the subscription whose public key is `p256dh` (65 bytes) and whose
/// authentication secret is `auth` (16 bytes): the body of the push request.
pub fn encrypt(p256dh: &[u8], auth: &[u8], payload: Vec<u8>) -> Result<Vec<u8>, String> {
    let public = web_push_native::p256::PublicKey::from_sec1_bytes(p256dh)
        .map_err(|_| "the subscription's key is not a P-256 key".to_string())?;
    if auth.len() != 16 {
        return Err("the subscription's secret is not 16 bytes".into());
    }
    let auth = web_push_native::Auth::clone_from_slice(auth);
    web_push_native::encrypt(payload, &public, &auth).map_err(|e| format!("cannot encrypt: {e}"))
}
