//! `verify-webhook` on deliveries signed with `tollgate_verify::sign_*`, checked at a fixed `--at` time.

use tollgate_verify::{sign_hex_hmac, sign_standard_webhooks, sign_whop, sign_whop_legacy};

use crate::cli::cli_support::{Run, Sandbox};

const WHOP_SECRET: &str = "ws_0123456789abcdef";
const DODO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AGHANIM_SECRET: &str = "aghanim_webhook_secret";
const TS: i64 = 1_795_000_000;

fn body() -> Vec<u8> {
    let value = serde_json::json!({
        "id": "msg_1",
        "type": "membership.activated",
        "timestamp": "2026-11-19T07:06:40.000Z",
        "data": {"id": "mem_1", "status": "active", "user": {"id": "user_1"}, "amounts": [1, 2.5]}
    });
    // serde_json writes keys sorted; the test only needs a JSON body and its re-serializations.
    serde_json::to_vec(&value).unwrap()
}

fn sandbox() -> Sandbox {
    Sandbox::new()
        .with("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", WHOP_SECRET)
        .with("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", DODO_SECRET)
        .with("TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET", AGHANIM_SECRET)
}

fn whop_headers(secret: &str, ts: i64, body: &[u8]) -> String {
    format!(
        "webhook-id: msg_1\nwebhook-timestamp: {ts}\nwebhook-signature: {}\n",
        sign_whop(secret, "msg_1", ts, body)
    )
}

fn verify(sandbox: &Sandbox, provider: &str, headers: &str, body: &[u8], at: i64) -> Run {
    sandbox.write("headers.txt", headers);
    sandbox.write("body.json", body);
    sandbox.run(&[
        "verify-webhook",
        "--provider",
        provider,
        "--headers",
        "headers.txt",
        "--body",
        "body.json",
        "--at",
        &at.to_string(),
    ])
}

fn invalid(run: &Run) -> &str {
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        "error: the delivery does not verify against the configured secrets (see above)"
    );
    &run.stdout
}

#[test]
fn a_good_whop_delivery_is_valid() {
    let body = body();
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, &body),
        &body,
        TS + 10,
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "✔ valid Whop delivery\n  scheme: Whop (current format)\n  webhook id: msg_1\n  event: membership.activated\n  \
         signed at: 2026-11-18T11:06:40Z (10s ago; tolerance ±5m)\n  matched secret: providers.whop.webhook_secret\n"
    );
}

#[test]
fn a_delivery_signed_with_a_previous_secret_says_so() {
    let body = body();
    let sandbox = sandbox()
        .with("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_new_secret")
        .with("TOLLGATE_PROVIDERS__WHOP__PREVIOUS_WEBHOOK_SECRETS", WHOP_SECRET);
    let run = verify(&sandbox, "whop", &whop_headers(WHOP_SECRET, TS, &body), &body, TS);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains(
        "matched secret: providers.whop.previous_webhook_secrets[0] (an old secret: the provider still signs with it)"
    ));
}

#[test]
fn a_wrong_secret_is_explained() {
    let body = body();
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers("ws_someone_elses", TS, &body),
        &body,
        TS,
    );
    let out = invalid(&run);
    assert!(
        out.starts_with("✘ no configured secret matches the signature\n"),
        "{out}"
    );
    assert!(
        out.contains("tried 1 secret(s): providers.whop.webhook_secret"),
        "{out}"
    );
    assert!(out.contains("either the secret is wrong"), "{out}");
    assert!(out.contains("(the whole ws_… string is the key)"), "{out}");
    assert!(
        out.contains("none matches, so a wrong secret is more likely"),
        "{out}"
    );
}

#[test]
fn a_stale_timestamp_says_by_how_much_and_the_tolerance() {
    let body = body();
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, &body),
        &body,
        TS + 3_725,
    );
    let out = invalid(&run);
    assert!(out.starts_with("✘ the timestamp is too old\n"), "{out}");
    assert!(
        out.contains(
            "signed at 2026-11-18T11:06:40Z, 1h 2m ago (now is 2026-11-18T12:08:45Z); the tolerance is ±5m \
             (providers.whop.signature_tolerance)"
        ),
        "{out}"
    );
    assert!(
        out.contains("the signature itself is valid (providers.whop.webhook_secret): only the time is off"),
        "{out}"
    );
    assert!(out.contains(&format!("--at {TS}")), "{out}");

    // The boundary: exactly the tolerance passes, one second more fails.
    assert_eq!(
        verify(
            &sandbox(),
            "whop",
            &whop_headers(WHOP_SECRET, TS, &body),
            &body,
            TS + 300
        )
        .code,
        Some(0)
    );
    assert_eq!(
        verify(
            &sandbox(),
            "whop",
            &whop_headers(WHOP_SECRET, TS, &body),
            &body,
            TS + 301
        )
        .code,
        Some(1)
    );
}

#[test]
fn a_future_timestamp_is_explained() {
    let body = body();
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, &body),
        &body,
        TS - 600,
    );
    let out = invalid(&run);
    assert!(
        out.starts_with("✘ the timestamp is too far in the future\n"),
        "{out}"
    );
    assert!(out.contains("10m in the future"), "{out}");
}

#[test]
fn a_re_serialized_json_body_is_recognised() {
    let body = body();
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    assert_ne!(pretty, body);
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, &body),
        &pretty,
        TS,
    );
    let out = invalid(&run);
    assert!(
        out.starts_with("✘ the body was altered after signing: it is re-serialized JSON\n"),
        "{out}"
    );
    assert!(
        out.contains("the signature matches the compact (no spaces"),
        "{out}"
    );
    assert!(
        out.contains("did your proxy or framework parse and re-serialize it?"),
        "{out}"
    );

    // Python's json.dumps spacing, on a Dodo (Standard Webhooks) delivery.
    let spaced = String::from_utf8(body.clone())
        .unwrap()
        .replace("\":", "\": ")
        .replace(",\"", ", \"");
    let signature = sign_standard_webhooks(DODO_SECRET, "msg_1", TS, &body).unwrap();
    let headers = format!("webhook-id: msg_1\nwebhook-timestamp: {TS}\nwebhook-signature: {signature}\n");
    let run = verify(&sandbox(), "dodo", &headers, spaced.as_bytes(), TS);
    assert!(invalid(&run).contains("re-serialized JSON"), "{}", run.stdout);
}

#[test]
fn a_trailing_line_break_in_the_body_file_is_recognised() {
    let body = body();
    let mut with_newline = body.clone();
    with_newline.push(b'\n');
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, &body),
        &with_newline,
        TS,
    );
    assert!(
        invalid(&run)
            .starts_with("✘ the body file ends with a line break or spaces that were not delivered\n")
    );
}

#[test]
fn a_body_that_is_not_json_and_does_not_match_is_explained() {
    let run = verify(
        &sandbox(),
        "whop",
        &whop_headers(WHOP_SECRET, TS, b"original"),
        b"tampered",
        TS,
    );
    let out = invalid(&run);
    assert!(out.contains(
        "the body differs from what was signed; did your proxy or framework parse and re-serialize it?"
    ));
    assert!(out.contains("(the body is not JSON"), "{out}");
}

#[test]
fn missing_and_malformed_headers_are_named() {
    let body = body();
    let signature = sign_standard_webhooks(DODO_SECRET, "msg_1", TS, &body).unwrap();
    let run = verify(
        &sandbox(),
        "dodo",
        &format!("webhook-id: msg_1\nwebhook-signature: {signature}\n"),
        &body,
        TS,
    );
    let out = invalid(&run);
    assert!(out.starts_with("✘ missing header `webhook-timestamp`\n"), "{out}");
    assert!(
        out.contains("the headers file has: webhook-id, webhook-signature"),
        "{out}"
    );

    let run = verify(
        &sandbox(),
        "dodo",
        &format!("webhook-id: msg_1\nwebhook-timestamp: 12:00\nwebhook-signature: {signature}\n"),
        &body,
        TS,
    );
    let out = invalid(&run);
    assert!(
        out.starts_with("✘ malformed header `webhook-timestamp`\n"),
        "{out}"
    );
    assert!(
        out.contains("expected Unix seconds, digits only, e.g. 1727606400; found \"12:00\""),
        "{out}"
    );

    // Aghanim headers checked as Whop: the missing header, and which provider they look like.
    let headers = format!(
        "X-Aghanim-Signature: {}\nX-Aghanim-Signature-Timestamp: {TS}\n",
        sign_hex_hmac(AGHANIM_SECRET, TS, &body)
    );
    let out = invalid(&verify(&sandbox(), "whop", &headers, &body, TS)).to_owned();
    assert!(out.starts_with("✘ missing header `webhook-signature`\n"), "{out}");
    assert!(
        out.contains("these headers look like they come from Aghanim: try --provider aghanim"),
        "{out}"
    );
}

#[test]
fn dodo_aghanim_and_legacy_whop_deliveries_verify_from_curl_output() {
    let body = body();
    let signature = sign_standard_webhooks(DODO_SECRET, "msg_9", TS, &body).unwrap();
    let curl = format!(
        "*   Trying 127.0.0.1:8080...\n> POST /api/webhooks/dodo HTTP/1.1\n> Host: 127.0.0.1:8080\n\
         > webhook-id: msg_9\n> webhook-timestamp: {TS}\n> webhook-signature: {signature}\n>\n"
    );
    let run = verify(&sandbox(), "dodo", &curl, &body, TS);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("scheme: Standard Webhooks\n  webhook id: msg_9\n"),
        "{}",
        run.stdout
    );

    // Aghanim's tolerance is off by default: a delivery a week old still verifies.
    let headers = format!(
        "X-Aghanim-Signature: {}\nX-Aghanim-Signature-Timestamp: {TS}\n",
        sign_hex_hmac(AGHANIM_SECRET, TS, &body)
    );
    let run = verify(&sandbox(), "aghanim", &headers, &body, TS + 7 * 86_400);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("(7d ago; tolerance off)"), "{}", run.stdout);

    let headers = format!("X-Whop-Signature: {}\n", sign_whop_legacy(WHOP_SECRET, TS, &body));
    let run = verify(&sandbox(), "whop", &headers, &body, TS);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(
        run.stdout.contains("scheme: Whop (legacy X-Whop-Signature)"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_problems_exit_2() {
    let body = body();
    let sandbox = Sandbox::new();
    let run = verify(&sandbox, "whop", &whop_headers(WHOP_SECRET, TS, &body), &body, TS);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "no webhook secret is configured for whop: set TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET"
        )
    );

    let run = verify(&self::sandbox(), "whop", "no headers here\n", &body, TS);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stdout.contains("note: skipped line 1 of headers.txt"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("headers.txt holds no `Name: value` header lines"),
        "{}",
        run.stderr
    );

    let run = self::sandbox().run(&[
        "verify-webhook",
        "--provider",
        "whop",
        "--headers",
        "nope.txt",
        "--body",
        "nope.json",
    ]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with("error: cannot read nope.txt:"),
        "{}",
        run.stderr
    );

    let bad = self::sandbox().with("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", "whsec_***");
    let run = verify(&bad, "dodo", "webhook-id: x\n", &body, TS);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("providers.dodo.webhook_secret is not valid base64 after its whsec_ prefix"),
        "{}",
        run.stderr
    );
}
