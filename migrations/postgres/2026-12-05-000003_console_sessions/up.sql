-- The browser console's sign-in sessions, shared by every instance on one database so that a sign-out (or an
-- admin token rotation) ends a session everywhere at once. Only a SHA-256 of the session id is stored (the id
-- itself lives in the browser's HttpOnly cookie), and a SHA-256 binding of the id to the admin token that signed
-- it in: a session signed in under a token that is no longer configured is refused.
CREATE TABLE console_sessions (
    id_hash       TEXT PRIMARY KEY NOT NULL,
    token_binding TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
