//! A fake Whop: v2 `validate_license` (binds metadata on first use), v2 retrieve and metadata update, v1
//! membership retrieve and cursor-paged list, bearer auth, and signed webhooks in both wire formats.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::FakeProvider;
use crate::server::{FakeServer, HttpRequest, HttpResponse, lock};
use crate::signing::{SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix};

/// One membership in the fake's store. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMembership {
    pub id: String,
    pub license_key: String,
    pub status: String,
    pub user_id: String,
    pub product_id: String,
    pub plan_id: String,
    /// `{}` until the first `validate_license` binds it.
    pub metadata: Value,
    pub cancel_at_period_end: bool,
    pub cancellation_reason: Option<String>,
    pub renewal_period_start: Option<i64>,
    pub renewal_period_end: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FakeMembership {
    /// An `active` membership with a 30-day period starting now and unbound metadata.
    pub fn new(id: impl Into<String>, license_key: impl Into<String>) -> Self {
        let now = now_unix();
        FakeMembership {
            id: id.into(),
            license_key: license_key.into(),
            status: "active".to_owned(),
            user_id: "user_fake".to_owned(),
            product_id: "prod_fake".to_owned(),
            plan_id: "plan_fake".to_owned(),
            metadata: json!({}),
            cancel_at_period_end: false,
            cancellation_reason: None,
            renewal_period_start: Some(now),
            renewal_period_end: Some(now + 30 * 86_400),
            created_at: now,
            updated_at: now,
        }
    }

    /// v2's `valid`: whether the status grants access.
    pub fn valid(&self) -> bool {
        matches!(
            self.status.as_str(),
            "trialing" | "active" | "completed" | "past_due" | "canceling"
        )
    }

    /// The v2 `Membership` JSON (ids as strings, Unix-second times).
    pub fn v2_json(&self) -> Value {
        json!({
            "id": self.id, "product": self.product_id, "user": self.user_id, "plan": self.plan_id,
            "email": "customer@example.com", "status": self.status, "valid": self.valid(),
            "cancel_at_period_end": self.cancel_at_period_end, "payment_processor": "stripe",
            "license_key": self.license_key, "metadata": self.metadata, "quantity": 1, "expires_at": null,
            "renewal_period_start": self.renewal_period_start, "renewal_period_end": self.renewal_period_end,
            "created_at": self.created_at,
        })
    }

    /// The v1 `Membership` JSON (nested objects, ISO-8601 times).
    pub fn v1_json(&self) -> Value {
        let canceled_at = (self.status == "canceled").then(|| iso(self.updated_at));
        json!({
            "id": self.id, "status": self.status, "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": canceled_at, "cancellation_reason": self.cancellation_reason,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "joined_at": iso(self.created_at), "currency": "usd", "license_key": self.license_key,
            "member": {"id": format!("mber_{}", self.user_id)}, "metadata": self.metadata,
            "payment_collection_paused": false, "plan": {"id": self.plan_id, "metadata": null},
            "product": {"id": self.product_id, "title": "Fake Product", "metadata": null}, "promo_code": null,
            "renewal_period_start": self.renewal_period_start.map(iso),
            "renewal_period_end": self.renewal_period_end.map(iso),
            "user": {"id": self.user_id, "username": "fake", "name": "Fake User", "email": "customer@example.com"},
            "company": {"id": "biz_fake", "title": "Fake Co"},
        })
    }
}

#[derive(Debug, Default)]
struct WhopState {
    memberships: Vec<FakeMembership>,
}

impl WhopState {
    fn by_key_or_id(&mut self, key_or_id: &str) -> Option<&mut FakeMembership> {
        self.memberships
            .iter_mut()
            .find(|m| m.license_key == key_or_id || m.id == key_or_id)
    }
}

/// The fake Whop server.
#[derive(Debug)]
pub struct FakeWhop {
    server: FakeServer,
    state: Arc<Mutex<WhopState>>,
    api_key: String,
    webhook_secret: String,
}

impl FakeWhop {
    pub const API_KEY: &'static str = "whop_fake_api_key_0001";
    pub const WEBHOOK_SECRET: &'static str = "ws_fake_webhook_secret_0001";

    /// Starts with [`FakeWhop::API_KEY`] and [`FakeWhop::WEBHOOK_SECRET`].
    pub fn start() -> FakeWhop {
        FakeWhop::start_with(FakeWhop::API_KEY, FakeWhop::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeWhop {
        let state = Arc::new(Mutex::new(WhopState::default()));
        let handler_state = Arc::clone(&state);
        let key = api_key.to_owned();
        let server = FakeServer::start(Arc::new(move |request| route(&handler_state, &key, request)));
        FakeWhop {
            server,
            state,
            api_key: api_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
        }
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    pub fn add_membership(&self, membership: FakeMembership) {
        lock(&self.state).memberships.push(membership);
    }

    pub fn membership(&self, id: &str) -> Option<FakeMembership> {
        lock(&self.state).memberships.iter().find(|m| m.id == id).cloned()
    }

    /// Changes a membership in place (no webhook is sent) and bumps `updated_at`. False if unknown.
    pub fn update_membership(&self, id: &str, change: impl FnOnce(&mut FakeMembership)) -> bool {
        let mut state = lock(&self.state);
        match state.memberships.iter_mut().find(|m| m.id == id) {
            Some(membership) => {
                change(membership);
                membership.updated_at = now_unix().max(membership.updated_at);
                true
            }
            None => false,
        }
    }

    /// Sets the status without sending a webhook (a missed webhook, for reconciliation tests).
    pub fn set_status(&self, id: &str, status: &str) -> bool {
        self.update_membership(id, |m| m.status = status.to_owned())
    }

    /// A current-format (v1, Standard Webhooks) delivery of `event_type` carrying the membership's state now.
    pub fn webhook(&self, membership_id: &str, event_type: &str) -> Option<SignedWebhook> {
        let membership = self.membership(membership_id)?;
        let id = next_id("msg");
        let now = now_unix();
        let body = json!({
            "id": id, "api_version": "v1", "timestamp": iso(now), "type": event_type,
            "data": membership.v1_json(), "company_id": "biz_fake",
        });
        Some(
            WebhookBuilder::json(WebhookFormat::WhopCurrent, &self.webhook_secret, &body)
                .id(id)
                .timestamp(now)
                .sign(),
        )
    }

    /// A legacy (`X-Whop-Signature`) delivery of `action` (`membership.went_valid`, ...) with the v2 object.
    pub fn legacy_webhook(&self, membership_id: &str, action: &str) -> Option<SignedWebhook> {
        let membership = self.membership(membership_id)?;
        let body = json!({ "action": action, "data": membership.v2_json() });
        Some(WebhookBuilder::json(WebhookFormat::WhopLegacy, &self.webhook_secret, &body).sign())
    }
}

impl FakeProvider for FakeWhop {
    fn server(&self) -> &FakeServer {
        &self.server
    }
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &json!({"error": {"status": status.to_string(), "message": message}}),
    )
}

fn route(state: &Mutex<WhopState>, api_key: &str, request: &HttpRequest) -> HttpResponse {
    if !request.has_bearer(api_key) {
        return error(
            401,
            "Your access token is invalid. Please make sure you are passing an access token, and that it is correctly formatted.",
        );
    }
    let mut state = lock(state);
    match (request.method.as_str(), request.path().as_slice()) {
        ("POST", ["api", "v2", "memberships", key, "validate_license"]) => validate(&mut state, key, request),
        ("GET", ["api", "v2", "memberships", key_or_id]) => match state.by_key_or_id(key_or_id) {
            Some(membership) => HttpResponse::json(200, &membership.v2_json()),
            None => error(404, "Not found"),
        },
        ("POST", ["api", "v2", "memberships", id]) => update_metadata(&mut state, id, request),
        ("GET", ["api", "v1", "memberships"]) => list(&state, request),
        ("GET", ["api", "v1", "memberships", id]) => match state.memberships.iter().find(|m| m.id == *id) {
            Some(membership) => HttpResponse::json(200, &membership.v1_json()),
            None => error(404, "Not found"),
        },
        _ => error(404, "Not found"),
    }
}

fn validate(state: &mut WhopState, key: &str, request: &HttpRequest) -> HttpResponse {
    let Some(metadata) = request
        .json()
        .and_then(|b| b.get("metadata").cloned())
        .filter(Value::is_object)
    else {
        return error(422, "metadata is required");
    };
    let Some(membership) = state.by_key_or_id(key) else {
        return error(404, "Not found");
    };
    let unbound = membership.metadata.as_object().is_none_or(|m| m.is_empty());
    if unbound {
        membership.metadata = metadata;
    } else if membership.metadata != metadata {
        return error(400, "Please reset your key to use on a new machine");
    }
    HttpResponse::json(201, &membership.v2_json())
}

/// The documented update takes `mem_...` only; a license key in the path is a 404 here, which proves the client
/// resolves the key first.
fn update_metadata(state: &mut WhopState, id: &str, request: &HttpRequest) -> HttpResponse {
    let Some(metadata) = request
        .json()
        .and_then(|b| b.get("metadata").cloned())
        .filter(Value::is_object)
    else {
        return error(422, "metadata is required");
    };
    match state.memberships.iter_mut().find(|m| m.id == id) {
        Some(membership) => {
            membership.metadata = metadata;
            membership.updated_at = now_unix().max(membership.updated_at);
            HttpResponse::json(201, &membership.v2_json())
        }
        None => error(404, "Not found"),
    }
}

/// Cursor paging like the v1 SDK: `first` (default 10, max 100), `after` = the previous `end_cursor`.
fn list(state: &WhopState, request: &HttpRequest) -> HttpResponse {
    let first = request
        .query("first")
        .and_then(|f| f.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let start = match request.query("after") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("cur_").and_then(|n| n.parse::<usize>().ok()) {
            Some(start) => start,
            None => return error(400, "invalid cursor"),
        },
    };
    let page: Vec<Value> = state
        .memberships
        .iter()
        .skip(start)
        .take(first)
        .map(FakeMembership::v1_json)
        .collect();
    let end = start + page.len();
    let has_next_page = end < state.memberships.len();
    HttpResponse::json(
        200,
        &json!({
            "data": page,
            "page_info": {
                "end_cursor": has_next_page.then(|| format!("cur_{end}")),
                "start_cursor": format!("cur_{start}"),
                "has_next_page": has_next_page,
                "has_previous_page": start > 0,
            }
        }),
    )
}
