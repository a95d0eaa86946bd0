//! Accounts and device sessions.
//!
//! Passwords are hashed with Argon2id on the blocking pool, a bounded number at once. A session
//! token is 256 random bits; only its SHA-256 is stored, so a copy of the database lets no one
//! log in.

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{Decimal, Ident, Output, ParamsString, Salt, SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use std::net::IpAddr;

use natter_core::{time, validate};
use natter_wire as wire;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{App, Caller, new_id};
use crate::{
    error::{AppError, AppResult},
    store::{SessionRow, UserRow},
};

/// A session's last activity is written at most this often, not on every request.
const TOUCH_EVERY_MS: i64 = 60_000;
/// How long a token stays cached. A revocation evicts it at once on every node that hears of
/// it; this bounds how long a node that missed the word would still accept it.
const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// Tokens cached at most; past it the cache starts over.
const CACHE_MAX: usize = 200_000;

/// Failed logins a username may have from one address before each further attempt must wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait imposed after failed logins.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
/// (username, address) pairs whose failures are remembered at most; past it the least used
/// are forgotten. Each holds at most a valid username (32 bytes) and an address.
const FAILURES_MAX: u64 = 100_000;

/// Failures in a row, and when the last one happened.
type Failures = (u32, std::time::Instant);

/// Recently seen tokens, by hash, so that most requests authenticate without the database;
/// and failed logins by username and client address, so that guessing a password slows down.
pub(super) struct Sessions {
    cache: std::sync::Mutex<std::collections::HashMap<Vec<u8>, (Caller, std::time::Instant)>>,
    /// Keyed by the address too, so that failures from one place never make the owner wait
    /// elsewhere. An entry lives until a long quiet spell after its last failure, which starts
    /// the count afresh.
    failures: moka::sync::Cache<(String, IpAddr), Failures>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(FAILURES_MAX)
    }
}

impl Sessions {
    fn new(failures_max: u64) -> Self {
        Self {
            cache: Default::default(),
            failures: moka::sync::Cache::builder()
                .max_capacity(failures_max)
                .time_to_live(LONGEST_WAIT * 2)
                .build(),
        }
    }

    fn cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Vec<u8>, (Caller, std::time::Instant)>>
    {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets a revoked session.
    pub(super) fn evict(&self, session_id: &str) {
        self.cache().retain(|_, (c, _)| c.session_id != session_id);
    }

    /// How long a login for `username` from `from` must still wait: after [`FREE_FAILURES`]
    /// failures in a row, one second, doubling with each further failure, up to
    /// [`LONGEST_WAIT`].
    pub(super) fn login_wait(&self, username: &str, from: IpAddr) -> Option<std::time::Duration> {
        let (n, last) = self.failures.get(&(username.to_owned(), from))?;
        let over = n.checked_sub(FREE_FAILURES)?;
        let wait = std::time::Duration::from_secs(1u64 << over.min(16)).min(LONGEST_WAIT);
        let since = last.elapsed();
        (since < wait).then(|| wait - since)
    }

    /// Counts a failure; `username` must be valid, so that what is kept stays small.
    pub(super) fn login_failed(&self, username: &str, from: IpAddr) {
        self.failures
            .entry((username.to_owned(), from))
            .and_upsert_with(|e| {
                let n = e.map_or(0, |e| e.into_value().0);
                (n.saturating_add(1), std::time::Instant::now())
            });
    }

    pub(super) fn login_succeeded(&self, username: &str, from: IpAddr) {
        self.failures.invalidate(&(username.to_owned(), from));
    }
}

/// Base64url without padding of a token's 32 random bytes.
const TOKEN_LEN: usize = 43;

/// Hash verified against when the username is unknown, so that an unknown user and a wrong
/// password take the same time and cannot be told apart.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2y7xDNdsI0mVqB9Pp1K9r3n1YqYz3nRcT0wTqQzwq0c";

/// Argon2 memory (19 MiB a hash) kept for the next hash while others are still running, and
/// freed with the last one: during a burst of logins each hash reuses memory already mapped,
/// and an idle server holds none. (The binary has malloc map such blocks on their own, so
/// that freeing one returns it to the system.) At most one block per hashing thread.
static HASH_MEMORY: std::sync::Mutex<HashMemory> = std::sync::Mutex::new(HashMemory {
    running: 0,
    idle: Vec::new(),
});

struct HashMemory {
    running: usize,
    idle: Vec<Vec<Block>>,
}

/// Runs `f` with `blocks` blocks of Argon2 memory.
fn with_hash_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let lock = || HASH_MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    /// Gives the memory back even if `f` panics.
    struct Done(Vec<Block>);
    impl Drop for Done {
        fn drop(&mut self) {
            let mut m = HASH_MEMORY.lock().unwrap_or_else(|p| p.into_inner());
            m.running -= 1;
            if m.running == 0 {
                m.idle.clear();
            } else {
                m.idle.push(std::mem::take(&mut self.0));
            }
        }
    }
    let reused = {
        let mut m = lock();
        m.running += 1;
        m.idle.pop()
    };
    let mut memory = Done(
        reused
            .filter(|b| b.len() == blocks)
            .unwrap_or_else(|| vec![Block::default(); blocks]),
    );
    f(&mut memory.0)
}

/// Argon2 exactly as `argon2::Argon2` computes it (the same PHC strings, so every stored hash
/// still verifies), with its memory from [`with_hash_memory`] rather than a fresh allocation.
struct Hasher;

impl PasswordHasher for Hasher {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            with_hash_memory(params.block_count(), |memory| {
                argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)
            })
            .map_err(Into::into)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl App {
    async fn hash_password(&self, password: String) -> AppResult<String> {
        self.inner
            .hashing
            .run(move || {
                let salt = SaltString::generate(&mut OsRng);
                Hasher
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| AppError::Internal(format!("hashing: {e}")))
            })
            .await
            .ok_or_else(|| AppError::Internal("hashing panicked".into()))?
    }

    async fn verify_password(&self, password: String, hash: String) -> AppResult<bool> {
        self.inner
            .hashing
            .run(move || {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|e| AppError::Internal(format!("stored hash: {e}")))?;
                Ok(Hasher.verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await
            .ok_or_else(|| AppError::Internal("verifying a password panicked".into()))?
    }

    /// `POST /users`
    pub async fn register(&self, req: wire::RegisterRequest) -> AppResult<wire::User> {
        let l = self.limits();
        let username = validate::username(&req.username, l)?;
        validate::password(&req.password, l)?;
        let display_name = match req.display_name.as_deref() {
            Some(d) => validate::display_name(d, l)?,
            None => username.clone(),
        };
        if self.store().user_by_username(&username).await?.is_some() {
            return Err(natter_core::Error::conflict("that username is taken").into());
        }
        let user = UserRow {
            id: new_id(),
            username,
            display_name,
            password_hash: self.hash_password(req.password).await?,
            created_at: time::now(),
            last_seen_at: None,
        };
        self.store().create_user(&user).await?;
        self.render_own_user(&user).await
    }

    /// `POST /sessions` from the client address `from`.
    pub async fn login(
        &self,
        req: wire::LoginRequest,
        from: IpAddr,
    ) -> AppResult<wire::LoginResponse> {
        const WRONG: AppError = AppError::Unauthorized("wrong username or password");
        let device_name = validate::device_name(req.device_name.as_deref(), self.limits())?;
        // A name no account can have is refused like a wrong password, before anything is
        // looked up or remembered: the failure table then holds only names of valid shape.
        let Ok(username) = validate::username(&req.username, self.limits()) else {
            return Err(WRONG);
        };
        if self.config().rate_limit
            && let Some(wait) = self.inner.sessions.login_wait(&username, from)
        {
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let user = self.store().user_by_username(&username).await?;
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = self.verify_password(req.password, hash).await?;
        let user = match (user, ok) {
            (Some(u), true) => u,
            _ => {
                self.inner.sessions.login_failed(&username, from);
                return Err(WRONG);
            }
        };
        self.inner.sessions.login_succeeded(&username, from);
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let now = time::now();
        let session = SessionRow {
            id: new_id(),
            user_id: user.id.clone(),
            token_hash: token_hash(&token),
            device_name,
            created_at: now,
            last_active_at: now,
        };
        self.store().create_session(&session).await?;
        Ok(wire::LoginResponse {
            token,
            session_id: session.id,
            user: self.render_own_user(&user).await?,
        })
    }

    /// Resolves a bearer token to its caller.
    pub async fn authenticate(&self, token: &str) -> AppResult<Caller> {
        const NO: AppError = AppError::Unauthorized("missing, unknown or revoked token");
        // Every token this server issues has this length: no other needs looking up.
        if token.len() != TOKEN_LEN {
            return Err(NO);
        }
        let hash = token_hash(token);
        if let Some((caller, at)) = self.inner.sessions.cache().get(&hash)
            && at.elapsed() < CACHE_FOR
        {
            return Ok(caller.clone());
        }
        let session = self.store().session_by_token_hash(&hash).await?.ok_or(NO)?;
        if !bool::from(session.token_hash.ct_eq(&hash)) {
            return Err(NO);
        }
        let now = time::now();
        if now - session.last_active_at > TOUCH_EVERY_MS {
            self.store().touch_session(&session.id, now).await?;
        }
        let caller = Caller {
            user_id: session.user_id,
            session_id: session.id,
        };
        let mut cache = self.inner.sessions.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (caller.clone(), std::time::Instant::now()));
        Ok(caller)
    }

    /// `GET /sessions`
    pub async fn sessions(&self, caller: &Caller) -> AppResult<wire::SessionList> {
        let rows = self.store().sessions_of(&caller.user_id).await?;
        Ok(wire::SessionList {
            sessions: rows
                .into_iter()
                .map(|s| wire::Session {
                    current: s.id == caller.session_id,
                    id: s.id,
                    device_name: s.device_name,
                    created_at: time::format(s.created_at),
                    last_active_at: time::format(s.last_active_at),
                })
                .collect(),
        })
    }

    /// `DELETE /sessions/{id}`: `current` is the caller's own.
    pub async fn revoke_session(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let id = if id == "current" {
            caller.session_id.as_str()
        } else {
            id
        };
        if self.store().delete_session(&caller.user_id, id).await? {
            self.inner.sessions.evict(id);
            // Its sockets close at once, on whichever node holds them.
            self.bus().publish(crate::bus::BusMessage::SessionRevoked {
                session_id: id.to_owned(),
            });
            Ok(())
        } else {
            Err(AppError::not_found("session"))
        }
    }

    /// `GET /users/{id}` (`me` for the caller).
    pub async fn user(&self, caller: &Caller, id: &str) -> AppResult<wire::User> {
        let user = self
            .store()
            .user_by_id(id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        if user.id == caller.user_id {
            return self.render_own_user(&user).await;
        }
        let contact = !self
            .store()
            .contacts_among(&caller.user_id, std::slice::from_ref(&user.id))
            .await?
            .is_empty();
        Ok(self.render_user(&user, contact, None))
    }

    /// `GET /users?query=&limit=`: presence only of the caller and its contacts.
    pub async fn search_users(
        &self,
        caller: &Caller,
        query: &str,
        limit: u32,
    ) -> AppResult<wire::UserList> {
        let rows = self.store().search_users(query, limit).await?;
        let ids: Vec<String> = rows.iter().map(|u| u.id.clone()).collect();
        let contacts: std::collections::HashSet<String> = self
            .store()
            .contacts_among(&caller.user_id, &ids)
            .await?
            .into_iter()
            .collect();
        Ok(wire::UserList {
            users: rows
                .iter()
                .map(|u| {
                    let presence = u.id == caller.user_id || contacts.contains(&u.id);
                    self.render_user(u, presence, None)
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn the_failure_table_is_bounded() {
        let sessions = Sessions::new(10);
        let from = IpAddr::from([192, 0, 2, 1]);
        for i in 0..1_000 {
            sessions.login_failed(&format!("user{i}"), from);
        }
        sessions.failures.run_pending_tasks();
        assert!(sessions.failures.entry_count() <= 10);
    }

    #[test]
    fn failures_count_per_username_and_address() {
        let sessions = Sessions::default();
        let (here, there) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        for _ in 0..FREE_FAILURES {
            assert_eq!(sessions.login_wait("alice", there), None);
            sessions.login_failed("alice", there);
        }
        sessions.login_failed("alice", there);
        assert!(sessions.login_wait("alice", there).is_some());
        assert_eq!(sessions.login_wait("alice", here), None);
        sessions.login_succeeded("alice", there);
        assert_eq!(sessions.login_wait("alice", there), None);
    }

    #[test]
    fn hashes_are_those_of_the_argon2_crate_both_ways() {
        let salt = SaltString::generate(&mut OsRng);
        let ours = Hasher.hash_password(b"correct horse", &salt).unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(
            ours.to_string()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        // A hash stored before (made by the crate) verifies, and a wrong password does not.
        let stored = Argon2::default()
            .hash_password(b"battery staple", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let stored = PasswordHash::new(&stored).unwrap();
        assert!(Hasher.verify_password(b"battery staple", &stored).is_ok());
        assert!(Hasher.verify_password(b"battery stapler", &stored).is_err());
    }
}
