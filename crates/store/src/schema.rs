//! The tables, in the portable types both backends share. Keep in step with `migrations/*/`.

diesel::table! {
    entitlements (id) {
        id -> Text,
        provider -> Text,
        external_id -> Text,
        subject -> Nullable<Text>,
        product -> Nullable<Text>,
        lifecycle -> Text,
        status -> Nullable<Text>,
        end_reason -> Nullable<Text>,
        paid_through -> Nullable<Timestamp>,
        cancel_at_period_end -> Bool,
        features -> Text,
        access_clock -> Nullable<Timestamp>,
        period_clock -> Nullable<Timestamp>,
        cancel_clock -> Nullable<Timestamp>,
        details_clock -> Nullable<Timestamp>,
        license_key_hash -> Nullable<Text>,
        license_key_last4 -> Nullable<Text>,
        extras -> Nullable<Binary>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        synced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        entitlement_id -> Text,
        hwid_hash -> Text,
        name -> Nullable<Text>,
        activated_at -> Timestamp,
        last_seen_at -> Timestamp,
        provider_instance_id -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_inbox (id) {
        id -> BigInt,
        provider -> Text,
        dedupe_key -> Text,
        semantic_key -> Nullable<Text>,
        event_type -> Text,
        body -> Binary,
        received_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        processed_at -> Nullable<Timestamp>,
        entitlement_id -> Nullable<Text>,
        webhook_id -> Nullable<Text>,
        signed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        entitlement_id -> Nullable<Text>,
        device_id -> Nullable<Text>,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        detail -> Nullable<Text>,
        inbox_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    transfers (id) {
        id -> BigInt,
        entitlement_id -> Text,
        from_hwid_hash -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Binary,
        public_key -> Binary,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        not_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reconcile_cursors (provider) {
        provider -> Text,
        cursor -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    locks (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    binding_mirrors (entitlement_id) {
        entitlement_id -> Text,
        state -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Text,
        token_binding -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::joinable!(devices -> entitlements (entitlement_id));
diesel::joinable!(binding_mirrors -> entitlements (entitlement_id));
diesel::joinable!(transfers -> entitlements (entitlement_id));

diesel::allow_tables_to_appear_in_same_query!(
    entitlements,
    devices,
    webhook_inbox,
    audit_log,
    transfers,
    signing_keys,
    reconcile_cursors,
    locks,
    binding_mirrors,
    console_sessions,
);
