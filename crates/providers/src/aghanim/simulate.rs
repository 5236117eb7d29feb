//! The Aghanim deliveries `tollgate simulate` builds: [`AghanimSubscription`] bodies with fixture-like ids and fresh
//! times.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::sample::AghanimSubscription;

/// The events the simulator can build.
pub(super) const EVENTS: &[&str] = &["subscription.activated", "subscription.deactivated"];

/// The body of `event` at `now` for subscription `id` of `player`, or `None` when there is no template for it.
/// `unique` makes the event id and the idempotency key new.
pub(super) fn body(event: &str, now: DateTime<Utc>, id: &str, player: &str, unique: &str) -> Option<Value> {
    let ended = match event {
        "subscription.activated" => false,
        "subscription.deactivated" => true,
        _ => return None,
    };
    Some(
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
        .body(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ProviderAdapter as _;
    use crate::aghanim::AghanimAdapter;

    #[test]
    fn ids_and_times_are_filled_in() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let guide = AghanimAdapter::default().guide();
        let body = AghanimAdapter::default()
            .simulated_body(
                "subscription.deactivated",
                now,
                guide.example_external_id,
                guide.example_subject,
                "abc",
            )
            .unwrap();
        assert_eq!(body["event_time"], now.timestamp());
        assert_eq!(body["event_data"]["effective_until"], now.timestamp());
        assert_eq!(body["idempotency_key"], "idmpt_abc");
    }
}
