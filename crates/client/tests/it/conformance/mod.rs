//! The conformance vectors (`clients/conformance/vectors.json`): made here from the real lease signer
//! (`generate.rs`), checked to be current, and run against the Rust client (`run.rs`). The JavaScript and Python
//! clients run the same file (`clients/js/test/conformance.test.mjs`, `clients/python/tests/test_conformance.py`).
//!
//! Regenerate after a deliberate change: `TOLLGATE_WRITE_VECTORS=1 cargo test -p tollgate-client --test it conformance::`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test harness: a setup error fails the test"
)]

mod canned;
mod fixtures;
mod generate;
mod run;
mod scenarios;
mod server_errors;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../clients/conformance/vectors.json"
);

fn fresh_text() -> String {
    serde_json::to_string_pretty(&generate::vectors()).unwrap() + "\n"
}

#[test]
fn the_checked_in_vectors_are_current() {
    let fresh = fresh_text();
    if std::env::var("TOLLGATE_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(VECTORS, &fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(VECTORS).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "clients/conformance/vectors.json is stale: the signer, the claims or a client message changed. Check the \
         change is intended, then regenerate: TOLLGATE_WRITE_VECTORS=1 cargo test -p tollgate-client --test it conformance::"
    );
}

#[test]
fn generating_twice_gives_the_same_bytes() {
    assert_eq!(fresh_text(), fresh_text());
}

#[tokio::test]
async fn the_rust_client_passes_every_vector() {
    let text = std::fs::read_to_string(VECTORS).expect("clients/conformance/vectors.json");
    let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
    let counts = run::all(&vectors).await;
    println!("conformance: {counts:?}");
    assert!(
        counts.leases >= 20 && counts.device_hashes >= 5 && counts.steps >= 60,
        "{counts:?}"
    );
}
