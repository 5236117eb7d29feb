//! The browser console at `/console`: HTML rendered on the server (askama templates in `templates/console/`), one
//! stylesheet and a few lines of plain JavaScript embedded in the binary, for the vendor's support and ops people.
//!
//! - Sign-in with the admin token on a form, then a database-backed session (`tollgate_service::console_session`)
//!   in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind TLS); every form carries the session's CSRF token;
//!   sign-in attempts are throttled per client IP (`session.rs`).
//! - Every answer carries the security headers below: no inline script, no framing, no caching.
//! - No page or action without a session: a GET is redirected to the sign-in page, a POST refused with 403.
//! - Every action goes through the same use cases as the admin API (`Licensing::reset_device_by`,
//!   `Ingest::replay` through `tollgate_service::support`, `Reconciler::run_once`) and is audited with actor
//!   `console`.
//!
//! Errors are HTML pages ([`error::ConsoleError`]), not the JSON error body of the APIs.

mod assets;
mod error;
mod inbox;
mod license;
mod ops;
mod session;
mod views;

use std::sync::Arc;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use tollgate_service::clock::Clock;
use tollgate_service::console_session::{ConsoleSessions, SessionLimits};
use tollgate_service::ingest::Ingest;
use tollgate_service::query::Query;
use tollgate_service::support::Support;
use tollgate_store::Store;

use crate::settings::Settings;
pub use error::ConsoleError;
pub use session::SignInLimiter;

/// The `Content-Security-Policy` of every console answer: only this origin's script and stylesheet, no inline
/// script or style, no plugins, forms only to this origin, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's share of the server state.
#[derive(Debug)]
pub struct ConsoleState {
    /// `console.enabled` and an admin token set.
    enabled: bool,
    sessions: ConsoleSessions,
    support: Support,
    sign_in: SignInLimiter,
}

impl ConsoleState {
    pub fn new(
        store: &Store,
        settings: &Settings,
        query: &Query,
        ingest: &Ingest,
        clock: &Arc<dyn Clock>,
    ) -> ConsoleState {
        let limits = SessionLimits {
            idle: settings.console.idle_timeout.as_delta(),
            max_age: settings.console.max_session.as_delta(),
        };
        ConsoleState {
            enabled: settings.console.enabled && settings.admin.token.is_set(),
            sessions: ConsoleSessions::new(
                store.clone(),
                clock.clone(),
                settings.admin.token.expose(),
                limits,
            ),
            support: Support::new(store.clone(), query.clone(), ingest.clone(), clock.clone()),
            sign_in: SignInLimiter::new(settings.console.sign_in_per_minute),
        }
    }

    pub fn sessions(&self) -> &ConsoleSessions {
        &self.sessions
    }

    pub fn support(&self) -> &Support {
        &self.support
    }
}

/// The `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap(actix_web::middleware::from_fn(error::only_when_enabled))
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("Cross-Origin-Opener-Policy", "same-origin"))
                    .add(("Cache-Control", "no-store")),
            )
            .route("", web::get().to(ops::to_overview))
            .route("/", web::get().to(ops::overview))
            .route("/assets/console.css", web::get().to(assets::stylesheet))
            .route("/assets/console.js", web::get().to(assets::script))
            .configure(session::routes)
            .configure(license::routes)
            .configure(inbox::routes)
            .configure(ops::routes)
            .default_service(web::to(error::not_found)),
    );
}
