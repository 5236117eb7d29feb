//! F7: device names lose Unicode format characters (bidi overrides and isolates, zero-width characters, the BOM) at
//! input, and `tollgate entitlements show` prints any still stored (written before the fix) as escapes.

use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::FakeProvider as _;

use crate::harness::process::{Server, command, post_json, run};

const KEY: &str = "NAMES-KEY-0001-ABCD";
const SPOOF: &str = "evil\u{202e}txt.exe\u{2066}x\u{2069}\u{200b}\u{200d}\u{feff} laptop";

#[test]
fn format_characters_are_dropped_at_input_and_escaped_in_the_cli() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_names_1", KEY));
    let dir = tempfile::tempdir().unwrap();
    let base = whop.base_url();
    let env = [
        ("TOLLGATE_PROVIDERS__WHOP__API_BASE", base.as_str()),
        ("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY),
        ("TOLLGATE_RATE_LIMIT__ENABLED", "false"),
    ];
    let server = Server::start(dir.path(), &env);
    let (status, body) = post_json(
        server.port,
        "/api/license/activate",
        &serde_json::json!({"license_key": KEY, "hwid": "hwid-names-1", "device_name": SPOOF}),
    );
    assert_eq!(status, 200, "{body}");

    let show = || {
        let done = run(command(
            dir.path(),
            &["entitlements", "show", "whop", "mem_names_1"],
            &env,
        ));
        assert!(done.status.success(), "{}", done.stderr);
        done.stdout
    };
    let printed = show();
    assert!(printed.contains("eviltxt.exex laptop"), "{printed}");
    assert!(
        !printed
            .chars()
            .any(|c| matches!(c, '\u{202e}' | '\u{2066}' | '\u{200b}' | '\u{feff}')),
        "{printed:?}"
    );

    // A name stored before input cleaning dropped them.
    let db = dir.path().join("tollgate.db");
    let mut conn = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    diesel::sql_query("UPDATE devices SET name = ?")
        .bind::<diesel::sql_types::Text, _>(SPOOF)
        .execute(&mut conn)
        .unwrap();
    let printed = show();
    assert!(
        printed.contains(r"evil\u{202e}txt.exe\u{2066}x\u{2069}\u{200b}\u{200d}\u{feff} laptop"),
        "{printed}"
    );
    assert!(
        !printed
            .chars()
            .any(|c| matches!(c, '\u{202e}' | '\u{2066}' | '\u{200b}' | '\u{feff}')),
        "{printed:?}"
    );
}
