//! The Dodo Payments API client: license activate/deactivate/validate, grant and subscription listing.

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
    /// 422: the key's `activations_limit` is reached.
    LimitReached { message: Option<String> },
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

    /// `POST /licenses/validate`: `{"valid": bool}`.
    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        instance_id: Option<&'a str>,
    ) -> ApiFuture<'a, bool>;

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
            422 => Ok(DodoActivation::LimitReached {
                message: error_message(&reply.json_or_null()),
            }),
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

    async fn validate(&self, ctx: &CallContext, key: &str, instance: Option<&str>) -> Result<bool, ApiError> {
        let mut request = Request::new(Method::POST, "/licenses/validate", &["licenses", "validate"]);
        request.body = Some(json!({ "license_key": key, "license_key_instance_id": instance }));
        request.secret = Some(key);
        let reply = self.http.send(ctx, &request).await?;
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        match reply.json()?.get("valid") {
            Some(Value::Bool(valid)) => Ok(*valid),
            _ => Err(ApiError::InvalidResponse {
                status: reply.status,
                reason: "`valid` is not a boolean".to_owned(),
            }),
        }
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
    ) -> ApiFuture<'a, bool> {
        Box::pin(self.validate(ctx, license_key, instance_id))
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
