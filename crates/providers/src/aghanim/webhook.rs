//! Aghanim webhook envelopes: `{"event_type", "event_time", "event_id", "idempotency_key", "sandbox",
//! "event_data"}`.
//!
//! The inbox key is `{event_type}:{idempotency_key}`, or `event_id` when the key is null: Aghanim only promises that
//! the key makes one action run once, so one key recurring on another event type must not swallow that event.
//!
//! The `event_data` layout of `subscription.*` is unconfirmed: each field is looked up in
//! `event_data.subscription` first and then flat in `event_data` (`player_id` the other way round). `item.add` and
//! `item.remove` are read in `items.rs`; request/response types are refused (see [`REQUEST_RESPONSE`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use super::items;
use crate::error::ParseError;
use crate::payload::Obj;
use crate::webhook::{EntitlementChange, Extras, Outcome, ParsedWebhook, Refusal, RefusalCode};

/// Types whose sender waits for a specific answer body (a player profile, a store page, an idle flag), which Tollgate
/// cannot give: a `200 {"status":"ok"}` would be read as an answer. `player.is_idle` is in this list on its name
/// alone (no page describes its answer): refusing is the side that cannot mislead.
pub(crate) const REQUEST_RESPONSE: [&str; 4] =
    ["player.verify", "player.lookup", "player.is_idle", "store.get"];

pub(crate) fn parse(value: &Value) -> Result<ParsedWebhook, ParseError> {
    let root = Obj::root(value)?;
    let event_type = root.req_str("event_type")?.to_owned();
    let (dedupe_key, semantic_key) = match root.str("idempotency_key")? {
        Some(key) => {
            let scoped = format!("{event_type}:{key}");
            (scoped.clone(), Some(scoped))
        }
        None => (root.req_str("event_id")?.to_owned(), None),
    };
    let sandbox = root.bool("sandbox").map(|flag| flag.unwrap_or(false));
    let outcome = match event_type.as_str() {
        name if REQUEST_RESPONSE.contains(&name) => Outcome::Refused(Refusal::new(
            RefusalCode::UnsupportedEvent,
            format!(
                "{name} expects an answer body that Tollgate does not give: send {name} to your game server's \
                 webhook, not to Tollgate"
            ),
        )),
        "batch.ready" => Outcome::Refused(Refusal::new(
            RefusalCode::UnsupportedEvent,
            "Tollgate does not download webhook batches: turn batch mode off on the webhook that points at Tollgate",
        )),
        "item.add" | "item.remove" => match sandbox {
            Ok(sandbox) => in_sandbox(sandbox, items::parse(&event_type, &root)),
            Err(error) => items::invalid(&event_type, &error),
        },
        name => match name.strip_prefix("subscription.") {
            Some(action @ ("activated" | "updated" | "renewed" | "deactivated")) => {
                let occurred_at = root
                    .time("event_time")?
                    .ok_or_else(|| ParseError::missing("event_time"))?;
                in_sandbox(
                    sandbox?,
                    subscription(action, &root.req_obj("event_data")?, occurred_at)?,
                )
            }
            _ => Outcome::NotActedOn {
                reason: "not a subscription or item event: recorded, access unchanged",
            },
        },
    };
    Ok(ParsedWebhook {
        dedupe_key,
        semantic_key,
        event_type,
        outcome,
    })
}

/// A sandbox event's outcome is wrapped, so that only the caller's `accept_sandbox` can let it act; a refusal
/// stays a refusal.
fn in_sandbox(sandbox: bool, outcome: Outcome) -> Outcome {
    match outcome {
        refused @ Outcome::Refused(_) => refused,
        outcome if sandbox => Outcome::Sandbox(Box::new(outcome)),
        outcome => outcome,
    }
}

/// `event_data` and, when present, `event_data.subscription`: the two places a field may be.
struct Layout<'a> {
    flat: Obj<'a>,
    nested: Option<Obj<'a>>,
}

impl<'a> Layout<'a> {
    /// Subscription fields: nested first, then flat.
    fn sub_levels(&self) -> impl Iterator<Item = &Obj<'a>> {
        self.nested.iter().chain(std::iter::once(&self.flat))
    }

    fn sub_str(&self, key: &str) -> Result<Option<String>, ParseError> {
        for level in self.sub_levels() {
            if let Some(value) = level.string(key)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn sub_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, ParseError> {
        for level in self.sub_levels() {
            if let Some(value) = level.time(key)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn player_id(&self) -> Result<Option<String>, ParseError> {
        match self.flat.string("player_id")? {
            Some(player) => Ok(Some(player)),
            None => match &self.nested {
                Some(nested) => nested.string("player_id"),
                None => Ok(None),
            },
        }
    }

    fn id(&self) -> Result<String, ParseError> {
        match self.sub_str("id")? {
            Some(id) => Ok(id),
            None => self
                .sub_str("subscription_id")?
                .ok_or_else(|| ParseError::missing("event_data.id")),
        }
    }

    /// The SKUs of the nested items (of the subscription and of its plan), in order, without duplicates.
    fn features(&self) -> Result<Vec<String>, ParseError> {
        let mut skus: Vec<String> = Vec::new();
        let level = self.nested.as_ref().unwrap_or(&self.flat);
        let mut lists = vec![level.array("nested_items")?];
        if let Some(plan) = level.obj("plan")? {
            lists.push(plan.array("nested_items")?);
        }
        for item in lists.into_iter().flatten() {
            let sku = match item {
                Value::Object(map) => map.get("sku").and_then(Value::as_str),
                _ => None,
            };
            if let Some(sku) = sku.filter(|s| !s.is_empty())
                && !skus.iter().any(|known| known == sku)
            {
                skus.push(sku.to_owned());
            }
        }
        Ok(skus)
    }
}

fn subscription(action: &str, data: &Obj<'_>, occurred_at: DateTime<Utc>) -> Result<Outcome, ParseError> {
    let layout = Layout {
        flat: data.clone(),
        nested: data.obj("subscription")?,
    };
    let status = layout.sub_str("status")?;
    let paid_through = layout.sub_time("effective_until")?;
    let features = layout.features()?;
    let kind = match action {
        "activated" => EventKind::Activated {
            status: status.clone(),
            paid_through,
            cancel_at_period_end: None,
            features: features.clone(),
        },
        "renewed" => EventKind::Renewed {
            paid_through: paid_through.ok_or_else(|| ParseError::missing("event_data.effective_until"))?,
            status: status.clone(),
        },
        "updated" => EventKind::Updated {
            status: status
                .clone()
                .ok_or_else(|| ParseError::missing("event_data.status"))?,
            paid_through,
            cancel_at_period_end: None,
        },
        _ => EventKind::Deactivated {
            reason: None,
            status: status.clone(),
            paid_through,
        },
    };
    Ok(Outcome::Apply(Box::new(EntitlementChange {
        event: ProviderEvent {
            provider: Provider::Aghanim,
            external_id: layout.id()?,
            occurred_at,
            subject: layout.player_id()?,
            product: layout.sub_str("sku")?,
            kind,
        },
        license_key: None,
        extras: Extras {
            features,
            ..Extras::default()
        },
    })))
}
