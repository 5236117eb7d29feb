//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// An underlying error kept for [`std::error::Error::source`]. Two causes compare equal when their messages do, so
/// [`StoreError`] can derive `PartialEq` for tests that assert exact variants.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    pub(crate) fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(err))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// Everything that can go wrong in the store.
///
/// [`StoreError::Unavailable`] means "the database could not be reached or is too busy right now; nothing was
/// written": the server answers `503` and the provider retries. Every other variant is a logic, data or
/// configuration problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL has a scheme other than `sqlite://`, `postgres://` or `postgresql://`. Only the scheme is
    /// kept, because the rest of a URL may hold a password.
    #[error(
        "unsupported database URL scheme `{scheme}`: use sqlite://PATH, postgres://... or postgresql://..."
    )]
    UnsupportedScheme { scheme: String },
    /// The database URL has an accepted scheme but cannot be used.
    #[error("invalid database URL: {reason}")]
    InvalidUrl { reason: &'static str },
    /// The database is down, unreachable, locked for longer than the busy timeout, or every pooled connection is
    /// in use for longer than the connection timeout. Retry later; nothing was written.
    #[error("storage unavailable: {reason}")]
    Unavailable {
        reason: String,
        #[source]
        cause: Option<Cause>,
    },
    /// The key file beside the database could not be read, created or parsed.
    #[error("store key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    /// Key material given in configuration is not valid.
    #[error("invalid store key: {reason}")]
    InvalidKey { reason: String },
    /// An encrypted value could not be opened: the data key is not the one it was sealed with, or the stored bytes
    /// were altered or moved to another row or column.
    #[error("cannot decrypt {what}: wrong data key, or the stored value was altered")]
    Decrypt { what: &'static str },
    /// A row that must exist does not.
    #[error("{entity} `{id}` not found")]
    NotFound { entity: &'static str, id: String },
    /// A uniqueness or optimistic-concurrency conflict that the operation does not resolve itself.
    #[error("conflict on {entity}: {reason}")]
    Conflict { entity: &'static str, reason: String },
    /// A stored row could not be turned back into its type.
    #[error("corrupt {entity} row: {reason}")]
    CorruptRow { entity: &'static str, reason: String },
    /// Migrations could not be listed or applied.
    #[error("database migration failed: {reason}")]
    Migration { reason: String },
    /// Any other database error.
    #[error("database error: {cause}")]
    Database {
        #[source]
        cause: Cause,
    },
}

impl StoreError {
    /// True when the caller should answer "unavailable, retry later" (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// True when PostgreSQL chose this transaction as a deadlock's victim (SQLSTATE 40P01, which diesel reports
    /// without a kind of its own): it was rolled back whole to break a cycle of lock waits, so the same unit of work
    /// can run again.
    pub fn is_deadlock(&self) -> bool {
        let StoreError::Database { cause } = self else {
            return false;
        };
        let cause: &(dyn std::error::Error + 'static) = &*cause.0;
        matches!(
            cause.downcast_ref::<DieselError>(),
            Some(DieselError::DatabaseError(_, info)) if info.message().contains(DEADLOCK_MESSAGE)
        )
    }

    pub(crate) fn unavailable(reason: impl Into<String>, cause: Option<Cause>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
            cause,
        }
    }

    pub(crate) fn corrupt(entity: &'static str, reason: impl Into<String>) -> Self {
        StoreError::CorruptRow {
            entity,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            entity,
            id: id.into(),
        }
    }
}

/// PostgreSQL's message for a deadlock victim.
const DEADLOCK_MESSAGE: &str = "deadlock detected";

/// Messages of database errors that mean "busy or gone", which diesel reports without a dedicated kind.
const UNAVAILABLE_MESSAGES: [&str; 7] = [
    "database is locked",
    "canceling statement due to lock timeout",
    "database table is locked",
    "server closed the connection",
    "terminating connection",
    "connection to server",
    "no connection to the server",
];

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                StoreError::unavailable("the database connection was closed", Some(Cause::new(err)))
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                StoreError::unavailable("concurrent update, retry", Some(Cause::new(err)))
            }
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => StoreError::Conflict {
                entity: "row",
                reason: info.message().to_owned(),
            },
            DieselError::DatabaseError(_, info)
                if UNAVAILABLE_MESSAGES.iter().any(|m| info.message().contains(m)) =>
            {
                StoreError::unavailable("the database is busy or unreachable", Some(Cause::new(err)))
            }
            DieselError::BrokenTransactionManager => {
                StoreError::unavailable("the database connection is broken", Some(Cause::new(err)))
            }
            _ => StoreError::Database {
                cause: Cause::new(err),
            },
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        StoreError::unavailable(
            "no database connection available within the connection timeout",
            Some(Cause::new(err)),
        )
    }
}

/// The crate's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};

    use super::StoreError;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> StoreError {
        StoreError::from(DieselError::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn only_a_deadlock_victim_reads_as_a_deadlock() {
        assert!(database_error(DatabaseErrorKind::Unknown, "deadlock detected").is_deadlock());
        assert!(!database_error(DatabaseErrorKind::Unknown, "division by zero").is_deadlock());
        let busy = database_error(
            DatabaseErrorKind::Unknown,
            "canceling statement due to lock timeout",
        );
        assert!(busy.is_unavailable() && !busy.is_deadlock());
        assert!(!database_error(DatabaseErrorKind::SerializationFailure, "deadlock detected").is_deadlock());
    }
}
