//! The app-facing license API: `POST /api/license/{activate,validate,deactivate}` and `GET /.well-known/jwks.json`;
//! and the admin's device reset and "why was this device denied?" (registered inside the admin scope).
//!
//! Handlers count the attempt against the rate limits (`http::rate_limit`), call `tollgate_service::license`
//! (async: its store work already runs off the async runtime), and map `LicenseError` to the JSON error body with
//! its stable code. Denials are logged and audited by the service with the request id, the code and the
//! entitlement id (never the key or hwid).

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tollgate_providers::CallContext;
use tollgate_service::license::{
    ActivateRequest, DeactivateRequest, LicenseError, LicenseGrant, Licensing, ProviderRelease,
    ValidateRequest,
};
use tollgate_store::{AuditEntry, DeviceId, EntitlementId};

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::body::{LICENSE_BODY_LIMIT, json_body};
use crate::http::error::ApiError;
use crate::http::rate_limit::Limited;
use crate::http::request::request_id;

/// How long a client or cache may keep the JWKS. A rotated-in key signs at once, so keep this short: an app that
/// meets an unknown `kid` re-fetches anyway.
const JWKS_MAX_AGE_SECS: u32 = 60;

/// `Retry-After` on `503 STORAGE_UNAVAILABLE`, as the webhook routes send it.
const STORAGE_RETRY_AFTER_SECS: u64 = 5;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/license/activate", web::post().to(activate))
        .route("/api/license/validate", web::post().to(validate))
        .route("/api/license/deactivate", web::post().to(deactivate))
        .route("/.well-known/jwks.json", web::get().to(jwks));
}

/// The admin routes, relative to the `/admin` scope.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/entitlements/{id}/devices/{device_id}/reset",
        web::post().to(reset_device),
    )
    .route("/licenses/denials", web::get().to(denials));
}

/// The license use cases, loading the lease keys first if the database was unreachable at start.
pub(crate) async fn licensing(state: &AppState) -> Result<Licensing, ApiError> {
    if let Some(licensing) = state.licensing().get() {
        return Ok(licensing.clone());
    }
    let state = state.clone();
    web::block(move || state.licensing().load())
        .await?
        .map_err(|e| from_license_error(LicenseError::from(e), Utc::now()))
}

/// The JSON error of a license refusal or failure: its status, stable code and user-safe message; `Retry-After`
/// until the end of a transfer cooldown.
pub fn from_license_error(error: LicenseError, now: DateTime<Utc>) -> ApiError {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut api = ApiError::new(status, error.code(), error.message());
    if let Some(at) = error.retry_at() {
        api = api.with_retry_after(secs_until(at, now));
    }
    if matches!(error, LicenseError::Storage(_)) {
        api = api.with_retry_after(STORAGE_RETRY_AFTER_SECS);
    }
    api.with_cause(error)
}

/// Whole seconds from `now` until `at`, rounded up, at least 1.
fn secs_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (at - now).num_milliseconds().max(0);
    u64::try_from(millis.div_euclid(1000) + i64::from(millis.rem_euclid(1000) > 0))
        .unwrap_or(1)
        .max(1)
}

fn context(req: &HttpRequest) -> CallContext {
    CallContext::with_request_id(request_id(req))
}

fn rate_limited(req: &HttpRequest, route: &'static str, limited: Limited) -> ApiError {
    log::info!(
        request_id = request_id(req).as_str(),
        route = route,
        limit = limited.limit,
        code = "RATE_LIMITED";
        "license request rate limited"
    );
    limited.into_error()
}

/// Count an activation or deactivation attempt against the client IP and the key.
fn check_change(state: &AppState, req: &HttpRequest, route: &'static str, key: &str) -> Result<(), ApiError> {
    let ip: Option<IpAddr> = state.rate_limits().client_ip(req);
    state
        .rate_limits()
        .check_change(ip, state.store(), key)
        .map_err(|limited| rate_limited(req, route, limited))
}

async fn activate(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ActivateRequest = json_body(&req, payload, LICENSE_BODY_LIMIT).await?;
    check_change(&state, &req, "/api/license/activate", &body.license_key)?;
    let licensing = licensing(&state).await?;
    match licensing.activate(&context(&req), &body).await {
        Ok(grant) => granted(&grant),
        Err(e) => Err(from_license_error(e, state.clock().now())),
    }
}

/// The `200` answer of activate and validate, from the grant's JSON, which a reused lease serializes only once.
fn granted(grant: &LicenseGrant) -> Result<HttpResponse, ApiError> {
    let json = grant.to_json().map_err(|e| {
        ApiError::internal().with_cause(format!("the license answer does not serialize: {e}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(json.to_owned()))
}

async fn validate(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ValidateRequest = json_body(&req, payload, LICENSE_BODY_LIMIT).await?;
    let licensing = licensing(&state).await?;
    let error = match licensing.validate(&context(&req), &body).await {
        Ok(grant) => return granted(&grant),
        Err(e) => e,
    };
    // Only a failure the client caused counts (a denial or a bad request), never an outage.
    if error.is_denial() || matches!(error, LicenseError::InvalidRequest(_)) {
        let ip = state.rate_limits().client_ip(&req);
        if let Err(limited) =
            state
                .rate_limits()
                .count_failed_validation(ip, state.store(), &body.license_key)
        {
            return Err(
                rate_limited(&req, "/api/license/validate", limited).with_cause(format!(
                    "{} rate limit, instead of {}",
                    limited.limit,
                    error.code()
                )),
            );
        }
    }
    Err(from_license_error(error, state.clock().now()))
}

async fn deactivate(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: DeactivateRequest = json_body(&req, payload, LICENSE_BODY_LIMIT).await?;
    check_change(&state, &req, "/api/license/deactivate", &body.license_key)?;
    let licensing = licensing(&state).await?;
    match licensing.deactivate(&context(&req), &body).await {
        Ok(done) => Ok(HttpResponse::Ok().json(done)),
        Err(e) => Err(from_license_error(e, state.clock().now())),
    }
}

/// `GET /.well-known/jwks.json`: every key a valid lease may be signed with (the current one and, after a
/// rotation, the retired ones until their last lease expires). Reloads the keys first when another instance may
/// have rotated them (at most every 30 s).
async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let licensing = licensing(&state).await?;
    let leases = licensing.leases().clone();
    let reloaded = web::block(move || leases.refresh_if_stale()).await?;
    if let Err(e) = reloaded {
        log::warn!(cause = e.to_string().as_str(); "lease keys not reloaded; serving the loaded JWKS");
    }
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(JWKS_MAX_AGE_SECS),
        ]))
        .json(licensing.leases().jwks()))
}

/// The optional body of an admin device reset.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// Dodo needs the key to deactivate the instance there (Tollgate keeps only its hash).
    license_key: Option<String>,
}

impl ResetBody {
    /// No body (or only whitespace) is no key; anything else must be the JSON object.
    fn parse(bytes: &[u8]) -> Result<ResetBody, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ResetBody::default());
        }
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::invalid_request("the body must be empty or {\"license_key\": \"...\"}")
                .with_cause(format!("reset body: JSON {} error", json_error_kind(&e)))
        })
    }
}

/// The kind of a JSON error only (its text could quote the key).
fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    }
}

/// `POST /admin/entitlements/{id}/devices/{device_id}/reset`: free one device, bypassing the transfer policy.
async fn reset_device(
    _: AdminAuth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (entitlement_id, device_id) = path.into_inner();
    let body = ResetBody::parse(&body)?;
    let licensing = licensing(&state).await?;
    let rid = request_id(&req);
    let admin = format!("admin API (request {rid})");
    let result = licensing
        .reset_device(
            &context(&req),
            &EntitlementId::new(entitlement_id.clone()),
            &DeviceId::new(device_id.clone()),
            &admin,
            body.license_key.as_deref().filter(|k| !k.trim().is_empty()),
        )
        .await;
    match result {
        Ok(reset) => {
            log::info!(
                request_id = rid.as_str(),
                entitlement_id = entitlement_id.as_str(),
                device_id = reset.device.id.as_str(),
                provider_release = release_name(reset.provider);
                "device reset by an admin"
            );
            Ok(HttpResponse::Ok().json(reset))
        }
        Err(LicenseError::LicenseNotFound) => Err(ApiError::not_found(format!(
            "no entitlement `{}`",
            entitlement_id.chars().take(64).collect::<String>()
        ))),
        Err(LicenseError::DeviceNotActivated) => Err(ApiError::not_found(format!(
            "no active device `{}` on this entitlement",
            device_id.chars().take(64).collect::<String>()
        ))),
        Err(e) => Err(from_license_error(e, state.clock().now())),
    }
}

fn release_name(release: ProviderRelease) -> &'static str {
    match release {
        ProviderRelease::NotNeeded => "not_needed",
        ProviderRelease::Released => "released",
        ProviderRelease::SkippedNoLicenseKey => "skipped_no_license_key",
        ProviderRelease::Pending => "pending",
        _ => "other",
    }
}

#[derive(Debug, Deserialize)]
struct DenialsQuery {
    license_key: String,
}

/// One recorded denial: "why was this device denied?".
#[derive(Debug, Serialize)]
struct DenialView {
    id: i64,
    at: DateTime<Utc>,
    entitlement_id: Option<String>,
    device_id: Option<String>,
    /// `activation`, `validation` or `deactivation`.
    request: &'static str,
    /// The stable code the app was answered with.
    code: Option<String>,
    /// `<request>: <CODE>[ (retry at ...)]; hwid_hash <first 16 hex>`: the hash prefix tells devices apart.
    detail: Option<String>,
}

impl From<&AuditEntry> for DenialView {
    fn from(entry: &AuditEntry) -> Self {
        let code = entry.detail.as_deref().and_then(|detail| {
            let (_, rest) = detail.split_once(": ")?;
            let code: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            (!code.is_empty()).then_some(code)
        });
        DenialView {
            id: entry.id,
            at: entry.at,
            entitlement_id: entry.entitlement_id.as_ref().map(ToString::to_string),
            device_id: entry.device_id.as_ref().map(ToString::to_string),
            request: entry.actor.as_str(),
            code,
            detail: entry.detail.clone(),
        }
    }
}

/// `GET /admin/licenses/denials?license_key=`: every denial of this key's entitlements, newest first.
async fn denials(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<DenialsQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = query.into_inner().license_key;
    if key.trim().is_empty() {
        return Err(ApiError::invalid_request("license_key is required"));
    }
    let licensing = licensing(&state).await?;
    let entries = web::block(move || licensing.denials(&key))
        .await?
        .map_err(|e| from_license_error(e, state.clock().now()))?;
    let views: Vec<DenialView> = entries.iter().map(DenialView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "denials": views })))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(secs_until(now + chrono::TimeDelta::seconds(90), now), 90);
        assert_eq!(secs_until(now + chrono::TimeDelta::milliseconds(90_001), now), 91);
        assert_eq!(secs_until(now, now), 1);
        assert_eq!(secs_until(now - chrono::TimeDelta::seconds(5), now), 1);
    }

    #[test]
    fn every_license_error_keeps_its_status_code_and_message() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let cooldown = LicenseError::TransferCooldown {
            retry_at: now + chrono::TimeDelta::hours(1),
        };
        let api = from_license_error(cooldown.clone(), now);
        assert_eq!(api.code(), "TRANSFER_COOLDOWN");
        assert_eq!(api.message(), cooldown.message());
        use actix_web::ResponseError as _;
        let response = api.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "3600");

        let api = from_license_error(LicenseError::DeviceMismatch, now);
        let response = api.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
