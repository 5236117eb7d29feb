//! The one error type of the load tool. Every variant says what to check.

use std::path::PathBuf;

/// Why a benchmark run could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The target URL is not loopback (or not a URL at all).
    #[error("refusing target {target:?}: {reason}")]
    Target { target: String, reason: String },
    /// A command-line value is out of range or malformed.
    #[error("invalid {option}: {reason}")]
    Usage { option: &'static str, reason: String },
    /// A process (the server or the ceiling) could not be started, or did not become ready.
    #[error("{what}: {reason}")]
    Process { what: String, reason: String },
    /// The set-up of a scenario failed (e.g. the license endpoints are missing or refused the set-up requests).
    #[error("set-up of the {scenario} scenario failed: {reason}")]
    Setup { scenario: &'static str, reason: String },
    /// A database operation of the storage ceiling or the PostgreSQL schema set-up failed.
    #[error("database: {0}")]
    Database(String),
    /// Reading or writing a file (report, unacked events, redelivery list).
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A redelivery file line that is not an event this tool wrote.
    #[error("{path} line {line}: {reason}")]
    Redeliver {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// Any other I/O failure (runtime, sockets).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl BenchError {
    pub fn usage(option: &'static str, reason: impl Into<String>) -> BenchError {
        BenchError::Usage {
            option,
            reason: reason.into(),
        }
    }

    pub fn process(what: impl Into<String>, reason: impl Into<String>) -> BenchError {
        BenchError::Process {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub fn setup(scenario: &'static str, reason: impl Into<String>) -> BenchError {
        BenchError::Setup {
            scenario,
            reason: reason.into(),
        }
    }

    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> BenchError {
        BenchError::File {
            path: path.into(),
            source,
        }
    }
}
