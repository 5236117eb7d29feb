//! A fake Whop that serves only Whop's Current API (`/api/v1`), as its docs and official SDKs describe it:
//!
//! - `GET /api/v1/memberships/{id}` by `mem_` id or software license key (404 when neither matches);
//! - `PATCH /api/v1/memberships/{id}` with `{"metadata": {...}}`, merged key by key into the stored metadata (the
//!   current docs' semantics; `{}` clears it), within Whop's limits: 50 keys, keys up to 100 characters, string
//!   values up to 500 (422 otherwise);
//! - `GET /api/v1/memberships`, cursor-paged with `first`/`after`, which refuses an API-key call without the
//!   company (`company_id`, or `account_id` in newer versions) with 400;
//! - `Api-Version-Date`: a known version shapes the membership (see [`FakeMembership::json_for`]); an unknown one is
//!   a 400 that lists the supported versions; none is the original 2025-01-01 behaviour;
//! - bearer auth (401), and per-permission refusals (403 naming the permission: `member:basic:read` to read,
//!   `member:manage` to update), set with [`FakeWhop::set_permissions`].
//!
//! Whop retired API v2 on 2026-11-13: every `/api/v2`, `/v2`, `/api/v5` and `/v5` path answers 404 and is counted.
//! A fake that saw such a call fails the test that dropped it (see [`FakeWhop::allow_retired_calls`]), so no test
//! in the suite can pass while calling a retired route.
//!
//! The dashboard's "Reset Key" button is [`FakeWhop::dashboard_reset`]: it clears the membership's metadata.

mod membership;
mod routes;

use serde_json::{Value, json};
use tollgate_testkit::{
    FakeBase, FakeHost, FakeProvider, SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix,
};

pub use membership::FakeMembership;

/// The fake's company (account) id, `biz_...`.
pub(crate) const COMPANY_ID: &str = "biz_fake";
/// The dated versions the fake knows (docs examples and the official SDKs' pins).
pub(crate) const KNOWN_VERSIONS: [&str; 7] = [
    "2025-01-01",
    "2026-06-09",
    "2026-07-20",
    "2026-07-23",
    "2026-09-02-2",
    "2026-09-15",
    "2026-11-04-1",
];
/// The first version with the flat membership shape (`current_period_end`, `plan_id`, `account`), as the beta
/// retrieve page (example version 2026-07-23) documents it.
pub(crate) const SHAPE_SINCE: &str = "2026-07-23";
/// Every permission the fake's API key has unless [`FakeWhop::set_permissions`] says otherwise.
pub const ALL_PERMISSIONS: [&str; 2] = ["member:basic:read", "member:manage"];

#[derive(Debug)]
pub(crate) struct WhopState {
    pub(crate) memberships: Vec<FakeMembership>,
    pub(crate) permissions: Vec<String>,
    pub(crate) retired_calls: usize,
    pub(crate) retired_allowed: bool,
    /// Headers added to every answer (`Deprecation`, `Sunset`, ...).
    pub(crate) extra_headers: Vec<(String, String)>,
}

impl Default for WhopState {
    fn default() -> Self {
        WhopState {
            memberships: Vec::new(),
            permissions: ALL_PERMISSIONS.iter().map(|p| (*p).to_owned()).collect(),
            retired_calls: 0,
            retired_allowed: false,
            extra_headers: Vec::new(),
        }
    }
}

impl WhopState {
    pub(crate) fn by_key_or_id(&mut self, key_or_id: &str) -> Option<&mut FakeMembership> {
        self.memberships
            .iter_mut()
            .find(|m| m.license_key == key_or_id || m.id == key_or_id)
    }
}

/// The fake Whop server.
#[derive(Debug)]
pub struct FakeWhop {
    base: FakeBase<WhopState>,
}

impl FakeWhop {
    pub const API_KEY: &'static str = "whop_fake_api_key_0001";
    pub const WEBHOOK_SECRET: &'static str = "ws_fake_webhook_secret_0001";
    /// The company id to configure (`providers.whop.company_id`).
    pub const COMPANY_ID: &'static str = COMPANY_ID;

    /// Starts with [`FakeWhop::API_KEY`] and [`FakeWhop::WEBHOOK_SECRET`].
    pub fn start() -> FakeWhop {
        FakeWhop::start_with(FakeWhop::API_KEY, FakeWhop::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeWhop {
        FakeWhop {
            base: FakeBase::start(api_key, webhook_secret, routes::route),
        }
    }

    pub fn add_membership(&self, membership: FakeMembership) {
        self.base.state().memberships.push(membership);
    }

    pub fn membership(&self, id: &str) -> Option<FakeMembership> {
        self.base.state().memberships.iter().find(|m| m.id == id).cloned()
    }

    /// Changes a membership in place (no webhook is sent) and bumps `updated_at`. False if unknown.
    pub fn update_membership(&self, id: &str, change: impl FnOnce(&mut FakeMembership)) -> bool {
        let mut state = self.base.state();
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

    /// The customer or the vendor pressed "Reset Key" in Whop's dashboard: the metadata is cleared.
    pub fn dashboard_reset(&self, id: &str) -> bool {
        self.update_membership(id, |m| m.metadata.clear())
    }

    /// The permissions the API key has from now on (e.g. only `member:basic:read`).
    pub fn set_permissions(&self, permissions: &[&str]) {
        self.base.state().permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
    }

    /// Add this header to every answer from now on (e.g. `Deprecation: @1791417600`).
    pub fn add_response_header(&self, name: &str, value: &str) {
        self.base
            .state()
            .extra_headers
            .push((name.to_owned(), value.to_owned()));
    }

    /// How many calls reached a retired route (`/api/v2`, `/v2`, `/api/v5`, `/v5`).
    pub fn retired_calls(&self) -> usize {
        self.base.state().retired_calls
    }

    /// This test calls retired routes on purpose: dropping the fake will not fail it.
    pub fn allow_retired_calls(&self) {
        self.base.state().retired_allowed = true;
    }

    /// A current-format (Standard Webhooks) delivery of `event_type` with the membership's state now, from a
    /// webhook with no pinned version (the original shape; the envelope names `company_id`).
    pub fn webhook(&self, membership_id: &str, event_type: &str) -> Option<SignedWebhook> {
        self.webhook_pinned(membership_id, event_type, None)
    }

    /// The same from a webhook pinned to `version`: `data` is the membership as that version's REST read shapes it,
    /// and the envelope names `account_id` (versions from 2026-08-14 on) instead of `company_id`.
    /// `membership.updated` also carries `previous_attributes`.
    pub fn webhook_pinned(
        &self,
        membership_id: &str,
        event_type: &str,
        version: Option<&str>,
    ) -> Option<SignedWebhook> {
        let membership = self.membership(membership_id)?;
        let mut body = envelope(event_type, version, membership.json_for(version));
        if event_type == "membership.updated" {
            body["previous_attributes"] = json!({ "status": "trialing" });
        }
        Some(self.sign(body))
    }

    /// A `payment.succeeded` delivery for this membership (a renewal charge): `data` is a `Payment` naming the
    /// membership, with no period end of its own.
    pub fn payment_webhook(&self, membership_id: &str) -> Option<SignedWebhook> {
        let membership = self.membership(membership_id)?;
        let data = json!({
            "id": next_id("pay"), "status": "paid", "substatus": "succeeded", "total": 10.0, "currency": "usd",
            "billing_reason": "subscription_cycle", "created_at": iso(now_unix()), "paid_at": iso(now_unix()),
            "membership": {"id": membership.id, "status": membership.status},
            "plan": {"id": membership.plan_id}, "product": {"id": membership.product_id, "title": "Fake Product"},
            "user": {"id": membership.user_id, "username": "fake", "email": "customer@example.com"},
            "company": {"id": COMPANY_ID, "title": "Fake Co"},
        });
        Some(self.sign(envelope("payment.succeeded", None, data)))
    }

    fn sign(&self, body: Value) -> SignedWebhook {
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        WebhookBuilder::json(
            WebhookFormat::WhopCurrent,
            self.base.host().webhook_secret(),
            &body,
        )
        .id(id)
        .timestamp(now_unix())
        .sign()
    }

    /// A legacy (`X-Whop-Signature`) delivery of `action` (`membership.went_valid`, ...) with the v2 object: what a
    /// webhook created through v2 still sends.
    pub fn legacy_webhook(&self, membership_id: &str, action: &str) -> Option<SignedWebhook> {
        let membership = self.membership(membership_id)?;
        let body = json!({ "action": action, "data": membership.v2_json() });
        Some(
            WebhookBuilder::json(
                WebhookFormat::WhopLegacy,
                self.base.host().webhook_secret(),
                &body,
            )
            .sign(),
        )
    }
}

/// The v1 envelope: `company_id` for unpinned webhooks and versions before 2026-08-14, `account_id` after.
fn envelope(event_type: &str, version: Option<&str>, data: Value) -> Value {
    let id = next_id("msg");
    let mut body = json!({
        "id": id, "api_version": "v1", "timestamp": iso(now_unix()), "type": event_type, "data": data,
    });
    match version {
        Some(version) if version >= "2026-08-14" => body["account_id"] = json!(COMPANY_ID),
        _ => body["company_id"] = json!(COMPANY_ID),
    }
    body
}

impl FakeProvider for FakeWhop {
    fn host(&self) -> &FakeHost {
        self.base.host()
    }
}

impl Drop for FakeWhop {
    #[expect(
        clippy::panic,
        reason = "a test that called a retired Whop route must fail, wherever it dropped the fake"
    )]
    fn drop(&mut self) {
        let (calls, allowed) = {
            let state = self.base.state();
            (state.retired_calls, state.retired_allowed)
        };
        if calls > 0 && !allowed && !std::thread::panicking() {
            panic!(
                "{calls} call(s) reached a retired Whop API route (/api/v2, /v2, /api/v5, /v5): Whop retired them on \
                 2026-11-13; see FakeWhop::requests()"
            );
        }
    }
}
