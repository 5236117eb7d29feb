-- Tollgate initial schema (SQLite). Keep in step with migrations/postgres/2026-11-22-000001_initial/up.sql.
-- Times are UTC (diesel Timestamp, stored as ISO-8601 text). Secrets are never stored in clear: license keys and
-- hwids as HMAC-SHA256 hex, inbox bodies, extras and private keys as AES-256-GCM nonce||ciphertext||tag.

CREATE TABLE entitlements (
    id                   TEXT PRIMARY KEY NOT NULL,
    provider             TEXT NOT NULL,
    external_id          TEXT NOT NULL,
    subject              TEXT,
    product              TEXT,
    lifecycle            TEXT NOT NULL CHECK (lifecycle IN ('pending', 'active', 'failed', 'revoked')),
    status               TEXT,
    end_reason           TEXT,
    paid_through         TIMESTAMP,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT 0,
    features             TEXT NOT NULL DEFAULT '[]',
    access_clock         TIMESTAMP,
    period_clock         TIMESTAMP,
    cancel_clock         TIMESTAMP,
    details_clock        TIMESTAMP,
    license_key_hash     TEXT,
    license_key_last4    TEXT,
    extras               BLOB,
    version              BIGINT NOT NULL DEFAULT 0,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    synced_at            TIMESTAMP,
    UNIQUE (provider, external_id)
);
CREATE INDEX entitlements_by_subject ON entitlements (provider, subject);
CREATE INDEX entitlements_by_license_key ON entitlements (license_key_hash);

CREATE TABLE devices (
    id                   TEXT PRIMARY KEY NOT NULL,
    entitlement_id       TEXT NOT NULL REFERENCES entitlements (id) ON DELETE CASCADE,
    hwid_hash            TEXT NOT NULL,
    name                 TEXT,
    activated_at         TIMESTAMP NOT NULL,
    last_seen_at         TIMESTAMP NOT NULL,
    provider_instance_id TEXT,
    UNIQUE (entitlement_id, hwid_hash)
);

CREATE TABLE webhook_inbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    provider       TEXT NOT NULL,
    dedupe_key     TEXT NOT NULL,
    semantic_key   TEXT,
    event_type     TEXT NOT NULL,
    body           BLOB NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    processed_at   TIMESTAMP,
    entitlement_id TEXT REFERENCES entitlements (id) ON DELETE SET NULL,
    UNIQUE (provider, dedupe_key),
    UNIQUE (provider, semantic_key)
);
CREATE INDEX webhook_inbox_by_status ON webhook_inbox (status, id);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    entitlement_id TEXT REFERENCES entitlements (id) ON DELETE SET NULL,
    device_id      TEXT,
    at             TIMESTAMP NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    detail         TEXT,
    inbox_id       BIGINT REFERENCES webhook_inbox (id) ON DELETE SET NULL
);
CREATE INDEX audit_log_by_entitlement ON audit_log (entitlement_id, id);

CREATE TABLE transfers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    entitlement_id TEXT NOT NULL REFERENCES entitlements (id) ON DELETE CASCADE,
    from_hwid_hash TEXT NOT NULL,
    at             TIMESTAMP NOT NULL
);
CREATE INDEX transfers_by_entitlement ON transfers (entitlement_id, at);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    algorithm   TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP,
    not_after   TIMESTAMP
);

CREATE TABLE reconcile_cursors (
    provider   TEXT PRIMARY KEY NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE locks (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
