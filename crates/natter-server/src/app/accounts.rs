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
use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use natter_core::{SessionId, UserId, decide, time, validate};
use natter_wire as wire;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{App, Caller, new_id};
use crate::{
    error::{AppError, AppResult},
    store::{InviteRow, SessionRow, UserRow},
};

/// A session's last activity is written at most this often (or a tenth of the idle timeout,
/// if that is shorter), not on every request.
const TOUCH_EVERY_MS: i64 = 60_000;
/// How long a token stays cached. A cached token is refused as soon as its session's deletion
/// is heard of (see `Sessions::gone`); this bounds how long a node that missed the word would
/// still accept it.
const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// Tokens cached at most; past it the least used are dropped.
const CACHE_MAX: u64 = 200_000;
/// How long a deleted session is remembered. A request that read its session just before the
/// deletion may cache it just after; this must outlast that request by far, and outlasts a
/// cached token ([`CACHE_FOR`]) too.
const GONE_FOR: std::time::Duration = std::time::Duration::from_secs(600);
/// Deleted sessions remembered at most.
const GONE_MAX: u64 = 1_000_000;

/// Failed logins a username may have from one address before each further attempt must wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait imposed after failed logins.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
/// (username, address) pairs whose failures are remembered at most; past it the least used
/// are forgotten. Each holds at most a valid username (32 bytes) and an address.
const FAILURES_MAX: u64 = 100_000;

/// Failures in a row, and when the last one happened.
type Failures = (u32, std::time::Instant);

/// A cached session.
struct Cached {
    caller: Caller,
    /// The session's `last_active_at` as stored, moved forward when this node writes it.
    active_at: AtomicI64,
}

/// Recently seen tokens, by hash, so that most requests authenticate without the database;
/// and failed logins by username and client address, so that guessing a password slows down.
pub(super) struct Sessions {
    tokens: moka::sync::Cache<Vec<u8>, Arc<Cached>>,
    /// Sessions deleted (revoked or expired) lately. A request that read its session before
    /// the deletion can cache it after the deletion was announced; a cached session found here
    /// is refused, on the way into the cache and on every hit, so that a revoked token stops
    /// at once rather than when its cache entry ends.
    gone: moka::sync::Cache<String, ()>,
    /// A session unused for longer than this (ms) has expired.
    idle_ms: i64,
    /// Last activity is written when it is older than this (ms).
    touch_every_ms: i64,
    /// Keyed by the address too, so that failures from one place never make the owner wait
    /// elsewhere. An entry lives until a long quiet spell after its last failure, which starts
    /// the count afresh.
    failures: moka::sync::Cache<(String, IpAddr), Failures>,
}

impl Sessions {
    pub(super) fn new(idle_timeout: std::time::Duration) -> Self {
        Self::with_failures_max(FAILURES_MAX, idle_timeout)
    }

    fn with_failures_max(failures_max: u64, idle_timeout: std::time::Duration) -> Self {
        let idle_ms = i64::try_from(idle_timeout.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        Self {
            tokens: moka::sync::Cache::builder()
                .max_capacity(CACHE_MAX)
                .time_to_live(CACHE_FOR)
                .build(),
            gone: moka::sync::Cache::builder()
                .max_capacity(GONE_MAX)
                .time_to_live(GONE_FOR)
                .build(),
            idle_ms,
            touch_every_ms: TOUCH_EVERY_MS.min(idle_ms / 10),
            failures: moka::sync::Cache::builder()
                .max_capacity(failures_max)
                .time_to_live(LONGEST_WAIT * 2)
                .build(),
        }
    }

    /// Forgets a deleted (revoked or expired) session: its token stops working on this node.
    pub(super) fn evict(&self, session_id: &str) {
        self.gone.insert(session_id.to_owned(), ());
    }

    /// The cached session of a token: `None` if it is not cached, `Some(None)` if its session
    /// was deleted.
    fn cached(&self, hash: &[u8]) -> Option<Option<Arc<Cached>>> {
        let c = self.tokens.get(hash)?;
        Some((!self.gone.contains_key(&c.caller.session_id)).then_some(c))
    }

    /// Caches a session just read from storage; `None` if it was deleted meanwhile.
    fn admit(&self, hash: &[u8], session: &SessionRow) -> Option<Arc<Cached>> {
        let cached = Arc::new(Cached {
            caller: Caller {
                user_id: session.user_id.clone(),
                session_id: session.id.clone(),
            },
            active_at: AtomicI64::new(session.last_active_at),
        });
        self.tokens.insert(hash.to_vec(), cached.clone());
        // Checked after the insert: a deletion announced before it is seen here, one announced
        // after it is seen by every later hit.
        if self.gone.contains_key(&session.id) {
            self.tokens.invalidate(hash);
            return None;
        }
        Some(cached)
    }

    /// Whether a session whose last activity was stored as `active_at` has expired at `now`.
    /// Activity is stored only when the stored value is [`Sessions::touch_every_ms`] old, so
    /// a session used within the idle timeout has a stored activity at most that much older:
    /// the grace makes sure that it never expires.
    pub(super) fn expired(&self, active_at: i64, now: i64) -> bool {
        now.saturating_sub(active_at) > self.idle_ms.saturating_add(self.touch_every_ms)
    }

    /// Sessions whose stored last activity is older than this have expired at `now`.
    pub(super) fn idle_before(&self, now: i64) -> i64 {
        now.saturating_sub(self.idle_ms.saturating_add(self.touch_every_ms))
    }

    /// How often expired sessions are looked for: a tenth of the timeout, between 10 ms and an
    /// hour (a request with an expired token is refused whenever it comes; this only deletes
    /// sessions and closes their sockets).
    pub(super) fn sweep_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.idle_ms / 10).unwrap_or(0)).clamp(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_secs(3600),
        )
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

/// Hashes a password as the server stores it (Argon2id), for the shell's account commands.
/// Blocking: run it off the async runtime.
pub fn hash_password_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing: {e}")))
}

/// An invite code: 144 random bits, base64url (24 characters, URL-safe).
fn invite_code() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn render_invite(i: &InviteRow) -> wire::Invite {
    wire::Invite {
        code: i.code.clone(),
        uses_left: i.uses_left,
        expires_at: time::format(i.expires_at),
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl App {
    pub(super) async fn hash_password(&self, password: String) -> AppResult<String> {
        self.inner
            .hashing
            .run(move || hash_password_blocking(&password))
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
        let (username, display_name) = validate::new_account(
            &req.username,
            &req.password,
            req.display_name.as_deref(),
            self.limits(),
        )?;
        // Asked first on what is stored now (the store's transaction decides again, for good):
        // someone the mode refuses learns nothing of which names are taken, and costs no hash.
        let invite = match req.invite.as_deref() {
            Some(code) => self.store().invite(code).await?.map(|i| decide::Invite {
                uses_left: i.uses_left,
                expires_at: i.expires_at,
            }),
            None => None,
        };
        let users = self.store().count_users().await?;
        decide::admit(self.config().registration, users, invite, time::now())?;
        if self.store().user_by_username(&username).await?.is_some() {
            return Err(natter_core::Error::conflict("that username is taken").into());
        }
        let hash = self.hash_password(req.password).await?;
        let user = UserRow::new_account(new_id(), username, display_name, hash, time::now(), false);
        // Whether it may, and whether it is the first (an admin), is decided by the store's
        // transaction, on the count and the invite it reads there.
        let user = self
            .store()
            .register(&user, self.config().registration, req.invite.as_deref())
            .await?;
        tracing::info!(
            target: "natter::audit",
            user = %user.username,
            user_id = %user.id,
            admin = user.admin,
            invite = req.invite.is_some(),
            "registered"
        );
        self.render_own_user(&user).await
    }

    /// `PATCH /users/me`: a new display name, told to the caller's contacts and other devices.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        req: wire::UpdateProfileRequest,
    ) -> AppResult<wire::User> {
        let name = validate::display_name(&req.display_name, self.limits())?;
        self.store()
            .set_display_name(caller.user_id(), &name, time::now())
            .await?;
        self.user(caller, &caller.user_id).await
    }

    /// `PUT /users/me/password` from the client address `from`: every other session of the
    /// caller is revoked. Wrong current passwords count with failed logins (same username,
    /// same address), so a stolen token cannot guess the password faster than a login can.
    pub async fn change_password(
        &self,
        caller: &Caller,
        req: wire::ChangePasswordRequest,
        from: IpAddr,
    ) -> AppResult<()> {
        validate::password(&req.new_password, self.limits())?;
        let user = self
            .store()
            .user_by_id(caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        self.confirm_password(&user, req.current_password, from)
            .await?;
        let hash = self.hash_password(req.new_password).await?;
        let revoked = self
            .store()
            .set_password(caller.user_id(), &hash, caller.session_id())
            .await?;
        tracing::info!(
            target: "natter::audit",
            user = %user.username,
            user_id = %user.id,
            sessions_revoked = revoked.len(),
            "password changed by its owner"
        );
        // Their sockets close at once, on whichever node holds them.
        self.revoked(revoked);
        Ok(())
    }

    /// Checks the password a signed-in user gives to confirm a change (`403` if wrong). Wrong
    /// ones count with failed logins of the same username from the same address, so a stolen
    /// token cannot guess the password faster than a login can (`429` past the free ones).
    pub(super) async fn confirm_password(
        &self,
        user: &UserRow,
        password: String,
        from: IpAddr,
    ) -> AppResult<()> {
        if self.config().rate_limit
            && let Some(wait) = self.inner.sessions.login_wait(&user.username, from)
        {
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        if user.deleted
            || !self
                .verify_password(password, user.password_hash.clone())
                .await?
        {
            self.inner.sessions.login_failed(&user.username, from);
            tracing::info!(
                target: "natter::audit",
                user = %user.username,
                from = %from,
                "wrong password given to confirm a change"
            );
            return Err(natter_core::Error::forbidden("wrong password").into());
        }
        self.inner.sessions.login_succeeded(&user.username, from);
        Ok(())
    }

    /// `POST /invites`: admins always; other users under `--invites members`.
    pub async fn create_invite(
        &self,
        caller: &Caller,
        req: wire::CreateInviteRequest,
    ) -> AppResult<wire::Invite> {
        let (uses, secs) = validate::invite_terms(req.uses, req.expires_in_s)?;
        let me = self
            .store()
            .user_by_id(caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        natter_core::decide::may_create_invite(me.admin, self.config().invites)?;
        let now = time::now();
        let invite = InviteRow {
            code: invite_code(),
            creator_id: me.id,
            uses_left: uses,
            expires_at: now + secs * 1000,
            created_at: now,
        };
        self.store().create_invite(&invite).await?;
        Ok(render_invite(&invite))
    }

    /// `GET /invites`: the caller's own, newest first.
    pub async fn invites(&self, caller: &Caller) -> AppResult<wire::InviteList> {
        let rows = self.store().invites_of(caller.user_id()).await?;
        Ok(wire::InviteList {
            invites: rows.iter().map(render_invite).collect(),
        })
    }

    /// `DELETE /invites/{code}`: its creator or an admin.
    pub async fn revoke_invite(&self, caller: &Caller, code: &str) -> AppResult<()> {
        Ok(self.store().delete_invite(code, caller.user_id()).await?)
    }

    /// `POST /sessions` from the client address `from`.
    pub async fn login(
        &self,
        req: wire::LoginRequest,
        from: IpAddr,
    ) -> AppResult<wire::LoginResponse> {
        const WRONG: AppError = AppError::Unauthorized("wrong username or password");
        const DISABLED: AppError = AppError::Unauthorized("this account is disabled");
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
        // A deleted account has no password: it is refused like an unknown name, in the same
        // time.
        let user = self
            .store()
            .user_by_username(&username)
            .await?
            .filter(|u| !u.deleted);
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = self.verify_password(req.password, hash).await?;
        let user = match (user, ok) {
            (Some(u), true) => u,
            _ => {
                self.inner.sessions.login_failed(&username, from);
                tracing::info!(target: "natter::audit", user = %username, from = %from, "login failed");
                return Err(WRONG);
            }
        };
        self.inner.sessions.login_succeeded(&username, from);
        if user.disabled {
            tracing::info!(target: "natter::audit", user = %username, from = %from, "login refused: the account is disabled");
            return Err(DISABLED);
        }
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
        // Refused if the account was disabled (or deleted) since it was read above.
        match self.store().create_session(&session).await {
            Err(crate::store::StoreError::Rule(natter_core::Error::Forbidden(_))) => {
                return Err(DISABLED);
            }
            other => other?,
        }
        tracing::info!(
            target: "natter::audit",
            user = %username,
            user_id = %user.id,
            session_id = %session.id,
            from = %from,
            "login"
        );
        Ok(wire::LoginResponse {
            token,
            session_id: session.id,
            user: self.render_own_user(&user).await?,
        })
    }

    /// Resolves a bearer token to its caller, and records that its session was used.
    pub async fn authenticate(&self, token: &str) -> AppResult<Caller> {
        const NO: AppError = AppError::Unauthorized("missing, unknown or revoked token");
        const EXPIRED: AppError = AppError::Unauthorized("the session expired: log in again");
        // Every token this server issues has this length: no other needs looking up.
        if token.len() != TOKEN_LEN {
            return Err(NO);
        }
        let sessions = &self.inner.sessions;
        let hash = token_hash(token);
        let now = time::now();
        let cached = match sessions.cached(&hash) {
            Some(found) => found.ok_or(NO)?,
            None => {
                let session = self.store().session_by_token_hash(&hash).await?.ok_or(NO)?;
                if !bool::from(session.token_hash.ct_eq(&hash)) {
                    return Err(NO);
                }
                sessions.admit(&hash, &session).ok_or(NO)?
            }
        };
        let active_at = cached.active_at.load(Ordering::Acquire);
        if sessions.expired(active_at, now) {
            return Err(EXPIRED);
        }
        // One request per interval writes the activity; the others see it moved.
        if now - active_at > sessions.touch_every_ms
            && cached
                .active_at
                .compare_exchange(active_at, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            && let Err(e) = self
                .store()
                .touch_session(cached.caller.session_id(), now)
                .await
        {
            // Not stored: the next request reads the session again and retries.
            sessions.tokens.invalidate(&hash);
            return Err(e.into());
        }
        Ok(cached.caller.clone())
    }

    /// Deletes the sessions unused for longer than the idle timeout; their tokens stop working
    /// and their sockets close with 4001, as when they are revoked.
    pub async fn expire_sessions(&self) -> AppResult<()> {
        let before = self.inner.sessions.idle_before(time::now());
        for id in self.store().delete_idle_sessions(before).await? {
            self.inner.sessions.evict(&id);
            self.bus()
                .publish(crate::bus::BusMessage::SessionRevoked { session_id: id });
        }
        Ok(())
    }

    /// `GET /sessions`
    pub async fn sessions(&self, caller: &Caller) -> AppResult<wire::SessionList> {
        let rows = self.store().sessions_of(caller.user_id()).await?;
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
        if self
            .store()
            .delete_session(caller.user_id(), SessionId::new(id))
            .await?
        {
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
            .user_by_id(UserId::new(id))
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        if user.id == caller.user_id {
            return self.render_own_user(&user).await;
        }
        // Presence only to contacts, and not to a user it blocked.
        let contact = !self
            .store()
            .contacts_among(caller.user_id(), std::slice::from_ref(&user.id))
            .await?
            .is_empty();
        let presence = contact
            && !self
                .store()
                .has_blocked(UserId::new(&user.id), caller.user_id())
                .await?;
        Ok(self.render_user(&user, presence, None))
    }

    /// `GET /users?query=&limit=`: presence only of the caller and its contacts; the users who
    /// blocked the caller are not found.
    pub async fn search_users(
        &self,
        caller: &Caller,
        query: &str,
        limit: u32,
    ) -> AppResult<wire::UserList> {
        let mut rows = self
            .store()
            .search_users(caller.user_id(), query, limit)
            .await?;
        // A deleted account is found by no one (its name stays reserved all the same).
        rows.retain(|u| !u.deleted);
        self.render_users(caller, &rows).await
    }

    /// Users as the caller sees them: presence only of itself and of its contacts. (None of
    /// them blocked the caller: the store left those out.)
    async fn render_users(&self, caller: &Caller, rows: &[UserRow]) -> AppResult<wire::UserList> {
        let ids: Vec<String> = rows.iter().map(|u| u.id.clone()).collect();
        let contacts: std::collections::HashSet<String> = self
            .store()
            .contacts_among(caller.user_id(), &ids)
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

    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    /// The interleavings of a request that reads a session from storage and caches it, with a
    /// revocation that deletes the session and evicts it: whichever comes first, once the
    /// revocation is done the token is refused.
    #[test]
    fn a_session_deleted_while_a_request_read_it_is_not_cached_back() {
        let session = SessionRow {
            id: "s1".into(),
            user_id: "u1".into(),
            token_hash: token_hash("t"),
            device_name: None,
            created_at: 0,
            last_active_at: 0,
        };
        let hash = session.token_hash.clone();

        // Read, revoke, then cache what was read.
        let sessions = Sessions::new(DAY);
        sessions.evict("s1");
        assert!(sessions.admit(&hash, &session).is_none());
        assert!(matches!(sessions.cached(&hash), None | Some(None)));

        // Read and cache, then revoke: the next hit is refused.
        let sessions = Sessions::new(DAY);
        assert!(sessions.admit(&hash, &session).is_some());
        assert!(matches!(sessions.cached(&hash), Some(Some(_))));
        sessions.evict("s1");
        assert!(matches!(sessions.cached(&hash), Some(None)));
    }

    #[test]
    fn a_session_used_within_the_idle_timeout_never_expires() {
        let s = Sessions::new(std::time::Duration::from_secs(2));
        assert_eq!(s.touch_every_ms, 200);
        let used = 1_000_000;
        // The stored activity lags the last use by at most the touch interval.
        for stored in [used, used - 100, used - 200] {
            for now in [used, used + 1_000, used + 2_000] {
                assert!(!s.expired(stored, now), "stored {stored}, now {now}");
                assert!(stored >= s.idle_before(now), "the sweep would delete it");
            }
        }
        // Unused for longer than the timeout and the touch interval: expired, and swept.
        assert!(s.expired(used, used + 2_201));
        assert!(used < s.idle_before(used + 2_201));
        // A long timeout writes activity once a minute, and sweeps hourly.
        let long = Sessions::new(DAY);
        assert_eq!(long.touch_every_ms, TOUCH_EVERY_MS);
        assert_eq!(long.sweep_every(), std::time::Duration::from_secs(3600));
        assert_eq!(s.sweep_every(), std::time::Duration::from_millis(200));
    }

    #[test]
    fn the_failure_table_is_bounded() {
        let sessions = Sessions::with_failures_max(10, DAY);
        let from = IpAddr::from([192, 0, 2, 1]);
        for i in 0..1_000 {
            sessions.login_failed(&format!("user{i}"), from);
        }
        sessions.failures.run_pending_tasks();
        assert!(sessions.failures.entry_count() <= 10);
    }

    #[test]
    fn failures_count_per_username_and_address() {
        let sessions = Sessions::new(DAY);
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
