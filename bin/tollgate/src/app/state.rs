//! [`AppState`]: everything a handler needs, built once per process from the settings and an opened store.

use std::sync::Arc;

use tollgate_providers::ProviderApis;
use tollgate_service::clock::Clock;
use tollgate_service::ingest::{Committer, Ingest, IngestError};
use tollgate_service::query::Query;
use tollgate_service::reconcile::Reconciler;
use tollgate_store::Store;

use super::licensing::{self, LicensingSlot};
use super::{commit_settings, webhook_secrets};
use crate::http::auth::TokenCheck;
use crate::http::metrics::Metrics;
use crate::http::rate_limit::RateLimits;
use crate::settings::Settings;
use crate::startup::StartupError;

/// Which command is serving: `tollgate serve`, or `tollgate dev` with fake providers (`GET /healthz` says which).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Serve,
    Dev,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Serve => "serve",
            Mode::Dev => "dev",
        }
    }
}

/// Everything a handler needs. Cheap to clone: every field is shared.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    ingest: Ingest,
    /// Stores verified deliveries, many per transaction (group commit).
    committer: Arc<Committer>,
    query: Query,
    settings: Arc<Settings>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    admin_token: Arc<TokenCheck>,
    service_token: Arc<TokenCheck>,
    apis: ProviderApis,
    licensing: Arc<LicensingSlot>,
    /// Shared with the pruning task `serve` spawns.
    pub(super) rate_limits: Arc<RateLimits>,
    reconciler: Reconciler,
    mode: Mode,
    console: Arc<crate::http::console::ConsoleState>,
}

impl AppState {
    /// Build the state over an opened store (not migrated here; see [`build_state`]). The provider API clients
    /// are built here, and the lease keys loaded (or created) if the store can be reached; otherwise the first
    /// license request loads them.
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, StartupError> {
        let ingest = settings.providers.configure_ingest(
            Ingest::new(store.clone(), &webhook_secrets(&settings), clock.clone())
                .map_err(ingest_startup_error)?,
        );
        let committer = Committer::start(store.clone(), commit_settings(&settings, store.database_url()))
            .map(Arc::new)
            .map_err(StartupError::Io)?;
        let query = Query::new(store.clone(), Arc::new(settings.policy.clone()), clock.clone());
        let apis = licensing::provider_apis(&settings)?;
        let licensing = LicensingSlot::new(store.clone(), &settings, &apis, clock.clone());
        let rate_limits = RateLimits::new(&settings.rate_limit);
        let reconciler = licensing::reconciler(store.clone(), &settings, &apis, clock.clone());
        let console = crate::http::console::ConsoleState::new(&store, &settings, &query, &ingest, &clock);
        let token = |value: &str, api, key, env| {
            TokenCheck::new(value, api, key, env)
                .map(Arc::new)
                .map_err(|_| StartupError::Io(std::io::Error::other("the system random generator failed")))
        };
        Ok(AppState {
            admin_token: token(
                settings.admin.token.expose(),
                "admin",
                "admin.token",
                "TOLLGATE_ADMIN__TOKEN",
            )?,
            service_token: token(
                settings.service.token.expose(),
                "service",
                "service.token",
                "TOLLGATE_SERVICE__TOKEN",
            )?,
            store,
            ingest,
            committer,
            query,
            settings,
            metrics: Metrics::new(),
            clock,
            apis,
            licensing: Arc::new(licensing),
            rate_limits: Arc::new(rate_limits),
            reconciler,
            mode: Mode::Serve,
            console: Arc::new(console),
        })
    }

    /// The same state, serving as `mode` (`tollgate dev` sets [`Mode::Dev`]).
    pub fn with_mode(mut self, mode: Mode) -> AppState {
        self.mode = mode;
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The same state with another ingest (tests stand in an older release's parser this way).
    pub fn with_ingest(mut self, ingest: Ingest) -> AppState {
        self.ingest = ingest;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// The group committer the webhook handlers hand prepared deliveries to.
    pub fn committer(&self) -> &Committer {
        &self.committer
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn admin_token(&self) -> &TokenCheck {
        &self.admin_token
    }

    pub fn service_token(&self) -> &TokenCheck {
        &self.service_token
    }

    /// The provider APIs (license flows, reconciliation).
    pub fn apis(&self) -> &ProviderApis {
        &self.apis
    }

    /// The license use cases (`get()` once the lease keys are loaded, `load()` to load them: blocking).
    pub fn licensing(&self) -> &LicensingSlot {
        &self.licensing
    }

    pub fn rate_limits(&self) -> &RateLimits {
        &self.rate_limits
    }

    /// The browser console's sessions and support use cases.
    pub fn console(&self) -> &crate::http::console::ConsoleState {
        &self.console
    }

    /// Reconciliation over the providers whose API key is set (`serve` runs it every `reconcile.every`).
    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
    }
}

fn ingest_startup_error(e: IngestError) -> StartupError {
    StartupError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        e.to_string(),
    ))
}
