//! The browser console's sign-in sessions: started with the admin token, ended by sign-out, idle time, age, or a
//! change of the admin token.
//!
//! - The session id is 32 random bytes (base64url, 43 characters), held only by the browser (an `HttpOnly` cookie).
//!   The database keeps its SHA-256, so a copy of the database signs nobody in.
//! - Sessions live in the database, so every instance on one PostgreSQL sees a sign-out at once.
//! - Each row carries a SHA-256 binding of the id to the admin token that signed it in: once the token is changed
//!   (and the instances restarted with it), every older session is refused.
//! - The CSRF token of a session is derived from its id (SHA-256 under a fixed label): only a page served to that
//!   session knows it, and nothing more has to be stored or shared between instances.
//! - Sign-in and sign-out are written to the audit trail, actor `console`, naming the session by the first 8 hex
//!   digits of its hash (never the id).
//!
//! Blocking: call it inside `web::block`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use tollgate_store::{Actor, ConsoleSession, NewAudit, Store, StoreError};

use crate::clock::Clock;

/// The length of a session id as the cookie carries it (32 bytes, base64url without padding).
pub const SESSION_ID_LEN: usize = 43;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session not used for this long is over.
    pub idle: TimeDelta,
    /// A session is over this long after sign-in, however busy.
    pub max_age: TimeDelta,
}

/// The console's sessions over one store. Cheap to clone.
#[derive(Clone)]
pub struct ConsoleSessions {
    store: Store,
    clock: Arc<dyn Clock>,
    limits: SessionLimits,
    /// SHA-256 of the configured admin token (the binding hashes the id with this).
    token_digest: [u8; 32],
}

impl fmt::Debug for ConsoleSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleSessions")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A new session: the id for the cookie (secret) and its CSRF token.
pub struct StartedSession {
    pub id: String,
    pub csrf: String,
    /// How the audit trail names it.
    pub name: String,
}

impl fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedSession")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A live session, as a request found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// How the audit trail names it: `console session 1a2b3c4d`.
    pub name: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut joined = Vec::new();
    for part in parts {
        joined.extend_from_slice(&(part.len() as u64).to_be_bytes());
        joined.extend_from_slice(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &joined).as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes, base64url: a session id, or the sign-in form's CSRF value.
pub fn random_token() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored hash of a session id.
pub fn session_id_hash(id: &str) -> String {
    hex(&sha256(&[b"tollgate/console/session", id.as_bytes()]))
}

/// The CSRF token of a session id.
pub fn csrf_token(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(&[b"tollgate/console/csrf", id.as_bytes()]))
}

/// Whether `presented` is `expected`, without an early exit on the first differing byte: both are hashed first,
/// so the time of the comparison says nothing an attacker can use.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    sha256(&[presented.as_bytes()]) == sha256(&[expected.as_bytes()])
}

/// A cookie value can only be a session id when it has the id's exact shape (no database lookup otherwise).
fn well_formed(id: &str) -> bool {
    id.len() == SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn name_of(id_hash: &str) -> String {
    format!("console session {}", id_hash.get(..8).unwrap_or(id_hash))
}

impl ConsoleSessions {
    pub fn new(store: Store, clock: Arc<dyn Clock>, admin_token: &str, limits: SessionLimits) -> Self {
        ConsoleSessions {
            store,
            clock,
            limits,
            token_digest: sha256(&[admin_token.trim().as_bytes()]),
        }
    }

    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    fn binding(&self, id: &str) -> String {
        hex(&sha256(&[
            b"tollgate/console/binding",
            id.as_bytes(),
            &self.token_digest,
        ]))
    }

    /// Start a session (the caller has checked the admin token), dropping expired ones first, and audit it.
    pub fn start(&self) -> Result<StartedSession, StoreError> {
        let id = random_token().map_err(|_| StoreError::Unavailable {
            reason: "the system random generator failed".to_owned(),
            cause: None,
        })?;
        let now = self.clock.now();
        let pruned = self
            .store
            .delete_expired_console_sessions(now - self.limits.idle, now - self.limits.max_age)?;
        let id_hash = session_id_hash(&id);
        self.store.create_console_session(&ConsoleSession {
            id_hash: id_hash.clone(),
            token_binding: self.binding(&id),
            created_at: now,
            last_seen_at: now,
        })?;
        let name = name_of(&id_hash);
        self.audit("console.signed_in", &name, now)?;
        log::info!(session = name.as_str(), expired_removed = pruned; "console sign-in");
        Ok(StartedSession {
            csrf: csrf_token(&id),
            id,
            name,
        })
    }

    /// The live session with this cookie value, now marked as used; `None` when there is none: unknown, signed out,
    /// idle too long, too old, or signed in under another admin token (those rows are deleted on the way).
    pub fn check(&self, id: &str) -> Result<Option<LiveSession>, StoreError> {
        if !well_formed(id) {
            return Ok(None);
        }
        let id_hash = session_id_hash(id);
        let Some(session) = self.store.find_console_session(&id_hash)? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let over = if !tokens_match(&session.token_binding, &self.binding(id)) {
            Some("the admin token changed")
        } else if now - session.last_seen_at >= self.limits.idle {
            Some("idle too long")
        } else if now - session.created_at >= self.limits.max_age {
            Some("too old")
        } else {
            None
        };
        if let Some(reason) = over {
            self.store.delete_console_session(&id_hash)?;
            log::info!(session = name_of(&id_hash).as_str(), reason = reason; "console session ended");
            return Ok(None);
        }
        if !self.store.touch_console_session(&id_hash, now)? {
            return Ok(None);
        }
        Ok(Some(LiveSession {
            name: name_of(&id_hash),
            csrf: csrf_token(id),
            created_at: session.created_at,
        }))
    }

    /// End the session (sign-out) on every instance, and audit it. False when it was not live.
    pub fn end(&self, id: &str) -> Result<bool, StoreError> {
        if !well_formed(id) {
            return Ok(false);
        }
        let id_hash = session_id_hash(id);
        let ended = self.store.delete_console_session(&id_hash)?;
        if ended {
            let name = name_of(&id_hash);
            self.audit("console.signed_out", &name, self.clock.now())?;
            log::info!(session = name.as_str(); "console sign-out");
        }
        Ok(ended)
    }

    fn audit(&self, action: &str, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store.record_audit(&NewAudit {
            entitlement_id: None,
            device_id: None,
            at,
            actor: Actor::Console,
            action: action.to_owned(),
            detail: Some(name.to_owned()),
            inbox_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_for_shape_and_tokens_derive_from_the_id() {
        assert!(well_formed(&"a".repeat(43)));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&format!("{}=", "a".repeat(42))));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(session_id_hash("a"), csrf_token("a"));
        assert!(tokens_match("x", "x"));
        assert!(!tokens_match("x", "y"));
        assert!(!tokens_match("", "y"));
        assert_eq!(name_of("0123456789abcdef"), "console session 01234567");
    }
}
