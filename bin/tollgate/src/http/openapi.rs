//! The HTTP contract as OpenAPI 3.1, generated from the code (`utoipa`): served at `GET /openapi.json`, checked in
//! at `docs/openapi.json` (`tollgate openapi > docs/openapi.json`).
//!
//! **One table registers and documents every route.** Each handler carries its `#[utoipa::path]` (method, path,
//! parameters, bodies, success answers) next to it, and each handler file's `routes(api)` adds it with
//! [`Api::add`]: serving, that registers the handler on actix at the annotation's method and path; documenting, it
//! adds the same annotation to the document. A route cannot be served without being documented, nor documented at
//! another path or method than it is served at. [`Op::errors`] lists the error answers a route can give as real
//! [`ApiError`] values, so each status, code and example message in the document is what the server sends.
//!
//! Not in the document, by design: the browser console under `/console` (HTML pages, not an API) and the `/dev/...`
//! routes that only `tollgate dev` serves.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
use chrono::{DateTime, Utc};
use tollgate_policy::Provider;
use tollgate_service::license::LicenseError;
use tollgate_service::reconcile::ReconcileError;
use utoipa::OpenApi as _;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, Paths};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa_actix_web::OpenApiFactory;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::rate_limit::Limited;

/// The security scheme of the admin API.
pub const ADMIN_TOKEN: &str = "admin_token";
/// The security scheme of the service API.
pub const SERVICE_TOKEN: &str = "service_token";

/// Where [`Api::add`] puts a route.
enum Target<'a> {
    /// Serving: register each handler on actix.
    Serve(&'a mut web::ServiceConfig),
    /// Documenting: collect each handler's operation and schemas.
    Document(&'a mut Collected),
}

/// What documenting collects.
#[derive(Default)]
struct Collected {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

/// The route table: every documented route goes through [`Api::add`].
pub struct Api<'a> {
    target: Target<'a>,
}

impl std::fmt::Debug for Api<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.target {
            Target::Serve(_) => "Api(serve)",
            Target::Document(_) => "Api(document)",
        })
    }
}

/// An operation just added, to describe its error answers and security (a no-op while serving).
pub struct Op<'o> {
    operation: Option<&'o mut Operation>,
}

impl std::fmt::Debug for Op<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.operation.is_some() {
            "Op(document)"
        } else {
            "Op(serve)"
        })
    }
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The operation of `method` in a path item.
fn operation_mut<'p>(
    item: &'p mut utoipa::openapi::path::PathItem,
    method: &HttpMethod,
) -> Option<&'p mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        HttpMethod::Options => item.options.as_mut(),
        HttpMethod::Head => item.head.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Trace => item.trace.as_mut(),
    }
}

impl<'a> Api<'a> {
    /// Serve the table on `cfg`.
    pub fn serve(cfg: &'a mut web::ServiceConfig) -> Api<'a> {
        Api {
            target: Target::Serve(cfg),
        }
    }

    /// Add `handler` at the method and path of its `#[utoipa::path]` (`doc` is the `__path_<handler>` value the
    /// annotation generates). Every answer may be `500 INTERNAL_ERROR`; [`Op::errors`] adds the others.
    pub fn add<P, F, Args>(&mut self, doc: P, handler: F) -> Op<'_>
    where
        P: utoipa::Path + OpenApiFactory,
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = P::path();
        match &mut self.target {
            Target::Serve(cfg) => {
                for method in P::methods() {
                    cfg.route(&path, web::method(actix_method(&method)).to(handler.clone()));
                }
                Op { operation: None }
            }
            Target::Document(collected) => {
                collected.paths.merge(doc.paths());
                doc.schemas(&mut collected.schemas);
                let method = P::methods().into_iter().next();
                collected.operation(&path, method)
            }
        }
    }

    /// Add `handler` at `method` and `path` with an operation built at run time, for the routes the provider
    /// registry makes (one per provider, documented from its adapter's facts). `document` gives the operation and
    /// the schemas it refers to; it runs only while documenting. Every answer may be `500 INTERNAL_ERROR`;
    /// [`Op::errors`] adds the others.
    pub fn add_built<F, Args>(
        &mut self,
        method: HttpMethod,
        path: String,
        document: impl FnOnce() -> (Operation, Vec<(String, RefOr<Schema>)>),
        handler: F,
    ) -> Op<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        match &mut self.target {
            Target::Serve(cfg) => {
                cfg.route(&path, web::method(actix_method(&method)).to(handler));
                Op { operation: None }
            }
            Target::Document(collected) => {
                let (operation, schemas) = document();
                collected
                    .paths
                    .add_path_operation(&path, vec![method.clone()], operation);
                collected.schemas.extend(schemas);
                collected.operation(&path, Some(method))
            }
        }
    }
}

impl Collected {
    /// The operation just collected at `path` and `method`, with the `500` every route may answer.
    fn operation(&mut self, path: &str, method: Option<HttpMethod>) -> Op<'_> {
        let operation = match (self.paths.paths.get_mut(path), method) {
            (Some(item), Some(method)) => operation_mut(item, &method),
            _ => None,
        };
        Op { operation }.errors(|| vec![ApiError::internal()])
    }
}

impl Op<'_> {
    /// The error answers this route can give, as the values the server sends: grouped by status, each code
    /// listed in the description and shown as an example.
    pub fn errors(self, errors: impl FnOnce() -> Vec<ApiError>) -> Self {
        let Some(operation) = self.operation else {
            return self;
        };
        let mut by_status: BTreeMap<u16, Vec<ApiError>> = BTreeMap::new();
        for error in errors() {
            by_status.entry(error.status().as_u16()).or_default().push(error);
        }
        for (status, errors) in by_status {
            let key = status.to_string();
            let mut known: Vec<(String, String)> = error_examples(operation, &key);
            let mut retry_after = retry_after_header(operation, &key);
            for error in errors {
                if !known.iter().any(|(code, _)| code == error.code()) {
                    known.push((error.code().to_owned(), error.message().to_owned()));
                }
                retry_after |= error.retry_after().is_some();
            }
            operation
                .responses
                .responses
                .insert(key, RefOr::T(error_response(&known, retry_after)));
        }
        Op {
            operation: Some(operation),
        }
    }

    /// Describes the parameter `name` at run time (`describe` runs only while documenting): for a description or
    /// example built from the provider registry, which a doc comment or attribute cannot hold.
    pub fn param(mut self, name: &str, describe: impl FnOnce(ParameterBuilder) -> ParameterBuilder) -> Self {
        let parameter = self
            .operation
            .as_deref_mut()
            .and_then(|operation| operation.parameters.as_mut())
            .and_then(|parameters| {
                parameters.iter_mut().find_map(|p| match p {
                    RefOr::T(p) if p.name == name => Some(p),
                    _ => None,
                })
            });
        if let Some(parameter) = parameter {
            *parameter = describe(ParameterBuilder::from(parameter.clone())).build();
        }
        self
    }

    /// Sets the example of the `status` answer's JSON body at run time (`example` runs only while documenting):
    /// for an example built from the provider registry.
    pub fn response_example(mut self, status: u16, example: impl FnOnce() -> serde_json::Value) -> Self {
        if let Some(RefOr::T(response)) = self
            .operation
            .as_deref_mut()
            .and_then(|operation| operation.responses.responses.get_mut(&status.to_string()))
            && let Some(RefOr::T(content)) = response.content.get_mut("application/json")
        {
            content.example = Some(example());
        }
        self
    }

    /// Needs the admin token: `Authorization: Bearer <admin.token>`.
    pub fn admin(self) -> Self {
        self.secured(ADMIN_TOKEN, "admin", "admin.token", "TOLLGATE_ADMIN__TOKEN")
    }

    /// Needs the service token: `Authorization: Bearer <service.token>`.
    pub fn service(self) -> Self {
        self.secured(
            SERVICE_TOKEN,
            "service",
            "service.token",
            "TOLLGATE_SERVICE__TOKEN",
        )
    }

    fn secured(mut self, scheme: &str, api: &'static str, key: &'static str, env: &'static str) -> Self {
        if let Some(operation) = self.operation.as_deref_mut() {
            operation.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);
        }
        self.errors(|| vec![ApiError::unauthorized(), ApiError::api_disabled(api, key, env)])
    }
}

/// The `(code, message)` examples already on the operation's `status` answer.
fn error_examples(operation: &Operation, status: &str) -> Vec<(String, String)> {
    let Some(RefOr::T(response)) = operation.responses.responses.get(status) else {
        return Vec::new();
    };
    let Some(RefOr::T(content)) = response.content.get("application/json") else {
        return Vec::new();
    };
    content
        .examples
        .iter()
        .filter_map(|(code, example)| match example {
            RefOr::T(example) => Some((
                code.clone(),
                example
                    .value
                    .as_ref()
                    .and_then(|v| v["message"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            )),
            RefOr::Ref(_) => None,
        })
        .collect()
}

/// Whether the operation's `status` answer already documents `Retry-After`.
fn retry_after_header(operation: &Operation, status: &str) -> bool {
    matches!(
        operation.responses.responses.get(status),
        Some(RefOr::T(response)) if response.headers.contains_key("Retry-After")
    )
}

/// One error status: `{"code","message"}`, the codes in the description, one example per code, and
/// `Retry-After` when one of them carries it.
fn error_response(errors: &[(String, String)], retry_after: bool) -> utoipa::openapi::Response {
    let description = errors
        .iter()
        .map(|(code, _)| format!("`{code}`: {}", meaning(code)))
        .collect::<Vec<_>>()
        .join("; ");
    let content = ContentBuilder::new()
        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "ErrorBody",
        ))))
        .examples_from_iter(errors.iter().map(|(code, message)| {
            (
                code.clone(),
                ExampleBuilder::new()
                    .value(Some(serde_json::json!({"code": code, "message": message})))
                    .build(),
            )
        }))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .build(),
                ))
                .description(Some("Whole seconds to wait before trying again"))
                .build(),
        );
    }
    response.build()
}

/// One stable error code: its status and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    /// A sentence for an operator or app developer.
    pub meaning: &'static str,
    /// The message the server sends with it (an example: some name the value they refuse).
    pub message: String,
}

/// What each code means, for developers (the `message` sent is written for the person using the app).
fn meaning(code: &str) -> &'static str {
    match code {
        "INVALID_REQUEST" => {
            "the request is malformed: not JSON, a missing or invalid field, a bad query or path value"
        }
        "INVALID_SIGNATURE" => {
            "the webhook signature is missing, stale or does not match the configured secret"
        }
        "UNAUTHORIZED" => "no valid bearer token (`Authorization: Bearer <token>`)",
        "API_DISABLED" => "this API's token is not configured, so the API is off",
        "NOT_FOUND" => "no such endpoint, entitlement, device or inbox event",
        "PAYLOAD_TOO_LARGE" => "the webhook body is larger than `webhooks.max_body_bytes`",
        "REQUEST_TIMEOUT" => "the request body did not arrive within 10 s",
        "PROVIDER_NOT_CONFIGURED" => {
            "the provider is not configured: webhooks need its `webhook_secret` (503), reconciliation its `api_key` (409)"
        }
        "STORAGE_UNAVAILABLE" => "the database is unavailable; nothing was stored; retry after `Retry-After`",
        "INTERNAL_ERROR" => "an unexpected failure; the server log has the details under the request id",
        "NOT_READY" => "the database is unreachable or migrations are pending",
        "RATE_LIMITED" => {
            "too many activation or deactivation attempts, or failed validations, from this IP or for this key; retry after `Retry-After`"
        }
        "LICENSE_NOT_FOUND" => "no provider knows this license key",
        "DEVICE_MISMATCH" => {
            "a node-locked license (1 device) is bound to another device, or Whop binds the key to another device (a \
             reset in Whop frees it)"
        }
        "DEVICE_LIMIT_REACHED" => "the license is active on `max_devices` devices already",
        "LICENSE_INACTIVE" => "the license expired, was canceled or revoked",
        "PAYMENT_ISSUE" => "the provider holds the license for a payment problem",
        "DEVICE_NOT_ACTIVATED" => "this device is not activated on this license",
        "TRANSFER_NOT_ALLOWED" => "the policy does not allow moving the license to another device by oneself",
        "TRANSFER_COOLDOWN" => "the license moved recently; retry after `Retry-After`",
        "PROVIDER_UNAVAILABLE" => {
            "the provider could not be reached or answered something unusable (never a false \"invalid\")"
        }
        _ => "see the message",
    }
}

/// Every error code the API answers with, derived from the code that makes the answers: the HTTP layer's
/// constructors, the license errors (one of each, from `tollgate-service`), the rate limit, the readiness check and
/// the reconciliation. A test keeps this complete against every `ApiError::new(..)` in the source.
pub fn error_codes() -> Vec<ErrorCode> {
    let now = DateTime::<Utc>::UNIX_EPOCH;
    let mut errors = vec![
        ApiError::invalid_request("the body is not valid JSON for this request"),
        ApiError::invalid_signature(),
        ApiError::unauthorized(),
        ApiError::api_disabled("admin", "admin.token", "TOLLGATE_ADMIN__TOKEN"),
        ApiError::not_found("no such endpoint"),
        ApiError::payload_too_large(1_048_576),
        ApiError::request_timeout(crate::http::body::BODY_TIMEOUT.as_secs()),
        ApiError::provider_not_configured(Provider::Whop),
        crate::http::reconcile::from_reconcile_error(ReconcileError::NotConfigured(Provider::Whop)),
        ApiError::storage_unavailable(),
        ApiError::internal(),
        crate::http::health::migrations_pending(),
        rate_limited(),
    ];
    errors.extend(
        LicenseError::one_of_each()
            .into_iter()
            .map(|e| ApiError::from_license(e, now)),
    );
    let mut codes: Vec<ErrorCode> = Vec::new();
    for error in errors {
        let status = error.status().as_u16();
        if !codes.iter().any(|c| c.code == error.code() && c.status == status) {
            codes.push(ErrorCode {
                code: error.code(),
                status,
                meaning: meaning(error.code()),
                message: error.message().to_owned(),
            });
        }
    }
    codes
}

/// `429 RATE_LIMITED`, as the rate limiter words it.
pub fn rate_limited() -> ApiError {
    Limited {
        limit: "ip",
        retry_after_secs: 6,
    }
    .into_error()
}

/// A license refusal as the license routes answer it.
pub fn license(error: LicenseError) -> ApiError {
    ApiError::from_license(error, DateTime::<Utc>::UNIX_EPOCH)
}

/// The storage outage every route that reads or writes the database can answer.
pub fn storage() -> ApiError {
    ApiError::storage_unavailable()
}

/// The document's description, before the table of error codes: it names the registered providers.
fn description() -> String {
    format!(
        "Tollgate's HTTP API: what an app calls to activate and revalidate a license (`/api/license/*`, \
         `/.well-known/jwks.json`), where {} deliver their signed webhooks (`/api/webhooks/*`), what a backend or \
         game server asks (`/api/entitlements`, service token), the admin API (`/admin/...`, admin token) and the \
         health, readiness and metrics endpoints.\n\n{DESCRIPTION_REST}",
        crate::http::provider_names::titles()
    )
}

const DESCRIPTION_REST: &str = "\
This document is generated from the server's code and served by every Tollgate at `GET /openapi.json`. Not in it, \
by design: the browser console under `/console` (HTML pages for people, not an API), and the `/dev/...` routes that \
only `tollgate dev` serves (its fake providers' outage switch, described in docs/configuration.md).

Every error answer is `{\"code\": \"<STABLE_CODE>\", \"message\": \"<text>\"}` with the status below; the code is \
stable, the message is a sentence for a person and may change. `429` and `503` answers may carry `Retry-After` \
(seconds). Every answer carries `X-Request-Id` (a sane incoming one is kept), which the server log uses too.";

/// The document's fixed parts: info, tags, servers, the security schemes and the error body.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Tollgate",
        description = "",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    servers((url = "http://127.0.0.1:8080", description = "the default `listen` of `tollgate serve` and `tollgate dev`")),
    components(schemas(ErrorBody)),
    tags(
        (name = "license", description = "What an app calls: activate a device, validate it at each launch, deactivate it; the lease keys."),
        (name = "webhooks", description = "Where the providers deliver their signed webhooks."),
        (name = "service", description = "What a backend or game server asks, with the service token."),
        (name = "admin", description = "Entitlements, devices, denials, the webhook inbox, reconciliation and the policy, with the admin token."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    )
)]
struct BaseDoc;

/// Build the document from the route table.
pub fn build() -> OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let codes = error_codes();
    doc.info.description = Some(format!("{}\n\n{}", description(), code_table(&codes)));
    let mut collected = Collected::default();
    crate::http::api_routes(&mut Api {
        target: Target::Document(&mut collected),
    });
    doc.paths.merge(collected.paths);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in collected.schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    for (name, description) in [
        (
            ADMIN_TOKEN,
            "`Authorization: Bearer <admin.token>` (TOLLGATE_ADMIN__TOKEN)",
        ),
        (
            SERVICE_TOKEN,
            "`Authorization: Bearer <service.token>` (TOLLGATE_SERVICE__TOKEN)",
        ),
    ] {
        components.security_schemes.insert(
            name.to_owned(),
            RefOr::T(SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )),
        );
    }
    // The error body's `code` is one of the codes, listed from the code that answers them.
    if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("ErrorBody")
        && let Some(RefOr::T(Schema::Object(code))) = body.properties.get_mut("code")
    {
        let mut names: Vec<&str> = codes.iter().map(|c| c.code).collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        code.enum_values = Some(names.into_iter().map(serde_json::Value::from).collect());
    }
    doc
}

/// The markdown table of every error code in the description.
fn code_table(codes: &[ErrorCode]) -> String {
    let mut table = String::from("| status | code | meaning |\n|---|---|---|\n");
    for code in codes {
        table.push_str(&format!(
            "| {} | `{}` | {} |\n",
            code.status, code.code, code.meaning
        ));
    }
    table
}

/// The document as served and checked in: pretty JSON with a final newline, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| match serde_json::to_string_pretty(&build()) {
        Ok(json) => json + "\n",
        Err(e) => {
            log::error!("the OpenAPI document does not serialize: {e}");
            String::from("{}\n")
        }
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server's API", content_type = "application/json", body = Object))
)]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

pub fn routes(api: &mut Api) {
    api.add(__path_openapi, openapi);
}
