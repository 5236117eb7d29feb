//! The demo app in a real terminal: a person types a key and reads the answer.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use common::tmux::{Tmux, demo_binary};
use common::{TestKey, closed_port_url};

#[test]
fn an_unreachable_server_shows_the_connectivity_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::generate("lease-1");
    let jwks = dir.path().join("jwks.json");
    let doc = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "lease-1",
        "x": URL_SAFE_NO_PAD.encode(key.public())}]});
    std::fs::write(&jwks, doc.to_string()).unwrap();
    let args = vec![
        "--server".to_string(),
        closed_port_url(),
        "--state-dir".into(),
        dir.path().join("state").display().to_string(),
        "--jwks".into(),
        jwks.display().to_string(),
        "--machine-id".into(),
        "tmux-machine".into(),
    ];
    let tmux = Tmux::start(&demo_binary(), &args);
    let demo = tmux.pane_pid();
    tmux.wait_for(
        "This computer is not activated. Enter your license key to activate it.",
        Duration::from_secs(20),
    );
    tmux.wait_for("License key:", Duration::from_secs(5));
    tmux.type_line("DEMO-ACTIVE-0001");
    let screen = tmux.wait_for("could not be reached", Duration::from_secs(20));
    assert!(
        screen.contains("✖ The license server could not be reached. Check your connection and try again."),
        "{screen}"
    );
    assert!(screen.contains("→ Check your internet connection"), "{screen}");
    assert!(!dir.path().join("state").join("tollgate-license.json").exists());
    tmux.wait_for(">", Duration::from_secs(5));
    tmux.type_line("status");
    tmux.type_line("quit");
    // The demo itself must exit promptly; tmux's own "Pane is dead" line is not waited for (see `wait_for_exit`).
    tmux.wait_for_exit(demo, Duration::from_secs(10));
}
