//! `GET /healthz` (the process answers), `GET /readyz` (the database answers and every migration is applied) and
//! `GET /metrics` (Prometheus/OpenMetrics text).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use tollgate_store::StoreError;

use crate::app::{AppState, Mode};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::metrics::CONTENT_TYPE;
use crate::http::openapi::Api;

pub fn routes(api: &mut Api) {
    api.add(__path_healthz, healthz);
    api.add(__path_readyz, readyz)
        .errors(|| vec![migrations_pending(), keys_do_not_open(), database_unreachable()]);
    api.add(__path_metrics, metrics);
}

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    #[schema(example = "ok")]
    status: &'static str,
    /// `serve`, or `dev` under `tollgate dev` (fake providers, generated secrets: never for real licenses).
    mode: Mode,
}

/// The answer of `GET /readyz` when ready.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: &'static str,
}

/// `503 NOT_READY`: migrations are pending.
pub fn migrations_pending() -> ApiError {
    ApiError::of(
        ErrorCode::NotReady,
        "database migrations are pending: run `tollgate migrate` or restart `tollgate serve`",
    )
}

/// `503 NOT_READY`: the store keys do not open the stored data.
pub fn keys_do_not_open() -> ApiError {
    ApiError::of(
        ErrorCode::NotReady,
        "the store keys do not open the stored data: restore the key file (or database.pepper and \
         database.data_key) this database was written with (see the server log)",
    )
}

/// `503 NOT_READY`: the database does not answer.
pub fn database_unreachable() -> ApiError {
    ApiError::of(
        ErrorCode::NotReady,
        "the database is unreachable (see the server log)",
    )
}

/// The process answers (liveness). Says whether it is `tollgate serve` or `tollgate dev`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "The process answers", body = Health,
        example = json!({"status": "ok", "mode": "serve"})))
)]
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        mode: state.mode(),
    })
}

/// Ready when the database answers, every migration is applied, and the store keys open the stored data (the lease
/// signing keys and a stored webhook body decrypt).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "Readiness: the database answers, is migrated, and the keys open it",
    responses((status = 200, description = "Ready to serve", body = Ready, example = json!({"status": "ready"})))
)]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store().clone();
    let migrated = web::block(move || {
        let migrated = store.is_migrated()?;
        if migrated {
            store.check_keys()?;
        }
        Ok::<_, StoreError>(migrated)
    })
    .await?;
    match migrated {
        Ok(true) => Ok(HttpResponse::Ok().json(Ready { status: "ready" })),
        Err(e @ StoreError::Decrypt { .. }) => Err(keys_do_not_open().with_cause(e)),
        Ok(false) => Err(migrations_pending()),
        Err(e) => Err(database_unreachable().with_cause(e)),
    }
}

/// Prometheus metrics in the OpenMetrics text format: webhooks by provider and outcome, request latency by route,
/// the inbox backlog and the database pool (sampled at scrape).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics (OpenMetrics text)",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String,
        example = "# TYPE tollgate_webhooks counter\ntollgate_webhooks_total{provider=\"whop\",outcome=\"applied\"} 3\n# EOF\n"))
)]
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let query = state.query().clone();
    let backlog = web::block(move || query.inbox_backlog()).await?;
    let backlog = match backlog {
        Ok(backlog) => Some(backlog),
        Err(e) => {
            log::warn!("metrics: inbox backlog not sampled: {e}");
            None
        }
    };
    state.metrics().sample(backlog, state.store().pool_use());
    let text = state
        .metrics()
        .encode()
        .map_err(|e| ApiError::internal().with_cause(e))?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}
