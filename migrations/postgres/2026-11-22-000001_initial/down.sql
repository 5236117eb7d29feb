DROP TABLE locks;
DROP TABLE reconcile_cursors;
DROP TABLE signing_keys;
DROP TABLE transfers;
DROP TABLE audit_log;
DROP TABLE webhook_inbox;
DROP TABLE devices;
DROP TABLE entitlements;
