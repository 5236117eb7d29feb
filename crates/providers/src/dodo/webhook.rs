//! Dodo webhook envelopes: `{"business_id", "type", "timestamp", "data": {...}}`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::{DeliveryMeta, EntitlementChange, Extras, LicenseKey, Outcome, ParsedWebhook};

pub(crate) fn parse(meta: &DeliveryMeta, value: &Value) -> Result<ParsedWebhook, ParseError> {
    let root = Obj::root(value)?;
    let event_type = root.req_str("type")?.to_owned();
    let dedupe_key = match &meta.webhook_id {
        Some(id) if !id.is_empty() => id.clone(),
        _ => return Err(ParseError::MissingDeliveryId),
    };
    let mut semantic_key = None;
    let outcome = if let Some(action) = event_type.strip_prefix("entitlement_grant.") {
        let data = root.req_obj("data")?;
        let occurred_at = event_time(&root, &data)?;
        let grant = Grant::read(&data)?;
        semantic_key = Some(format!("{}:{event_type}", grant.id));
        grant.outcome(action, occurred_at)
    } else if let Some(action) = event_type.strip_prefix("subscription.") {
        let data = root.req_obj("data")?;
        let occurred_at = event_time(&root, &data)?;
        subscription_outcome(action, &data, occurred_at)?
    } else if event_type == "license_key.created" {
        Outcome::NotActedOn {
            reason: "license_key.created is recorded; entitlement grant events drive access",
        }
    } else {
        Outcome::NotActedOn {
            reason: "not a grant or subscription event: recorded, access unchanged",
        }
    };
    Ok(ParsedWebhook {
        dedupe_key,
        semantic_key,
        event_type,
        outcome,
    })
}

/// The envelope `timestamp` (the event time), else the object's `updated_at`.
fn event_time(root: &Obj<'_>, data: &Obj<'_>) -> Result<DateTime<Utc>, ParseError> {
    match root.time("timestamp")? {
        Some(t) => Ok(t),
        None => data
            .time("updated_at")?
            .ok_or_else(|| ParseError::missing("timestamp")),
    }
}

struct Grant {
    id: String,
    status: Option<String>,
    customer: Option<String>,
    entitlement: Option<String>,
    license_key: Option<String>,
    key_expires_at: Option<DateTime<Utc>>,
    revocation_reason: Option<String>,
    error_code: Option<String>,
    extras: Extras,
}

impl Grant {
    fn read(data: &Obj<'_>) -> Result<Grant, ParseError> {
        let (license_key, key_expires_at) = match data.obj("license_key")? {
            Some(key) => (key.string("key")?, key.time("expires_at")?),
            None => (None, None),
        };
        let mut features = Vec::new();
        if let Some(feature) = data.obj("feature")? {
            features.extend(feature.string("feature_id")?);
        }
        Ok(Grant {
            id: data.req_str("id")?.to_owned(),
            status: data.string("status")?,
            customer: data.string("customer_id")?,
            entitlement: data.string("entitlement_id")?,
            license_key,
            key_expires_at,
            revocation_reason: data.string("revocation_reason")?,
            error_code: data.string("error_code")?,
            extras: Extras {
                plan_id: None,
                integration_type: data.string("integration_type")?,
                oauth_url: data.string("oauth_url")?,
                delivery: data.get("digital_product_delivery").cloned(),
                features,
                kind: None,
            },
        })
    }

    fn delivered(&self) -> EventKind {
        EventKind::GrantDelivered {
            paid_through: self.key_expires_at,
            features: self.extras.features.clone(),
        }
    }

    fn outcome(self, action: &str, occurred_at: DateTime<Utc>) -> Outcome {
        let status = self.status.as_deref().map(str::to_ascii_lowercase);
        let kind = match action {
            // An auto-fulfilled key is created already delivered; everything else starts pending.
            "created" => match status.as_deref() {
                Some("delivered") => self.delivered(),
                _ => EventKind::GrantPending,
            },
            "delivered" => self.delivered(),
            "failed" => EventKind::GrantFailed {
                error_code: self.error_code.clone(),
            },
            "revoked" => EventKind::Revoked {
                reason: self.revocation_reason.clone(),
            },
            _ => {
                return Outcome::NotActedOn {
                    reason: "unknown entitlement_grant event: recorded, access unchanged",
                };
            }
        };
        Outcome::Apply(Box::new(EntitlementChange {
            event: ProviderEvent {
                provider: Provider::Dodo,
                external_id: self.id,
                occurred_at,
                subject: self.customer,
                product: self.entitlement,
                kind,
            },
            license_key: self.license_key.map(LicenseKey::new),
            extras: self.extras,
        }))
    }
}

fn subscription_outcome(
    action: &str,
    data: &Obj<'_>,
    occurred_at: DateTime<Utc>,
) -> Result<Outcome, ParseError> {
    let id = data.req_str("subscription_id")?.to_owned();
    let status = data.string("status")?;
    let paid_through = data.time("next_billing_date")?;
    let cancel = data.bool("cancel_at_next_billing_date")?;
    let subject = match data.obj("customer")? {
        Some(customer) => customer.string("customer_id")?,
        None => data.string("customer_id")?,
    };
    let status_or = |fallback: &str| status.clone().unwrap_or_else(|| fallback.to_owned());
    let kind = match action {
        "active" => EventKind::Activated {
            status: status.clone(),
            paid_through,
            cancel_at_period_end: cancel,
            features: Vec::new(),
        },
        "renewed" => EventKind::Renewed {
            paid_through: paid_through.ok_or_else(|| ParseError::missing(data.path("next_billing_date")))?,
            status: status.clone(),
        },
        "on_hold" | "paused" => EventKind::Updated {
            status: status_or(action),
            paid_through,
            cancel_at_period_end: cancel,
        },
        "unpaused" => EventKind::Updated {
            status: status_or("active"),
            paid_through,
            cancel_at_period_end: cancel,
        },
        "cancelled" | "expired" | "failed" => EventKind::Deactivated {
            reason: Some(action.to_owned()),
            status: status.clone(),
            paid_through,
        },
        "plan_changed" | "updated" => EventKind::Updated {
            status: status
                .clone()
                .ok_or_else(|| ParseError::missing(data.path("status")))?,
            paid_through,
            cancel_at_period_end: cancel,
        },
        _ => {
            return Ok(Outcome::NotActedOn {
                reason: "subscription event that does not change access",
            });
        }
    };
    Ok(Outcome::Apply(Box::new(EntitlementChange {
        event: ProviderEvent {
            provider: Provider::Dodo,
            external_id: id,
            occurred_at,
            subject,
            product: data.string("product_id")?,
            kind,
        },
        license_key: None,
        extras: Extras::default(),
    })))
}
