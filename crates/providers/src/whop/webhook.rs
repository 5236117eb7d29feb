//! Whop webhook payloads: the v1 envelope (`type`, `timestamp`, `data`, `company_id` or `account_id`) and the
//! legacy one (`action`, `data` or `body`). The payload shape picks the parser, because a Standard-Webhooks-signed
//! webhook may be pinned to a legacy API version, and webhooks created through v2 keep sending v2 payloads.
//!
//! `data` of a membership event is read in every version's shape (see `membership.rs`): `current_period_end` is
//! the paid-through time where `renewal_period_end` is absent. `membership.updated` (with `previous_attributes`)
//! carries the whole membership and is folded like the other membership events. `payment.succeeded` changes no
//! access by itself; for the membership it names, the server re-reads the membership from the API
//! ([`Outcome::Refresh`]), so a renewal's new period end is stored even when no membership event says so.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use super::membership::paid_through;
use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::{DeliveryMeta, EntitlementChange, Extras, LicenseKey, Outcome, ParsedWebhook};

const NOT_MEMBERSHIP: &str = "not a membership event: recorded, access unchanged";
const NO_ACCESS_CHANGE: &str = "membership event that does not change access";

pub(crate) fn parse(meta: &DeliveryMeta, value: &Value, body: &[u8]) -> Result<ParsedWebhook, ParseError> {
    let root = Obj::root(value)?;
    if root.has("type") || !root.has("action") {
        parse_v1(meta, &root)
    } else {
        parse_legacy(meta, &root, body)
    }
}

/// The facts every membership event shares, read from a v1 or legacy `data` object.
struct Membership {
    id: String,
    status: Option<String>,
    cancel_at_period_end: Option<bool>,
    paid_through: Option<DateTime<Utc>>,
    subject: Option<String>,
    product: Option<String>,
    plan: Option<String>,
    license_key: Option<String>,
    cancellation_reason: Option<String>,
    valid: Option<bool>,
}

impl Membership {
    fn read(data: &Obj<'_>) -> Result<Membership, ParseError> {
        let paid_through = paid_through(data)?;
        let subject = match data.id_of("user")? {
            Some(user) => Some(user),
            None => data.str("user_id")?,
        };
        let product = match data.id_of("product")? {
            Some(product) => Some(product),
            None => match data.str("product_id")? {
                Some(product) => Some(product),
                None => data.id_of("access_pass")?,
            },
        };
        let plan = match data.id_of("plan")? {
            Some(plan) => Some(plan),
            None => data.str("plan_id")?,
        };
        Ok(Membership {
            id: data.req_str("id")?.to_owned(),
            status: data.string("status")?,
            cancel_at_period_end: data.bool("cancel_at_period_end")?,
            paid_through,
            subject: subject.map(str::to_owned),
            product: product.map(str::to_owned),
            plan: plan.map(str::to_owned),
            license_key: data.string("license_key")?,
            cancellation_reason: data.string("cancellation_reason")?,
            valid: data.bool("valid")?,
        })
    }

    fn change(self, occurred_at: DateTime<Utc>, kind: EventKind) -> Outcome {
        Outcome::Apply(Box::new(EntitlementChange {
            event: ProviderEvent {
                provider: Provider::Whop,
                external_id: self.id,
                occurred_at,
                subject: self.subject,
                product: self.product,
                kind,
            },
            license_key: self.license_key.map(LicenseKey::new),
            extras: Extras {
                plan_id: self.plan,
                ..Extras::default()
            },
        }))
    }

    /// A whole-membership snapshot (`membership.updated`): status, period end and cancel flag as they are now.
    fn updated(&self, field: String) -> Result<EventKind, ParseError> {
        let status = self.status.clone().ok_or_else(|| ParseError::missing(field))?;
        Ok(EventKind::Updated {
            status,
            paid_through: self.paid_through,
            cancel_at_period_end: self.cancel_at_period_end,
        })
    }

    fn activated(&self) -> EventKind {
        EventKind::Activated {
            status: self.status.clone(),
            paid_through: self.paid_through,
            cancel_at_period_end: self.cancel_at_period_end,
            features: Vec::new(),
        }
    }

    fn deactivated(&self) -> EventKind {
        EventKind::Deactivated {
            reason: self.cancellation_reason.clone(),
            status: self.status.clone(),
            paid_through: self.paid_through,
        }
    }

    /// `cancel_at_period_end_changed`: the flag says which way it changed.
    fn cancel_changed(&self, field: String) -> Result<EventKind, ParseError> {
        match self.cancel_at_period_end {
            Some(true) => Ok(EventKind::CancelScheduled {
                paid_through: self.paid_through,
            }),
            Some(false) => Ok(EventKind::CancelUnscheduled),
            None => Err(ParseError::missing(field)),
        }
    }
}

fn parse_v1(meta: &DeliveryMeta, root: &Obj<'_>) -> Result<ParsedWebhook, ParseError> {
    let event_type = root.req_str("type")?.to_owned();
    let dedupe_key = match (&meta.webhook_id, root.str("id")?) {
        (Some(id), _) if !id.is_empty() => id.clone(),
        (_, Some(id)) => id.to_owned(),
        _ => return Err(ParseError::MissingDeliveryId),
    };
    let outcome = match event_type.as_str() {
        "membership.activated"
        | "membership.deactivated"
        | "membership.cancel_at_period_end_changed"
        | "membership.updated" => {
            let data = root.req_obj("data")?;
            let occurred_at = match root.time("timestamp")? {
                Some(t) => t,
                None => data
                    .time("updated_at")?
                    .ok_or_else(|| ParseError::missing("timestamp"))?,
            };
            let membership = Membership::read(&data)?;
            let kind = match event_type.as_str() {
                "membership.activated" => membership.activated(),
                "membership.deactivated" => membership.deactivated(),
                "membership.updated" => membership.updated(data.path("status"))?,
                _ => membership.cancel_changed(data.path("cancel_at_period_end"))?,
            };
            membership.change(occurred_at, kind)
        }
        "payment.succeeded" => match root
            .obj("data")?
            .map(|data| payment_membership(&data))
            .transpose()?
        {
            Some(Some(membership_id)) => Outcome::Refresh {
                external_id: membership_id,
                reason: "payment succeeded: the membership is re-read from Whop's API",
            },
            _ => Outcome::NotActedOn {
                reason: "payment without a membership: recorded, access unchanged",
            },
        },
        t if t.starts_with("membership.") => Outcome::NotActedOn {
            reason: NO_ACCESS_CHANGE,
        },
        _ => Outcome::NotActedOn {
            reason: NOT_MEMBERSHIP,
        },
    };
    Ok(ParsedWebhook {
        dedupe_key,
        semantic_key: None,
        event_type,
        outcome,
    })
}

fn parse_legacy(meta: &DeliveryMeta, root: &Obj<'_>, body: &[u8]) -> Result<ParsedWebhook, ParseError> {
    let action = root.req_str("action")?.to_owned();
    let data = match root.obj("data")? {
        Some(data) => data,
        None => root.obj("body")?.ok_or_else(|| ParseError::missing("data"))?,
    };
    let payload_id = data.req_str("id")?;
    let dedupe_key = match &meta.webhook_id {
        Some(id) if !id.is_empty() => id.clone(),
        _ => format!("{payload_id}:{action}:{:016x}", fingerprint(body)),
    };
    let outcome = match action.as_str() {
        "membership.went_valid"
        | "membership.went_invalid"
        | "membership.cancel_at_period_end_changed"
        | "membership.metadata_updated" => {
            let occurred_at = match data.time("updated_at")? {
                Some(t) => t,
                None => meta
                    .signed_at
                    .ok_or_else(|| ParseError::missing(data.path("updated_at")))?,
            };
            let membership = Membership::read(&data)?;
            let kind = match action.as_str() {
                "membership.went_valid" => Some(membership.activated()),
                "membership.went_invalid" => Some(membership.deactivated()),
                "membership.cancel_at_period_end_changed" => {
                    Some(membership.cancel_changed(data.path("cancel_at_period_end"))?)
                }
                _ => metadata_updated(&membership),
            };
            match kind {
                Some(kind) => membership.change(occurred_at, kind),
                None => Outcome::NotActedOn {
                    reason: "metadata_updated without a status or valid flag",
                },
            }
        }
        t if t.starts_with("membership.") => Outcome::NotActedOn {
            reason: NO_ACCESS_CHANGE,
        },
        _ => Outcome::NotActedOn {
            reason: NOT_MEMBERSHIP,
        },
    };
    Ok(ParsedWebhook {
        dedupe_key,
        semantic_key: None,
        event_type: action,
        outcome,
    })
}

/// The membership a v1 `Payment` is for: `membership.id` (or a plain `membership` id), else `membership_id`.
fn payment_membership(data: &Obj<'_>) -> Result<Option<String>, ParseError> {
    Ok(match data.id_of("membership")? {
        Some(id) => Some(id.to_owned()),
        None => data.string("membership_id")?,
    })
}

/// A legacy `metadata_updated` snapshot: the server's `valid` flag wins (`false` ends access), otherwise the
/// status is recorded as an update.
fn metadata_updated(membership: &Membership) -> Option<EventKind> {
    match (membership.valid, &membership.status) {
        (Some(false), _) => Some(membership.deactivated()),
        (_, Some(status)) => Some(EventKind::Updated {
            status: status.clone(),
            paid_through: membership.paid_through,
            cancel_at_period_end: membership.cancel_at_period_end,
        }),
        (Some(true), None) => Some(membership.activated()),
        (None, None) => None,
    }
}

/// FNV-1a over the raw body: tells a retry (same bytes) from a later event of the same kind for the same
/// membership, which legacy deliveries cannot otherwise be told apart by.
fn fingerprint(body: &[u8]) -> u64 {
    body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
