//! Configuration: embedded defaults, then `tollgate.toml` (or `--config PATH`), then `TOLLGATE_<SECTION>__<KEY>`
//! environment variables, deserialized into typed structs and validated once, with errors that name the key.

mod providers;
mod whop;

pub use providers::{ProviderSettings, ProvidersSettings};

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Deserializer};
use tollgate_policy::{HumanDuration, PolicySet, Provider};
use tollgate_service::license::WhopBinding;

use crate::http::auth::token_problem;

/// The embedded defaults: the first configuration layer.
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// The top-level sections an environment variable may address. `TOLLGATE_` variables outside these (for example
/// `TOLLGATE_TEST_DATABASE_URL`, used by the test suite) are not configuration and are left alone.
const SECTIONS: [&str; 11] = [
    "listen",
    "database",
    "admin",
    "service",
    "webhooks",
    "providers",
    "rate_limit",
    "reconcile",
    "policy",
    "lease",
    "console",
];

/// A secret value. `Debug` and `Display` print `[redacted]`, so it cannot leak through a log line or an error.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call this only where the value is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_set(&self) -> bool {
        !self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { "[redacted]" } else { "[not set]" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// A list of secrets from a TOML array or from one comma-separated string (the environment's only form).
fn secret_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Secret>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Joined(String),
        List(Vec<String>),
    }
    let values = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
        OneOrMany::List(list) => list,
    };
    Ok(values
        .into_iter()
        .map(|v| Secret(v.trim().to_owned()))
        .filter(Secret::is_set)
        .collect())
}

/// A list of plain strings: a TOML array, or a comma-separated string in the environment; blanks dropped.
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(secret_list(deserializer)?
        .into_iter()
        .map(|secret| secret.expose().to_owned())
        .collect())
}

/// How far a webhook's signed timestamp may be from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureTolerance {
    /// No timestamp check (a provider whose timestamp header may carry the event time).
    Off,
    Within(HumanDuration),
}

impl<'de> Deserialize<'de> for SignatureTolerance {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s.trim().eq_ignore_ascii_case("off") {
            return Ok(SignatureTolerance::Off);
        }
        s.parse()
            .map(SignatureTolerance::Within)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or `off`")))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    pub database: DatabaseSettings,
    pub admin: TokenSettings,
    pub service: TokenSettings,
    pub webhooks: WebhookSettings,
    pub providers: ProvidersSettings,
    pub rate_limit: RateLimitSettings,
    pub reconcile: ReconcileSettings,
    pub lease: LeaseSettings,
    pub console: ConsoleSettings,
    #[serde(default)]
    pub policy: PolicySet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (default `sqlite://tollgate.db`) or `postgres://...`.
    pub url: Secret,
    pub pool_size: u32,
    pub connect_timeout: HumanDuration,
    /// Base64 of 32 bytes: the HMAC pepper for license-key and hwid hashes. Required for PostgreSQL.
    pub pepper: Secret,
    /// Base64 of 32 bytes: the AES-256-GCM key for raw webhook bodies. Required for PostgreSQL.
    pub data_key: Secret,
    /// Where SQLite keeps its generated keys; empty means `<database file>.keys`.
    pub key_file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub max_body_bytes: usize,
    /// Group commit: at most this many concurrent deliveries are stored in one database transaction (1 = one
    /// transaction per delivery). A batch only forms while an earlier one is committing, so a lone delivery is
    /// never held back.
    pub commit_batch: usize,
    /// Threads that write deliveries to the database; `0` picks 1 on SQLite (one writer at a time anyway) and 4
    /// on PostgreSQL.
    pub commit_writers: usize,
    /// Verified deliveries waiting for a writer; when it is full, a delivery is answered `503
    /// STORAGE_UNAVAILABLE` (the provider retries it) instead of queueing without bound.
    pub commit_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// `false` turns every limit off (benchmarks on loopback).
    pub enabled: bool,
    /// Activation and deactivation attempts, and failed validations, per client IP (IPv6: per /64): the rate
    /// at which the allowance refills.
    pub per_ip_per_minute: u32,
    /// How many attempts one client IP may make at once before the refill rate applies.
    pub burst: u32,
    /// Activation and deactivation attempts, and failed validations, per license key (counted by its keyed
    /// hash), per hour; also that limit's burst.
    pub per_key_per_hour: u32,
    /// Take the client IP from the last `X-Forwarded-For` entry (set this only behind a proxy that appends it).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSettings {
    /// The `iss` claim of every lease.
    pub issuer: String,
    /// Where a Whop license's device binding lives: `auto`, `at_whop` or `local`.
    pub whop_binding: WhopBinding,
    /// A revalidation within this time of the lease last issued to the same device (on this instance), with
    /// nothing changed since, answers that lease again instead of signing a new one. `0s` signs every time.
    pub reuse_for: HumanDuration,
    /// How many such leases are kept in memory (about 1 KiB each).
    pub reuse_entries: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    pub every: HumanDuration,
}

/// The browser console at `/console` (signed in with the admin token).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// `false`: every `/console` path answers 404.
    pub enabled: bool,
    /// A session unused for this long is signed out.
    pub idle_timeout: HumanDuration,
    /// A session is signed out this long after sign-in, however busy.
    pub max_session: HumanDuration,
    /// When the session cookie gets `Secure`: `auto` (the request came over TLS, as the server or, with
    /// `trust_forwarded_proto`, the proxy's `X-Forwarded-Proto: https` says), `always`, or `never`.
    pub secure_cookies: SecureCookies,
    /// Believe the proxy's `X-Forwarded-Proto` header (set this only behind a TLS proxy that sets it).
    pub trust_forwarded_proto: bool,
    /// Sign-in attempts per client IP per minute (also the burst), right or wrong.
    pub sign_in_per_minute: u32,
}

/// `console.secure_cookies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    Auto,
    Always,
    Never,
}

/// A configuration problem, naming the key and saying how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The dotted key, e.g. `providers.whop.api_base`, or the file for a parse error.
    pub key: String,
    pub message: String,
}

impl SettingsError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SettingsError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration key `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for SettingsError {}

/// Where the second layer comes from.
#[derive(Debug, Clone, Copy)]
pub enum ConfigFile<'a> {
    /// `tollgate.toml` in the working directory, if it exists.
    Default,
    /// `--config PATH`: must exist.
    Explicit(&'a Path),
}

impl Settings {
    /// Load all three layers from the real environment and validate the result.
    pub fn load(file: ConfigFile<'_>) -> Result<Settings, SettingsError> {
        Self::load_from(file, std::env::vars())
    }

    /// Load with an explicit set of environment variables (tests pass their own).
    pub fn load_from(
        file: ConfigFile<'_>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        builder = match file {
            ConfigFile::Default => {
                builder.add_source(File::new("tollgate.toml", FileFormat::Toml).required(false))
            }
            ConfigFile::Explicit(path) => {
                if !path.is_file() {
                    return Err(SettingsError::new(
                        path.display().to_string(),
                        "the --config file does not exist or is not a file",
                    ));
                }
                builder.add_source(File::from(path).format(FileFormat::Toml))
            }
        };
        let env_map: HashMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| is_config_variable(name))
            .collect();
        let builder = builder.add_source(
            Environment::with_prefix("TOLLGATE")
                .prefix_separator("_")
                .separator("__")
                // No `try_parsing`: a token such as `12e45` must stay a string, not become a float. Typed fields
                // parse their own strings.
                .source(Some(env_map)),
        );
        let config = builder.build().map_err(from_config_error)?;
        let settings: Settings = config.try_deserialize().map_err(from_config_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Load only the embedded defaults (tests build on these).
    pub fn defaults() -> Result<Settings, SettingsError> {
        Self::load_from(ConfigFile::Default, std::iter::empty())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.listen.parse().map_err(|_| {
            SettingsError::new(
                "listen",
                format!(
                    "`{}` is not an address: write host:port, for example 127.0.0.1:8080 or 0.0.0.0:8080",
                    self.listen
                ),
            )
        })
    }

    /// Check every value once, with an error that names the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.listen_addr()?;
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite://")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(SettingsError::new(
                "database.url",
                "use sqlite://PATH (the default is sqlite://tollgate.db) or postgres://USER@HOST:PORT/DB",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(SettingsError::new("database.pool_size", "must be at least 1"));
        }
        if self.webhooks.max_body_bytes < 1024 {
            return Err(SettingsError::new(
                "webhooks.max_body_bytes",
                "must be at least 1024 bytes; provider payloads are several KiB",
            ));
        }
        if !(1..=10_000).contains(&self.webhooks.commit_batch) {
            return Err(SettingsError::new(
                "webhooks.commit_batch",
                "must be between 1 and 10000 deliveries per transaction",
            ));
        }
        if self.webhooks.commit_writers > self.database.pool_size as usize {
            return Err(SettingsError::new(
                "webhooks.commit_writers",
                format!(
                    "must not exceed database.pool_size ({}); each writer holds a connection while it commits",
                    self.database.pool_size
                ),
            ));
        }
        if self.webhooks.commit_queue == 0 {
            return Err(SettingsError::new("webhooks.commit_queue", "must be at least 1"));
        }
        for (name, env, token) in [
            ("admin.token", "TOLLGATE_ADMIN__TOKEN", &self.admin.token),
            ("service.token", "TOLLGATE_SERVICE__TOKEN", &self.service.token),
        ] {
            // The same bytes the bearer check compares (see `http::auth`).
            if let Some(problem) = token.is_set().then(|| token_problem(token.expose())).flatten() {
                return Err(SettingsError::new(name, format!("({env}) {problem}")));
            }
        }
        whop::validate(&self.providers)?;
        for provider in Provider::ALL {
            let settings = self.providers.get(provider);
            validate_api_base(provider, &settings.api_base)?;
            for (key, value) in [
                ("connect_timeout", settings.connect_timeout),
                ("request_timeout", settings.request_timeout),
            ] {
                if value.as_secs() < 1 {
                    return Err(SettingsError::new(
                        format!("providers.{provider}.{key}"),
                        "must be at least 1s",
                    ));
                }
            }
        }
        self.providers.validate()?;
        for (key, value) in [
            ("rate_limit.per_ip_per_minute", self.rate_limit.per_ip_per_minute),
            ("rate_limit.burst", self.rate_limit.burst),
            ("rate_limit.per_key_per_hour", self.rate_limit.per_key_per_hour),
        ] {
            if value == 0 {
                return Err(SettingsError::new(
                    key,
                    "must be at least 1; set rate_limit.enabled = false to turn limits off",
                ));
            }
        }
        if self.lease.issuer.trim().is_empty() {
            return Err(SettingsError::new("lease.issuer", "must not be empty"));
        }
        if self.lease.reuse_for.as_secs() > 300 {
            return Err(SettingsError::new(
                "lease.reuse_for",
                "must be at most 5m; other instances' changes reach this one's reused leases only after it",
            ));
        }
        if self.reconcile.every.as_secs() < 60 {
            return Err(SettingsError::new(
                "reconcile.every",
                "must be at least 60s; providers rate-limit their APIs",
            ));
        }
        if self.console.idle_timeout.as_secs() < 60 || self.console.max_session < self.console.idle_timeout {
            return Err(SettingsError::new(
                "console.idle_timeout",
                "must be at least 1m and at most console.max_session",
            ));
        }
        if self.console.sign_in_per_minute == 0 {
            return Err(SettingsError::new(
                "console.sign_in_per_minute",
                "must be at least 1",
            ));
        }
        self.policy
            .validate()
            .map_err(|e| SettingsError::new("policy", e.to_string()))?;
        Ok(())
    }
}

fn validate_api_base(provider: Provider, base: &str) -> Result<(), SettingsError> {
    let key = format!("providers.{provider}.api_base");
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or_else(|| SettingsError::new(&key, "must start with https:// (or http:// for a local fake)"))?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains('/') || host.contains('?') {
        return Err(SettingsError::new(
            &key,
            format!("`{base}` must be the scheme, host and port only: Tollgate appends the documented paths"),
        ));
    }
    Ok(())
}

fn is_config_variable(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("TOLLGATE_") else {
        return false;
    };
    let section = rest.split("__").next().unwrap_or_default().to_ascii_lowercase();
    SECTIONS.contains(&section.as_str())
}

fn from_config_error(e: config::ConfigError) -> SettingsError {
    let message = e.to_string();
    match &e {
        config::ConfigError::Type { key: Some(key), .. } | config::ConfigError::At { key: Some(key), .. } => {
            SettingsError::new(
                unknown_field_key(Some(key), &message).unwrap_or_else(|| key.clone()),
                message,
            )
        }
        config::ConfigError::NotFound(key) => SettingsError::new(key.clone(), "is missing"),
        _ => SettingsError::new(
            unknown_field_key(None, &message).unwrap_or_else(|| "configuration".to_owned()),
            message,
        ),
    }
}

/// serde's `deny_unknown_fields` says "unknown field `name`, expected ...": name that key (under its section when
/// the error carries one), so a typo is reported where it is.
fn unknown_field_key(section: Option<&str>, message: &str) -> Option<String> {
    let rest = message.split_once("unknown field `")?.1;
    let field = rest.split_once('`')?.0;
    if field.is_empty() {
        return None;
    }
    Some(match section {
        Some(section) if !section.is_empty() && !section.ends_with(field) => format!("{section}.{field}"),
        Some(section) if !section.is_empty() => section.to_owned(),
        _ => field.to_owned(),
    })
}

#[cfg(test)]
mod tests;
