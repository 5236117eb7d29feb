//! The setup checks for the database, the store keys, the tokens, the policy and the server.

use std::path::Path;
use std::time::Duration;

use tollgate_store::{DatabaseUrl, Store, StoreConfig, StoreError, StoreKeys, loose_mode};

use super::report::Check;
use crate::cli::env_var;
use crate::settings::{Secret, Settings};
use crate::startup::{KeySource, StartupError, key_source};

const DATABASE: &str = "Database";
const KEYS: &str = "Store keys";
const TOKENS: &str = "API tokens";
const POLICY: &str = "Policy";
const SERVER: &str = "Server";

/// Where the database is, without credentials: the SQLite path, or a PostgreSQL URL's host, port and database.
pub fn database_location(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("sqlite file {}", path.display()),
        DatabaseUrl::Postgres(raw) => {
            let rest = raw.split_once("://").map_or(raw.as_str(), |(_, rest)| rest);
            let rest = rest.split('?').next().unwrap_or_default();
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("postgres at {host}")
        }
    }
}

/// The database, its migrations and the store keys.
pub fn database_and_keys(settings: &Settings) -> Vec<Check> {
    let url = match DatabaseUrl::parse(settings.database.url.expose()) {
        Ok(url) => url,
        Err(e) => {
            return vec![
                Check::broken(
                    DATABASE,
                    "database.url",
                    format!("database.url cannot be used: {e}"),
                )
                .fix(format!(
                    "set {} to sqlite://PATH or postgres://...",
                    env_var("database.url")
                )),
            ];
        }
    };
    let location = database_location(&url);
    let sqlite_missing = url.sqlite_path().filter(|path| !path.exists());
    if let Some(path) = sqlite_missing {
        return missing_sqlite(settings, path, &location);
    }

    let mut checks = Vec::new();
    let keys = key_check(settings, &url);
    let keys_loaded = keys.keys.is_some();
    let probe_keys = match keys.keys {
        Some(keys) => keys,
        // Reachability and migrations read no encrypted value, so throwaway keys do for the probe.
        None => match StoreKeys::generate() {
            Ok(keys) => keys,
            Err(e) => {
                checks.push(Check::broken(
                    DATABASE,
                    "database.reachable",
                    format!("cannot probe the database: {e}"),
                ));
                checks.push(keys.check);
                return checks;
            }
        },
    };
    let mut config = StoreConfig::new(settings.database.url.expose());
    config.max_connections = 1;
    config.min_idle = Some(0);
    config.connection_timeout =
        Duration::from_secs(settings.database.connect_timeout.as_secs().unsigned_abs());
    let store = match Store::open(&config, probe_keys) {
        Ok(store) => store,
        Err(e) => {
            checks.push(
                Check::broken(DATABASE, "database.reachable", format!("{location}: {e}"))
                    .fix(format!("check database.url ({})", env_var("database.url"))),
            );
            checks.push(keys.check);
            return checks;
        }
    };
    match store.ping() {
        Ok(()) => checks.push(Check::done(
            DATABASE,
            "database.reachable",
            format!("{location} is reachable"),
        )),
        Err(e) => {
            checks.push(
                Check::broken(
                    DATABASE,
                    "database.reachable",
                    format!("{location} is not reachable: {e}"),
                )
                .fix(format!(
                    "check database.url ({}), that the database is running and accepts connections from \
                         this machine, and the file or role permissions",
                    env_var("database.url")
                )),
            );
            checks.push(keys.check);
            return checks;
        }
    }
    let migrated = match store.pending_migrations() {
        Ok(pending) if pending.is_empty() => {
            checks.push(Check::done(
                DATABASE,
                "database.migrations",
                "all migrations are applied",
            ));
            true
        }
        Ok(pending) => {
            checks.push(
                Check::pending(
                    DATABASE,
                    "database.migrations",
                    format!(
                        "{} migration(s) not applied yet: {}",
                        pending.len(),
                        pending.join(", ")
                    ),
                )
                .fix("run `tollgate migrate` (`tollgate serve` also applies them at start)"),
            );
            false
        }
        Err(e) => {
            checks.push(Check::broken(
                DATABASE,
                "database.migrations",
                format!("cannot read the migrations: {e}"),
            ));
            false
        }
    };

    let mut key = keys.check;
    if keys.file_missing && migrated {
        match store.stored_data() {
            Ok(data) if !data.is_empty() => {
                key = Check::broken(
                    KEYS,
                    key.id,
                    format!(
                        "the database holds {data}, but its key file is missing: new keys could not open or match \
                         any of it, so `tollgate serve` refuses to start"
                    ),
                )
                .fix(
                    "restore the key file from the backup taken with the database (or set database.pepper and \
                     database.data_key to its values) before starting Tollgate",
                );
            }
            Ok(_) => {}
            Err(e) => {
                key = Check::broken(KEYS, key.id, format!("cannot count the stored data: {e}"));
            }
        }
    }
    checks.push(key);
    if keys_loaded && migrated {
        checks.push(keys_open_data(&store));
    }
    checks
}

/// The loaded keys open the stored data: every lease signing key and a stored webhook body decrypt.
fn keys_open_data(store: &Store) -> Check {
    const ID: &str = "database.keys_open_data";
    match store.check_keys() {
        Ok(()) => Check::done(
            KEYS,
            ID,
            "the store keys open the stored data (lease signing keys, stored webhook bodies)",
        ),
        Err(e @ StoreError::Decrypt { .. }) => Check::broken(
            KEYS,
            ID,
            format!("the store keys do not open the stored data: {e}"),
        )
        .fix(
            "restore the key file (or database.pepper and database.data_key) this database was written with, \
             from the backup taken with it; `tollgate serve` refuses to start until then",
        ),
        Err(e) => Check::broken(KEYS, ID, format!("cannot read the stored data: {e}")),
    }
}

fn missing_sqlite(settings: &Settings, path: &Path, location: &str) -> Vec<Check> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let database = if dir.is_dir() {
        Check::pending(
            DATABASE,
            "database.reachable",
            format!("{location} does not exist yet"),
        )
        .fix("run `tollgate migrate` (or start `tollgate serve`): it creates and migrates the database")
    } else {
        Check::broken(
            DATABASE,
            "database.reachable",
            format!(
                "{location} cannot be created: the directory {} does not exist",
                dir.display()
            ),
        )
        .fix(format!(
            "create the directory, or point database.url ({}) elsewhere",
            env_var("database.url")
        ))
    };
    let migrations = Check::pending(
        DATABASE,
        "database.migrations",
        "migrations not applied yet (no database)",
    )
    .fix("`tollgate migrate` or the first `tollgate serve` applies them");
    let url = DatabaseUrl::Sqlite(path.to_path_buf());
    vec![database, migrations, key_check(settings, &url).check]
}

struct KeyCheck {
    check: Check,
    /// The keys, when they could be loaded without creating anything.
    keys: Option<StoreKeys>,
    /// The key file does not exist yet.
    file_missing: bool,
}

fn key_check(settings: &Settings, url: &DatabaseUrl) -> KeyCheck {
    let db = &settings.database;
    let both = format!(
        "{} and {}",
        env_var("database.pepper"),
        env_var("database.data_key")
    );
    let id = "database.keys";
    let result = |check, keys, file_missing| KeyCheck {
        check,
        keys,
        file_missing,
    };
    match key_source(settings) {
        Ok(KeySource::Configured) => match StoreKeys::from_base64(db.pepper.expose(), db.data_key.expose()) {
            Ok(keys) => {
                let mut check = Check::done(
                    KEYS,
                    id,
                    "store keys come from configuration (database.pepper, database.data_key)",
                );
                if matches!(url, DatabaseUrl::Sqlite(_)) {
                    check = check.note("the SQLite key file is not used while these are set");
                }
                result(check, Some(keys), false)
            }
            Err(e) => result(
                Check::broken(KEYS, id, format!("the configured store keys are unusable: {e}")).fix(format!(
                    "set both {both}, each to base64 of 32 random bytes (`openssl rand -base64 32`); if data was \
                     already stored, use the values it was written with"
                )),
                None,
                false,
            ),
        },
        Ok(KeySource::File(path)) => {
            if !path.exists() {
                let check = Check::pending(
                    KEYS,
                    id,
                    format!("the key file {} does not exist yet", path.display()),
                )
                .fix(
                    "it is created (mode 0600) beside the database on first start; back it up together with the \
                     database",
                );
                return result(check, None, true);
            }
            match StoreKeys::load_or_create(&path) {
                Ok(keys) => {
                    let mut check = Check::done(KEYS, id, format!("store keys come from the key file {}", path.display()))
                        .note("back it up together with the database: without it stored data cannot be read");
                    if let Some(mode) = loose_mode(&path) {
                        check = Check::pending(
                            KEYS,
                            id,
                            format!("the key file {} is readable by other users (mode {mode:o})", path.display()),
                        )
                        .fix(format!("chmod 600 {}", path.display()));
                    }
                    result(check, Some(keys), false)
                }
                Err(e) => result(
                    Check::broken(KEYS, id, format!("{e}")).fix(
                        "restore the key file from your backup (never replace it with a new one while data is \
                         stored)",
                    ),
                    None,
                    false,
                ),
            }
        }
        Err(StartupError::MissingKeys) => result(
            Check::pending(KEYS, id, "PostgreSQL needs store keys in configuration, and none are set")
                .fix(format!(
                    "set {both}, each to base64 of 32 random bytes (`openssl rand -base64 32`); use the same values \
                     on every instance and keep a copy (moving from SQLite: the values of its key file)"
                )),
            None,
            false,
        ),
        Err(e) => result(Check::broken(KEYS, id, e.to_string()), None, false),
    }
}

/// The admin and service tokens.
pub fn tokens(settings: &Settings) -> Vec<Check> {
    let token = |key: &str, secret: &Secret, api: &str| {
        if secret.is_set() {
            Check::done(
                TOKENS,
                key.to_owned(),
                format!("{key} is set: {api} is open to its holder"),
            )
        } else {
            Check::pending(
                TOKENS,
                key.to_owned(),
                format!("{key} is not set: {api} is disabled"),
            )
            .fix(format!(
                "set {} to a random value, e.g. `openssl rand -hex 32`",
                env_var(key)
            ))
        }
    };
    let mut checks = vec![
        token("admin.token", &settings.admin.token, "the admin API (/admin/...)"),
        token(
            "service.token",
            &settings.service.token,
            "the service API (GET /api/entitlements)",
        ),
    ];
    if settings.admin.token.is_set() && settings.admin.token == settings.service.token {
        checks.push(
            Check::pending(
                TOKENS,
                "tokens.distinct",
                "admin.token and service.token are the same: a game server holding the service token could use \
                 the admin API",
            )
            .fix("give each its own random value"),
        );
    }
    checks
}

/// The policy: it validates (or the configuration would not have loaded), and every product says where to buy.
pub fn policy(settings: &Settings) -> Vec<Check> {
    let set = &settings.policy;
    let d = &set.default;
    let mut checks =
        vec![
        Check::done(
            POLICY,
            "policy",
            format!("the policy is valid: the default and {} product rule(s)", set.products.len()),
        )
        .note(format!(
            "default: {}, max_devices {}, offline_grace {}, revalidate_every {}, revocation {}, transfer {}",
            name(&d.plan_model),
            d.max_devices,
            d.offline_grace,
            d.revalidate_every,
            name(&d.revocation),
            name(&d.transfer)
        )),
    ];
    if d.purchase_url.is_none() {
        checks.push(
            Check::pending(
                POLICY,
                "policy.default.purchase_url",
                "policy.default.purchase_url is not set: an app cannot tell a customer whose access ended where to \
                 renew",
            )
            .fix(format!(
                "set {} (or purchase_url under [policy.default] in tollgate.toml) to your store or checkout page",
                env_var("policy.default.purchase_url")
            )),
        );
    }
    for (index, rule) in set.products.iter().enumerate() {
        if rule.overlay(d).purchase_url.is_none() {
            checks.push(
                Check::pending(
                    POLICY,
                    format!("policy.products[{index}].purchase_url"),
                    format!(
                        "the product rule policy.products[{index}] ({} {}) has no purchase_url",
                        rule.provider, rule.product
                    ),
                )
                .fix("add purchase_url to that [[policy.products]] entry in tollgate.toml (or set the default's)"),
            );
        }
    }
    checks
}

/// The configuration spelling of an enum value (`self_service`, `at_period_end`, ...).
fn name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

/// Where the server listens (checked by connecting to it) and whether rate limits are on.
pub fn server(settings: &Settings) -> Vec<Check> {
    let mut listen = super::probes::listening(SERVER, settings);
    if settings.listen.starts_with("127.")
        || settings.listen.starts_with("[::1]")
        || settings.listen.starts_with("localhost")
    {
        listen = listen.note(
            "loopback only: put a TLS reverse proxy on this machine in front of it, or set TOLLGATE_LISTEN to \
             0.0.0.0:8080 behind a firewall",
        );
    }
    let mut checks = vec![listen];
    if !settings.rate_limit.enabled {
        checks.push(
            Check::pending(
                SERVER,
                "rate_limit.enabled",
                "rate limits are off (rate_limit.enabled = false)",
            )
            .fix(format!(
                "unset {} outside benchmarks",
                env_var("rate_limit.enabled")
            )),
        );
    }
    checks
}
