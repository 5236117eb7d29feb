//! The admin API (admin token): entitlement lookups with devices and audit trail, the webhook inbox and its
//! replay, and the effective policy. Device resets and license denials are in
//! `http::license`, the on-demand reconciliation in `http::reconcile`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tollgate_policy::Provider;
use tollgate_service::ingest::{IngestError, IngestOutcome};
use tollgate_service::query::{EntitlementDetail, InboxItem, PolicyView};
use tollgate_store::{InboxFilter, InboxId, InboxStatus};

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::entitlements::SubjectQuery;
use crate::http::error::ApiError;
use crate::http::openapi::{Api, storage};
use crate::http::provider_names::{id_prefixes_markdown, unknown_provider, wire_names_markdown};

/// Every admin route (all under `/admin`, all with the admin token).
pub fn routes(api: &mut Api) {
    let of_subject = api
        .add(__path_entitlements_of_subject, entitlements_of_subject)
        .admin()
        .errors(|| vec![SubjectQuery::subject_required(), storage()]);
    SubjectQuery::describe(of_subject);
    api.add(__path_entitlement, entitlement)
        .admin()
        .errors(|| {
            vec![
                unknown_provider(),
                ApiError::not_found("no whop entitlement with external id `mem_unknown`"),
                storage(),
            ]
        })
        .param("provider", |p| p.description(Some(Provider::names_list())))
        .param("external_id", |p| {
            p.description(Some(format!("The provider's id: {}", id_prefixes_markdown())))
        });
    api.add(__path_inbox, inbox)
        .admin()
        .errors(|| {
            vec![
                ApiError::invalid_request(
                    "unknown `status`: expected one of received, processed, ignored, failed",
                ),
                storage(),
            ]
        })
        .param("provider", |p| {
            p.description(Some(format!("Only this provider: {}.", wire_names_markdown())))
        });
    api.add(__path_replay_failed, replay_failed)
        .admin()
        .errors(|| vec![unknown_provider(), storage()])
        .param("provider", |p| {
            p.description(Some(format!(
                "Only this provider's failed deliveries: {}.",
                wire_names_markdown()
            )))
        });
    api.add(__path_inbox_event, inbox_event).admin().errors(|| {
        vec![
            ApiError::invalid_request("invalid value in the request path"),
            ApiError::not_found("no inbox event 42"),
            storage(),
        ]
    });
    api.add(__path_replay, replay).admin().errors(|| {
        vec![
            ApiError::invalid_request("invalid value in the request path"),
            ApiError::not_found("no inbox event 42"),
            storage(),
        ]
    });
    api.add(__path_policy, policy).admin();
    crate::http::license::admin_routes(api);
    crate::http::reconcile::admin_routes(api);
}

fn parse_provider(name: &str) -> Result<Provider, ApiError> {
    name.parse().map_err(|_| unknown_provider())
}

/// One entitlement by its provider id (e.g. a membership or subscription id), with its policy, devices and audit
/// trail. The parameters' descriptions name the providers: `routes` sets them from the registry.
#[utoipa::path(
    get,
    path = "/admin/entitlements/{provider}/{external_id}",
    tag = "admin",
    operation_id = "admin_entitlement",
    summary = "One entitlement with devices and audit trail",
    params(
        ("provider" = Provider, Path),
        ("external_id" = String, Path, example = "mem_7Hq2LwZp0aXkR1"),
    ),
    responses((status = 200, description = "The entitlement", body = EntitlementDetail))
)]
async fn entitlement(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, external_id) = path.into_inner();
    let provider = parse_provider(&provider)?;
    let query = state.query().clone();
    let id = external_id.clone();
    let found = web::block(move || query.find_entitlement(provider, &id)).await??;
    match found {
        Some(detail) => Ok(HttpResponse::Ok().json(detail)),
        None => Err(ApiError::not_found(format!(
            "no {provider} entitlement with external id `{}`",
            external_id.chars().take(128).collect::<String>()
        ))),
    }
}

/// A subject's entitlements, each with its policy, devices and audit trail.
#[utoipa::path(
    get,
    path = "/admin/entitlements",
    tag = "admin",
    operation_id = "admin_entitlements_of_subject",
    summary = "A subject's entitlements with devices and audit trails",
    params(SubjectQuery),
    responses((status = 200, description = "The subject's entitlements (an empty list when there are none)", body = EntitlementDetails))
)]
async fn entitlements_of_subject(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<SubjectQuery>,
) -> Result<HttpResponse, ApiError> {
    let (provider, subject) = query.parse()?;
    let lookup = state.query().clone();
    let entitlements = web::block(move || lookup.entitlement_details_of(provider, &subject)).await??;
    Ok(HttpResponse::Ok().json(EntitlementDetails { entitlements }))
}

/// A subject's entitlements in full.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntitlementDetails {
    entitlements: Vec<EntitlementDetail>,
}

/// `GET /admin/inbox` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// Only this status: `received`, `processed`, `ignored` or `failed`.
    status: Option<String>,
    // Only this provider (its description lists the providers: `routes` sets it).
    provider: Option<String>,
    /// Only events with a greater id (the previous page's `next_after`).
    after: Option<i64>,
    /// At most this many events (default 100, at most 500).
    limit: Option<u32>,
}

/// One page of the inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    /// Oldest first, without bodies.
    events: Vec<InboxItem>,
    /// The last event's id: pass it as `after` for the next page (`null` when the page is empty).
    next_after: Option<i64>,
}

fn parse_status(name: &str) -> Result<InboxStatus, ApiError> {
    match name {
        "received" => Ok(InboxStatus::Received),
        "processed" => Ok(InboxStatus::Processed),
        "ignored" => Ok(InboxStatus::Ignored),
        "failed" => Ok(InboxStatus::Failed),
        _ => Err(ApiError::invalid_request(
            "unknown `status`: expected one of received, processed, ignored, failed",
        )),
    }
}

/// The stored webhook deliveries, oldest first, without their bodies.
#[utoipa::path(
    get,
    path = "/admin/inbox",
    tag = "admin",
    operation_id = "admin_inbox",
    summary = "List stored webhook deliveries",
    params(InboxQuery),
    responses((status = 200, description = "One page of deliveries", body = InboxPage))
)]
async fn inbox(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = InboxFilter {
        provider: query
            .provider
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(parse_provider)
            .transpose()?,
        status: query
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_status)
            .transpose()?,
        after_id: query.after.map(InboxId),
        limit: query.limit.unwrap_or(100),
    };
    let lookup = state.query().clone();
    let events = web::block(move || lookup.list_inbox(&filter)).await??;
    let next_after = events.last().map(|e| e.id);
    Ok(HttpResponse::Ok().json(InboxPage { events, next_after }))
}

/// One stored delivery with its decrypted body (customer data: for debugging only).
#[utoipa::path(
    get,
    path = "/admin/inbox/{id}",
    tag = "admin",
    operation_id = "admin_inbox_event",
    summary = "One stored webhook delivery with its body",
    params(("id" = i64, Path, description = "The inbox id", example = 42)),
    responses((status = 200, description = "The delivery and its body", body = InboxItem))
)]
async fn inbox_event(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = InboxId(path.into_inner());
    let lookup = state.query().clone();
    match web::block(move || lookup.find_inbox_event(id, true)).await?? {
        Some(item) => Ok(HttpResponse::Ok().json(item)),
        None => Err(ApiError::not_found(format!("no inbox event {id}"))),
    }
}

/// What a replay did, as JSON.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    id: i64,
    /// `applied`, `duplicate`, `ignored`, `failed` (the parser still refuses it: see `error`), `storage_unavailable`
    /// or `error`.
    #[schema(example = "applied")]
    outcome: &'static str,
    event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entitlement_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ReplayView {
    fn of(id: InboxId, result: &Result<IngestOutcome, IngestError>) -> ReplayView {
        match result {
            Ok(outcome) => ReplayView {
                id: id.0,
                outcome: outcome.as_str(),
                event_type: Some(outcome.event_type().to_owned()),
                entitlement_id: outcome.entitlement_id().map(ToString::to_string),
                error: match outcome {
                    IngestOutcome::Failed { error, .. } => Some(error.clone()),
                    _ => None,
                },
            },
            Err(e) => ReplayView {
                id: id.0,
                outcome: if e.is_unavailable() {
                    "storage_unavailable"
                } else {
                    "error"
                },
                event_type: None,
                entitlement_id: None,
                error: Some(ApiError::from(e.clone()).message().to_owned()),
            },
        }
    }
}

/// Apply one stored delivery again with this release's parser (idempotent: an applied event changes nothing).
#[utoipa::path(
    post,
    path = "/admin/inbox/{id}/replay",
    tag = "admin",
    operation_id = "admin_inbox_replay",
    summary = "Replay one stored webhook delivery",
    params(("id" = i64, Path, description = "The inbox id", example = 42)),
    responses((status = 200, description = "What the replay did", body = ReplayView,
        example = json!({"id": 42, "outcome": "applied", "event_type": "membership.activated", "entitlement_id": "ent_1f0c9a"})))
)]
async fn replay(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = InboxId(path.into_inner());
    let ingest = state.ingest().clone();
    let outcome = web::block(move || ingest.replay(id)).await??;
    log::info!(
        inbox_id = id.0,
        event_type = outcome.event_type(),
        entitlement_id = outcome.entitlement_id().map_or("", |e| e.as_str()),
        status = outcome.as_str();
        "inbox event replayed"
    );
    Ok(HttpResponse::Ok().json(ReplayView::of(id, &Ok(outcome))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplayFailedQuery {
    // Only this provider's failed deliveries (its description lists the providers: `routes` sets it).
    provider: Option<String>,
}

/// What replaying every failed delivery did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayedFailed {
    /// How many failed deliveries were replayed.
    replayed: usize,
    /// How many of them applied now.
    applied: usize,
    results: Vec<ReplayView>,
}

/// Apply every failed delivery again (after an upgrade fixed what made them fail).
#[utoipa::path(
    post,
    path = "/admin/inbox/replay-failed",
    tag = "admin",
    operation_id = "admin_inbox_replay_failed",
    summary = "Replay every failed webhook delivery",
    params(ReplayFailedQuery),
    responses((status = 200, description = "What each replay did", body = ReplayedFailed))
)]
async fn replay_failed(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<ReplayFailedQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = query
        .provider
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(parse_provider)
        .transpose()?;
    let ingest = state.ingest().clone();
    let results = web::block(move || ingest.replay_failed(provider)).await??;
    let views: Vec<ReplayView> = results.iter().map(|(id, r)| ReplayView::of(*id, r)).collect();
    let applied = views.iter().filter(|v| v.outcome == "applied").count();
    log::info!(replayed = views.len(), applied = applied; "failed inbox events replayed");
    Ok(HttpResponse::Ok().json(ReplayedFailed {
        replayed: views.len(),
        applied,
        results: views,
    }))
}

/// The configured policy: the default, and what each product rule resolves to.
#[utoipa::path(
    get,
    path = "/admin/policy",
    tag = "admin",
    operation_id = "admin_policy",
    summary = "The effective policy",
    responses((status = 200, description = "The default policy and each product rule's effective policy", body = PolicyView))
)]
async fn policy(_: AdminAuth, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.query().policy())
}
