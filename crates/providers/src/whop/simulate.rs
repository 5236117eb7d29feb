//! The Whop deliveries `tollgate simulate` builds: [`WhopMembership`] bodies with fixture-like ids and fresh times.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::sample::WhopMembership;

/// The events the simulator can build.
pub(super) const EVENTS: &[&str] = &[
    "membership.activated",
    "membership.deactivated",
    "membership.cancel_at_period_end_changed",
];

/// The body of `event` at `now` for membership `id` of `user`, or `None` when there is no template for it.
pub(super) fn body(event: &str, now: DateTime<Utc>, id: &str, user: &str, unique: &str) -> Option<Value> {
    let state = match event {
        "membership.activated" => WhopState::Active,
        "membership.deactivated" => WhopState::Canceled,
        "membership.cancel_at_period_end_changed" => WhopState::Canceling,
        _ => return None,
    };
    Some(whop(event, now, id, user, unique, state))
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
