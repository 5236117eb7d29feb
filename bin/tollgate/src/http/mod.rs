//! The HTTP layer: one file per handler group, one [`error::ApiError`] with the only `ResponseError` impl, the
//! request middleware (request id, access log, latency) and the metrics. Handlers parse, call
//! `tollgate-service` inside `web::block`, and shape the answer; they hold no business logic.

pub mod admin;
pub mod auth;
pub mod body;
pub mod console;
#[cfg(feature = "dev")]
pub mod dev;
pub mod entitlements;
pub mod error;
pub mod health;
pub mod license;
pub mod metrics;
pub mod openapi;
pub mod provider_names;
pub mod rate_limit;
pub mod reconcile;
pub mod request;
pub mod webhooks;

use actix_web::web;

use crate::http::error::ApiError;

/// Every route group, served. Each API group's file has one `routes(api)` function; the HTML console (pages for
/// people, not part of the OpenAPI document by design) registers its own.
pub fn routes(cfg: &mut web::ServiceConfig) {
    api_routes(&mut openapi::Api::serve(cfg));
    console::routes(cfg);
}

/// The route table: served by [`routes`], documented by [`openapi::build`] (see `http/openapi.rs`).
pub fn api_routes(api: &mut openapi::Api) {
    health::routes(api);
    webhooks::routes(api);
    entitlements::routes(api);
    admin::routes(api);
    license::routes(api);
    openapi::routes(api);
}

/// Extractor errors (wrong content type, bad JSON, a bad query or path value) as `400 INVALID_REQUEST` with the
/// JSON error body, never actix's plain-text default.
pub fn extractor_configs(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().error_handler(|err, _req| {
        let message = match &err {
            actix_web::error::JsonPayloadError::ContentType => {
                "the body must be JSON (Content-Type: application/json)"
            }
            actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
            | actix_web::error::JsonPayloadError::Overflow { .. } => "the JSON body is too large",
            _ => "the body is not valid JSON for this request",
        };
        ApiError::invalid_request(message).with_cause(err).into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::invalid_request("invalid query parameters")
            .with_cause(err)
            .into()
    }))
    .app_data(web::PathConfig::default().error_handler(|err, _req| {
        ApiError::invalid_request("invalid value in the request path")
            .with_cause(err)
            .into()
    }));
}

/// Anything no route matches.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}
