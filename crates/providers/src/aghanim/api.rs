//! The Aghanim S2S client: a player's subscriptions.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig, HttpCore, Request, rejected};
use crate::payload::Obj;

/// A subscription from `GET /s2s/v1/players/{player_id}/subscriptions` (`SubscriptionRead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AghanimSubscription {
    pub id: String,
    pub sku: Option<String>,
    /// Raw status (`trial`, `active`, `canceled`, `expired`, ...). Access follows `effective_until`.
    pub status: Option<String>,
    pub effective_until: Option<DateTime<Utc>>,
    pub plan_key: Option<String>,
}

impl AghanimSubscription {
    fn from_json(value: &Value) -> Result<AghanimSubscription, ParseError> {
        let data = Obj::root(value)?;
        let plan_key = match data.obj("plan")? {
            Some(plan) => plan.string("key")?,
            None => None,
        };
        Ok(AghanimSubscription {
            id: data.req_str("id")?.to_owned(),
            sku: data.string("sku")?,
            status: data.string("status")?,
            effective_until: data.time("effective_until")?,
            plan_key,
        })
    }

    /// The subscription as a reconciliation snapshot for `player_id` (`Updated` with the raw status).
    pub fn snapshot_event(&self, player_id: &str, observed_at: DateTime<Utc>) -> Option<ProviderEvent> {
        Some(ProviderEvent {
            provider: Provider::Aghanim,
            external_id: self.id.clone(),
            occurred_at: observed_at,
            subject: Some(player_id.to_owned()),
            product: self.sku.clone(),
            kind: EventKind::Updated {
                status: self.status.clone()?,
                paid_through: self.effective_until,
                cancel_at_period_end: None,
            },
        })
    }
}

/// One page of `GET /v1/players/{player_id}/subscriptions` (OpenAPI 2026.07.14: `limit` defaults to 10, `offset`
/// skips, `effective` filters: `true` effective only, `false` non-effective only, absent for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionQuery {
    pub limit: u32,
    pub offset: u32,
    pub effective: Option<bool>,
}

impl SubscriptionQuery {
    /// The first page of `limit` subscriptions, effective or not.
    pub fn first(limit: u32) -> Self {
        SubscriptionQuery {
            limit,
            offset: 0,
            effective: None,
        }
    }

    /// The page after this one.
    pub fn next(self) -> Self {
        SubscriptionQuery {
            offset: self.offset.saturating_add(self.limit),
            ..self
        }
    }
}

/// What Tollgate asks of Aghanim. Implemented by [`AghanimClient`].
pub trait AghanimApi: Send + Sync {
    /// One page of a player's subscriptions. A page shorter than `query.limit` is the last.
    fn list_player_subscriptions<'a>(
        &'a self,
        ctx: &'a CallContext,
        player_id: &'a str,
        query: SubscriptionQuery,
    ) -> ApiFuture<'a, Vec<AghanimSubscription>>;
}

/// The real Aghanim client on `reqwest`. The base URL is scheme + host + port; it appends `/s2s/v1/...`.
#[derive(Debug, Clone)]
pub struct AghanimClient {
    http: HttpCore,
}

impl AghanimClient {
    pub fn new(config: &ClientConfig) -> Result<AghanimClient, ApiError> {
        Ok(AghanimClient {
            http: HttpCore::new(Provider::Aghanim, config)?,
        })
    }

    async fn subscriptions(
        &self,
        ctx: &CallContext,
        player_id: &str,
        query: SubscriptionQuery,
    ) -> Result<Vec<AghanimSubscription>, ApiError> {
        let segments = ["s2s", "v1", "players", player_id, "subscriptions"];
        let mut request = Request::new(
            Method::GET,
            "/s2s/v1/players/{player_id}/subscriptions",
            &segments,
        );
        request.query.push(("limit", query.limit.max(1).to_string()));
        request.query.push(("offset", query.offset.to_string()));
        if let Some(effective) = query.effective {
            request.query.push(("effective", effective.to_string()));
        }
        let reply = self.http.send(ctx, &request).await?;
        if !reply.is_success() {
            return Err(rejected(&reply));
        }
        let body = reply.json()?;
        // The OpenAPI answers a bare array; a `data`/`items` wrapper is accepted too, as it costs nothing.
        let list = match &body {
            Value::Array(items) => Some(items),
            Value::Object(map) => ["data", "items"]
                .iter()
                .find_map(|key| map.get(*key).and_then(Value::as_array)),
            _ => None,
        };
        let list = list.ok_or_else(|| ApiError::InvalidResponse {
            status: reply.status,
            reason: "not a list of subscriptions".to_owned(),
        })?;
        list.iter()
            .map(|item| {
                AghanimSubscription::from_json(item).map_err(|e| ApiError::InvalidResponse {
                    status: reply.status,
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

impl AghanimApi for AghanimClient {
    fn list_player_subscriptions<'a>(
        &'a self,
        ctx: &'a CallContext,
        player_id: &'a str,
        query: SubscriptionQuery,
    ) -> ApiFuture<'a, Vec<AghanimSubscription>> {
        Box::pin(self.subscriptions(ctx, player_id, query))
    }
}
