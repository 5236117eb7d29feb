//! Policy configuration from real TOML: durations, unknown fields, validation messages, product resolution.

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate_policy::{
    AccessClass, HumanDuration, PlanModel, Policy, PolicyError, PolicySet, Provider, Revocation, TransferMode,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    policy: PolicySet,
}

fn parse(text: &str) -> Result<PolicySet, String> {
    toml::from_str::<File>(text)
        .map(|f| f.policy)
        .map_err(|e| e.to_string())
}

fn secs(s: i64) -> HumanDuration {
    HumanDuration::from_secs(s)
}

const FULL: &str = r#"
[policy.default]
plan_model = "subscription"
max_devices = 2
transfer = "self_service"
transfer_cooldown = "90s"
transfers_per_30d = 5
offline_grace = "7d"
revalidate_every = "15m"
revocation = "at_period_end"
purchase_url = "https://whop.com/deskpad"
status_map = { past_due = "deny", Paused = "grace" }

[[policy.products]]
provider = "whop"
product = "prod_Desk42xY"
max_devices = 3
offline_grace = "24h"

[[policy.products]]
provider = "aghanim"
product = "battle_pass"
plan_model = "perpetual"
transfer = "manual"
status_map = { PAST_DUE = "grant", trial = "grace" }

[[policy.products]]
provider = "dodo"
product = "prod_lic"
revocation = "immediate"
"#;

#[test]
fn a_full_configuration_parses_and_validates() {
    let set = parse(FULL).unwrap();
    set.validate().unwrap();
    let d = &set.default;
    assert_eq!(d.plan_model, PlanModel::Subscription);
    assert_eq!(d.max_devices, 2);
    assert_eq!(d.transfer, TransferMode::SelfService);
    assert_eq!(d.transfer_cooldown, secs(90));
    assert_eq!(d.transfers_per_30d, 5);
    assert_eq!(d.offline_grace, secs(7 * 86_400));
    assert_eq!(d.revalidate_every, secs(15 * 60));
    assert_eq!(d.revocation, Revocation::AtPeriodEnd);
    assert_eq!(d.purchase_url.as_deref(), Some("https://whop.com/deskpad"));
    assert_eq!(d.status_map.get("Paused"), Some(&AccessClass::Grace));
    assert_eq!(set.products.len(), 3);
    assert_eq!(set.products[0].offline_grace, Some(secs(24 * 3_600)));
    assert_eq!(set.products[0].revalidate_every, None);
}

#[test]
fn missing_sections_take_the_product_md_defaults() {
    let set = parse("[policy]\n").unwrap();
    assert_eq!(set, PolicySet::default());
    set.validate().unwrap();
    let d = Policy::default();
    assert_eq!(
        (
            d.plan_model,
            d.max_devices,
            d.transfer,
            d.transfer_cooldown,
            d.transfers_per_30d
        ),
        (
            PlanModel::Subscription,
            1,
            TransferMode::SelfService,
            secs(24 * 3_600),
            3
        )
    );
    assert_eq!(
        (d.offline_grace, d.revalidate_every, d.revocation, d.purchase_url),
        (secs(72 * 3_600), secs(24 * 3_600), Revocation::Immediate, None)
    );
    // One field given, the others default.
    let set = parse("[policy.default]\nmax_devices = 4\n").unwrap();
    assert_eq!(
        set.default,
        Policy {
            max_devices: 4,
            ..Policy::default()
        }
    );
}

#[test]
fn for_product_overlays_the_first_matching_rule() {
    let set = parse(FULL).unwrap();
    // Matched by the product id among several ids (plan id first).
    let whop = set.for_product(Provider::Whop, &["plan_Mth9kQ2", "prod_Desk42xY"]);
    assert_eq!(whop.max_devices, 3);
    assert_eq!(whop.offline_grace, secs(24 * 3_600));
    assert_eq!(
        whop.revalidate_every,
        secs(15 * 60),
        "unset fields come from the default"
    );
    assert_eq!(whop.revocation, Revocation::AtPeriodEnd);
    // Status maps merge, the rule's keys replacing the default's case-insensitively.
    let aghanim = set.for_product(Provider::Aghanim, &["battle_pass"]);
    assert_eq!(aghanim.plan_model, PlanModel::Perpetual);
    assert_eq!(aghanim.transfer, TransferMode::Manual);
    assert_eq!(
        aghanim.status_map,
        BTreeMap::from([
            ("PAST_DUE".to_owned(), AccessClass::Grant),
            ("Paused".to_owned(), AccessClass::Grace),
            ("trial".to_owned(), AccessClass::Grace),
        ])
    );
    // Same product id, wrong provider: the default.
    assert_eq!(set.for_product(Provider::Dodo, &["prod_Desk42xY"]), set.default);
    assert_eq!(set.for_product(Provider::Whop, &[]), set.default);
    assert_eq!(set.for_product(Provider::Whop, &["", "nope"]), set.default);
    assert_eq!(
        set.for_product(Provider::Dodo, &["prod_lic"]).revocation,
        Revocation::Immediate
    );
    assert_eq!(
        set.find_rule(Provider::Dodo, &["prod_lic"])
            .map(|r| r.product.as_str()),
        Some("prod_lic")
    );
}

#[test]
fn bad_durations_are_rejected_with_the_value() {
    for bad in [
        "10",
        "5w",
        "-1h",
        "1.5h",
        "",
        "h",
        "24 h",
        "1e3s",
        "99999999999999999999d",
        "36601000d",
    ] {
        let text = format!("[policy.default]\noffline_grace = \"{bad}\"\n");
        let err = parse(&text).unwrap_err();
        assert!(err.contains(&format!("invalid duration `{bad}`")), "{bad}: {err}");
    }
    // A number instead of a string is a type error, not a silent default.
    assert!(parse("[policy.default]\noffline_grace = 3600\n").is_err());
    for good in [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86_400),
        ("7d", 604_800),
        (" 2h ", 7_200),
        ("0s", 0),
    ] {
        let text = format!("[policy.default]\nrevalidate_every = \"{}\"\n", good.0);
        assert_eq!(
            parse(&text).unwrap().default.revalidate_every,
            secs(good.1),
            "{}",
            good.0
        );
    }
}

#[test]
fn unknown_fields_and_classes_are_rejected() {
    let cases = [
        ("[policy.default]\nmax_device = 2\n", "max_device"),
        (
            "[policy.default]\nstatus_map = { past_due = \"maybe\" }\n",
            "maybe",
        ),
        ("[policy.default]\nplan_model = \"lifetime\"\n", "lifetime"),
        ("[policy.default]\ntransfer = \"auto\"\n", "auto"),
        ("[policy.default]\nrevocation = \"later\"\n", "later"),
        (
            "[[policy.products]]\nprovider = \"whop\"\nproduct = \"p\"\nofline_grace = \"1h\"\n",
            "ofline_grace",
        ),
        (
            "[[policy.products]]\nprovider = \"stripe\"\nproduct = \"p\"\n",
            "stripe",
        ),
        ("[[policy.products]]\nprovider = \"whop\"\n", "product"),
        ("[policy]\nproduct = []\n", "product"),
    ];
    for (text, mention) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(mention), "{text:?}: {err}");
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "a test helper: an unexpected result fails the test"
)]
fn invalid(text: &str) -> PolicyError {
    parse(text).unwrap().validate().unwrap_err()
}

#[test]
fn validation_names_the_key_as_written() {
    let rule =
        |extra: &str| format!("[[policy.products]]\nprovider = \"whop\"\nproduct = \"prod_1\"\n{extra}\n");
    let three_rules = |extra: &str| {
        format!(
            "{}{}[[policy.products]]\nprovider = \"aghanim\"\nproduct = \"sku\"\n{extra}\n",
            rule(""),
            "[[policy.products]]\nprovider = \"dodo\"\nproduct = \"prod_1\"\n",
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "[policy.default]\nmax_devices = 0\n".into(),
            "policy.default.max_devices must be at least 1",
        ),
        (
            "[policy.default]\nmax_devices = 10001\n".into(),
            "policy.default.max_devices must be at most 10000",
        ),
        (
            "[policy.default]\noffline_grace = \"0s\"\nrevalidate_every = \"0s\"\n".into(),
            "policy.default.offline_grace must be longer than 0s: a lease that expires at once gives no offline access",
        ),
        (
            "[policy.default]\noffline_grace = \"366d\"\n".into(),
            "policy.default.offline_grace must be at most 365d",
        ),
        (
            "[policy.default]\nrevalidate_every = \"0s\"\n".into(),
            "policy.default.revalidate_every must be longer than 0s",
        ),
        (
            "[policy.default]\nrevalidate_every = \"4d\"\n".into(),
            "policy.default.revalidate_every (4d) must not be longer than offline_grace (3d): the lease would \
             expire before the app is told to refresh",
        ),
        (
            "[policy.default]\ntransfer_cooldown = \"400d\"\n".into(),
            "policy.default.transfer_cooldown must be between 0s and 365d",
        ),
        (
            "[policy.default]\ntransfers_per_30d = 1001\n".into(),
            "policy.default.transfers_per_30d must be at most 1000",
        ),
        (
            "[policy.default]\npurchase_url = \"whop.com/x\"\n".into(),
            "policy.default.purchase_url must be an http:// or https:// URL without spaces (got `whop.com/x`)",
        ),
        (
            "[policy.default]\npurchase_url = \"https://\"\n".into(),
            "policy.default.purchase_url must be an http:// or https:// URL without spaces (got `https://`)",
        ),
        (
            "[policy.default]\nstatus_map = { Active = \"grant\", active = \"deny\" }\n".into(),
            "policy.default.status_map has `Active` and `active`, the same status (keys are case-insensitive)",
        ),
        (
            "[policy.default]\nstatus_map = { \" \" = \"grant\" }\n".into(),
            "policy.default.status_map must not have an empty status key",
        ),
        // Product rules: the index as written.
        (
            rule("max_devices = 0"),
            "policy.products[0].max_devices must be at least 1",
        ),
        (
            three_rules("offline_grace = \"0s\""),
            "policy.products[2].offline_grace must be longer than 0s: a lease that expires at once gives no offline \
             access",
        ),
        // The rule sets revalidate_every beyond the default offline_grace: blame the rule's key.
        (
            rule("revalidate_every = \"5d\""),
            "policy.products[0].revalidate_every (5d) must not be longer than offline_grace (3d): the lease would \
             expire before the app is told to refresh",
        ),
        // The rule shortens offline_grace below the default revalidate_every: blame the rule's key.
        (
            rule("offline_grace = \"1h\""),
            "policy.products[0].offline_grace (1h) must not be shorter than revalidate_every (1d): the lease would \
             expire before the app is told to refresh",
        ),
        (
            rule("purchase_url = \"ftp://x\""),
            "policy.products[0].purchase_url must be an http:// or https:// URL without spaces (got `ftp://x`)",
        ),
        (
            "[[policy.products]]\nprovider = \"whop\"\nproduct = \"  \"\n".into(),
            "policy.products[0].product must not be empty",
        ),
        (
            format!("{}{}", rule(""), rule("max_devices = 2")),
            "policy.products[1].product repeats the rule for whop product `prod_1` already in policy.products[0]: \
             only the first would ever match",
        ),
    ];
    for (text, message) in cases {
        let err = invalid(&text);
        assert_eq!(err.to_string(), message, "{text}");
        assert!(message.starts_with(err.path()), "{text}");
    }
    assert_eq!(
        invalid(&format!("{}{}", rule(""), rule(""))),
        PolicyError::DuplicateProductRule {
            path: "policy.products[1].product".into(),
            first: "policy.products[0]".into(),
            provider: Provider::Whop,
            product: "prod_1".into(),
        }
    );
    // Same product id for two providers is fine.
    parse(&three_rules("")).unwrap().validate().unwrap();
    // http:// is accepted.
    parse("[policy.default]\npurchase_url = \"http://localhost:3000/buy\"\n")
        .unwrap()
        .validate()
        .unwrap();
}
