//! `POST /api/webhooks/<provider>`, one route per registered provider: raw body under a size limit, then verify
//! and parse on the worker (`Ingest::prepare`, CPU only), and store through the group committer, which answers once
//! the delivery's transaction has committed. Each route's OpenAPI operation is built from its adapter's
//! [`WebhookDoc`].

use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tollgate_policy::Provider;
use tollgate_providers::{CallContext, HeaderDoc, Registry, WebhookDoc};
use tollgate_service::ingest::{IngestError, IngestOutcome};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use crate::app::AppState;
use crate::http::body::{BodyError, read_body};
use crate::http::error::ApiError;
use crate::http::openapi::{Api, storage};
use crate::http::request::request_id;

/// The signature headers the registered providers use (each name once); only these are handed to the verifier.
static SIGNATURE_HEADERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = Vec::new();
    for adapter in Registry::shared().adapters() {
        for header in adapter.webhook_doc().headers {
            if !names.contains(&header.name) {
                names.push(header.name);
            }
        }
    }
    names
});

pub use crate::http::body::BODY_TIMEOUT;

/// One route per registered provider, `POST /api/webhooks/<wire name>`, documented from its adapter's facts.
pub fn routes(api: &mut Api) {
    for adapter in Registry::shared().adapters() {
        let provider = adapter.provider();
        api.add_built(
            HttpMethod::Post,
            format!("/api/webhooks/{provider}"),
            || (operation(provider, adapter.webhook_doc()), schemas()),
            move |state: web::Data<AppState>, req: HttpRequest, body: web::Payload| {
                receive(provider, state, req, body)
            },
        )
        .errors(|| webhook_errors(provider));
    }
}

/// What a webhook delivery can be refused with.
fn webhook_errors(provider: Provider) -> Vec<ApiError> {
    vec![
        ApiError::invalid_request("the webhook body is not JSON"),
        ApiError::invalid_signature(),
        ApiError::payload_too_large(1_048_576),
        ApiError::request_timeout(BODY_TIMEOUT.as_secs()),
        ApiError::provider_not_configured(provider),
        storage(),
    ]
}

/// The `200` answer: the delivery is stored (or was already), and applied, ignored or recorded as failed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookAccepted {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// The schemas a webhook operation refers to.
fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = vec![(WebhookAccepted::name().into_owned(), WebhookAccepted::schema())];
    WebhookAccepted::schemas(&mut schemas);
    schemas
}

/// The operation of `provider`'s webhook route: a delivery stored once under its dedupe key; a redelivery
/// answers `200` and changes nothing.
fn operation(provider: Provider, doc: WebhookDoc) -> Operation {
    let body = ContentBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
        .example(Some(doc.example))
        .build();
    let accepted = ContentBuilder::new()
        .schema(Some(RefOr::Ref(Ref::from_schema_name(WebhookAccepted::name()))))
        .example(Some(json!({"status": "ok"})))
        .build();
    OperationBuilder::new()
        .tag("webhooks")
        .summary(Some(doc.summary))
        .operation_id(Some(format!("webhook_{provider}")))
        .parameters(Some(doc.headers.iter().map(header_parameter)))
        .request_body(Some(
            RequestBodyBuilder::new()
                .description(Some(doc.body_description))
                .content("application/json", body)
                .required(Some(Required::True))
                .build(),
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("Stored (or already stored) and acted on")
                .content("application/json", accepted)
                .build(),
        )
        .build()
}

/// A signature header as a string parameter (nullable when not every delivery carries it).
fn header_parameter(header: &HeaderDoc) -> utoipa::openapi::path::Parameter {
    let schema_type = if header.required {
        SchemaType::from(Type::String)
    } else {
        SchemaType::from_iter([Type::String, Type::Null])
    };
    ParameterBuilder::new()
        .name(header.name)
        .parameter_in(ParameterIn::Header)
        .description(Some(header.description))
        .required(if header.required {
            Required::True
        } else {
            Required::False
        })
        .schema(Some(ObjectBuilder::new().schema_type(schema_type)))
        .build()
}

async fn receive(
    provider: Provider,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = receive_inner(provider, &state, &req, payload).await;
    let outcome = match &result {
        Ok(outcome) => outcome.as_str(),
        Err(error) => error_outcome(error),
    };
    state.metrics().webhook(provider, outcome);
    let rid = request_id(&req);
    match result {
        Ok(outcome) => {
            log::info!(
                request_id = rid.as_str(),
                provider = provider.as_str(),
                event_type = outcome.event_type(),
                inbox_id = outcome.inbox_id().0,
                entitlement_id = outcome.entitlement_id().map_or("", |id| id.as_str()),
                status = outcome.as_str();
                "webhook accepted"
            );
            Ok(HttpResponse::Ok().json(WebhookAccepted { status: "ok" }))
        }
        Err(error) => {
            log::info!(
                request_id = rid.as_str(),
                provider = provider.as_str(),
                status = outcome;
                "webhook refused: {}", error.code()
            );
            Err(error)
        }
    }
}

fn error_outcome(error: &ApiError) -> &'static str {
    match error.code() {
        "INVALID_SIGNATURE" => "invalid_signature",
        "INVALID_REQUEST" => "invalid_request",
        "PAYLOAD_TOO_LARGE" => "too_large",
        "REQUEST_TIMEOUT" => "body_timeout",
        "PROVIDER_NOT_CONFIGURED" => "not_configured",
        "STORAGE_UNAVAILABLE" => "storage_unavailable",
        "UNSUPPORTED_EVENT" | "UNSUPPORTED_ITEM" | "SANDBOX_NOT_ACCEPTED" | "INVALID_ITEM_EVENT" => "refused",
        _ => "error",
    }
}

async fn receive_inner(
    provider: Provider,
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<IngestOutcome, ApiError> {
    if !state.ingest().is_enabled(provider) {
        return Err(ApiError::provider_not_configured(provider));
    }
    let limit = state.settings().webhooks.max_body_bytes;
    let body = match read_body(req, payload, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(ApiError::payload_too_large(limit)),
        Err(BodyError::Unreadable(e)) => {
            return Err(ApiError::invalid_request("the request body could not be read").with_cause(e));
        }
        Err(BodyError::TimedOut) => return Err(ApiError::request_timeout(BODY_TIMEOUT.as_secs())),
    };
    let headers: Vec<(&'static str, Vec<u8>)> = SIGNATURE_HEADERS
        .iter()
        .filter_map(|name| req.headers().get(*name).map(|v| (*name, v.as_bytes().to_vec())))
        .collect();
    let prepared = state.ingest().prepare(provider, &headers, &body)?;
    let refresh = prepared.refresh().map(str::to_owned);
    let outcome = state
        .committer()
        .submit(prepared)
        .await
        .map_err(|e: IngestError| ApiError::from(e))?;
    if let (Some(membership_id), IngestOutcome::Ignored { .. }) = (refresh, &outcome) {
        refresh_membership(state, req, membership_id).await;
    }
    Ok(outcome)
}

/// How long a webhook answer waits for the membership re-read it triggered; after that the re-read goes on in the
/// background and the answer is sent.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// After a stored `payment.succeeded`: re-read its membership from Whop, so a renewal's new period end is stored
/// without waiting for reconciliation. The event is already stored, so the answer never depends on this: it waits
/// at most [`REFRESH_WAIT`].
async fn refresh_membership(state: &AppState, req: &HttpRequest, membership_id: String) {
    let Some(licensing) = state.licensing().get().cloned() else {
        return;
    };
    let ctx = CallContext::with_request_id(request_id(req));
    let task = actix_web::rt::spawn(async move {
        match licensing.refresh_whop_membership(&ctx, &membership_id).await {
            Ok(true) => log::info!(
                request_id = ctx.request_id.as_deref().unwrap_or("-"),
                provider = "whop",
                membership_id = membership_id.as_str();
                "membership re-read after a payment"
            ),
            Ok(false) => {}
            Err(error) => log::warn!(
                request_id = ctx.request_id.as_deref().unwrap_or("-"),
                provider = "whop",
                membership_id = membership_id.as_str(),
                code = error.code();
                "membership not re-read after a payment; reconciliation will"
            ),
        }
    });
    let _ = tokio::time::timeout(REFRESH_WAIT, task).await;
}
