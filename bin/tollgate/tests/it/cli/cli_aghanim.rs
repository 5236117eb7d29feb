//! `tollgate doctor` on the Aghanim choices: which item events Tollgate grants, and whether sandbox events count.

use serde_json::Value;

use crate::cli::cli_support::Sandbox;

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {report:#}"))
}

#[test]
fn doctor_warns_when_aghanim_lists_no_item_skus_and_shows_the_sandbox_setting() {
    let unconfigured = Sandbox::new().ok(&["doctor", "--json"]).json();
    assert!(
        unconfigured["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "providers.aghanim.item_skus"),
        "no Aghanim checks before Aghanim is configured"
    );

    let mut sandbox = Sandbox::new().with("TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET", "aghanim_secret");
    let report = sandbox.ok(&["doctor", "--json"]).json();
    let items = check(&report, "providers.aghanim.item_skus");
    assert_eq!(items["status"], "pending");
    assert!(
        items["summary"]
            .as_str()
            .unwrap()
            .starts_with("no item SKUs listed: every item.add and item.remove sent to Tollgate is answered 422 UNSUPPORTED_ITEM"),
        "{items}"
    );
    assert!(
        items["fix"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_PROVIDERS__AGHANIM__ITEM_SKUS=pro_unlock,dlc_1"),
        "{items}"
    );
    assert!(items["notes"].to_string().contains("player.verify"), "{items}");
    let sandbox_check = check(&report, "providers.aghanim.accept_sandbox");
    assert_eq!(sandbox_check["status"], "done");
    assert!(
        sandbox_check["summary"].as_str().unwrap().starts_with(
            "accept_sandbox = false: sandbox events are stored and marked, and change no access"
        ),
        "{sandbox_check}"
    );

    sandbox.set("TOLLGATE_PROVIDERS__AGHANIM__ITEM_SKUS", "pro_unlock,dlc_1");
    sandbox.set("TOLLGATE_PROVIDERS__AGHANIM__ACCEPT_SANDBOX", "true");
    let report = sandbox.ok(&["doctor", "--json"]).json();
    let items = check(&report, "providers.aghanim.item_skus");
    assert_eq!(items["status"], "done");
    assert_eq!(
        items["summary"],
        "item.add grants 2 item SKU(s) as entitlements, one per player and SKU: pro_unlock, dlc_1"
    );
    let sandbox_check = check(&report, "providers.aghanim.accept_sandbox");
    assert_eq!(sandbox_check["status"], "pending");
    assert!(
        sandbox_check["fix"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_PROVIDERS__AGHANIM__ACCEPT_SANDBOX=false"),
        "{sandbox_check}"
    );

    let human = sandbox.ok(&["doctor"]).stdout;
    assert!(
        human.contains("○ accept_sandbox = true: events Aghanim marks sandbox: true"),
        "{human}"
    );
}
