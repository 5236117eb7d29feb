-- What signature verification returned for a delivery, kept so a replay re-parses it exactly as it first was:
-- the Standard Webhooks `webhook-id` (Whop current, Dodo) and the verified signature timestamp (the event time of
-- legacy Whop payloads, which carry none). Rows stored before this migration have NULL in both; a replay of those
-- falls back to `received_at` (see crates/service/README.md).
ALTER TABLE webhook_inbox ADD COLUMN webhook_id TEXT;
ALTER TABLE webhook_inbox ADD COLUMN signed_at TIMESTAMP;
