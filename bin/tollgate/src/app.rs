//! The server: its state, its routes, and `serve`.

pub mod licensing;
mod state;

pub use state::{AppState, Mode};

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tollgate_policy::Provider;
use tollgate_service::clock::{Clock, SystemClock};
use tollgate_service::ingest::{CommitSettings, ProviderSecrets, WebhookSecrets};
use tollgate_store::DatabaseUrl;
use tollgate_verify::Tolerance;

use crate::http;
use crate::http::rate_limit::RETAIN_EVERY;
use crate::settings::{ProviderSettings, Settings, SignatureTolerance};
use crate::startup::{StartupError, open_store};

/// How long a graceful shutdown waits for in-flight requests.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// The group commit settings: `webhooks.commit_writers`, or when `0` one writer on SQLite (it has one writer at a
/// time anyway) and two on PostgreSQL (measured best of 1, 2 and 4: docs/benchmarks.md), never more than
/// `database.pool_size`.
pub fn commit_settings(settings: &Settings, database: &DatabaseUrl) -> CommitSettings {
    let writers = match (settings.webhooks.commit_writers, database) {
        (0, DatabaseUrl::Sqlite(_)) => 1,
        (0, DatabaseUrl::Postgres(_)) => 2,
        (configured, _) => configured,
    };
    CommitSettings {
        batch: settings.webhooks.commit_batch,
        writers: writers.min(settings.database.pool_size as usize).max(1),
        queue: settings.webhooks.commit_queue,
    }
}

/// A provider's signature tolerance as the verifier takes it.
pub fn tolerance(setting: SignatureTolerance) -> Tolerance {
    match setting {
        SignatureTolerance::Off => Tolerance::Unlimited,
        SignatureTolerance::Within(d) => Tolerance::Seconds(d.as_secs().unsigned_abs()),
    }
}

fn provider_secrets(p: &ProviderSettings) -> Option<ProviderSecrets> {
    p.webhooks_enabled().then(|| ProviderSecrets {
        secrets: p
            .webhook_secrets()
            .iter()
            .map(|s| s.expose().to_owned())
            .collect(),
        tolerance: tolerance(p.signature_tolerance),
    })
}

/// Every provider's secrets (`webhook_secret` then `previous_webhook_secrets`); a provider without a current
/// secret is disabled.
pub fn webhook_secrets(settings: &Settings) -> WebhookSecrets {
    let mut secrets = WebhookSecrets::default();
    for provider in Provider::ALL {
        if let Some(configured) = provider_secrets(settings.providers.get(provider)) {
            secrets.set(provider, configured);
        }
    }
    secrets
}

/// Open the store (`startup::open_store`), apply pending migrations, and build the state. A database that cannot
/// be reached is logged, not fatal: `/readyz` reports it until it is back (migrations then need a restart or
/// `tollgate migrate`).
pub fn build_state(settings: Arc<Settings>, clock: Arc<dyn Clock>) -> Result<AppState, StartupError> {
    let store = open_store(&settings)?;
    match store.migrate() {
        Ok(applied) if !applied.is_empty() => {
            log::info!(applied = applied.len(); "database migrated: {}", applied.join(", "));
        }
        Ok(_) => {}
        Err(e) if e.is_unavailable() => {
            log::error!("the database is unreachable at start, /readyz will report it: {e}");
        }
        Err(e) => return Err(StartupError::Store(e)),
    }
    crate::startup::check_keys_open_data(&store)?;
    AppState::new(store, settings, clock)
}

/// Every route, the middleware (request id, access log, latency) and the JSON error handlers. `main` and the
/// tests build the `App` with this one function.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    configure_with(cfg, state, |_| {});
}

/// [`configure`] with more routes behind the same middleware (`tollgate dev` adds its `/dev/...` routes).
pub fn configure_with(
    cfg: &mut web::ServiceConfig,
    state: AppState,
    more: impl FnOnce(&mut web::ServiceConfig),
) {
    cfg.app_data(web::Data::new(state));
    http::extractor_configs(cfg);
    cfg.service(
        web::scope("")
            .wrap(from_fn(http::request::request_context))
            .configure(http::routes)
            .configure(more)
            .default_service(web::to(http::not_found)),
    );
}

/// More routes for [`serve_with`], registered on every worker.
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Called once the listener is bound, with its address and the state, before requests are served.
pub type OnListening = Box<dyn FnOnce(SocketAddr, &AppState) -> Result<(), StartupError>>;

/// What [`serve_with`] adds to a plain `serve`.
#[derive(Default)]
pub struct ServeOptions {
    pub mode: Mode,
    pub routes: Option<ExtraRoutes>,
    pub on_listening: Option<OnListening>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("mode", &self.mode)
            .field("routes", &self.routes.is_some())
            .field("on_listening", &self.on_listening.is_some())
            .finish()
    }
}

/// What is not configured yet, one line each (for the start-up log).
pub fn pending_setup(settings: &Settings) -> Vec<String> {
    let mut pending = Vec::new();
    for provider in Provider::ALL {
        if !settings.providers.get(provider).webhooks_enabled() {
            pending.push(format!(
                "{provider} webhooks are disabled (POST /api/webhooks/{provider} answers 503): set \
                 providers.{provider}.webhook_secret (TOLLGATE_PROVIDERS__{}__WEBHOOK_SECRET)",
                provider.as_str().to_ascii_uppercase()
            ));
        }
    }
    if !settings.service.token.is_set() {
        pending.push(
            "the service API (GET /api/entitlements) is disabled: set service.token (TOLLGATE_SERVICE__TOKEN)"
                .to_owned(),
        );
    }
    if !settings.admin.token.is_set() {
        pending.push(
            "the admin API (/admin/...) is disabled: set admin.token (TOLLGATE_ADMIN__TOKEN)".to_owned(),
        );
    }
    pending
}

/// Run the server until SIGTERM or SIGINT; in-flight requests then get up to 30 s to finish. Must run inside an
/// actix system (`#[actix_web::main]` or `actix_web::rt::System::new().block_on(..)`).
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    serve_with(settings, ServeOptions::default()).await
}

/// [`serve`] as `options.mode`, with `options.routes` added and `options.on_listening` called once bound.
pub async fn serve_with(settings: Settings, options: ServeOptions) -> Result<(), StartupError> {
    let addr = settings.listen_addr()?;
    let settings = Arc::new(settings);
    for line in pending_setup(&settings) {
        log::warn!("not configured yet: {line}");
    }
    let state = build_state(settings.clone(), Arc::new(SystemClock))?.with_mode(options.mode);
    let backend = state.store().database_url().backend();
    let rate_limits = state.rate_limits.clone();
    let state_reconciler = state.reconciler().clone();
    let pruning = actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(RETAIN_EVERY);
        loop {
            ticks.tick().await;
            rate_limits.retain_recent();
        }
    });
    let routes = options.routes.clone();
    let serving = state.clone();
    let server = HttpServer::new(move || {
        let state = serving.clone();
        let routes = routes.clone();
        App::new().configure(move |cfg| {
            configure_with(cfg, state, |cfg| {
                if let Some(routes) = routes {
                    routes(cfg);
                }
            });
        })
    })
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .bind(addr)?;
    // `listen` may ask for port 0: log (and report) the address the listener really got.
    let addr = server.addrs().first().copied().unwrap_or(addr);
    log::info!(
        listen = addr.to_string().as_str(),
        database = backend;
        "tollgate listening on http://{addr}"
    );
    if let Some(on_listening) = options.on_listening
        && let Err(e) = on_listening(addr, &state)
    {
        pruning.abort();
        return Err(e);
    }
    let (stop_reconciling, shutdown) = tokio::sync::watch::channel(false);
    let reconciling = (!state_reconciler.providers().is_empty()).then(|| {
        let every = std::time::Duration::from_secs(settings.reconcile.every.as_secs().unsigned_abs());
        log::info!(every_secs = every.as_secs(); "reconciliation every {}", settings.reconcile.every);
        state_reconciler.spawn_periodic(every, shutdown)
    });
    let result = server.run().await;
    pruning.abort();
    let _ = stop_reconciling.send(true);
    if let Some(task) = reconciling
        && let Err(e) = task.await
    {
        log::warn!("the reconciliation task ended abnormally: {e}");
    }
    result?;
    log::info!("tollgate stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_commit_writers_are_one_on_sqlite_two_on_postgres_and_never_above_the_pool() {
        let mut settings = Settings::defaults().unwrap();
        let sqlite = DatabaseUrl::parse("sqlite://tollgate.db").unwrap();
        let postgres = DatabaseUrl::parse("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!(commit_settings(&settings, &sqlite).writers, 1);
        assert_eq!(commit_settings(&settings, &postgres).writers, 2);
        settings.webhooks.commit_writers = 6;
        assert_eq!(commit_settings(&settings, &postgres).writers, 6);
        settings.database.pool_size = 3;
        assert_eq!(commit_settings(&settings, &postgres).writers, 3);
        settings.webhooks.commit_writers = 0;
        settings.database.pool_size = 1;
        assert_eq!(commit_settings(&settings, &postgres).writers, 1);
    }
}
