//! How Aghanim's webhook route is documented and how texts name Aghanim's ids and subjects.

use serde_json::json;

use crate::texts::{HeaderDoc, Naming, WebhookDoc};

/// An Aghanim delivery (`X-Aghanim-Signature`: HMAC-SHA256 of `<timestamp>.<body>`).
pub(super) fn webhook_doc() -> WebhookDoc {
    WebhookDoc {
        summary: "Receive an Aghanim webhook",
        headers: &[
            HeaderDoc {
                name: "x-aghanim-signature",
                required: true,
                description: "Hex HMAC-SHA256 of `<timestamp>.<body>`",
            },
            HeaderDoc {
                name: "x-aghanim-signature-timestamp",
                required: true,
                description: "Unix seconds (may be the event time: no tolerance by default)",
            },
        ],
        body_description: "Aghanim's payload, byte for byte as signed",
        example: json!({"event_type": "subscription.activated", "event_id": "whevt_1", "event_time": 1763829631,
            "event_data": {"id": "sub_kMnoPqRsTuV", "player_id": "2D2R-OP3C", "status": "active"}}),
    }
}

/// Subscriptions (`sub_...`) of game players, named by their `player_id`.
pub(super) const NAMING: Naming = Naming {
    short_name: "Aghanim",
    id_prefixes: &["sub_"],
    subject_noun: "player",
    subject_field: Some("player_id"),
    game_players: true,
};
