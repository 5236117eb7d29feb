-- Whether the provider-side mirror of an entitlement's device binding (Whop: the membership's metadata) was last
-- written successfully. Tollgate's own `devices` table is the authority; this row tells a binding that Whop's
-- "Reset Key" cleared (state `written`, binding gone) from one that was never written (`pending`, a failed write
-- to repair).
CREATE TABLE binding_mirrors (
    entitlement_id TEXT PRIMARY KEY NOT NULL REFERENCES entitlements (id) ON DELETE CASCADE,
    state          TEXT NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
