//! `tollgate doctor`'s Whop items, and `doctor --online`: one read call to the (fake) Whop that shows the key, its
//! permission, the company id and the version work, and any deprecation notice.

use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::FakeProvider as _;

use crate::cli::cli_support::Sandbox;

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn whop_sandbox(whop: &FakeWhop) -> Sandbox {
    Sandbox::new()
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY)
        .with("TOLLGATE_PROVIDERS__WHOP__API_BASE", &whop.base_url())
}

#[test]
fn without_a_company_id_reconciliation_is_pending_and_online_does_not_probe() {
    let whop = FakeWhop::start();
    let sandbox = whop_sandbox(&whop);
    let report = sandbox.ok(&["doctor", "--json", "--online"]).json();
    let company = check(&report, "providers.whop.company_id");
    assert_eq!(company["status"], "pending");
    assert!(
        company["summary"]
            .as_str()
            .unwrap()
            .contains("reconciliation is skipped")
    );
    assert_eq!(
        company["fix"],
        "set TOLLGATE_PROVIDERS__WHOP__COMPANY_ID to your Whop company id (biz_..., in your Whop dashboard URL)"
    );
    assert_eq!(check(&report, "online.whop")["status"], "pending");
    assert_eq!(check(&report, "providers.whop.api_version")["status"], "done");
    assert_eq!(whop.request_count(), 0);
}

#[test]
fn online_shows_a_working_key_a_refused_one_and_a_deprecation_notice() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-1"));
    let mut sandbox = whop_sandbox(&whop).with("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", FakeWhop::COMPANY_ID);
    // Offline by default: no call.
    sandbox.ok(&["doctor", "--json"]);
    assert_eq!(whop.request_count(), 0);

    let report = sandbox.ok(&["doctor", "--json", "--online"]).json();
    let online = check(&report, "online.whop");
    assert_eq!(online["status"], "done", "{online:#}");
    assert_eq!(
        online["summary"],
        "Whop answered: the API key reads memberships (member:basic:read) of biz_fake with Api-Version-Date 2026-09-15"
    );
    let request = whop.requests().pop().unwrap();
    assert_eq!(request.path, "/api/v1/memberships");
    assert_eq!(request.query, "account_id=biz_fake&first=1");

    whop.add_response_header("Deprecation", "@1791417600");
    let report = sandbox.ok(&["doctor", "--json", "--online"]).json();
    let online = check(&report, "online.whop");
    assert_eq!(online["status"], "pending");
    assert_eq!(
        online["notes"][0],
        "Whop announced a deprecation: Deprecation: @1791417600"
    );

    whop.set_permissions(&[]);
    let run = sandbox.run(&["doctor", "--json", "--online"]);
    assert_eq!(run.code, Some(1), "a refused key is broken");
    let online = check(&run.json(), "online.whop").clone();
    assert_eq!(online["status"], "broken");
    assert!(
        online["fix"].as_str().unwrap().contains("member:basic:read"),
        "{online:#}"
    );

    sandbox.set("TOLLGATE_PROVIDERS__WHOP__API_KEY", "not-the-key");
    let run = sandbox.run(&["doctor", "--json", "--online"]);
    let online = check(&run.json(), "online.whop").clone();
    assert_eq!(online["status"], "broken");
    assert!(online["summary"].as_str().unwrap().contains("401"), "{online:#}");
}

#[test]
fn the_sandbox_is_named() {
    let sandbox = Sandbox::new()
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", "sandbox-key")
        .with(
            "TOLLGATE_PROVIDERS__WHOP__API_BASE",
            "https://sandbox-api.whop.com",
        )
        .with("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", "biz_sandbox1");
    let report = sandbox.ok(&["doctor", "--json"]).json();
    let version = check(&report, "providers.whop.api_version");
    assert!(
        version["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("Whop sandbox")),
        "{version:#}"
    );
    assert_eq!(check(&report, "providers.whop.company_id")["status"], "done");
}

#[test]
fn online_probes_dodo_and_aghanim_with_one_read_each() {
    let dodo = tollgate_providers::dodo::fake::FakeDodo::start();
    let aghanim = FakeAghanim::start();
    let mut sandbox = Sandbox::new()
        .with(
            "TOLLGATE_PROVIDERS__DODO__API_KEY",
            tollgate_providers::dodo::fake::FakeDodo::API_KEY,
        )
        .with("TOLLGATE_PROVIDERS__DODO__API_BASE", &dodo.base_url())
        .with("TOLLGATE_PROVIDERS__AGHANIM__API_KEY", FakeAghanim::API_KEY)
        .with("TOLLGATE_PROVIDERS__AGHANIM__API_BASE", &aghanim.base_url());
    let report = sandbox.ok(&["doctor", "--json", "--online"]).json();
    assert_eq!(check(&report, "online.dodo")["status"], "done", "{report:#}");
    assert_eq!(check(&report, "online.aghanim")["status"], "done", "{report:#}");
    assert_eq!(check(&report, "online.whop")["status"], "pending");
    assert_eq!(dodo.request_count(), 1);
    assert_eq!(aghanim.request_count(), 1);

    sandbox.set("TOLLGATE_PROVIDERS__DODO__API_KEY", "wrong-dodo-key");
    let run = sandbox.run(&["doctor", "--json", "--online"]);
    assert_eq!(run.code, Some(1));
    let dodo_check = check(&run.json(), "online.dodo").clone();
    assert_eq!(dodo_check["status"], "broken");
    assert!(
        dodo_check["fix"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_PROVIDERS__DODO__API_KEY"),
        "{dodo_check:#}"
    );
}
