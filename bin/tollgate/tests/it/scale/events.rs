//! Distinct provider events for the scale tests, and the states a sorted single delivery of them gives.
//!
//! Each entitlement gets five events at five distinct provider times (activation, renewal, two updates or
//! cancellation changes, end), in an order of times that varies with the entitlement (a permutation picked by its
//! number), so the final states differ: some end revoked, some active with a scheduled cancellation, and so on.
//! Bodies are shaped like `shared/fixtures/` (Whop v1 envelope, Dodo subscription, Aghanim subscription), with ids
//! unique to the run, and are signed at send time with the testkit fakes' secrets.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeZone as _, Utc};
use serde_json::{Value, json};
use tollgate_policy::{EntitlementState, Provider, ProviderEvent};
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::whop::fake::FakeWhop;
use tollgate_providers::{DeliveryMeta, Outcome, parse_webhook};
use tollgate_testkit::{SignedWebhook, WebhookBuilder, WebhookFormat};

/// Events per entitlement.
pub const EVENTS_PER_ENTITLEMENT: usize = 5;

/// One distinct delivery: the same id and body every time it is (re)sent.
#[derive(Debug, Clone)]
pub struct Event {
    pub provider: Provider,
    /// The `webhook-id` (Whop, Dodo) or Aghanim's `{event_type}:{idempotency_key}`: the inbox dedupe key.
    pub dedupe_key: String,
    pub body: Vec<u8>,
    /// The normalized event the body parses to.
    pub parsed: ProviderEvent,
}

impl Event {
    pub fn path(&self) -> &'static str {
        match self.provider {
            Provider::Whop => "/api/webhooks/whop",
            Provider::Dodo => "/api/webhooks/dodo",
            Provider::Aghanim => "/api/webhooks/aghanim",
            other => unreachable!("no scale events for {other}"),
        }
    }

    /// Signed now, as the provider signs each (re)delivery.
    pub fn signed(&self) -> SignedWebhook {
        let (format, secret) = match self.provider {
            Provider::Whop => (WebhookFormat::WhopCurrent, FakeWhop::WEBHOOK_SECRET),
            Provider::Dodo => (WebhookFormat::Dodo, FakeDodo::WEBHOOK_SECRET),
            Provider::Aghanim => (FakeAghanim::WEBHOOK_FORMAT, FakeAghanim::WEBHOOK_SECRET),
            other => unreachable!("no scale events for {other}"),
        };
        WebhookBuilder::new(format, secret, self.body.clone())
            .id(self.dedupe_key.clone())
            .sign()
    }

    /// `(provider, external id)`: which entitlement it is about.
    pub fn entitlement(&self) -> (Provider, String) {
        (self.provider, self.parsed.external_id.clone())
    }
}

/// The distinct events of one run.
#[derive(Debug, Clone)]
pub struct EventSet {
    pub events: Vec<Event>,
}

impl EventSet {
    /// `entitlements` entitlements spread over the three providers in turn, five events each. `run` makes the
    /// ids unique (several sets can share one database).
    pub fn generate(entitlements: u32, run: &str) -> EventSet {
        let base = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap().timestamp();
        let mut events = Vec::with_capacity(entitlements as usize * EVENTS_PER_ENTITLEMENT);
        for n in 0..entitlements {
            let provider = [Provider::Whop, Provider::Dodo, Provider::Aghanim][(n % 3) as usize];
            let start = base + i64::from(n) * 3_600;
            let order = permutation(n);
            for (step, slot) in order.iter().enumerate() {
                let at = start + i64::from(*slot) * 60;
                let (dedupe_key, body) = match provider {
                    Provider::Whop => whop(run, n, step, at, start),
                    Provider::Dodo => dodo(run, n, step, at, start),
                    Provider::Aghanim => aghanim(run, n, step, at, start),
                    other => unreachable!("no scale events for {other}"),
                };
                let body = body.to_string().into_bytes();
                let parsed = parse(provider, &dedupe_key, &body);
                events.push(Event {
                    provider,
                    dedupe_key,
                    body,
                    parsed,
                });
            }
        }
        EventSet { events }
    }

    /// The state of every entitlement after a single delivery of every event in provider-time order.
    pub fn expected_states(&self) -> BTreeMap<(Provider, String), EntitlementState> {
        let mut by_entitlement: BTreeMap<(Provider, String), Vec<&ProviderEvent>> = BTreeMap::new();
        for event in &self.events {
            by_entitlement
                .entry(event.entitlement())
                .or_default()
                .push(&event.parsed);
        }
        by_entitlement
            .into_iter()
            .map(|((provider, id), mut events)| {
                events.sort_by_key(|e| e.occurred_at);
                let state = events
                    .iter()
                    .fold(EntitlementState::new(provider, id.clone()), |state, event| {
                        tollgate_policy::apply(&state, event)
                    });
                ((provider, id), state)
            })
            .collect()
    }
}

/// The `n`-th of the 120 orders of five slots (Lehmer code of `n % 120`).
fn permutation(n: u32) -> [u32; 5] {
    let mut pool: Vec<u32> = (0..5).collect();
    let mut code = n % 120;
    let mut out = [0; 5];
    for (i, slot) in out.iter_mut().enumerate() {
        let radix = (1..=(4 - i as u32)).product::<u32>();
        let pick = (code / radix) as usize;
        code %= radix;
        *slot = pool.remove(pick);
    }
    out
}

fn parse(provider: Provider, dedupe_key: &str, body: &[u8]) -> ProviderEvent {
    let meta = match provider {
        Provider::Aghanim => DeliveryMeta::timestamp_only(None),
        _ => DeliveryMeta::standard(dedupe_key, None),
    };
    let parsed = parse_webhook(provider, &meta, body)
        .unwrap_or_else(|e| panic!("generated {provider} event does not parse: {e}"));
    assert_eq!(parsed.dedupe_key, dedupe_key, "dedupe key of a generated event");
    match parsed.outcome {
        Outcome::Apply(change) => change.event,
        other => panic!("generated {provider} event is not acted on: {other:?}"),
    }
}

fn iso(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whop v1 `membership.*`: activated, renewed (activated again with a later period), cancellation scheduled,
/// withdrawn, deactivated.
fn whop(run: &str, n: u32, step: usize, at: i64, start: i64) -> (String, Value) {
    let id = format!("msg_{run}_w{n}_{step}");
    let membership = format!("mem_{run}_w{n}");
    let (event_type, status, cancel, period_end) = match step {
        0 => ("membership.activated", "active", false, start + 30 * 86_400),
        1 => ("membership.activated", "active", false, start + 60 * 86_400),
        2 => (
            "membership.cancel_at_period_end_changed",
            "canceling",
            true,
            start + 60 * 86_400,
        ),
        3 => (
            "membership.cancel_at_period_end_changed",
            "active",
            false,
            start + 60 * 86_400,
        ),
        _ => ("membership.deactivated", "canceled", false, start + 60 * 86_400),
    };
    let body = json!({
        "id": id,
        "api_version": "v1",
        "timestamp": iso(at),
        "type": event_type,
        "data": {
            "id": membership,
            "status": status,
            "cancel_at_period_end": cancel,
            "cancellation_reason": if step == 4 { json!("customer_request") } else { Value::Null },
            "created_at": iso(start - 86_400),
            "updated_at": iso(at),
            "license_key": format!("SCALE-{run}-W{n:06}").to_ascii_uppercase(),
            "member": { "id": format!("mber_{run}_{n}") },
            "metadata": {},
            "plan": { "id": "plan_Mth9kQ2" },
            "product": { "id": "prod_Desk42xY", "title": "Deskpad Pro" },
            "renewal_period_start": iso(start - 86_400),
            "renewal_period_end": iso(period_end),
            "user": { "id": format!("user_{run}_{n}"), "username": "scale" },
            "company": { "id": "biz_Qw3Er4Ty5" }
        }
    });
    (id, body)
}

/// Dodo `subscription.*`: active, renewed, plan changed, on hold, cancelled.
fn dodo(run: &str, n: u32, step: usize, at: i64, start: i64) -> (String, Value) {
    let id = format!("msg_{run}_d{n}_{step}");
    let (event_type, status, next_billing, product) = match step {
        0 => (
            "subscription.active",
            "active",
            start + 30 * 86_400,
            "pdt_Basic01",
        ),
        1 => (
            "subscription.renewed",
            "active",
            start + 60 * 86_400,
            "pdt_Basic01",
        ),
        2 => (
            "subscription.plan_changed",
            "active",
            start + 60 * 86_400,
            "pdt_Pro02",
        ),
        3 => (
            "subscription.on_hold",
            "on_hold",
            start + 60 * 86_400,
            "pdt_Pro02",
        ),
        _ => (
            "subscription.cancelled",
            "cancelled",
            start + 60 * 86_400,
            "pdt_Pro02",
        ),
    };
    let body = json!({
        "business_id": "bus_P4nX0qR2",
        "type": event_type,
        "timestamp": iso(at),
        "data": {
            "subscription_id": format!("sub_{run}_d{n}"),
            "status": status,
            "product_id": product,
            "customer": { "customer_id": format!("cus_{run}_{n}"), "email": "scale@example.com" },
            "next_billing_date": iso(next_billing),
            "cancel_at_next_billing_date": false,
            "created_at": iso(start - 86_400),
            "payload_type": "Subscription"
        }
    });
    (id, body)
}

/// Aghanim `subscription.*`: activated, renewed, updated twice (status changes), deactivated.
fn aghanim(run: &str, n: u32, step: usize, at: i64, start: i64) -> (String, Value) {
    let unique = format!("{run}_a{n}_{step}");
    let (event_type, status, until) = match step {
        0 => ("subscription.activated", "active", start + 30 * 86_400),
        1 => ("subscription.renewed", "active", start + 60 * 86_400),
        2 => ("subscription.updated", "past_due", start + 60 * 86_400),
        3 => ("subscription.updated", "active", start + 60 * 86_400),
        _ => ("subscription.deactivated", "expired", at),
    };
    let body = json!({
        "event_type": event_type,
        "event_data": {
            "id": format!("sub_{run}_a{n}"),
            "sku": "battle_pass",
            "nested_items": [{ "id": "itm_1", "sku": "exclusive_skin_001", "quantity": 1, "type": "item" }],
            "player_id": format!("P{run}-{n}"),
            "status": status,
            "effective_until": until,
            "created_at": start - 86_400,
            "updated_at": at
        },
        "event_time": at,
        "event_id": format!("whevt_{unique}"),
        "idempotency_key": format!("idmpt_{unique}"),
        "game_id": "gm_exTAyxPsVwh"
    });
    (format!("{event_type}:idmpt_{unique}"), body)
}

#[test]
fn the_orders_are_permutations_and_the_final_states_differ() {
    let mut seen = std::collections::HashSet::new();
    for n in 0..120 {
        let p = permutation(n);
        let mut sorted = p;
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert!(seen.insert(p));
    }
    let set = EventSet::generate(60, "t");
    let states = set.expected_states();
    assert_eq!(states.len(), 60);
    let lifecycles: std::collections::HashSet<_> = states.values().map(|s| s.lifecycle).collect();
    assert!(lifecycles.len() >= 2, "{lifecycles:?}");
}
