//! Which backend a database URL names.

use std::path::PathBuf;

use crate::error::{Result, StoreError};

/// A parsed database URL: the backend is chosen by the scheme, never guessed.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: a file, relative to the working directory unless absolute (`sqlite:///var/lib/t.db`).
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, passed to libpq as is (query parameters such as `options` or
    /// `sslmode` included).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parse a URL. An unknown or missing scheme is [`StoreError::UnsupportedScheme`].
    pub fn parse(url: &str) -> Result<DatabaseUrl> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            let scheme = url.split_once(':').map_or("", |(s, _)| s);
            return Err(StoreError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                if rest.is_empty() {
                    return Err(StoreError::InvalidUrl {
                        reason: "sqlite:// needs a file path, for example sqlite://tollgate.db",
                    });
                }
                if rest.contains('?') {
                    return Err(StoreError::InvalidUrl {
                        reason: "sqlite:// URLs take a plain file path without query parameters",
                    });
                }
                Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)))
            }
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(url.to_owned())),
            _ => Err(StoreError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// The backend's name, for logs and `doctor`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// The SQLite file, if this is a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    /// Shows the SQLite path, but never a Postgres URL, which may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(_) => f.write_str("Postgres([redacted])"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://tollgate.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("tollgate.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/tollgate/t.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/tollgate/t.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u@h/db".to_owned())
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres("postgresql://u@h/db".to_owned())
        );
    }

    #[test]
    fn unknown_schemes_are_errors_naming_only_the_scheme() {
        assert_eq!(
            DatabaseUrl::parse("mysql://root:hunter2@h/db"),
            Err(StoreError::UnsupportedScheme {
                scheme: "mysql".to_owned()
            })
        );
        assert_eq!(
            DatabaseUrl::parse("tollgate.db"),
            Err(StoreError::UnsupportedScheme {
                scheme: String::new()
            })
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:tollgate.db"),
            Err(StoreError::UnsupportedScheme {
                scheme: "sqlite".to_owned()
            })
        );
        let message = DatabaseUrl::parse("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(
            message.contains("sqlite://") && message.contains("postgres://"),
            "{message}"
        );
    }

    #[test]
    fn empty_sqlite_path_is_invalid() {
        assert!(matches!(
            DatabaseUrl::parse("sqlite://"),
            Err(StoreError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn debug_hides_postgres_passwords() {
        let url = DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap();
        assert_eq!(format!("{url:?}"), "Postgres([redacted])");
    }
}
