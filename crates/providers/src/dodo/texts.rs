//! How Dodo's webhook route is documented and how texts name Dodo's ids and subjects.

use serde_json::json;

use crate::texts::{HeaderDoc, Naming, WebhookDoc};

/// A Dodo Payments delivery (Standard Webhooks, `whsec_` secret).
pub(super) fn webhook_doc() -> WebhookDoc {
    WebhookDoc {
        summary: "Receive a Dodo Payments webhook",
        headers: &[
            HeaderDoc {
                name: "webhook-id",
                required: true,
                description: "The message id",
            },
            HeaderDoc {
                name: "webhook-timestamp",
                required: true,
                description: "Unix seconds, within `signature_tolerance`",
            },
            HeaderDoc {
                name: "webhook-signature",
                required: true,
                description: "`v1,<base64 HMAC-SHA256>`, keyed with the base64 part of the `whsec_` secret",
            },
        ],
        body_description: "Dodo's payload, byte for byte as signed",
        example: json!({"business_id": "bus_1", "type": "entitlement_grant.delivered",
            "timestamp": "2026-11-22T16:40:31Z", "data": {"id": "entg_8sKd02LmQp", "status": "delivered"}}),
    }
}

/// Entitlement grants (`entg_...`) and license keys (`lic_...`) of Dodo customers.
pub(super) const NAMING: Naming = Naming {
    short_name: "Dodo",
    id_prefixes: &["entg_", "lic_"],
    subject_noun: "customer",
    subject_field: None,
    game_players: false,
};
