//! A fake Dodo Payments: the public `/licenses/{activate,deactivate,validate}` endpoints with activation limits,
//! disabled/expired keys and unknown keys; authenticated grant and subscription listing; the license key instances
//! (`GET /license_key_instances`, `GET|PATCH /license_key_instances/{id}`); signed webhooks.

use serde_json::{Value, json};
use tollgate_testkit::{
    FakeBase, FakeHost, FakeProvider, SignedWebhook, WebhookBuilder, WebhookFormat, iso, next_id, now_unix,
};

mod records;
mod routes;

pub use records::{FakeGrant, FakeLicenseKey, FakeSubscription};
use routes::route;

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
    base: FakeBase<DodoState>,
}

impl FakeDodo {
    pub const API_KEY: &'static str = "dodo_fake_api_key_0001";
    /// `whsec_` + base64 of a 26-byte key.
    pub const WEBHOOK_SECRET: &'static str = "whsec_dG9sbGdhdGUtZmFrZS1kb2RvLXNlY3JldCE=";

    pub fn start() -> FakeDodo {
        FakeDodo::start_with(FakeDodo::API_KEY, FakeDodo::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeDodo {
        FakeDodo {
            base: FakeBase::start(api_key, webhook_secret, route),
        }
    }

    pub fn add_license_key(&self, key: FakeLicenseKey) {
        self.base.state().keys.push(key);
    }

    pub fn license_key(&self, key: &str) -> Option<FakeLicenseKey> {
        self.base.state().keys.iter().find(|k| k.key == key).cloned()
    }

    /// Changes a key in place (e.g. `status = "disabled"`). False if unknown.
    pub fn update_license_key(&self, key: &str, change: impl FnOnce(&mut FakeLicenseKey)) -> bool {
        let mut state = self.base.state();
        state.keys.iter_mut().find(|k| k.key == key).map(change).is_some()
    }

    /// Activate an instance as a customer would without Tollgate (the public endpoint called by another client).
    /// Returns its `lki_...` id; `None` for an unknown key.
    pub fn add_instance(&self, key: &str, name: &str) -> Option<String> {
        let mut state = self.base.state();
        let id = state.next_instance_id();
        let license = state.keys.iter_mut().find(|k| k.key == key)?;
        license.instances.push((id.clone(), name.to_owned()));
        Some(id)
    }

    /// Remove an instance as the vendor's Dodo dashboard does, without Tollgate. False if unknown.
    pub fn remove_instance(&self, instance_id: &str) -> bool {
        let mut state = self.base.state();
        state.keys.iter_mut().any(|key| {
            let before = key.instances.len();
            key.instances.retain(|(id, _)| id != instance_id);
            key.instances.len() != before
        })
    }

    /// Rename an instance as `PATCH /license_key_instances/{id}` does. False if unknown.
    pub fn rename_instance(&self, instance_id: &str, name: &str) -> bool {
        let mut state = self.base.state();
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
        let mut state = self.base.state();
        let before = state.keys.len();
        state.keys.retain(|k| k.key != key);
        state.keys.len() != before
    }

    /// Answer `POST /licenses/validate` for an unknown key with 404 `NOT_FOUND` instead of `{"valid": false}`.
    pub fn validate_unknown_as_404(&self, on: bool) {
        self.base.state().validate_unknown_as_404 = on;
    }

    /// Refuse activations with 422 `INVALID_REQUEST_BODY`.
    pub fn refuse_activations_as_invalid(&self, on: bool) {
        self.base.state().refuse_activations_as_invalid = on;
    }

    pub fn add_grant(&self, grant: FakeGrant) {
        self.base.state().grants.push(grant);
    }

    pub fn grant(&self, id: &str) -> Option<FakeGrant> {
        self.base.state().grants.iter().find(|g| g.id == id).cloned()
    }

    pub fn update_grant(&self, id: &str, change: impl FnOnce(&mut FakeGrant)) -> bool {
        let mut state = self.base.state();
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
        self.base.state().subscriptions.push(subscription);
    }

    pub fn subscription(&self, id: &str) -> Option<FakeSubscription> {
        self.base
            .state()
            .subscriptions
            .iter()
            .find(|s| s.subscription_id == id)
            .cloned()
    }

    /// Changes a subscription in place without a webhook. False if unknown.
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut FakeSubscription)) -> bool {
        let mut state = self.base.state();
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
        WebhookBuilder::json(WebhookFormat::Dodo, self.base.host().webhook_secret(), &body)
            .timestamp(now)
            .sign()
    }

    /// An `entitlement_grant.*` delivery with the grant's state now (Dodo sends the latest state).
    pub fn grant_webhook(&self, grant_id: &str, event_type: &str) -> Option<SignedWebhook> {
        let data = {
            let state = self.base.state();
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
    fn host(&self) -> &FakeHost {
        self.base.host()
    }
}
