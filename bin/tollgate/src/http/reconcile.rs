//! `POST /admin/reconcile[?provider=<provider>]` (admin token): run a reconciliation now and answer its
//! report (the same JSON `tollgate reconcile` prints). The periodic run is started by `serve`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tollgate_service::reconcile::{ReconcileError, ReconcileReport};

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::openapi::{Api, storage};
use crate::http::provider_names::{unknown_provider, wire_names_markdown};
use crate::http::request::request_id;

/// The admin route (with the admin token).
pub fn admin_routes(api: &mut Api) {
    api.add(__path_reconcile, reconcile)
        .admin()
        .errors(|| {
            vec![
                unknown_provider(),
                from_reconcile_error(ReconcileError::NotConfigured(tollgate_policy::Provider::Whop)),
                storage(),
            ]
        })
        .param("provider", |p| {
            p.description(Some(format!(
                "Only this provider: {} (default: every provider with an API key).",
                wire_names_markdown()
            )))
        });
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReconcileQuery {
    // Only this provider (its description lists the providers: `admin_routes` sets it).
    provider: Option<String>,
}

/// The JSON error of a run that produced no report.
pub fn from_reconcile_error(error: ReconcileError) -> ApiError {
    match error {
        ReconcileError::NotConfigured(provider) => ApiError::of(
            ErrorCode::ReconcileNotConfigured,
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

/// Compare the providers' listings with the database now and repair drift (the run `serve` makes every
/// `reconcile.every`). A provider another instance is reconciling is reported as `held`.
#[utoipa::path(
    post,
    path = "/admin/reconcile",
    tag = "admin",
    operation_id = "admin_reconcile",
    summary = "Reconcile with the providers now",
    params(ReconcileQuery),
    responses((status = 200, description = "The run's report (a provider call that failed is in its `errors`; what could be examined was repaired)", body = ReconcileReport,
        example = json!({"started_at": "2026-11-22T16:40:31Z", "finished_at": "2026-11-22T16:40:32Z", "providers": [{"provider": "whop",
            "outcome": "completed", "examined": 3, "changed": 1, "created": 0, "ignored": 0, "errors": [],
            "repairs": [{"kind": "changed", "entitlement_id": "ent_1f0c9a", "external_id": "mem_7Hq2LwZp0aXkR1", "detail": "status active -> canceled"}]}]})))
)]
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
        .map(|name| name.parse().map_err(|_| unknown_provider()))
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
