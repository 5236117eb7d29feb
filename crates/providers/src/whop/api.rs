//! The Whop API client, on Whop's Current API (`/api/v1`): retrieve a membership by id or license key, write its
//! metadata (Tollgate's device binding), and list memberships for reconciliation. Every request carries
//! `Api-Version-Date` (the pinned version, a setting). Whop retired API v2 on 2026-11-13; nothing here calls it.
//! Facts and sources: docs/providers.md, "Whop".

use reqwest::Method;
use serde_json::{Map, Value, json};
use tollgate_policy::Provider;

use super::membership::WhopMembership;
use crate::apis::ApiSettings;
use crate::error::ApiError;
use crate::http::{ApiFuture, CallContext, ClientConfig, HttpCore, ProviderNotice, Reply, Request, rejected};

/// The Current-API version Tollgate pins by default: the one Whop's official Rust SDK (whopsdk-rust) sends with
/// every call, so its membership shape is the one that SDK's `Membership` type documents.
pub const DEFAULT_API_VERSION: &str = "2026-09-15";

/// The first version in which the membership list narrows by `account_id` instead of `company_id` (the SDK
/// generated for it sends `account_id`; earlier SDKs send `company_id`).
const ACCOUNT_ID_SINCE: &str = "2026-09-15";

/// Whop-specific client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhopOptions {
    /// Sent as `Api-Version-Date` on every request (`YYYY-MM-DD`, optionally with a `-N` suffix).
    pub api_version: String,
    /// The vendor's Whop company (account) id, `biz_...`: sent on list calls, which need it with an API key.
    pub company_id: Option<String>,
}

impl Default for WhopOptions {
    fn default() -> Self {
        WhopOptions {
            api_version: DEFAULT_API_VERSION.to_owned(),
            company_id: None,
        }
    }
}

impl WhopOptions {
    /// The options of a `[providers.whop]` section: its `api_version` (the default when empty) and its
    /// `company_id`.
    pub fn from_settings(settings: &ApiSettings) -> WhopOptions {
        let version = settings.api_version.trim();
        WhopOptions {
            api_version: if version.is_empty() {
                DEFAULT_API_VERSION.to_owned()
            } else {
                version.to_owned()
            },
            company_id: settings
                .account_id
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        }
    }
}

/// Whether `version` has the shape of a Whop API version date (`2026-09-15`, `2026-09-02-2`).
pub fn is_api_version(version: &str) -> bool {
    let Some(date) = version.get(..10) else {
        return false;
    };
    let date_ok = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    // The first 10 bytes are ASCII here, so 10 is a char boundary.
    let suffix = &version[10..];
    date_ok
        && (suffix.is_empty()
            || (suffix.len() >= 2
                && suffix.starts_with('-')
                && suffix[1..].bytes().all(|b| b.is_ascii_digit())))
}

/// Which membership to retrieve: by id, or by the software license key Whop issued with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipRef<'a> {
    /// `mem_...`
    Id(&'a str),
    /// A license key: logged as its last 4 characters only, and scrubbed from any logged error body.
    LicenseKey(&'a str),
}

impl<'a> MembershipRef<'a> {
    fn value(self) -> &'a str {
        match self {
            MembershipRef::Id(id) | MembershipRef::LicenseKey(id) => id,
        }
    }
}

/// A page of `GET /api/v1/memberships`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhopListQuery {
    /// The cursor from the previous page (`after`).
    pub after: Option<String>,
    /// Page size (`first`).
    pub first: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WhopMembershipPage {
    pub memberships: Vec<WhopMembership>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What one harmless read call showed (`tollgate doctor --online`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhopProbe {
    /// The version the call was pinned to.
    pub api_version: String,
    /// A `Deprecation`/`Sunset` notice on the answer, if any.
    pub notice: Option<ProviderNotice>,
}

/// What Tollgate asks of Whop. Implemented by [`WhopClient`]; tests and the service may swap in their own.
pub trait WhopApi: Send + Sync {
    /// `GET /api/v1/memberships/{id}`, by `mem_` id or license key. `None` on 404.
    fn retrieve_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership: MembershipRef<'a>,
    ) -> ApiFuture<'a, Option<WhopMembership>>;

    /// `PATCH /api/v1/memberships/{mem_id}` with `{"metadata": metadata}`: the whole metadata object the
    /// membership should end with (Whop has both merged and replaced it over time, so send every key to keep).
    fn update_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
        metadata: &'a Map<String, Value>,
    ) -> ApiFuture<'a, WhopMembership>;

    /// `GET /api/v1/memberships`, one cursor page, narrowed to the configured company.
    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage>;

    /// The configured company id, without which listing is not attempted.
    fn company_id(&self) -> Option<&str>;

    /// One harmless read: the first page of one membership of the configured company.
    fn probe<'a>(&'a self, ctx: &'a CallContext) -> ApiFuture<'a, WhopProbe>;
}

/// The real Whop client on `reqwest`.
#[derive(Debug, Clone)]
pub struct WhopClient {
    http: HttpCore,
    options: WhopOptions,
}

impl WhopClient {
    pub fn new(config: &ClientConfig, options: WhopOptions) -> Result<WhopClient, ApiError> {
        if !is_api_version(&options.api_version) {
            return Err(ApiError::Config(format!(
                "Whop API version `{}` is not a version date like {DEFAULT_API_VERSION}",
                options.api_version
            )));
        }
        let http =
            HttpCore::new(Provider::Whop, config)?.with_header("api-version-date", &options.api_version)?;
        Ok(WhopClient { http, options })
    }

    async fn retrieve(
        &self,
        ctx: &CallContext,
        membership: MembershipRef<'_>,
    ) -> Result<Option<WhopMembership>, ApiError> {
        let value = membership.value();
        let segments = ["api", "v1", "memberships", value];
        let mut request = Request::new(Method::GET, "/api/v1/memberships/{id}", &segments);
        match membership {
            MembershipRef::Id(id) => request.membership_id = Some(id),
            MembershipRef::LicenseKey(key) => request.secret = Some(key),
        }
        let reply = self.http.send(ctx, &request).await?;
        match reply.status {
            200..=299 => Ok(Some(parse_membership(&reply)?)),
            404 => Ok(None),
            _ => Err(rejected(&reply)),
        }
    }

    async fn update(
        &self,
        ctx: &CallContext,
        membership_id: &str,
        metadata: &Map<String, Value>,
    ) -> Result<WhopMembership, ApiError> {
        let segments = ["api", "v1", "memberships", membership_id];
        let mut request = Request::new(Method::PATCH, "/api/v1/memberships/{id}", &segments);
        request.membership_id = Some(membership_id);
        request.body = Some(json!({ "metadata": metadata }));
        let reply = self.http.send(ctx, &request).await?;
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        parse_membership(&reply)
    }

    /// The list filter's name in the pinned version.
    fn company_param(&self) -> &'static str {
        if self.options.api_version.as_str() >= ACCOUNT_ID_SINCE {
            "account_id"
        } else {
            "company_id"
        }
    }

    async fn list(
        &self,
        ctx: &CallContext,
        query: &WhopListQuery,
    ) -> Result<(WhopMembershipPage, Reply), ApiError> {
        let segments = ["api", "v1", "memberships"];
        let mut request = Request::new(Method::GET, "/api/v1/memberships", &segments);
        if let Some(company) = &self.options.company_id {
            request.query.push((self.company_param(), company.clone()));
        }
        if let Some(after) = &query.after {
            request.query.push(("after", after.clone()));
        }
        if let Some(first) = query.first {
            request.query.push(("first", first.to_string()));
        }
        let reply = self.http.send(ctx, &request).await?;
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        let page = parse_page(&reply)?;
        Ok((page, reply))
    }
}

fn parse_membership(reply: &Reply) -> Result<WhopMembership, ApiError> {
    WhopMembership::from_json(&reply.json()?).map_err(|e| ApiError::InvalidResponse {
        status: reply.status,
        reason: e.to_string(),
    })
}

fn parse_page(reply: &Reply) -> Result<WhopMembershipPage, ApiError> {
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

impl WhopApi for WhopClient {
    fn retrieve_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership: MembershipRef<'a>,
    ) -> ApiFuture<'a, Option<WhopMembership>> {
        Box::pin(self.retrieve(ctx, membership))
    }

    fn update_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
        metadata: &'a Map<String, Value>,
    ) -> ApiFuture<'a, WhopMembership> {
        Box::pin(self.update(ctx, membership_id, metadata))
    }

    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage> {
        Box::pin(async move { self.list(ctx, query).await.map(|(page, _)| page) })
    }

    fn company_id(&self) -> Option<&str> {
        self.options.company_id.as_deref()
    }

    fn probe<'a>(&'a self, ctx: &'a CallContext) -> ApiFuture<'a, WhopProbe> {
        Box::pin(async move {
            let query = WhopListQuery {
                after: None,
                first: Some(1),
            };
            let (_, reply) = self.list(ctx, &query).await?;
            Ok(WhopProbe {
                api_version: self.options.api_version.clone(),
                notice: reply.notice,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_api_version;

    #[test]
    fn api_versions_are_dates_with_an_optional_suffix() {
        for good in ["2026-09-15", "2026-09-02-2", "2026-11-04-1", "2025-01-01"] {
            assert!(is_api_version(good), "{good}");
        }
        for bad in [
            "",
            "2026-9-15",
            "2026/09/15",
            "2026-09-15-",
            "2026-09-15-x",
            "v1",
            "2026-09-15 ",
            "aaaaaaaaaé",
        ] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }
}
