//! The Whop API client: v2 license validation and metadata reset, v1 membership retrieve and list.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_policy::Provider;

use super::membership::WhopMembership;
use crate::error::ApiError;
use crate::http::{ApiFuture, CallContext, ClientConfig, HttpCore, Reply, Request, error_message, rejected};

/// The answer to `validate_license`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WhopValidation {
    /// 201: the key is now bound to this metadata, or already was. A 201 does not mean access: read
    /// `membership.valid` and `membership.status`.
    Matched(WhopMembership),
    /// 400: the key is bound to different metadata (another machine); the user must reset the key.
    MetadataMismatch { message: Option<String> },
    /// 404: no such license key.
    NotFound,
}

/// A page of `GET /api/v1/memberships`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhopListQuery {
    /// The cursor from the previous page (`after`).
    pub after: Option<String>,
    /// Page size (`first`).
    pub first: Option<u32>,
    /// Narrow to one company (`company_id`, `biz_...`).
    pub company_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WhopMembershipPage {
    pub memberships: Vec<WhopMembership>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What Tollgate asks of Whop. Implemented by [`WhopClient`]; tests and the service may swap in their own.
pub trait WhopApi: Send + Sync {
    /// `POST /api/v2/memberships/{key}/validate_license` with `{"metadata": ...}`.
    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        metadata: Value,
    ) -> ApiFuture<'a, WhopValidation>;

    /// Clears the bound metadata: resolves the key to `mem_...` (`GET /api/v2/memberships/{key}`), then
    /// `POST /api/v2/memberships/{mem_id}` with `{"metadata": {}}`. `None` when the key is unknown.
    fn reset_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
    ) -> ApiFuture<'a, Option<WhopMembership>>;

    /// `GET /api/v1/memberships/{mem_id}`. `None` on 404.
    fn find_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
    ) -> ApiFuture<'a, Option<WhopMembership>>;

    /// `GET /api/v1/memberships`, one cursor page.
    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage>;
}

/// The real Whop client on `reqwest`.
#[derive(Debug, Clone)]
pub struct WhopClient {
    http: HttpCore,
}

impl WhopClient {
    pub fn new(config: &ClientConfig) -> Result<WhopClient, ApiError> {
        Ok(WhopClient {
            http: HttpCore::new(Provider::Whop, config)?,
        })
    }

    async fn validate(
        &self,
        ctx: &CallContext,
        license_key: &str,
        metadata: Value,
    ) -> Result<WhopValidation, ApiError> {
        let segments = ["api", "v2", "memberships", license_key, "validate_license"];
        let mut request = Request::new(
            Method::POST,
            "/api/v2/memberships/{key}/validate_license",
            &segments,
        );
        request.body = Some(json!({ "metadata": metadata }));
        request.secret = Some(license_key);
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            200..=299 => Ok(WhopValidation::Matched(membership(&reply)?)),
            400 => Ok(WhopValidation::MetadataMismatch {
                message: error_message(&reply.json_or_null()),
            }),
            404 => Ok(WhopValidation::NotFound),
            _ => Err(rejected(&reply)),
        }
    }

    async fn reset(&self, ctx: &CallContext, license_key: &str) -> Result<Option<WhopMembership>, ApiError> {
        let segments = ["api", "v2", "memberships", license_key];
        let mut lookup = Request::new(Method::GET, "/api/v2/memberships/{key}", &segments);
        lookup.secret = Some(license_key);
        let reply = self.http.send(ctx, &lookup).await?;
        let found = match reply.status {
            200..=299 => membership(&reply)?,
            404 => return Ok(None),
            _ => return Err(rejected(&reply)),
        };
        let segments = ["api", "v2", "memberships", found.id.as_str()];
        let mut update = Request::new(Method::POST, "/api/v2/memberships/{mem_id}", &segments);
        update.body = Some(json!({ "metadata": {} }));
        update.membership_id = Some(&found.id);
        update.secret = Some(license_key);
        let reply = self.http.send(ctx, &update).await?;
        match reply.status {
            200..=299 => match membership(&reply) {
                Ok(updated) => Ok(Some(updated)),
                // Any 2xx is success; an empty or odd body still means the metadata was cleared.
                Err(_) => Ok(Some(WhopMembership {
                    metadata: json!({}),
                    ..found
                })),
            },
            404 => Ok(None),
            _ => Err(rejected(&reply)),
        }
    }

    async fn find(&self, ctx: &CallContext, membership_id: &str) -> Result<Option<WhopMembership>, ApiError> {
        let segments = ["api", "v1", "memberships", membership_id];
        let mut request = Request::new(Method::GET, "/api/v1/memberships/{mem_id}", &segments);
        request.membership_id = Some(membership_id);
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            200..=299 => Ok(Some(membership(&reply)?)),
            404 => Ok(None),
            _ => Err(rejected(&reply)),
        }
    }

    async fn list(&self, ctx: &CallContext, query: &WhopListQuery) -> Result<WhopMembershipPage, ApiError> {
        let segments = ["api", "v1", "memberships"];
        let mut request = Request::new(Method::GET, "/api/v1/memberships", &segments);
        if let Some(after) = &query.after {
            request.query.push(("after", after.clone()));
        }
        if let Some(first) = query.first {
            request.query.push(("first", first.to_string()));
        }
        if let Some(company) = &query.company_id {
            request.query.push(("company_id", company.clone()));
        }
        let reply = self.http.send(ctx, &request).await?;
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        let body = reply.json()?;
        let invalid = |reason: String| ApiError::InvalidResponse {
            status: reply.status,
            reason,
        };
        let items = match body.get("data") {
            Some(Value::Array(items)) => items.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(invalid("`data` is not an array".to_owned())),
        };
        let memberships = items
            .iter()
            .map(WhopMembership::from_json)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        let page_info = body.get("page_info");
        let has_next = page_info
            .and_then(|p| p.get("has_next_page"))
            .and_then(Value::as_bool);
        let end_cursor = page_info
            .and_then(|p| p.get("end_cursor"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty());
        let next_cursor = match (has_next, memberships.is_empty()) {
            (Some(false), _) | (_, true) => None,
            _ => end_cursor.map(str::to_owned),
        };
        Ok(WhopMembershipPage {
            memberships,
            next_cursor,
        })
    }
}

fn membership(reply: &Reply) -> Result<WhopMembership, ApiError> {
    WhopMembership::from_json(&reply.json()?).map_err(|e| ApiError::InvalidResponse {
        status: reply.status,
        reason: e.to_string(),
    })
}

impl WhopApi for WhopClient {
    fn validate_license<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
        metadata: Value,
    ) -> ApiFuture<'a, WhopValidation> {
        Box::pin(self.validate(ctx, license_key, metadata))
    }

    fn reset_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        license_key: &'a str,
    ) -> ApiFuture<'a, Option<WhopMembership>> {
        Box::pin(self.reset(ctx, license_key))
    }

    fn find_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
    ) -> ApiFuture<'a, Option<WhopMembership>> {
        Box::pin(self.find(ctx, membership_id))
    }

    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage> {
        Box::pin(self.list(ctx, query))
    }
}
