//! Aghanim `item.add` and `item.remove`: `event_data = {player_id, items: [Item], reason, item_id?, sku?}`
//! (docs `webhooks/item-add`, `webhooks/item-remove`; `item_id` and `sku` are deprecated single-item fields).
//!
//! For `item.add` Aghanim reads a 2xx as "the item was credited to the player", so nothing here may turn into a
//! silent 2xx: an event that cannot be read is refused (`INVALID_ITEM_EVENT`), never stored as failed.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use crate::error::ParseError;
use crate::payload::Obj;
pub use crate::webhook::ITEM_KIND;
use crate::webhook::{EntitlementChange, Extras, Outcome, Refusal, RefusalCode};

/// The `end_reason` an `item.remove` leaves (Aghanim's own `reason` is free text, kept in the stored body).
pub const ITEM_REMOVED: &str = "item_removed";

/// Whether the items are credited or taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemAction {
    /// `item.add`: a purchase, a free-code redemption, a daily or loyalty reward.
    Add,
    /// `item.remove`: a bank or payment-system reversal (chargeback), or a refund from Aghanim's dashboard.
    Remove,
}

impl ItemAction {
    pub fn event_type(self) -> &'static str {
        match self {
            ItemAction::Add => "item.add",
            ItemAction::Remove => "item.remove",
        }
    }
}

impl fmt::Display for ItemAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event_type())
    }
}

/// One item of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLine {
    pub sku: String,
    /// How many, as sent (summed when a SKU is listed twice); `None` when absent. An entitlement is held or not,
    /// so the count is informational.
    pub quantity: Option<i64>,
}

/// An `item.add` or `item.remove` as Aghanim sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDelivery {
    pub action: ItemAction,
    pub player_id: String,
    /// One line per SKU, in the order first seen.
    pub items: Vec<ItemLine>,
    /// Aghanim's human-readable reason: `Order paid ord_...`, `Order refunded ord_...`.
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl ItemDelivery {
    /// The SKUs `granted` does not accept, in order.
    pub fn unlisted(&self, granted: impl Fn(&str) -> bool) -> Vec<&str> {
        self.items
            .iter()
            .map(|line| line.sku.as_str())
            .filter(|sku| !granted(sku))
            .collect()
    }

    /// The refusal of an event with any SKU `granted` does not accept: all or nothing, because Aghanim takes one
    /// answer for the whole event. `None` when every SKU is granted.
    pub fn refusal(&self, granted: impl Fn(&str) -> bool) -> Option<Refusal> {
        let unlisted = self.unlisted(granted);
        if unlisted.is_empty() {
            return None;
        }
        let what = match self.action {
            ItemAction::Add => "nothing was credited",
            ItemAction::Remove => "nothing was removed",
        };
        Some(Refusal::new(
            RefusalCode::UnsupportedItem,
            format!(
                "{} for item SKU(s) {} that Tollgate does not grant: {what}. List them in \
                 providers.aghanim.item_skus, or send this event to your game server instead",
                self.action,
                unlisted.join(", ")
            ),
        ))
    }

    /// One change per item: the entitlement `{player_id}:{sku}` (see [`item_external_id`]), granted for good by
    /// `item.add` (`Activated`, no paid-through time) and revoked by `item.remove` (`Revoked`, `item_removed`).
    pub fn changes(&self) -> Vec<EntitlementChange> {
        self.items
            .iter()
            .map(|line| EntitlementChange {
                event: ProviderEvent {
                    provider: Provider::Aghanim,
                    external_id: item_external_id(&self.player_id, &line.sku),
                    occurred_at: self.occurred_at,
                    subject: Some(self.player_id.clone()),
                    product: Some(line.sku.clone()),
                    kind: match self.action {
                        ItemAction::Add => EventKind::Activated {
                            status: None,
                            paid_through: None,
                            cancel_at_period_end: None,
                            features: Vec::new(),
                        },
                        ItemAction::Remove => EventKind::Revoked {
                            reason: Some(ITEM_REMOVED.to_owned()),
                        },
                    },
                },
                license_key: None,
                extras: Extras {
                    kind: Some(ITEM_KIND.to_owned()),
                    ..Extras::default()
                },
            })
            .collect()
    }
}

/// The external id of a player's item entitlement: `{player_id}:{sku}`, with `%` and `:` in either part written as
/// `%25` and `%3A`, so that no two (player, SKU) pairs share an id.
pub fn item_external_id(player_id: &str, sku: &str) -> String {
    fn escape(part: &str) -> String {
        part.replace('%', "%25").replace(':', "%3A")
    }
    format!("{}:{}", escape(player_id), escape(sku))
}

/// `item.add`/`item.remove` into [`Outcome::Items`], or a refusal naming what is missing.
pub(crate) fn parse(event_type: &str, root: &Obj<'_>) -> Outcome {
    match read(event_type, root) {
        Ok(delivery) => Outcome::Items(Box::new(delivery)),
        Err(error) => invalid(event_type, &error),
    }
}

/// The refusal of an item event that cannot be read.
pub(crate) fn invalid(event_type: &str, error: &ParseError) -> Outcome {
    Outcome::Refused(Refusal::new(
        RefusalCode::InvalidItemEvent,
        format!("{event_type} cannot be credited: {error}; nothing was changed"),
    ))
}

fn read(event_type: &str, root: &Obj<'_>) -> Result<ItemDelivery, ParseError> {
    let action = match event_type {
        "item.remove" => ItemAction::Remove,
        _ => ItemAction::Add,
    };
    let occurred_at = root
        .time("event_time")?
        .ok_or_else(|| ParseError::missing("event_time"))?;
    let data = root.req_obj("event_data")?;
    let player_id = data.req_str("player_id")?.to_owned();
    let mut items: Vec<ItemLine> = Vec::new();
    let listed = data.array("items")?;
    for (index, item) in listed.iter().enumerate() {
        let line = item_line(item, &format!("{}[{index}]", data.path("items")))?;
        match items.iter_mut().find(|known| known.sku == line.sku) {
            Some(known) => {
                known.quantity = match (known.quantity, line.quantity) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    (a, b) => a.or(b),
                }
            }
            None => items.push(line),
        }
    }
    if items.is_empty() {
        // The deprecated single-item form.
        let sku = data
            .str("sku")?
            .ok_or_else(|| ParseError::missing(data.path("items")))?;
        items.push(ItemLine {
            sku: sku.to_owned(),
            quantity: None,
        });
    }
    Ok(ItemDelivery {
        action,
        player_id,
        items,
        reason: data.string("reason")?,
        occurred_at,
    })
}

fn item_line(item: &Value, path: &str) -> Result<ItemLine, ParseError> {
    let Value::Object(map) = item else {
        return Err(ParseError::WrongType {
            field: path.to_owned(),
            expected: "an object",
        });
    };
    let sku = match map.get("sku") {
        Some(Value::String(sku)) if !sku.trim().is_empty() => sku.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(ParseError::missing(format!("{path}.sku")));
        }
        Some(_) => {
            return Err(ParseError::WrongType {
                field: format!("{path}.sku"),
                expected: "a string",
            });
        }
    };
    let quantity = match map.get("quantity") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| ParseError::WrongType {
            field: format!("{path}.quantity"),
            expected: "an integer",
        })?),
        Some(_) => {
            return Err(ParseError::WrongType {
                field: format!("{path}.quantity"),
                expected: "an integer",
            });
        }
    };
    Ok(ItemLine { sku, quantity })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_cannot_collide() {
        assert_eq!(
            item_external_id("2D2R-OP3C", "pro_unlock"),
            "2D2R-OP3C:pro_unlock"
        );
        assert_ne!(item_external_id("a:b", "c"), item_external_id("a", "b:c"));
        assert_eq!(item_external_id("a:b", "c"), "a%3Ab:c");
        assert_eq!(item_external_id("50%", "x:y"), "50%25:x%3Ay");
        assert_ne!(item_external_id("a%3A", "b"), item_external_id("a:", "b"));
    }
}
