//! The demo app in a real terminal against the real server: a key that works, a key that does not.

use std::time::Duration;

use tollgate_providers::whop::fake::FakeMembership;

use crate::common::tmux::{Tmux, demo_binary};
use crate::e2e::server::{Tollgate, real_now};

#[tokio::test]
async fn typing_a_key_into_the_demo_shows_success_then_an_error() {
    let now = real_now();
    let server = Tollgate::start(now, vec![FakeMembership::new("mem_demo_1", "DEMO-ACTIVE-0001")]);
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, server.jwks().await).unwrap();
    let args = |machine: &str, state: &str| -> Vec<String> {
        vec![
            "--server".into(),
            server.base_url.clone(),
            "--state-dir".into(),
            dir.path().join(state).display().to_string(),
            "--jwks".into(),
            jwks.display().to_string(),
            "--machine-id".into(),
            machine.into(),
        ]
    };

    let first = Tmux::start(&demo_binary(), &args("demo-machine-a", "a"));
    first.wait_for("License key:", Duration::from_secs(20));
    first.type_line("DEMO-ACTIVE-0001");
    let screen = first.wait_for("✔ Activated. Thank you!", Duration::from_secs(30));
    assert!(screen.contains("Plan:           plan_fake"), "{screen}");
    assert!(screen.contains("Offline grace:  3 days"), "{screen}");
    assert!(screen.contains("License:        key ending in 0001"), "{screen}");

    // the same key on another computer: the node-locked message
    let second = Tmux::start(&demo_binary(), &args("demo-machine-b", "b"));
    second.wait_for("License key:", Duration::from_secs(20));
    second.type_line("DEMO-ACTIVE-0001");
    second.wait_for(
        "✖ This license key is already in use on another computer. Deactivate it there, or contact support.",
        Duration::from_secs(30),
    );

    // a key that does not exist
    second.wait_for(">", Duration::from_secs(5));
    second.type_line("activate");
    second.wait_for("License key:", Duration::from_secs(5));
    second.type_line("NOPE-0000");
    second.wait_for("✖ This license key is not valid.", Duration::from_secs(30));

    // status on the first shows the license offline-checked
    first.type_line("status");
    first.wait_for(
        "✔ Licensed (checked offline, no network needed).",
        Duration::from_secs(10),
    );
}
