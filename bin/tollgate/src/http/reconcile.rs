//! `POST /admin/reconcile[?provider=whop|dodo|aghanim]` (admin token): run a reconciliation now and answer its
//! report (the same JSON `tollgate reconcile` prints). The periodic run is started by `serve`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tollgate_service::reconcile::ReconcileError;

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::error::ApiError;
use crate::http::request::request_id;

/// The admin route, relative to the `/admin` scope.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reconcile", web::post().to(reconcile));
}

#[derive(Debug, Deserialize)]
struct ReconcileQuery {
    provider: Option<String>,
}

/// The JSON error of a run that produced no report.
pub fn from_reconcile_error(error: ReconcileError) -> ApiError {
    match error {
        ReconcileError::NotConfigured(provider) => ApiError::new(
            StatusCode::CONFLICT,
            "PROVIDER_NOT_CONFIGURED",
            format!(
                "{provider} has no API client: set providers.{provider}.api_key (TOLLGATE_PROVIDERS__{}__API_KEY) \
                 to reconcile it",
                provider.as_str().to_ascii_uppercase()
            ),
        ),
        ReconcileError::Storage(store) => ApiError::from(store),
        other => ApiError::internal().with_cause(other),
    }
}

async fn reconcile(
    _: AdminAuth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ReconcileQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = query
        .provider
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|name| {
            name.parse().map_err(|_| {
                ApiError::invalid_request("unknown provider: expected one of whop, dodo, aghanim")
            })
        })
        .transpose()?;
    let report = state
        .reconciler()
        .run_once(provider)
        .await
        .map_err(from_reconcile_error)?;
    log::info!(
        request_id = request_id(&req).as_str(),
        repaired = report.repaired(),
        errors = report.has_errors();
        "reconciliation run by an admin"
    );
    Ok(HttpResponse::Ok().json(report))
}
