//! Whop webhook payloads: the v1 envelope (`type`, `timestamp`, `data`) and the legacy one (`action`, `data` or
//! `body`). The payload shape picks the parser, because a Standard-Webhooks-signed webhook may be pinned to a
//! legacy API version.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

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
        let paid_through = match data.time("renewal_period_end")? {
            Some(end) => Some(end),
            None => data.time("expires_at")?,
        };
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
        "membership.activated" | "membership.deactivated" | "membership.cancel_at_period_end_changed" => {
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
                _ => membership.cancel_changed(data.path("cancel_at_period_end"))?,
            };
            membership.change(occurred_at, kind)
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
