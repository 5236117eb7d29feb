//! `GET /healthz` (the process answers), `GET /readyz` (the database answers and every migration is applied) and
//! `GET /metrics` (Prometheus/OpenMetrics text).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;
use tollgate_store::StoreError;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::metrics::CONTENT_TYPE;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers, every migration is applied, and the store keys open the stored data (the lease
/// signing keys and a stored webhook body decrypt).
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
        Ok(true) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Err(e @ StoreError::Decrypt { .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "the store keys do not open the stored data: restore the key file (or database.pepper and \
             database.data_key) this database was written with (see the server log)",
        )
        .with_cause(e)),
        Ok(false) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "database migrations are pending: run `tollgate migrate` or restart `tollgate serve`",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "the database is unreachable (see the server log)",
        )
        .with_cause(e)),
    }
}

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
