//! F3: a token the bearer check would not compare as written is refused at start, with a message naming the
//! setting; a valid token opens the admin API only when presented exactly.

use crate::harness::process::{Server, command, request, run};

#[test]
fn a_padded_or_non_ascii_token_stops_the_start_with_a_message_naming_the_setting() {
    let padded = format!("a{}", " ".repeat(15));
    for (var, value, setting) in [
        ("TOLLGATE_ADMIN__TOKEN", padded.as_str(), "admin.token"),
        ("TOLLGATE_ADMIN__TOKEN", "éééééééé", "admin.token"),
        (
            "TOLLGATE_SERVICE__TOKEN",
            "service token with spaces",
            "service.token",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let done = run(command(
            dir.path(),
            &["serve"],
            &[("TOLLGATE_LISTEN", "127.0.0.1:0"), (var, value)],
        ));
        assert!(!done.status.success(), "{value:?} started: {}", done.stderr);
        assert!(
            done.stderr
                .contains(&format!("configuration key `{setting}`: ({var}) contains")),
            "{value:?}: {}",
            done.stderr
        );
        // Nothing was created: the start stopped at the configuration.
        assert!(!dir.path().join("tollgate.db").exists());
    }
}

#[test]
fn only_the_exact_token_opens_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let token = "exact-admin-token-0123456789";
    let server = Server::start(dir.path(), &[("TOLLGATE_ADMIN__TOKEN", token)]);
    let status = |value: &str| {
        request(
            server.port,
            "GET",
            "/admin/policy",
            &[("Authorization", value)],
            "",
        )
        .unwrap()
        .0
    };
    assert_eq!(status(&format!("Bearer {token}")), 200);
    assert_eq!(status("Bearer a"), 401);
    assert_eq!(status(&format!("Bearer {}", &token[..token.len() - 1])), 401);
}
