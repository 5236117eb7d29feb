//! The Dodo Payments API client: license activate/deactivate/validate, grant and subscription listing, and the
//! license key instances (`GET /license_key_instances`) reconciliation compares devices with.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_policy::Provider;

use super::model::{DodoGrant, DodoInstance, DodoSubscription};
use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig, HttpCore, Reply, Request, error_message, rejected};

/// The answer to `POST /licenses/activate`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DodoActivation {
    /// 201: a new instance.
    Activated(DodoInstance),
    /// 403: the key is disabled or expired.
    Inactive { message: Option<String> },
    /// 404: no such key.
    NotFound,
    /// 422 with `code` `LICENSE_KEY_LIMIT_REACHED` (or no code: the OpenAPI documents this endpoint's 422 as "License
    /// key activation limit reached"): the key's `activations_limit` is reached.
    LimitReached { message: Option<String> },
    /// 422 with another `code`, such as `INVALID_REQUEST_BODY` ("Malformed JSON or schema violation"): Dodo refused
    /// the request itself, which says nothing about the key's seats.
    InvalidRequest {
        code: Option<String>,
        message: Option<String>,
    },
}

/// The `code` of a 422 from `POST /licenses/activate` that means the seats are taken (docs `error-codes`).
pub const LIMIT_REACHED_CODE: &str = "LICENSE_KEY_LIMIT_REACHED";

/// The answer to `POST /licenses/validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DodoValidation {
    /// 200 `{"valid": true}`.
    Valid,
    /// 200 `{"valid": false}`: the key is disabled or expired, or the instance is not one of its activations.
    Invalid,
    /// 404: Dodo has no such key (deleted, or never issued). Not an outage: a definite "no".
    NotFound,
}

/// The answer to `POST /licenses/deactivate`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DodoDeactivation {
    /// 200: the instance is gone.
    Deactivated,
    /// 403: the instance does not exist or belongs to another key.
    InstanceNotFound,
    /// 404: no such key.
    NotFound,
}

/// Page-number paging (`page_number` from 0, `page_size` up to 100).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DodoPageQuery {
    pub page_number: u32,
    pub page_size: Option<u32>,
}

/// `GET /entitlements/{id}/grants` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DodoGrantQuery {
    /// `Pending`, `Delivered`, `Failed` or `Revoked`.
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub page: DodoPageQuery,
}

/// `GET /license_key_instances` filters: one license key (`license_key_id`, documented since OpenAPI 1.53.2) and
/// the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DodoInstanceQuery {
    /// `lic_...`
    pub license_key_id: String,
    pub page: DodoPageQuery,
}

/// What Tollgate asks of Dodo. Implemented by [`DodoClient`].
pub trait DodoApi: Send + Sync {
    fn activate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_name: &'a str,
    ) -> ApiFuture<'a, DodoActivation>;

    fn deactivate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: &'a str,
    ) -> ApiFuture<'a, DodoDeactivation>;

    /// `POST /licenses/validate`: `{"valid": bool}`, or 404 for a key Dodo does not have.
    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: Option<&'a str>,
    ) -> ApiFuture<'a, DodoValidation>;

    /// `GET /license_key_instances/{id}` (API key): `None` on 404 (Dodo no longer has the instance).
    fn find_license_key_instance<'a>(
        &'a self,
        ctx: &'a CallContext,
        instance_id: &'a str,
    ) -> ApiFuture<'a, Option<DodoInstance>>;

    /// One page of a license key's instances (API key). An empty or short page is the end.
    fn list_license_key_instances<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a DodoInstanceQuery,
    ) -> ApiFuture<'a, Vec<DodoInstance>>;

    /// One page of an entitlement's grants. An empty page is the end.
    fn list_grants<'a>(
        &'a self,
        ctx: &'a CallContext,
        entitlement_id: &'a str,
        query: &'a DodoGrantQuery,
    ) -> ApiFuture<'a, Vec<DodoGrant>>;

    /// One page of subscriptions. An empty page is the end.
    fn list_subscriptions<'a>(
        &'a self,
        ctx: &'a CallContext,
        page: DodoPageQuery,
    ) -> ApiFuture<'a, Vec<DodoSubscription>>;
}

/// The real Dodo client on `reqwest`.
#[derive(Debug, Clone)]
pub struct DodoClient {
    http: HttpCore,
}

impl DodoClient {
    pub fn new(config: &ClientConfig) -> Result<DodoClient, ApiError> {
        Ok(DodoClient {
            http: HttpCore::new(Provider::Dodo, config)?,
        })
    }

    async fn activate(&self, ctx: &CallContext, key: &str, name: &str) -> Result<DodoActivation, ApiError> {
        let mut request = Request::new(Method::POST, "/licenses/activate", &["licenses", "activate"]);
        request.body = Some(json!({ "license_key": key, "name": name }));
        request.secret = Some(key);
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            200..=299 => Ok(DodoActivation::Activated(
                DodoInstance::from_json(&reply.json()?).map_err(|e| invalid(&reply, &e))?,
            )),
            403 => Ok(DodoActivation::Inactive {
                message: error_message(&reply.json_or_null()),
            }),
            404 => Ok(DodoActivation::NotFound),
            422 => {
                let body = reply.json_or_null();
                let message = error_message(&body);
                match body.get("code").and_then(Value::as_str) {
                    None | Some(LIMIT_REACHED_CODE) => Ok(DodoActivation::LimitReached { message }),
                    Some(code) => Ok(DodoActivation::InvalidRequest {
                        code: Some(code.to_owned()),
                        message,
                    }),
                }
            }
            _ => Err(rejected(&reply)),
        }
    }

    async fn deactivate(
        &self,
        ctx: &CallContext,
        key: &str,
        instance: &str,
    ) -> Result<DodoDeactivation, ApiError> {
        let mut request = Request::new(Method::POST, "/licenses/deactivate", &["licenses", "deactivate"]);
        request.body = Some(json!({ "license_key": key, "license_key_instance_id": instance }));
        request.secret = Some(key);
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            200..=299 => Ok(DodoDeactivation::Deactivated),
            403 => Ok(DodoDeactivation::InstanceNotFound),
            404 => Ok(DodoDeactivation::NotFound),
            _ => Err(rejected(&reply)),
        }
    }

    async fn validate(
        &self,
        ctx: &CallContext,
        key: &str,
        instance: Option<&str>,
    ) -> Result<DodoValidation, ApiError> {
        let mut request = Request::new(Method::POST, "/licenses/validate", &["licenses", "validate"]);
        request.body = Some(json!({ "license_key": key, "license_key_instance_id": instance }));
        request.secret = Some(key);
        let reply = self.http.send(ctx, &request).await?;
        // The OpenAPI lists only 200/422/500 here, but its sibling endpoints answer 404 "License key not found" for
        // an unknown key: a 404 is that answer, never an outage.
        if reply.status == 404 {
            return Ok(DodoValidation::NotFound);
        }
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        match reply.json()?.get("valid") {
            Some(Value::Bool(true)) => Ok(DodoValidation::Valid),
            Some(Value::Bool(false)) => Ok(DodoValidation::Invalid),
            _ => Err(ApiError::InvalidResponse {
                status: reply.status,
                reason: "`valid` is not a boolean".to_owned(),
            }),
        }
    }

    async fn instance(&self, ctx: &CallContext, id: &str) -> Result<Option<DodoInstance>, ApiError> {
        let segments = ["license_key_instances", id];
        let request = Request::new(Method::GET, "/license_key_instances/{id}", &segments);
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            404 => Ok(None),
            200..=299 => DodoInstance::from_json(&reply.json()?)
                .map(Some)
                .map_err(|e| invalid(&reply, &e)),
            _ => Err(rejected(&reply)),
        }
    }

    async fn instances(
        &self,
        ctx: &CallContext,
        query: &DodoInstanceQuery,
    ) -> Result<Vec<DodoInstance>, ApiError> {
        let mut request = Request::new(Method::GET, "/license_key_instances", &["license_key_instances"]);
        request
            .query
            .push(("license_key_id", query.license_key_id.clone()));
        page_params(&mut request, query.page);
        let reply = self.http.send(ctx, &request).await?;
        items(&reply, DodoInstance::from_json)
    }

    async fn grants(
        &self,
        ctx: &CallContext,
        entitlement_id: &str,
        query: &DodoGrantQuery,
    ) -> Result<Vec<DodoGrant>, ApiError> {
        let segments = ["entitlements", entitlement_id, "grants"];
        let mut request = Request::new(Method::GET, "/entitlements/{id}/grants", &segments);
        page_params(&mut request, query.page);
        if let Some(status) = &query.status {
            request.query.push(("status", status.clone()));
        }
        if let Some(customer) = &query.customer_id {
            request.query.push(("customer_id", customer.clone()));
        }
        let reply = self.http.send(ctx, &request).await?;
        items(&reply, DodoGrant::from_json)
    }

    async fn subscriptions(
        &self,
        ctx: &CallContext,
        page: DodoPageQuery,
    ) -> Result<Vec<DodoSubscription>, ApiError> {
        let mut request = Request::new(Method::GET, "/subscriptions", &["subscriptions"]);
        page_params(&mut request, page);
        let reply = self.http.send(ctx, &request).await?;
        items(&reply, DodoSubscription::from_json)
    }
}

fn page_params(request: &mut Request<'_>, page: DodoPageQuery) {
    request.query.push(("page_number", page.page_number.to_string()));
    if let Some(size) = page.page_size {
        request.query.push(("page_size", size.to_string()));
    }
}

fn invalid(reply: &Reply, error: &ParseError) -> ApiError {
    ApiError::InvalidResponse {
        status: reply.status,
        reason: error.to_string(),
    }
}

/// `{"items": [...]}`, each item read with `read`.
fn items<T>(reply: &Reply, read: fn(&Value) -> Result<T, ParseError>) -> Result<Vec<T>, ApiError> {
    if !reply.is_success() {
        return Err(rejected(reply));
    }
    match reply.json()?.get("items") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| read(item).map_err(|e| invalid(reply, &e)))
            .collect(),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(ApiError::InvalidResponse {
            status: reply.status,
            reason: "`items` is not an array".to_owned(),
        }),
    }
}

impl DodoApi for DodoClient {
    fn activate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_name: &'a str,
    ) -> ApiFuture<'a, DodoActivation> {
        Box::pin(self.activate(ctx, license_key, instance_name))
    }

    fn deactivate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: &'a str,
    ) -> ApiFuture<'a, DodoDeactivation> {
        Box::pin(self.deactivate(ctx, license_key, instance_id))
    }

    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: Option<&'a str>,
    ) -> ApiFuture<'a, DodoValidation> {
        Box::pin(self.validate(ctx, license_key, instance_id))
    }

    fn find_license_key_instance<'a>(
        &'a self,
        ctx: &'a CallContext,
        instance_id: &'a str,
    ) -> ApiFuture<'a, Option<DodoInstance>> {
        Box::pin(self.instance(ctx, instance_id))
    }

    fn list_license_key_instances<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a DodoInstanceQuery,
    ) -> ApiFuture<'a, Vec<DodoInstance>> {
        Box::pin(self.instances(ctx, query))
    }

    fn list_grants<'a>(
        &'a self,
        ctx: &'a CallContext,
        entitlement_id: &'a str,
        query: &'a DodoGrantQuery,
    ) -> ApiFuture<'a, Vec<DodoGrant>> {
        Box::pin(self.grants(ctx, entitlement_id, query))
    }

    fn list_subscriptions<'a>(
        &'a self,
        ctx: &'a CallContext,
        page: DodoPageQuery,
    ) -> ApiFuture<'a, Vec<DodoSubscription>> {
        Box::pin(self.subscriptions(ctx, page))
    }
}
