//! A fake Dodo Payments: the public `/licenses/{activate,deactivate,validate}` endpoints with activation limits,
//! disabled/expired keys and unknown keys; authenticated grant and subscription listing; the license key instances
//! (`GET /license_key_instances`, `GET|PATCH /license_key_instances/{id}`); signed webhooks.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::FakeProvider;
use crate::server::{FakeServer, HttpRequest, HttpResponse, lock};
use crate::signing::{SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix};

/// A license key (`lic_...`) and its activated instances (`lki_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLicenseKey {
    pub id: String,
    pub key: String,
    /// `active`, `disabled` or `expired`.
    pub status: String,
    /// `None` = unlimited.
    pub activations_limit: Option<u32>,
    pub expires_at: Option<i64>,
    pub customer_id: String,
    pub product_id: String,
    /// `(instance id, name)`.
    pub instances: Vec<(String, String)>,
    pub created_at: i64,
}

impl FakeLicenseKey {
    pub fn new(id: impl Into<String>, key: impl Into<String>, activations_limit: Option<u32>) -> Self {
        FakeLicenseKey {
            id: id.into(),
            key: key.into(),
            status: "active".to_owned(),
            activations_limit,
            expires_at: None,
            customer_id: "cus_fake".to_owned(),
            product_id: "pdt_fake".to_owned(),
            instances: Vec::new(),
            created_at: now_unix(),
        }
    }

    fn is_active(&self, now: i64) -> bool {
        self.status == "active" && self.expires_at.is_none_or(|t| t > now)
    }

    /// The `LicenseKey` object (`license_key.created` data).
    pub fn json(&self) -> Value {
        json!({
            "id": self.id, "business_id": "bus_fake", "brand_id": "bra_fake", "customer_id": self.customer_id,
            "product_id": self.product_id, "key": self.key, "status": self.status,
            "instances_count": self.instances.len(), "activations_limit": self.activations_limit,
            "expires_at": self.expires_at.map(iso), "payment_id": null, "subscription_id": null,
            "created_at": iso(self.created_at), "source": "auto",
        })
    }
}

/// An entitlement grant (`entg_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGrant {
    pub id: String,
    pub entitlement_id: String,
    pub customer_id: String,
    /// `Pending`, `Delivered`, `Failed`, `Revoked` (PascalCase, as the OpenAPI writes it).
    pub status: String,
    pub integration_type: String,
    /// The backing key's value, for `license_key` grants once delivered.
    pub license_key: Option<String>,
    pub revocation_reason: Option<String>,
    pub error_code: Option<String>,
    pub subscription_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FakeGrant {
    /// A pending `license_key` grant without a key (the manual-fulfilment start).
    pub fn pending(
        id: impl Into<String>,
        entitlement_id: impl Into<String>,
        customer_id: impl Into<String>,
    ) -> Self {
        let now = now_unix();
        FakeGrant {
            id: id.into(),
            entitlement_id: entitlement_id.into(),
            customer_id: customer_id.into(),
            status: "Pending".to_owned(),
            integration_type: "license_key".to_owned(),
            license_key: None,
            revocation_reason: None,
            error_code: None,
            subscription_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A subscription (`sub_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubscription {
    pub subscription_id: String,
    /// `pending, active, on_hold, paused, cancelled, failed, expired`.
    pub status: String,
    pub customer_id: String,
    pub product_id: String,
    pub next_billing_date: i64,
    pub cancel_at_next_billing_date: bool,
    pub created_at: i64,
}

impl FakeSubscription {
    pub fn active(
        id: impl Into<String>,
        customer_id: impl Into<String>,
        product_id: impl Into<String>,
    ) -> Self {
        let now = now_unix();
        FakeSubscription {
            subscription_id: id.into(),
            status: "active".to_owned(),
            customer_id: customer_id.into(),
            product_id: product_id.into(),
            next_billing_date: now + 30 * 86_400,
            cancel_at_next_billing_date: false,
            created_at: now,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "subscription_id": self.subscription_id, "status": self.status, "product_id": self.product_id,
            "customer": {"customer_id": self.customer_id, "email": "customer@example.com", "name": "Fake Customer"},
            "next_billing_date": iso(self.next_billing_date), "previous_billing_date": iso(self.created_at),
            "cancel_at_next_billing_date": self.cancel_at_next_billing_date, "created_at": iso(self.created_at),
            "metadata": {}, "quantity": 1, "payment_frequency_interval": "Month",
        })
    }
}

#[derive(Debug, Default)]
struct DodoState {
    keys: Vec<FakeLicenseKey>,
    grants: Vec<FakeGrant>,
    subscriptions: Vec<FakeSubscription>,
    instance_counter: u64,
    /// `POST /licenses/validate` for a key Dodo does not have: `{"valid": false}` (the documented 200 shape, the
    /// default) or 404 `NOT_FOUND` (what activate and deactivate document for an unknown key).
    validate_unknown_as_404: bool,
    /// Refuse every activation with 422 `INVALID_REQUEST_BODY` (docs `error-codes`: "Malformed JSON or schema
    /// violation"), standing in for a request Dodo's schema rejects.
    refuse_activations_as_invalid: bool,
}

impl DodoState {
    fn next_instance_id(&mut self) -> String {
        self.instance_counter += 1;
        format!("lki_fake{:06}", self.instance_counter)
    }

    /// `(license key, instance id, name)` of every instance.
    fn instances(&self) -> impl Iterator<Item = (&FakeLicenseKey, &String, &String)> {
        self.keys
            .iter()
            .flat_map(|key| key.instances.iter().map(move |(id, name)| (key, id, name)))
    }
}

/// `LicenseKeyInstanceResponse`: `{id, business_id, name, license_key_id, created_at}`.
fn instance_json(key: &FakeLicenseKey, id: &str, name: &str) -> Value {
    json!({
        "id": id, "business_id": "bus_fake", "name": name, "license_key_id": key.id,
        "created_at": iso(key.created_at),
    })
}

impl DodoState {
    fn grant_json(&self, grant: &FakeGrant) -> Value {
        let key = grant
            .license_key
            .as_ref()
            .and_then(|value| self.keys.iter().find(|k| &k.key == value));
        let license_key = key.map(|k| {
            json!({
                "key": k.key, "activations_used": k.instances.len(), "activations_limit": k.activations_limit,
                "expires_at": k.expires_at.map(iso),
            })
        });
        let delivered = matches!(grant.status.as_str(), "Delivered" | "Revoked");
        json!({
            "id": grant.id, "business_id": "bus_fake", "brand_id": "bra_fake", "customer_id": grant.customer_id,
            "entitlement_id": grant.entitlement_id, "integration_type": grant.integration_type,
            "status": grant.status, "metadata": {}, "created_at": iso(grant.created_at),
            "updated_at": iso(grant.updated_at), "delivered_at": delivered.then(|| iso(grant.created_at)),
            "revoked_at": (grant.status == "Revoked").then(|| iso(grant.updated_at)),
            "revocation_reason": grant.revocation_reason, "error_code": grant.error_code, "error_message": null,
            "payment_id": null, "subscription_id": grant.subscription_id, "oauth_url": null,
            "oauth_expires_at": null, "license_key": license_key, "digital_product_delivery": null,
        })
    }
}

/// The fake Dodo server.
#[derive(Debug)]
pub struct FakeDodo {
    server: FakeServer,
    state: Arc<Mutex<DodoState>>,
    api_key: String,
    webhook_secret: String,
}

impl FakeDodo {
    pub const API_KEY: &'static str = "dodo_fake_api_key_0001";
    /// `whsec_` + base64 of a 26-byte key.
    pub const WEBHOOK_SECRET: &'static str = "whsec_dG9sbGdhdGUtZmFrZS1kb2RvLXNlY3JldCE=";

    pub fn start() -> FakeDodo {
        FakeDodo::start_with(FakeDodo::API_KEY, FakeDodo::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeDodo {
        let state = Arc::new(Mutex::new(DodoState::default()));
        let handler_state = Arc::clone(&state);
        let key = api_key.to_owned();
        let server = FakeServer::start(Arc::new(move |request| route(&handler_state, &key, request)));
        FakeDodo {
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

    pub fn add_license_key(&self, key: FakeLicenseKey) {
        lock(&self.state).keys.push(key);
    }

    pub fn license_key(&self, key: &str) -> Option<FakeLicenseKey> {
        lock(&self.state).keys.iter().find(|k| k.key == key).cloned()
    }

    /// Changes a key in place (e.g. `status = "disabled"`). False if unknown.
    pub fn update_license_key(&self, key: &str, change: impl FnOnce(&mut FakeLicenseKey)) -> bool {
        let mut state = lock(&self.state);
        state.keys.iter_mut().find(|k| k.key == key).map(change).is_some()
    }

    /// Activate an instance as a customer would without Tollgate (the public endpoint called by another client).
    /// Returns its `lki_...` id; `None` for an unknown key.
    pub fn add_instance(&self, key: &str, name: &str) -> Option<String> {
        let mut state = lock(&self.state);
        let id = state.next_instance_id();
        let license = state.keys.iter_mut().find(|k| k.key == key)?;
        license.instances.push((id.clone(), name.to_owned()));
        Some(id)
    }

    /// Remove an instance as the vendor's Dodo dashboard does, without Tollgate. False if unknown.
    pub fn remove_instance(&self, instance_id: &str) -> bool {
        let mut state = lock(&self.state);
        state.keys.iter_mut().any(|key| {
            let before = key.instances.len();
            key.instances.retain(|(id, _)| id != instance_id);
            key.instances.len() != before
        })
    }

    /// Rename an instance as `PATCH /license_key_instances/{id}` does. False if unknown.
    pub fn rename_instance(&self, instance_id: &str, name: &str) -> bool {
        let mut state = lock(&self.state);
        state
            .keys
            .iter_mut()
            .flat_map(|key| key.instances.iter_mut())
            .find(|(id, _)| id == instance_id)
            .map(|(_, old)| *old = name.to_owned())
            .is_some()
    }

    /// Delete a key (and its instances), as when it was never issued or was removed at Dodo.
    pub fn delete_license_key(&self, key: &str) -> bool {
        let mut state = lock(&self.state);
        let before = state.keys.len();
        state.keys.retain(|k| k.key != key);
        state.keys.len() != before
    }

    /// Answer `POST /licenses/validate` for an unknown key with 404 `NOT_FOUND` instead of `{"valid": false}`.
    pub fn validate_unknown_as_404(&self, on: bool) {
        lock(&self.state).validate_unknown_as_404 = on;
    }

    /// Refuse activations with 422 `INVALID_REQUEST_BODY`.
    pub fn refuse_activations_as_invalid(&self, on: bool) {
        lock(&self.state).refuse_activations_as_invalid = on;
    }

    pub fn add_grant(&self, grant: FakeGrant) {
        lock(&self.state).grants.push(grant);
    }

    pub fn grant(&self, id: &str) -> Option<FakeGrant> {
        lock(&self.state).grants.iter().find(|g| g.id == id).cloned()
    }

    pub fn update_grant(&self, id: &str, change: impl FnOnce(&mut FakeGrant)) -> bool {
        let mut state = lock(&self.state);
        match state.grants.iter_mut().find(|g| g.id == id) {
            Some(grant) => {
                change(grant);
                grant.updated_at = now_unix().max(grant.updated_at);
                true
            }
            None => false,
        }
    }

    /// Manual fulfilment: attaches `key` to a pending grant, creates the license key and marks the grant
    /// delivered. Returns the two webhooks Dodo then sends: `license_key.created` and
    /// `entitlement_grant.delivered`.
    pub fn fulfill_grant(
        &self,
        grant_id: &str,
        key: &str,
        activations_limit: Option<u32>,
    ) -> Option<[SignedWebhook; 2]> {
        let customer = self.grant(grant_id)?.customer_id;
        let mut license = FakeLicenseKey::new(next_id("lic"), key, activations_limit);
        license.customer_id = customer;
        self.add_license_key(license);
        self.update_grant(grant_id, |g| {
            g.status = "Delivered".to_owned();
            g.license_key = Some(key.to_owned());
        });
        Some([
            self.license_key_webhook(key)?,
            self.grant_webhook(grant_id, "entitlement_grant.delivered")?,
        ])
    }

    /// Revokes a grant with `reason` and disables its backing license key, as Dodo does.
    pub fn revoke_grant(&self, grant_id: &str, reason: &str) -> bool {
        let key = self.grant(grant_id).and_then(|g| g.license_key);
        if let Some(key) = key {
            self.update_license_key(&key, |k| k.status = "disabled".to_owned());
        }
        self.update_grant(grant_id, |g| {
            g.status = "Revoked".to_owned();
            g.revocation_reason = Some(reason.to_owned());
        })
    }

    pub fn add_subscription(&self, subscription: FakeSubscription) {
        lock(&self.state).subscriptions.push(subscription);
    }

    pub fn subscription(&self, id: &str) -> Option<FakeSubscription> {
        lock(&self.state)
            .subscriptions
            .iter()
            .find(|s| s.subscription_id == id)
            .cloned()
    }

    /// Changes a subscription in place without a webhook. False if unknown.
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut FakeSubscription)) -> bool {
        let mut state = lock(&self.state);
        state
            .subscriptions
            .iter_mut()
            .find(|s| s.subscription_id == id)
            .map(change)
            .is_some()
    }

    fn envelope(&self, event_type: &str, mut data: Value, payload_type: &str) -> SignedWebhook {
        if let Some(map) = data.as_object_mut() {
            map.insert("payload_type".to_owned(), json!(payload_type));
        }
        let now = now_unix();
        let body =
            json!({"business_id": "bus_fake", "type": event_type, "timestamp": iso(now), "data": data});
        WebhookBuilder::json(WebhookFormat::Dodo, &self.webhook_secret, &body)
            .timestamp(now)
            .sign()
    }

    /// An `entitlement_grant.*` delivery with the grant's state now (Dodo sends the latest state).
    pub fn grant_webhook(&self, grant_id: &str, event_type: &str) -> Option<SignedWebhook> {
        let data = {
            let state = lock(&self.state);
            let grant = state.grants.iter().find(|g| g.id == grant_id)?;
            state.grant_json(grant)
        };
        Some(self.envelope(event_type, data, "EntitlementGrant"))
    }

    /// A `subscription.*` delivery with the subscription's state now.
    pub fn subscription_webhook(&self, subscription_id: &str, event_type: &str) -> Option<SignedWebhook> {
        let data = self.subscription(subscription_id)?.json();
        Some(self.envelope(event_type, data, "Subscription"))
    }

    /// A `license_key.created` delivery.
    pub fn license_key_webhook(&self, key: &str) -> Option<SignedWebhook> {
        let data = self.license_key(key)?.json();
        Some(self.envelope("license_key.created", data, "LicenseKey"))
    }
}

impl FakeProvider for FakeDodo {
    fn server(&self) -> &FakeServer {
        &self.server
    }
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"code": code, "message": message}))
}

fn route(state: &Mutex<DodoState>, api_key: &str, request: &HttpRequest) -> HttpResponse {
    let mut state = lock(state);
    match (request.method.as_str(), request.path().as_slice()) {
        // Public endpoints: no API key needed.
        ("POST", ["licenses", "activate"]) => activate(&mut state, request),
        ("POST", ["licenses", "deactivate"]) => deactivate(&mut state, request),
        ("POST", ["licenses", "validate"]) => validate(&state, request),
        _ if !request.has_bearer(api_key) => error(401, "UNAUTHORIZED", "Invalid API key"),
        ("GET", ["entitlements", entitlement, "grants"]) => {
            let status = request.query("status");
            let customer = request.query("customer_id");
            let grants: Vec<&FakeGrant> = state
                .grants
                .iter()
                .filter(|g| g.entitlement_id == *entitlement)
                .filter(|g| status.is_none_or(|s| g.status.eq_ignore_ascii_case(s)))
                .filter(|g| customer.is_none_or(|c| g.customer_id == c))
                .collect();
            let items: Vec<Value> = page(&grants, request).map(|g| state.grant_json(g)).collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["subscriptions"]) => {
            let subs: Vec<&FakeSubscription> = state.subscriptions.iter().collect();
            let items: Vec<Value> = page(&subs, request).map(|s| s.json()).collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["license_key_instances"]) => {
            // `license_key_id` (OpenAPI 1.53.2) and `grant_id` (SDK Aug 2026) filters; none lists every instance.
            let key_filter = request.query("license_key_id");
            let grant_key = request.query("grant_id").map(|grant| {
                state
                    .grants
                    .iter()
                    .find(|g| g.id == grant)
                    .and_then(|g| g.license_key.clone())
            });
            let found: Vec<(&FakeLicenseKey, &String, &String)> = state
                .instances()
                .filter(|(key, _, _)| key_filter.is_none_or(|id| key.id == id))
                .filter(|(key, _, _)| {
                    grant_key
                        .as_ref()
                        .is_none_or(|value| value.as_deref() == Some(key.key.as_str()))
                })
                .collect();
            let refs: Vec<&(&FakeLicenseKey, &String, &String)> = found.iter().collect();
            let items: Vec<Value> = page(&refs, request)
                .map(|(key, id, name)| instance_json(key, id, name))
                .collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["license_key_instances", id]) => match state.instances().find(|(_, i, _)| i == id) {
            Some((key, id, name)) => HttpResponse::json(200, &instance_json(key, id, name)),
            None => error(404, "NOT_FOUND", "License key instance not found"),
        },
        ("PATCH", ["license_key_instances", id]) => {
            let body = request.json().unwrap_or(Value::Null);
            let Some(name) = body_str(&body, "name") else {
                return error(422, "INVALID_REQUEST_BODY", "name is required");
            };
            let found = state.keys.iter_mut().find_map(|key| {
                let key_ref = key.clone();
                key.instances.iter_mut().find(|(i, _)| i == id).map(|(i, old)| {
                    *old = name.clone();
                    instance_json(&key_ref, i, &name)
                })
            });
            match found {
                Some(json) => HttpResponse::json(200, &json),
                None => error(404, "NOT_FOUND", "License key instance not found"),
            }
        }
        _ => error(404, "NOT_FOUND", "Not found"),
    }
}

/// `page_number` (from 0) and `page_size` (default 10, max 100).
fn page<'a, T>(items: &'a [&'a T], request: &HttpRequest) -> impl Iterator<Item = &'a T> {
    let size = request
        .query("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let number = request
        .query("page_number")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    items.iter().skip(number.saturating_mul(size)).take(size).copied()
}

fn body_str(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn activate(state: &mut DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let (Some(key), Some(name)) = (body_str(&body, "license_key"), body_str(&body, "name")) else {
        return error(422, "INVALID_REQUEST_BODY", "license_key and name are required");
    };
    if state.refuse_activations_as_invalid {
        return error(
            422,
            "INVALID_REQUEST_BODY",
            "Your request body is invalid. Please check your request headers and object.",
        );
    }
    let instance_id = state.next_instance_id();
    let now = now_unix();
    let Some(license) = state.keys.iter_mut().find(|k| k.key == key) else {
        return error(404, "NOT_FOUND", "License key not found");
    };
    if !license.is_active(now) {
        return error(403, "INACTIVE_LICENSE_KEY", "License key is not active");
    }
    if license
        .activations_limit
        .is_some_and(|limit| license.instances.len() >= limit as usize)
    {
        return error(
            422,
            "LICENSE_KEY_LIMIT_REACHED",
            "License key activation limit reached",
        );
    }
    license.instances.push((instance_id.clone(), name.clone()));
    HttpResponse::json(
        201,
        &json!({
            "id": instance_id, "business_id": "bus_fake", "license_key_id": license.id, "name": name,
            "created_at": iso(now),
            "customer": {"customer_id": license.customer_id, "email": "customer@example.com", "name": "Fake Customer"},
            "product": {"product_id": license.product_id, "name": "Fake Product"},
        }),
    )
}

fn deactivate(state: &mut DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let (Some(key), Some(instance)) = (
        body_str(&body, "license_key"),
        body_str(&body, "license_key_instance_id"),
    ) else {
        return error(
            422,
            "INVALID_REQUEST_BODY",
            "license_key and license_key_instance_id are required",
        );
    };
    let Some(license) = state.keys.iter_mut().find(|k| k.key == key) else {
        return error(404, "NOT_FOUND", "License key not found");
    };
    let before = license.instances.len();
    license.instances.retain(|(id, _)| *id != instance);
    if license.instances.len() == before {
        return error(
            403,
            "LICENSE_KEY_NOT_FOUND",
            "License key instance not found or does not belong to this license key",
        );
    }
    HttpResponse::empty(200)
}

fn validate(state: &DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let Some(key) = body_str(&body, "license_key") else {
        return error(422, "INVALID_REQUEST_BODY", "license_key is required");
    };
    let instance = body_str(&body, "license_key_instance_id");
    let Some(license) = state.keys.iter().find(|k| k.key == key) else {
        if state.validate_unknown_as_404 {
            return error(404, "NOT_FOUND", "License key not found");
        }
        return HttpResponse::json(200, &json!({ "valid": false }));
    };
    let valid = license.is_active(now_unix())
        && instance.is_none_or(|i| license.instances.iter().any(|(id, _)| *id == i));
    HttpResponse::json(200, &json!({ "valid": valid }))
}
