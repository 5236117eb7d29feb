//! Realistic webhook bodies for the simulator, shaped like the shared fixtures (and the providers' documented
//! payloads), with fresh ids and times so each one is a new delivery that applies now. The bodies themselves are
//! each provider's `sample` in `tollgate-providers`, shared with the load bench.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_providers::aghanim::sample::AghanimSubscription;
use tollgate_providers::dodo::sample::DodoGrant;
use tollgate_providers::whop::sample::WhopMembership;

/// The events the simulator can build, per provider.
pub const EVENTS: [(Provider, &str); 7] = [
    (Provider::Whop, "membership.activated"),
    (Provider::Whop, "membership.deactivated"),
    (Provider::Whop, "membership.cancel_at_period_end_changed"),
    (Provider::Dodo, "entitlement_grant.delivered"),
    (Provider::Dodo, "entitlement_grant.revoked"),
    (Provider::Aghanim, "subscription.activated"),
    (Provider::Aghanim, "subscription.deactivated"),
];

/// A built delivery body and whom it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    pub body: Value,
    pub external_id: String,
    pub subject: String,
}

/// The ids a template uses unless told otherwise.
pub fn default_ids(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Whop => ("mem_7Hq2LwZp0aXkR1", "user_Zx9Yw8Vu7"),
        Provider::Dodo => ("entg_8sKd02LmQp", "cus_J7h6G5f4"),
        Provider::Aghanim => ("sub_kMnoPqRsTuV", "2D2R-OP3C"),
        _ => ("", ""),
    }
}

/// The event's body at `now`, or `None` when there is no template for it. `unique` makes the delivery's own ids
/// (envelope id, Aghanim event id and idempotency key) new.
pub fn build(
    provider: Provider,
    event: &str,
    now: DateTime<Utc>,
    external_id: Option<&str>,
    subject: Option<&str>,
    unique: &str,
) -> Option<Simulated> {
    let (default_external, default_subject) = default_ids(provider);
    let external_id = external_id.unwrap_or(default_external).to_owned();
    let subject = subject.unwrap_or(default_subject).to_owned();
    let body = match (provider, event) {
        (Provider::Whop, "membership.activated") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Active)
        }
        (Provider::Whop, "membership.deactivated") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Canceled)
        }
        (Provider::Whop, "membership.cancel_at_period_end_changed") => {
            whop(event, now, &external_id, &subject, unique, WhopState::Canceling)
        }
        (Provider::Dodo, "entitlement_grant.delivered") => dodo(now, &external_id, &subject, false),
        (Provider::Dodo, "entitlement_grant.revoked") => dodo(now, &external_id, &subject, true),
        (Provider::Aghanim, "subscription.activated") => aghanim(now, &external_id, &subject, unique, false),
        (Provider::Aghanim, "subscription.deactivated") => aghanim(now, &external_id, &subject, unique, true),
        _ => return None,
    };
    Some(Simulated {
        body,
        external_id,
        subject,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhopState {
    Active,
    Canceling,
    Canceled,
}

fn whop(event: &str, now: DateTime<Utc>, id: &str, user: &str, unique: &str, state: WhopState) -> Value {
    let (status, cancel_at_period_end, canceled_at, cancellation_reason, period_end) = match state {
        WhopState::Active => ("active", false, None, None, now + TimeDelta::days(30)),
        WhopState::Canceling => ("canceling", true, None, None, now + TimeDelta::days(30)),
        WhopState::Canceled => ("canceled", false, Some(now), Some("customer_request"), now),
    };
    WhopMembership {
        webhook_id: &format!("msg_{unique}"),
        event_type: event,
        membership_id: id,
        user_id: user,
        member_id: "mber_Ab12Cd34Ef56",
        license_key: "TGL-SIMUL-4F7K2-9QXM3-77ZAB",
        status,
        cancel_at_period_end,
        canceled_at,
        cancellation_reason,
        start: now - TimeDelta::days(1),
        period_end,
        at: now,
    }
    .body()
}

fn dodo(now: DateTime<Utc>, id: &str, customer: &str, revoked: bool) -> Value {
    DodoGrant {
        grant_id: id,
        customer_id: customer,
        subscription_id: "sub_Rr8Tt7Yy6",
        license_key: "2b1f8e2d-c41e-4e8f-b2d3-5131a7e00001",
        revoked,
        created: now - TimeDelta::days(1),
        at: now,
    }
    .body()
}

fn aghanim(now: DateTime<Utc>, id: &str, player: &str, unique: &str, ended: bool) -> Value {
    AghanimSubscription {
        subscription_id: id,
        order_id: "ord_eCacpFwavzi",
        user_id: "usr_eymySUreClx",
        player_id: player,
        ended,
        unique,
        created: now - TimeDelta::days(1),
        at: now,
    }
    .body()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_listed_event_has_a_template_and_others_do_not() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        for (provider, event) in EVENTS {
            let built = build(provider, event, now, None, None, "u1").unwrap();
            assert_eq!(built.external_id, default_ids(provider).0);
            let text = built.body.to_string();
            assert!(text.contains(event), "{provider} {event}");
        }
        assert_eq!(
            build(Provider::Whop, "payment.succeeded", now, None, None, "u1"),
            None
        );
        assert_eq!(
            build(Provider::Dodo, "membership.activated", now, None, None, "u1"),
            None
        );
    }

    #[test]
    fn ids_and_times_are_filled_in() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let built = build(
            Provider::Whop,
            "membership.activated",
            now,
            Some("mem_x"),
            Some("user_y"),
            "abc",
        )
        .unwrap();
        assert_eq!(built.body["id"], "msg_abc");
        assert_eq!(built.body["data"]["id"], "mem_x");
        assert_eq!(built.body["data"]["user"]["id"], "user_y");
        assert_eq!(built.body["timestamp"], "2026-11-22T12:00:00.000Z");
        assert_eq!(
            built.body["data"]["renewal_period_end"],
            "2026-12-22T12:00:00.000Z"
        );
        let built = build(
            Provider::Aghanim,
            "subscription.deactivated",
            now,
            None,
            None,
            "abc",
        )
        .unwrap();
        assert_eq!(built.body["event_time"], now.timestamp());
        assert_eq!(built.body["event_data"]["effective_until"], now.timestamp());
        assert_eq!(built.body["idempotency_key"], "idmpt_abc");
    }
}
