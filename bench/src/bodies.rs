//! Realistic webhook bodies, shaped like `shared/fixtures/` (Whop v1 envelope, Dodo entitlement grant, Aghanim
//! subscription), with ids unique to one run, and their signature headers (signed with `tollgate-verify`). The
//! bodies themselves are each provider's `sample` in `tollgate-providers`, shared with `tollgate simulate`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::aghanim::sample::AghanimSubscription;
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::dodo::sample::DodoGrant;
use tollgate_providers::whop::fake::FakeWhop;
use tollgate_providers::whop::sample::WhopMembership;
use tollgate_verify::{sign_hex_hmac, sign_standard_webhooks, sign_whop};

use crate::plan::{EventRef, Provider};

/// The webhook secrets the bench signs with (and configures a spawned server with): the testkit fakes' own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub whop: String,
    pub dodo: String,
    pub aghanim: String,
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets {
            whop: FakeWhop::WEBHOOK_SECRET.to_owned(),
            dodo: FakeDodo::WEBHOOK_SECRET.to_owned(),
            aghanim: FakeAghanim::WEBHOOK_SECRET.to_owned(),
        }
    }
}

/// A distinct event ready to sign: the dedupe id (`webhook-id`, or Aghanim's `idempotency_key`) and the exact
/// body. This is also the line format of `--unacked-out` / `--redeliver` files (JSON lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    pub provider: Provider,
    pub webhook_id: String,
    pub body: String,
}

/// What makes one run's ids unique: a nonce, and the provider time of each entitlement's first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIds {
    pub nonce: String,
    pub base_unix: i64,
}

impl RunIds {
    pub fn new(base_unix: i64, seed: u64) -> RunIds {
        RunIds {
            nonce: format!("{:x}{:x}", base_unix, seed & 0xffff),
            base_unix,
        }
    }

    /// The Whop license key the ingest plan gives entitlement `entitlement`.
    pub fn whop_key(&self, entitlement: u32) -> String {
        format!("TGB-{}-W{entitlement:07}", self.nonce.to_ascii_uppercase())
    }

    /// The Whop membership id of entitlement `entitlement`.
    pub fn whop_membership(&self, entitlement: u32) -> String {
        format!("mem_{}w{entitlement}", self.nonce)
    }
}

fn time(unix: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_default()
}

/// The body of one plan event. The later change of an entitlement carries a later provider time.
pub fn event_body(event: &EventRef, ids: &RunIds) -> EventBody {
    let at = ids.base_unix + i64::from(event.seq) * 60;
    let n = event.entitlement;
    let nonce = &ids.nonce;
    match event.provider {
        Provider::Whop => {
            let webhook_id = format!("msg_{nonce}w{n}s{}", event.seq);
            let (event_type, status) = if event.seq == 0 {
                ("membership.activated", "active")
            } else {
                ("membership.cancel_at_period_end_changed", "canceling")
            };
            let body = whop_membership_event(
                &webhook_id,
                event_type,
                status,
                &ids.whop_membership(n),
                &ids.whop_key(n),
                ids.base_unix,
                at,
            );
            EventBody {
                provider: Provider::Whop,
                webhook_id,
                body: body.to_string(),
            }
        }
        Provider::Dodo => {
            let webhook_id = format!("msg_{nonce}d{n}s{}", event.seq);
            EventBody {
                provider: Provider::Dodo,
                body: dodo_grant_event(ids, n, event.seq == 1, at).to_string(),
                webhook_id,
            }
        }
        Provider::Aghanim => {
            let unique = format!("{nonce}a{n}s{}", event.seq);
            EventBody {
                provider: Provider::Aghanim,
                body: aghanim_subscription_event(ids, n, event.seq == 1, at, &unique).to_string(),
                webhook_id: format!("idmpt_{unique}"),
            }
        }
    }
}

/// A Whop v1 `membership.*` delivery (Standard Webhooks envelope), as in `fixtures/whop/membership.activated.json`.
pub fn whop_membership_event(
    webhook_id: &str,
    event_type: &str,
    status: &str,
    membership_id: &str,
    license_key: &str,
    created: i64,
    at: i64,
) -> Value {
    WhopMembership {
        webhook_id,
        event_type,
        membership_id,
        user_id: &format!("user_{membership_id}"),
        member_id: &format!("mber_{membership_id}"),
        license_key,
        status,
        cancel_at_period_end: status == "canceling",
        canceled_at: None,
        cancellation_reason: None,
        start: time(created - 86_400),
        period_end: time(created + 30 * 86_400),
        at: time(at),
    }
    .body()
}

/// A Dodo `entitlement_grant.delivered` / `.revoked` delivery, as in `fixtures/dodo/`.
fn dodo_grant_event(ids: &RunIds, n: u32, revoked: bool, at: i64) -> Value {
    let nonce = &ids.nonce;
    let key_tail = u64::from(n) + (ids.base_unix as u64 & 0xffff_ffff) * 10_000_000;
    DodoGrant {
        grant_id: &format!("entg_{nonce}d{n}"),
        customer_id: &format!("cus_{nonce}d{n}"),
        subscription_id: &format!("sub_{nonce}d{n}"),
        license_key: &format!("2b1f8e2d-c41e-4e8f-b2d3-{key_tail:012x}"),
        revoked,
        created: time(ids.base_unix - 86_400),
        at: time(at),
    }
    .body()
}

/// An Aghanim `subscription.activated` / `.deactivated` delivery, as in `fixtures/aghanim/`.
fn aghanim_subscription_event(ids: &RunIds, n: u32, ended: bool, at: i64, unique: &str) -> Value {
    let nonce = &ids.nonce;
    AghanimSubscription {
        subscription_id: &format!("sub_{nonce}a{n}"),
        order_id: &format!("ord_{nonce}a{n}"),
        user_id: &format!("usr_{nonce}a{n}"),
        player_id: &format!("P{nonce}-{n}"),
        ended,
        unique,
        created: time(ids.base_unix - 86_400),
        at: time(at),
    }
    .body()
}

/// The signature headers of `event` signed at `now` (a retry is signed anew with the same id, like a provider's).
pub fn signed_headers(event: &EventBody, secrets: &Secrets, now: i64) -> Vec<(&'static str, String)> {
    let body = event.body.as_bytes();
    match event.provider {
        Provider::Whop => vec![
            ("webhook-id", event.webhook_id.clone()),
            ("webhook-timestamp", now.to_string()),
            (
                "webhook-signature",
                sign_whop(&secrets.whop, &event.webhook_id, now, body),
            ),
        ],
        Provider::Dodo => {
            // A malformed Dodo secret only comes from the command line; the server then answers 401, which the
            // report shows.
            let signature = sign_standard_webhooks(&secrets.dodo, &event.webhook_id, now, body)
                .unwrap_or_else(|_| "v1,invalid-secret".to_owned());
            vec![
                ("webhook-id", event.webhook_id.clone()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", signature),
            ]
        }
        Provider::Aghanim => vec![
            ("x-aghanim-signature", sign_hex_hmac(&secrets.aghanim, now, body)),
            ("x-aghanim-signature-timestamp", now.to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tollgate_providers::{DeliveryMeta, Outcome, parse_webhook};
    use tollgate_verify::{
        HexHmacHeaders, HexHmacVerifier, StandardWebhooksVerifier, Tolerance, WhopVerifier,
    };

    use super::*;
    use crate::plan::{Plan, PlanConfig};

    fn policy_provider(provider: Provider) -> tollgate_policy::Provider {
        match provider {
            Provider::Whop => tollgate_policy::Provider::Whop,
            Provider::Dodo => tollgate_policy::Provider::Dodo,
            Provider::Aghanim => tollgate_policy::Provider::Aghanim,
        }
    }

    #[test]
    fn every_plan_event_parses_as_a_change_with_its_own_dedupe_key() {
        let ids = RunIds::new(1_790_000_000, 9);
        let plan = Plan::generate(&PlanConfig {
            events_per_provider: 6,
            duplicate_rate: 0.0,
            out_of_order_rate: 0.0,
            seed: 9,
        });
        let mut keys = HashSet::new();
        for event in &plan.events {
            let built = event_body(event, &ids);
            let meta = DeliveryMeta::from_verified(
                (event.provider != Provider::Aghanim).then_some(built.webhook_id.as_str()),
                ids.base_unix,
            );
            let parsed = parse_webhook(policy_provider(event.provider), &meta, built.body.as_bytes())
                .unwrap_or_else(|e| panic!("{event:?}: {e}"));
            assert!(
                matches!(parsed.outcome, Outcome::Apply(_)),
                "{event:?}: {:?}",
                parsed.outcome
            );
            assert!(
                keys.insert(parsed.dedupe_key.clone()),
                "dedupe key reused: {}",
                parsed.dedupe_key
            );
            if event.provider == Provider::Whop {
                let change = parsed.outcome.change().unwrap();
                assert_eq!(
                    change.license_key.as_ref().map(|k| k.expose().to_owned()),
                    Some(ids.whop_key(event.entitlement))
                );
            }
        }
        assert_eq!(keys.len(), 18);
    }

    #[test]
    fn signatures_verify_with_the_fakes_secrets() {
        let ids = RunIds::new(1_790_000_000, 1);
        let secrets = Secrets::default();
        let now = 1_790_000_100;
        for provider in Provider::ALL {
            let built = event_body(
                &EventRef {
                    provider,
                    entitlement: 3,
                    seq: 1,
                },
                &ids,
            );
            let headers = signed_headers(&built, &secrets, now);
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let body = built.body.as_bytes();
            let verified = match provider {
                Provider::Whop => WhopVerifier::new([secrets.whop.as_str()])
                    .unwrap()
                    .verify(&pairs[..], body, now)
                    .is_ok(),
                Provider::Dodo => StandardWebhooksVerifier::new([secrets.dodo.as_str()])
                    .unwrap()
                    .verify(&pairs[..], body, now)
                    .is_ok(),
                Provider::Aghanim => HexHmacVerifier::new(
                    HexHmacHeaders {
                        signature: "x-aghanim-signature",
                        timestamp: "x-aghanim-signature-timestamp",
                    },
                    [secrets.aghanim.as_str()],
                    Tolerance::Unlimited,
                )
                .unwrap()
                .verify(&pairs[..], body, now)
                .is_ok(),
            };
            assert!(verified, "{provider:?}");
        }
    }
}
