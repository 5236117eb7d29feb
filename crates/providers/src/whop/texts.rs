//! How Whop's webhook route is documented and how texts name Whop's ids and subjects.

use serde_json::json;

use crate::texts::{HeaderDoc, Naming, WebhookDoc};

/// A Whop delivery, current (Standard Webhooks, `webhook-*` headers keyed with the raw `ws_` secret) or legacy
/// (`X-Whop-Signature`): either set of headers, so none is required.
pub(super) fn webhook_doc() -> WebhookDoc {
    WebhookDoc {
        summary: "Receive a Whop webhook",
        headers: &[
            HeaderDoc {
                name: "webhook-id",
                required: false,
                description: "Current format: the message id",
            },
            HeaderDoc {
                name: "webhook-timestamp",
                required: false,
                description: "Current format: Unix seconds, within `signature_tolerance`",
            },
            HeaderDoc {
                name: "webhook-signature",
                required: false,
                description: "Current format: `v1,<base64 HMAC-SHA256>`",
            },
            HeaderDoc {
                name: "x-whop-signature",
                required: false,
                description: "Legacy format: `t=<unix>,v1=<hex HMAC-SHA256>`",
            },
        ],
        body_description: "Whop's payload, byte for byte as signed (the signature covers the exact bytes)",
        example: json!({"id": "msg_2wL0", "api_version": "v1", "timestamp": "2026-11-22T16:40:31.000Z",
            "type": "membership.activated", "data": {"id": "mem_7Hq2LwZp0aXkR1", "status": "active"}}),
    }
}

/// Memberships (`mem_...`) of Whop users.
pub(super) const NAMING: Naming = Naming {
    short_name: "Whop",
    id_prefixes: &["mem_"],
    subject_noun: "user",
    subject_field: None,
    game_players: false,
};
