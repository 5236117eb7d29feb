-- Aghanim's inbox key is now `{event_type}:{idempotency_key}` (falling back to `event_id`), and each new Aghanim row
-- carries that key as its semantic key too. Rows stored under the older form (the bare `idempotency_key`, or the
-- `event_id`) get the new form as their semantic key here, so a redelivery of their own event, which the new parser
-- keys `{event_type}:{idempotency_key}`, still meets them on the unique (provider, semantic_key) index and stays a
-- duplicate. Their dedupe key cannot change: it is bound into their encrypted body. Rows stored for a body that
-- could not be parsed (`unparsed:<sha256>`) keep that key, which a redelivery of the same bytes still computes.
UPDATE webhook_inbox
SET semantic_key = event_type || ':' || dedupe_key
WHERE provider = 'aghanim'
  AND semantic_key IS NULL
  AND dedupe_key NOT LIKE 'unparsed:%';
