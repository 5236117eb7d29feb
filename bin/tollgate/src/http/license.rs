//! The app-facing license API: `POST /api/license/{activate,validate,deactivate}` and `GET /.well-known/jwks.json`;
//! and the admin's device reset and "why was this device denied?" (registered inside the admin scope).
//!
//! Handlers count the attempt against the rate limits (`http::rate_limit`), call `tollgate_service::license`
//! (async: its store work already runs off the async runtime), and map `LicenseError` to the JSON error body with
//! its stable code. Denials are logged and audited by the service with the request id, the code and the
//! entitlement id (never the key or hwid).

use std::net::IpAddr;

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tollgate_providers::CallContext;
use tollgate_service::lease::Jwks;
use tollgate_service::license::{
    ActivateRequest, DeactivateRequest, Deactivated, DeviceReset, LicenseError, LicenseGrant, Licensing,
    ProviderRelease, ValidateRequest,
};
use tollgate_store::{AuditEntry, DeviceId, EntitlementId};

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::body::{BODY_TIMEOUT, LICENSE_BODY_LIMIT, json_body};
use crate::http::error::ApiError;
use crate::http::openapi::{self, Api, license, storage};
use crate::http::rate_limit::Limited;
use crate::http::request::request_id;

/// The `200` answer of activate and validate, as the document shows it.
const GRANT_EXAMPLE: &str = r#"{"code": "VALID", "entitlement": {"id": "ent_1f0c9a", "provider": "whop",
    "external_id": "mem_7Hq2LwZp0aXkR1", "subject": "user_Zx9Yw8Vu7", "product": "prod_Desk42xY", "status": "active",
    "current_period_end": "2026-12-22T16:40:31Z", "cancel_at_period_end": false,
    "access": {"allowed": true, "code": "VALID", "until": "2026-11-25T16:40:31Z"}, "plan": "plan_Pro3m",
    "license_key_last4": "K9XD"},
  "device": {"id": "dev_8c1f0e4b2a", "activated_at": "2026-11-22T16:40:31Z"},
  "lease": {"token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImxlYXNlLTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJ0b2xsZ2F0ZSJ9.c2lnbmF0dXJl",
    "expires_at": "2026-11-25T16:40:31Z", "refresh_after": "2026-11-23T16:40:31Z"}}"#;

fn grant_example() -> serde_json::Value {
    serde_json::from_str(GRANT_EXAMPLE).unwrap_or_default()
}

/// How long a client or cache may keep the JWKS. A rotated-in key signs at once, so keep this short: an app that
/// meets an unknown `kid` re-fetches anyway.
const JWKS_MAX_AGE_SECS: u32 = 60;

pub fn routes(api: &mut Api) {
    use LicenseError as L;
    api.add(__path_activate, activate).errors(|| {
        license_errors([
            L::LicenseNotFound,
            L::DeviceMismatch,
            L::DeviceLimitReached,
            L::LicenseInactive,
            L::PaymentIssue,
            L::TransferNotAllowed,
            L::ProviderUnavailable,
        ])
    });
    api.add(__path_validate, validate).errors(|| {
        license_errors([
            L::LicenseNotFound,
            L::DeviceMismatch,
            L::DeviceLimitReached,
            L::LicenseInactive,
            L::PaymentIssue,
            L::DeviceNotActivated,
            L::ProviderUnavailable,
        ])
    });
    api.add(__path_deactivate, deactivate).errors(|| {
        license_errors([
            L::LicenseNotFound,
            L::DeviceNotActivated,
            L::TransferNotAllowed,
            L::TransferCooldown {
                retry_at: DateTime::<Utc>::UNIX_EPOCH,
            },
            L::ProviderUnavailable,
        ])
    });
    api.add(__path_jwks, jwks).errors(|| vec![storage()]);
}

/// A license route's errors: the bad request, the rate limit, these refusals, and the outages.
fn license_errors<const N: usize>(refusals: [LicenseError; N]) -> Vec<ApiError> {
    let mut errors = vec![
        ApiError::invalid_request("the body must be JSON (Content-Type: application/json)"),
        license(LicenseError::InvalidRequest("license_key is empty")),
        ApiError::request_timeout(BODY_TIMEOUT.as_secs()),
        openapi::rate_limited(),
    ];
    errors.extend(refusals.into_iter().map(license));
    errors.push(storage());
    errors
}

/// The admin routes (with the admin token).
pub fn admin_routes(api: &mut Api) {
    api.add(__path_reset_device, reset_device).admin().errors(|| {
        vec![
            ApiError::invalid_request("the body must be empty or {\"license_key\": \"...\"}"),
            ApiError::not_found("no entitlement `ent_unknown`"),
            ApiError::not_found("no active device `dev_unknown` on this entitlement"),
            license(LicenseError::ProviderUnavailable),
            storage(),
        ]
    });
    api.add(__path_denials, denials)
        .admin()
        .errors(|| vec![ApiError::invalid_request("license_key is required"), storage()]);
}

/// The license use cases, loading the lease keys first if the database was unreachable at start.
pub(crate) async fn licensing(state: &AppState) -> Result<Licensing, ApiError> {
    if let Some(licensing) = state.licensing().get() {
        return Ok(licensing.clone());
    }
    let state = state.clone();
    web::block(move || state.licensing().load())
        .await?
        .map_err(|e| ApiError::from_license(LicenseError::from(e), Utc::now()))
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

/// Activate this device on a license key: the key is looked up locally, then at the provider (Whop, then Dodo; a
/// UUID-shaped key asks Dodo first); the device takes a slot under the policy's `max_devices`; the answer carries
/// the first signed lease. Activating an already active device again is allowed and answers a fresh lease.
#[utoipa::path(
    post,
    path = "/api/license/activate",
    tag = "license",
    operation_id = "activate",
    summary = "Activate a device on a license key",
    request_body(content = ActivateRequest, content_type = "application/json",
        example = json!({"license_key": "TGDEV-ACTV-7Q2M-K9XD", "hwid": "5f1d3c0e9a7b4e21", "device_name": "Ana's laptop"})),
    responses((status = 200, description = "The device is active; the lease lets the app run offline until `lease.expires_at`", body = LicenseGrant,
        example = grant_example))
)]
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
        Err(e) => Err(ApiError::from_license(e, state.clock().now())),
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

/// Revalidate an active device (what the app does at launch, from `lease.refresh_after`): the entitlement's state
/// now, a fresh lease. Only failed validations count against the rate limit.
#[utoipa::path(
    post,
    path = "/api/license/validate",
    tag = "license",
    operation_id = "validate",
    summary = "Revalidate a device and renew its lease",
    request_body(content = ValidateRequest, content_type = "application/json",
        example = json!({"license_key": "TGDEV-ACTV-7Q2M-K9XD", "hwid": "5f1d3c0e9a7b4e21"})),
    responses((status = 200, description = "Still valid, with a fresh lease", body = LicenseGrant, example = grant_example))
)]
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
    Err(ApiError::from_license(error, state.clock().now()))
}

/// Free this device's slot, to move the license to another device (under the policy's transfer rules).
#[utoipa::path(
    post,
    path = "/api/license/deactivate",
    tag = "license",
    operation_id = "deactivate",
    summary = "Deactivate a device",
    request_body(content = DeactivateRequest, content_type = "application/json",
        example = json!({"license_key": "TGDEV-ACTV-7Q2M-K9XD", "hwid": "5f1d3c0e9a7b4e21"})),
    responses((status = 200, description = "Deactivated; the devices that remain on the license", body = Deactivated,
        example = json!({"code": "DEACTIVATED", "max_devices": 2, "devices": [{"id": "dev_8c1f0e4b2a", "name": "Ana's desktop",
            "activated_at": "2026-11-20T09:12:44Z", "last_seen_at": "2026-11-22T16:40:31Z"}]})))
)]
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
        Err(e) => Err(ApiError::from_license(e, state.clock().now())),
    }
}

/// `GET /.well-known/jwks.json`: every key a valid lease may be signed with (the current one and, after a
/// rotation, the retired ones until their last lease expires). Reloads the keys first when another instance may
/// have rotated them (at most every 30 s).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "license",
    operation_id = "jwks",
    summary = "The lease signing keys (JWKS)",
    responses((status = 200, description = "Ed25519 public keys (RFC 8037). `Cache-Control: public, max-age=60`; an app that meets an unknown `kid` fetches again", body = Jwks,
        example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "jdTHQzkgrGPZFyPNkOTPm_aWiZlTyaOOU9QoZOImj0E", "kid": "lease-1", "alg": "EdDSA", "use": "sig"}]})))
)]
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
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[utoipa::path(
    post,
    path = "/admin/entitlements/{id}/devices/{device_id}/reset",
    tag = "admin",
    operation_id = "admin_reset_device",
    summary = "Free one device, bypassing the transfer policy",
    params(
        ("id" = String, Path, description = "The entitlement id (`ent_...`)", example = "ent_1f0c9a"),
        ("device_id" = String, Path, description = "The device id (`dev_...`)", example = "dev_8c1f0e4b2a"),
    ),
    request_body(content = Option<ResetBody>, content_type = "application/json",
        description = "Optional. Dodo needs the license key to deactivate its instance (Tollgate keeps only a hash); without it the instance stays active at Dodo",
        example = json!({"license_key": "TGDEV-DODO-8K4F-M6QZ"})),
    responses((status = 200, description = "The device is free; what was done at the provider", body = DeviceReset,
        example = json!({"device": {"id": "dev_8c1f0e4b2a", "name": "Ana's laptop", "activated_at": "2026-11-20T09:12:44Z",
            "last_seen_at": "2026-11-22T16:40:31Z"}, "provider": "not_needed"})))
)]
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
        Err(e) => Err(ApiError::from_license(e, state.clock().now())),
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DenialsQuery {
    /// The license key as the customer has it (hashed for the lookup, never stored).
    license_key: String,
}

/// One recorded denial: "why was this device denied?".
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DenialView {
    id: i64,
    at: DateTime<Utc>,
    entitlement_id: Option<String>,
    device_id: Option<String>,
    /// `activation`, `validation` or `deactivation`.
    #[schema(example = "activation")]
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

/// Every denial of a license key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Denials {
    /// Newest first.
    denials: Vec<DenialView>,
}

/// `GET /admin/licenses/denials?license_key=`: every denial of this key's entitlements, newest first.
#[utoipa::path(
    get,
    path = "/admin/licenses/denials",
    tag = "admin",
    operation_id = "admin_denials",
    summary = "Why was this device denied?",
    params(DenialsQuery),
    responses((status = 200, description = "The key's denials, newest first (empty for an unknown key)", body = Denials,
        example = json!({"denials": [{"id": 17, "at": "2026-11-22T16:40:31Z", "entitlement_id": "ent_1f0c9a", "device_id": null,
            "request": "activation", "code": "DEVICE_LIMIT_REACHED", "detail": "activation: DEVICE_LIMIT_REACHED; hwid_hash 9f2c4e1a7b3d5c60"}]})))
)]
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
        .map_err(|e| ApiError::from_license(e, state.clock().now()))?;
    let denials: Vec<DenialView> = entries.iter().map(DenialView::from).collect();
    Ok(HttpResponse::Ok().json(Denials { denials }))
}
