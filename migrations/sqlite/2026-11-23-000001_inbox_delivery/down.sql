ALTER TABLE webhook_inbox DROP COLUMN signed_at;
ALTER TABLE webhook_inbox DROP COLUMN webhook_id;
