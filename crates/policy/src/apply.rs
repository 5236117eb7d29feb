//! Folding provider events into entitlement state.
//!
//! Each group of fields is a last-writer-wins register with its own clock in [`FieldClocks`]:
//!
//! | group     | fields                              | clock            |
//! |-----------|-------------------------------------|------------------|
//! | `access`  | `lifecycle`, `status`, `end_reason` | `clocks.access`  |
//! | `period`  | `paid_through`                      | `clocks.period`  |
//! | `cancel`  | `cancel_at_period_end`              | `clocks.cancel`  |
//! | `details` | `subject`, `product`, `features`    | `clocks.details` |
//!
//! An event writes a whole group value, computed from the event alone, and only if its `(occurred_at, rank)` is
//! greater than the stored `(clock, rank of the stored value)`. The rank is a total order on the group's values, so
//! ties between equal times are broken the same way whatever the arrival order, and it never favours granting: at
//! equal time a revocation, failure or pending state beats an activation, a deny-class status beats a grant-class
//! one, an earlier `paid_through` beats a later one and a scheduled cancellation beats its withdrawal. Writing an
//! equal `(time, value)` is a no-op. Because every group's final value is the maximum of the writes it received,
//! any arrival order converges to the state time order gives, and applying an event twice equals applying it once.
//!
//! `details` has two tiers. Events that carry the entitlement's features (`Activated`, `GrantDelivered`) write it
//! at their own time. Other events only carry `subject`/`product`; they write at [`PARTIAL_DETAILS_CLOCK`], below
//! every real time, so they fill in details for an entitlement whose activation was never seen but never erase the
//! features an activation recorded.

use std::cmp::{Ordering, Reverse};

use chrono::{DateTime, Utc};

use crate::config::AccessClass;
use crate::event::{EventKind, ProviderEvent};
use crate::provider::Provider;
use crate::state::{EntitlementState, Lifecycle};
use crate::status::builtin_class;

/// The `details` clock written by events that carry only `subject`/`product` (not features): the Unix epoch, below
/// the time of any real provider event, so a full details record from an activation always wins over it.
pub const PARTIAL_DETAILS_CLOCK: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// Whether `event` is about the entitlement `state` describes: same provider and same external id.
pub fn event_matches(state: &EntitlementState, event: &ProviderEvent) -> bool {
    state.provider == event.provider && state.external_id == event.external_id
}

/// Fold one provider event into an entitlement state.
///
/// An event for another provider or another external id (see [`event_matches`]) is not about this entitlement:
/// the state is returned unchanged, so a routing mistake can never corrupt it.
pub fn apply(state: &EntitlementState, event: &ProviderEvent) -> EntitlementState {
    let mut next = state.clone();
    if !event_matches(state, event) {
        return next;
    }
    let writes = Writes::of(event);
    let at = event.occurred_at;

    if let Some(access) = writes.access {
        let stored = AccessValue {
            lifecycle: next.lifecycle,
            status: next.status.clone(),
            end_reason: next.end_reason.clone(),
        };
        if wins(
            at,
            access.rank(next.provider),
            next.clocks.access,
            stored.rank(next.provider),
        ) {
            next.lifecycle = access.lifecycle;
            next.status = access.status;
            next.end_reason = access.end_reason;
            next.clocks.access = Some(at);
        }
    }

    if let Some(paid_through) = writes.period {
        // At equal time the earlier paid-through wins: never favour granting.
        if wins(
            at,
            Reverse(Some(paid_through)),
            next.clocks.period,
            Reverse(next.paid_through),
        ) {
            next.paid_through = Some(paid_through);
            next.clocks.period = Some(at);
        }
    }

    if let Some(cancel) = writes.cancel {
        // At equal time `true` (access ends at period end) beats `false`.
        if wins(at, cancel, next.clocks.cancel, next.cancel_at_period_end) {
            next.cancel_at_period_end = cancel;
            next.clocks.cancel = Some(at);
        }
    }

    if let Some((details, full)) = writes.details {
        let details_at = if full { at } else { PARTIAL_DETAILS_CLOCK };
        let stored = (next.subject.clone(), next.product.clone(), next.features.clone());
        if wins(details_at, &details, next.clocks.details, &stored) {
            (next.subject, next.product, next.features) = details;
            next.clocks.details = Some(details_at);
        }
    }

    next
}

/// Whether a write at `(at, rank)` replaces the stored `(clock, stored_rank)`. A group never written (no clock)
/// takes any write; equal `(time, rank)` is a no-op.
fn wins<R: Ord>(at: DateTime<Utc>, rank: R, clock: Option<DateTime<Utc>>, stored_rank: R) -> bool {
    match clock {
        None => true,
        Some(clock) => (at, rank).cmp(&(clock, stored_rank)) == Ordering::Greater,
    }
}

/// The value of the `access` group an event writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AccessValue {
    lifecycle: Lifecycle,
    status: Option<String>,
    end_reason: Option<String>,
}

impl AccessValue {
    fn new(lifecycle: Lifecycle, status: Option<String>, end_reason: Option<String>) -> Self {
        AccessValue {
            lifecycle,
            status,
            end_reason,
        }
    }

    /// A total order on access values in which the less granting value is greater (wins ties): the lifecycle
    /// first (`Active` < `Pending` < `Failed` < `Revoked`), then the built-in class of the status (none < grant <
    /// grace or unknown < deny), then the status and end reason strings. It is injective, so equal rank means equal
    /// value.
    fn rank(&self, provider: Provider) -> (u8, u8, Option<&str>, Option<&str>) {
        let lifecycle = match self.lifecycle {
            Lifecycle::Active => 0,
            Lifecycle::Pending => 1,
            Lifecycle::Failed => 2,
            Lifecycle::Revoked => 3,
        };
        let status_class = match self.status.as_deref().map(|s| builtin_class(provider, s)) {
            None => 0,
            Some(Some(AccessClass::Grant)) => 1,
            Some(Some(AccessClass::Grace) | None) => 2,
            Some(Some(AccessClass::Deny)) => 3,
        };
        (
            lifecycle,
            status_class,
            self.status.as_deref(),
            self.end_reason.as_deref(),
        )
    }
}

type Details = (Option<String>, Option<String>, Vec<String>);

/// The group values one event writes. `None` means the event carries no fact for that group.
#[derive(Debug, Default)]
struct Writes {
    access: Option<AccessValue>,
    period: Option<DateTime<Utc>>,
    cancel: Option<bool>,
    /// The details and whether they are a full record (the event carries features).
    details: Option<(Details, bool)>,
}

impl Writes {
    fn of(event: &ProviderEvent) -> Writes {
        let mut writes = Writes::default();
        let mut features: Option<&Vec<String>> = None;
        match &event.kind {
            EventKind::Activated {
                status,
                paid_through,
                cancel_at_period_end,
                features: carried,
            } => {
                writes.access = Some(AccessValue::new(Lifecycle::Active, status.clone(), None));
                writes.period = *paid_through;
                writes.cancel = *cancel_at_period_end;
                features = Some(carried);
            }
            EventKind::Renewed { paid_through, status } => {
                writes.access = Some(AccessValue::new(Lifecycle::Active, status.clone(), None));
                writes.period = Some(*paid_through);
            }
            EventKind::Updated {
                status,
                paid_through,
                cancel_at_period_end,
            } => {
                writes.access = Some(AccessValue::new(Lifecycle::Active, Some(status.clone()), None));
                writes.period = *paid_through;
                writes.cancel = *cancel_at_period_end;
            }
            EventKind::CancelScheduled { paid_through } => {
                writes.cancel = Some(true);
                writes.period = *paid_through;
            }
            EventKind::CancelUnscheduled => writes.cancel = Some(false),
            EventKind::Deactivated {
                reason,
                status,
                paid_through,
            } => {
                writes.access = Some(AccessValue::new(
                    Lifecycle::Revoked,
                    status.clone(),
                    reason.clone(),
                ));
                writes.period = *paid_through;
            }
            EventKind::Revoked { reason } => {
                writes.access = Some(AccessValue::new(Lifecycle::Revoked, None, reason.clone()));
            }
            EventKind::GrantPending => {
                writes.access = Some(AccessValue::new(Lifecycle::Pending, None, None));
            }
            EventKind::GrantDelivered {
                paid_through,
                features: carried,
            } => {
                writes.access = Some(AccessValue::new(Lifecycle::Active, None, None));
                writes.period = *paid_through;
                features = Some(carried);
            }
            EventKind::GrantFailed { error_code } => {
                writes.access = Some(AccessValue::new(Lifecycle::Failed, None, error_code.clone()));
            }
        }
        writes.details = match features {
            Some(features) => Some((
                (event.subject.clone(), event.product.clone(), features.clone()),
                true,
            )),
            None if event.subject.is_some() || event.product.is_some() => {
                Some(((event.subject.clone(), event.product.clone(), Vec::new()), false))
            }
            None => None,
        };
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn access_rank_orders_deny_above_grant() {
        let active = AccessValue::new(Lifecycle::Active, Some("active".into()), None);
        let past_due = AccessValue::new(Lifecycle::Active, Some("past_due".into()), None);
        let unknown = AccessValue::new(Lifecycle::Active, Some("zzz_new".into()), None);
        let canceled = AccessValue::new(Lifecycle::Active, Some("canceled".into()), None);
        let pending = AccessValue::new(Lifecycle::Pending, None, None);
        let revoked = AccessValue::new(Lifecycle::Revoked, None, Some("manual".into()));
        let p = Provider::Whop;
        assert!(active.rank(p) < past_due.rank(p));
        assert!(past_due.rank(p) < unknown.rank(p));
        assert!(unknown.rank(p) < canceled.rank(p));
        assert!(canceled.rank(p) < pending.rank(p));
        assert!(pending.rank(p) < revoked.rank(p));
    }

    #[test]
    fn wins_is_strict() {
        assert!(wins(at(0), 0, None, 0));
        assert!(!wins(at(0), 0, Some(at(0)), 0));
        assert!(wins(at(0), 1, Some(at(0)), 0));
        assert!(!wins(at(0), 5, Some(at(1)), 0));
        assert!(wins(at(2), 0, Some(at(1)), 5));
    }
}
