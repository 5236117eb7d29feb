//! A fake Aghanim: the S2S `GET /s2s/v1/players/{player_id}/subscriptions` and signed `subscription.*`
//! webhooks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::FakeProvider;
use crate::server::{FakeServer, HttpRequest, HttpResponse, lock};
use crate::signing::{SignedWebhook, WebhookBuilder, WebhookFormat, next_id, now_unix};

/// A player's subscription. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAghanimSubscription {
    pub id: String,
    pub sku: String,
    /// `trial`, `active`, `canceled`, `expired`, ...
    pub status: String,
    pub effective_until: Option<i64>,
    pub plan_key: String,
    /// SKUs of the plan's nested items (the entitlement's features).
    pub nested_item_skus: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FakeAghanimSubscription {
    /// An `active` subscription effective for 30 days.
    pub fn active(id: impl Into<String>, sku: impl Into<String>) -> Self {
        let now = now_unix();
        FakeAghanimSubscription {
            id: id.into(),
            sku: sku.into(),
            status: "active".to_owned(),
            effective_until: Some(now + 30 * 86_400),
            plan_key: "plan_fake_monthly".to_owned(),
            nested_item_skus: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The `SubscriptionRead` JSON.
    pub fn json(&self) -> Value {
        let nested: Vec<Value> = self
            .nested_item_skus
            .iter()
            .map(|sku| json!({"id": format!("itm_{sku}"), "name": sku, "sku": sku, "quantity": 1, "type": "item"}))
            .collect();
        json!({
            "id": self.id, "sku": self.sku, "name": self.sku, "order_id": format!("ord_{}", self.id),
            "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at,
            "effective_until": self.effective_until, "nested_items": nested,
            "plan": {"key": self.plan_key, "name": self.plan_key, "offer": null}, "metadata": {},
        })
    }
}

/// The fake Aghanim server.
#[derive(Debug)]
pub struct FakeAghanim {
    server: FakeServer,
    players: Arc<Mutex<BTreeMap<String, Vec<FakeAghanimSubscription>>>>,
    api_key: String,
    webhook_secret: String,
}

impl FakeAghanim {
    pub const API_KEY: &'static str = "aghanim_fake_s2s_key_0001";
    pub const WEBHOOK_SECRET: &'static str = "aghanim_fake_webhook_secret_0001";

    pub fn start() -> FakeAghanim {
        FakeAghanim::start_with(FakeAghanim::API_KEY, FakeAghanim::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeAghanim {
        let players = Arc::new(Mutex::new(BTreeMap::new()));
        let handler_players = Arc::clone(&players);
        let key = api_key.to_owned();
        let server = FakeServer::start(Arc::new(move |request| route(&handler_players, &key, request)));
        FakeAghanim {
            server,
            players,
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

    pub fn add_subscription(&self, player_id: &str, subscription: FakeAghanimSubscription) {
        lock(&self.players)
            .entry(player_id.to_owned())
            .or_default()
            .push(subscription);
    }

    pub fn subscription(&self, player_id: &str, id: &str) -> Option<FakeAghanimSubscription> {
        lock(&self.players)
            .get(player_id)?
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    /// Changes a subscription in place without a webhook and bumps `updated_at`. False if unknown.
    pub fn update_subscription(
        &self,
        player_id: &str,
        id: &str,
        change: impl FnOnce(&mut FakeAghanimSubscription),
    ) -> bool {
        let mut players = lock(&self.players);
        let found = players
            .get_mut(player_id)
            .and_then(|subs| subs.iter_mut().find(|s| s.id == id));
        match found {
            Some(subscription) => {
                change(subscription);
                subscription.updated_at = now_unix().max(subscription.updated_at);
                true
            }
            None => false,
        }
    }

    /// A `subscription.*` delivery (flat `event_data` plus `player_id`) with the state now.
    pub fn subscription_webhook(&self, player_id: &str, id: &str, event_type: &str) -> Option<SignedWebhook> {
        let mut data = self.subscription(player_id, id)?.json();
        if let Some(map) = data.as_object_mut() {
            map.insert("player_id".to_owned(), json!(player_id));
        }
        let now = now_unix();
        let event_id = next_id("whevt");
        let body = json!({
            "event_type": event_type, "event_data": data, "event_time": now, "event_id": event_id,
            "idempotency_key": next_id("idmpt"), "request_id": null, "sandbox": false, "trigger": event_type,
            "transaction_id": next_id("whtx"), "context": null, "game_id": "gm_fake",
        });
        Some(
            WebhookBuilder::json(WebhookFormat::Aghanim, &self.webhook_secret, &body)
                .timestamp(now)
                .sign(),
        )
    }
}

impl FakeProvider for FakeAghanim {
    fn server(&self) -> &FakeServer {
        &self.server
    }
}

fn route(
    players: &Mutex<BTreeMap<String, Vec<FakeAghanimSubscription>>>,
    api_key: &str,
    request: &HttpRequest,
) -> HttpResponse {
    if !request.has_bearer(api_key) {
        return HttpResponse::json(401, &json!({"detail": "Invalid API key"}));
    }
    match (request.method.as_str(), request.path().as_slice()) {
        ("GET", ["s2s", "v1", "players", player, "subscriptions"]) => {
            let players = lock(players);
            let subs: Vec<Value> = players
                .get(*player)
                .map(|subs| subs.iter().map(FakeAghanimSubscription::json).collect())
                .unwrap_or_default();
            HttpResponse::json(200, &Value::Array(subs))
        }
        _ => HttpResponse::json(404, &json!({"detail": "Not Found"})),
    }
}
