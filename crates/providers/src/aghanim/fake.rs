//! A fake Aghanim (cargo feature `fake`): the S2S `GET /s2s/v1/players/{player_id}/subscriptions` (paged with
//! `limit`, default 10, and `offset`; filtered by `effective`), and signed webhooks: `subscription.*`,
//! `item.add`/`item.remove`, and any other envelope (`player.verify`, sandbox events, a reused `idempotency_key`)
//! through [`AghanimEvent`].
//!
//! It follows Aghanim's docs, never this crate's own code: it serves on the testkit's fake-server machinery and
//! signs with the testkit's builder (over `tollgate-verify`'s signing functions), and shares nothing with the
//! adapter's parser, client or signer.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use tollgate_testkit::{
    FakeBase, FakeHost, FakeProvider, HttpRequest, HttpResponse, SignedWebhook, WebhookBuilder,
    WebhookFormat, lock, next_id, now_unix,
};

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

    /// The `SubscriptionRead` JSON of the S2S API (OpenAPI 2026.07.14: `sku, id, name, order_id, status, created_at,
    /// updated_at?, effective_until?, metadata?, plan{key, name, offer?}`; no nested items).
    pub fn json(&self) -> Value {
        json!({
            "id": self.id, "sku": self.sku, "name": self.sku, "order_id": format!("ord_{}", self.id),
            "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at,
            "effective_until": self.effective_until,
            "plan": {"key": self.plan_key, "name": self.plan_key, "offer": null}, "metadata": {},
        })
    }

    /// The `event_data` of a `subscription.*` webhook: the subscription with its plan's nested items (the layout
    /// is undocumented; the item shape is the one of the order examples).
    pub fn webhook_data(&self) -> Value {
        let mut data = self.json();
        let nested: Vec<Value> = self
            .nested_item_skus
            .iter()
            .map(|sku| item_json(sku, 1))
            .collect();
        if let Some(map) = data.as_object_mut() {
            map.insert("nested_items".to_owned(), Value::Array(nested));
        }
        data
    }

    /// Whether its benefits are accessible at `now` (the S2S `effective` filter).
    pub fn is_effective(&self, now: i64) -> bool {
        self.effective_until.is_some_and(|until| until > now)
    }
}

/// An item as Aghanim's order and item webhooks write it (docs `webhooks/order-created` example).
fn item_json(sku: &str, quantity: i64) -> Value {
    json!({
        "id": format!("itm_{sku}"), "name": sku, "description": format!("{sku} (fake)"), "sku": sku,
        "quantity": quantity, "price": 999, "price_decimal": 9.99, "currency": "USD", "type": "item",
        "nested_items": null,
    })
}

/// One webhook envelope (docs `webhooks/overview`): `event_type, event_data, event_time, event_id, idempotency_key,
/// sandbox, trigger, request_id, transaction_id, context, game_id`. Built with fresh ids and the time now; sign it
/// with [`FakeAghanim::sign`].
#[derive(Debug, Clone, PartialEq)]
pub struct AghanimEvent {
    pub event_type: String,
    pub event_data: Value,
    /// Unix seconds; also the signature timestamp, as in Aghanim's examples.
    pub event_time: i64,
    pub event_id: String,
    /// "Can be null depending on event type".
    pub idempotency_key: Option<String>,
    pub sandbox: bool,
}

impl AghanimEvent {
    pub fn new(event_type: impl Into<String>, event_data: Value) -> Self {
        AghanimEvent {
            event_type: event_type.into(),
            event_data,
            event_time: now_unix(),
            event_id: next_id("whevt"),
            idempotency_key: Some(next_id("idmpt")),
            sandbox: false,
        }
    }

    /// The same envelope with this `idempotency_key` (`None`: null).
    pub fn idempotency_key(mut self, key: Option<&str>) -> Self {
        self.idempotency_key = key.map(str::to_owned);
        self
    }

    /// The same envelope sent from the sandbox game environment.
    pub fn sandbox(mut self, sandbox: bool) -> Self {
        self.sandbox = sandbox;
        self
    }

    pub fn event_time(mut self, event_time: i64) -> Self {
        self.event_time = event_time;
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({
            "event_type": self.event_type, "event_data": self.event_data, "event_time": self.event_time,
            "event_id": self.event_id, "idempotency_key": self.idempotency_key, "request_id": null,
            "sandbox": self.sandbox, "trigger": null, "transaction_id": next_id("whtx"), "context": null,
            "game_id": "gm_fake",
        })
    }

    /// `item.add` or `item.remove` for `player_id` (docs `webhooks/item-add`, `webhooks/item-remove`):
    /// `{player_id, items: [Item], reason}`. Each item is `(sku, quantity)`.
    pub fn items(event_type: &str, player_id: &str, items: &[(&str, i64)], reason: &str) -> Self {
        let items: Vec<Value> = items
            .iter()
            .map(|(sku, quantity)| item_json(sku, *quantity))
            .collect();
        AghanimEvent::new(
            event_type,
            json!({"player_id": player_id, "items": items, "reason": reason}),
        )
    }

    /// `player.verify` (docs `webhooks/verify-player`): `{player_id}`, with a null `idempotency_key` as in the docs'
    /// example.
    pub fn player_verify(player_id: &str) -> Self {
        AghanimEvent::new("player.verify", json!({"player_id": player_id})).idempotency_key(None)
    }
}

/// The fake Aghanim server.
#[derive(Debug)]
pub struct FakeAghanim {
    base: FakeBase<BTreeMap<String, Vec<FakeAghanimSubscription>>>,
}

impl FakeAghanim {
    pub const API_KEY: &'static str = "aghanim_fake_s2s_key_0001";
    pub const WEBHOOK_SECRET: &'static str = "aghanim_fake_webhook_secret_0001";
    /// How Aghanim signs (docs `webhooks/overview`): a hex HMAC-SHA256 over `<timestamp>.<body>` in
    /// `X-Aghanim-Signature`, the timestamp in `X-Aghanim-Signature-Timestamp`.
    pub const WEBHOOK_FORMAT: WebhookFormat = WebhookFormat::HexHmac {
        signature: "X-Aghanim-Signature",
        timestamp: "X-Aghanim-Signature-Timestamp",
    };

    pub fn start() -> FakeAghanim {
        FakeAghanim::start_with(FakeAghanim::API_KEY, FakeAghanim::WEBHOOK_SECRET)
    }

    pub fn start_with(api_key: &str, webhook_secret: &str) -> FakeAghanim {
        FakeAghanim {
            base: FakeBase::start(api_key, webhook_secret, route),
        }
    }

    pub fn add_subscription(&self, player_id: &str, subscription: FakeAghanimSubscription) {
        self.base
            .state()
            .entry(player_id.to_owned())
            .or_default()
            .push(subscription);
    }

    pub fn subscription(&self, player_id: &str, id: &str) -> Option<FakeAghanimSubscription> {
        self.base
            .state()
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
        let mut players = self.base.state();
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

    /// A `subscription.*` envelope (flat `event_data` plus `player_id`) with the state now.
    pub fn subscription_event(&self, player_id: &str, id: &str, event_type: &str) -> Option<AghanimEvent> {
        let mut data = self.subscription(player_id, id)?.webhook_data();
        if let Some(map) = data.as_object_mut() {
            map.insert("player_id".to_owned(), json!(player_id));
        }
        Some(AghanimEvent::new(event_type, data))
    }

    /// A `subscription.*` delivery with the state now, signed.
    pub fn subscription_webhook(&self, player_id: &str, id: &str, event_type: &str) -> Option<SignedWebhook> {
        Some(self.sign(&self.subscription_event(player_id, id, event_type)?))
    }

    /// Sign an envelope as Aghanim does: `X-Aghanim-Signature` over `<event_time>.<body>`.
    pub fn sign(&self, event: &AghanimEvent) -> SignedWebhook {
        WebhookBuilder::json(
            FakeAghanim::WEBHOOK_FORMAT,
            self.base.host().webhook_secret(),
            &event.body(),
        )
        .timestamp(event.event_time)
        .sign()
    }
}

impl FakeProvider for FakeAghanim {
    fn host(&self) -> &FakeHost {
        self.base.host()
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
            let (limit, offset, effective) = match paging(request) {
                Ok(paging) => paging,
                Err(response) => return response,
            };
            let now = now_unix();
            let players = lock(players);
            let subs: Vec<Value> = players
                .get(*player)
                .into_iter()
                .flatten()
                .filter(|sub| effective.is_none_or(|wanted| sub.is_effective(now) == wanted))
                .skip(offset)
                .take(limit)
                .map(FakeAghanimSubscription::json)
                .collect();
            HttpResponse::json(200, &Value::Array(subs))
        }
        _ => HttpResponse::json(404, &json!({"detail": "Not Found"})),
    }
}

/// `limit` (default 10), `offset` (default 0) and `effective` (absent: all), or the 422 FastAPI validation error the
/// OpenAPI documents (`{"detail": [{"loc", "msg", "type"}]}`).
fn paging(request: &HttpRequest) -> Result<(usize, usize, Option<bool>), HttpResponse> {
    let invalid = |name: &str, msg: &str, kind: &str| {
        HttpResponse::json(
            422,
            &json!({"detail": [{"loc": ["query", name], "msg": msg, "type": kind}]}),
        )
    };
    let number = |name: &str, default: usize| match request.query(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| invalid(name, "value is not a valid integer", "type_error.integer")),
    };
    let limit = number("limit", 10)?;
    let offset = number("offset", 0)?;
    let effective = match request.query("effective") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(invalid(
                "effective",
                "value could not be parsed to a boolean",
                "type_error.bool",
            ));
        }
    };
    Ok((limit, offset, effective))
}
