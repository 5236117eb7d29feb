-- Before this migration no Aghanim row had a semantic key.
UPDATE webhook_inbox SET semantic_key = NULL WHERE provider = 'aghanim';
