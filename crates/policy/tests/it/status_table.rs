//! Status classification: each provider's table, the policy's `status_map`, and unknown statuses.

use std::collections::BTreeMap;

use tollgate_policy::{
    AccessClass, Policy, Provider, StatusSource, UNKNOWN_STATUS_CLASS, builtin_class, classify,
    classify_with_source,
};

use AccessClass::{Deny, Grace, Grant};

#[test]
fn builtin_tables() {
    let cases: &[(Provider, &str, AccessClass)] = &[
        // Whop (providers.md §1.5).
        (Provider::Whop, "trialing", Grant),
        (Provider::Whop, "active", Grant),
        (Provider::Whop, "completed", Grant),
        (Provider::Whop, "canceling", Grant),
        (Provider::Whop, "past_due", Grace),
        (Provider::Whop, "canceled", Deny),
        (Provider::Whop, "expired", Deny),
        (Provider::Whop, "unresolved", Deny),
        (Provider::Whop, "drafted", Deny),
        (Provider::Whop, "ACTIVE", Grant),
        (Provider::Whop, " Past_Due ", Grace),
        // Dodo subscriptions (§2.5).
        (Provider::Dodo, "active", Grant),
        (Provider::Dodo, "on_hold", Grace),
        (Provider::Dodo, "pending", Deny),
        (Provider::Dodo, "paused", Deny),
        (Provider::Dodo, "cancelled", Deny),
        (Provider::Dodo, "failed", Deny),
        (Provider::Dodo, "expired", Deny),
        // Dodo grants (§2.7), PascalCase on the wire, lower case in the prose.
        (Provider::Dodo, "Delivered", Grant),
        (Provider::Dodo, "delivered", Grant),
        (Provider::Dodo, "Pending", Deny),
        (Provider::Dodo, "Failed", Deny),
        (Provider::Dodo, "Revoked", Deny),
        // Aghanim: status is never consulted.
        (Provider::Aghanim, "trial", Grant),
        (Provider::Aghanim, "active", Grant),
        (Provider::Aghanim, "canceled", Grant),
        (Provider::Aghanim, "expired", Grant),
        (Provider::Aghanim, "whatever_next", Grant),
    ];
    let policy = Policy::default();
    for &(provider, status, class) in cases {
        assert_eq!(classify(provider, status, &policy), class, "{provider} {status}");
        assert_eq!(
            builtin_class(provider, status),
            Some(class),
            "{provider} {status}"
        );
    }
}

#[test]
fn unknown_statuses_are_grace_never_grant() {
    assert_eq!(UNKNOWN_STATUS_CLASS, Grace);
    let policy = Policy::default();
    for (provider, status) in [
        (Provider::Whop, "suspended_for_review"),
        (Provider::Whop, ""),
        (Provider::Dodo, "frozen"),
        (Provider::Dodo, "Delivering"),
        (Provider::Whop, "actíve"),
    ] {
        assert_eq!(builtin_class(provider, status), None, "{provider} {status}");
        assert_eq!(
            classify_with_source(provider, status, &policy),
            (Grace, StatusSource::Unknown),
            "{provider} {status}"
        );
    }
    assert_eq!(
        classify_with_source(Provider::Aghanim, "new", &policy),
        (Grant, StatusSource::NotConsulted)
    );
    assert_eq!(
        classify_with_source(Provider::Whop, "active", &policy),
        (Grant, StatusSource::BuiltIn)
    );
}

#[test]
fn the_policy_status_map_wins_case_insensitively() {
    let policy = Policy {
        status_map: BTreeMap::from([
            ("Past_Due".to_owned(), Deny),
            ("suspended_for_review".to_owned(), Grant),
            ("expired".to_owned(), Grace),
        ]),
        ..Policy::default()
    };
    assert_eq!(
        classify_with_source(Provider::Whop, "past_due", &policy),
        (Deny, StatusSource::PolicyMap)
    );
    assert_eq!(classify(Provider::Whop, "SUSPENDED_FOR_REVIEW", &policy), Grant);
    assert_eq!(classify(Provider::Dodo, "expired", &policy), Grace);
    // The operator's map also applies to Aghanim, whose built-in rule ignores status.
    assert_eq!(classify(Provider::Aghanim, "expired", &policy), Grace);
    // Statuses the map does not name fall through to the built-in table.
    assert_eq!(classify(Provider::Whop, "active", &policy), Grant);
}
