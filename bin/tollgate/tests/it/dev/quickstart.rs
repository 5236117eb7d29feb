//! The README's "Try it in one command": on a fresh checkout, with no configuration at all, `tollgate dev` and the
//! curl commands its banner prints activate a key.

use std::process::Command;

use serde_json::Value;

use crate::harness::dev::Dev;

/// The first banner line (trimmed) that starts with `prefix` and contains `part`.
fn printed<'a>(banner: &'a [String], prefix: &str, part: &str) -> &'a str {
    banner
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with(prefix) && l.contains(part))
        .unwrap_or_else(|| {
            panic!(
                "no `{prefix}...{part}` line in the banner:\n{}",
                banner.join("\n")
            )
        })
}

/// Run a printed shell command as a person would paste it.
fn sh(command: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn a_fresh_checkout_needs_only_tollgate_dev_and_the_curl_it_prints() {
    // No tollgate.toml, no TOLLGATE_ variable, the default --dir; only a free port instead of 8080.
    let mut dev = Dev::spawn(&["--listen", "127.0.0.1:0"], &[], &[]);
    let banner = dev.lines_until("The API:");
    let text = banner.join("\n");
    assert!(text.contains("TOLLGATE DEV"), "{text}");
    for key in [
        "TGDEV-ACTV-7Q2M-K9XD",
        "TGDEV-CNCL-3H8P-W4TB",
        "TGDEV-LOCK-5R9N-J2VC",
        "TGDEV-DODO-8K4F-M6QZ",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    for sdk in ["clients/js", "clients/python", "--example demo"] {
        assert!(text.contains(sdk), "{sdk} missing:\n{text}");
    }
    assert!(dev.cwd.path().join("tollgate-dev/tollgate.db").is_file());

    let activate = printed(&banner, "curl ", "/api/license/activate");
    let (ok, answer) = sh(activate);
    assert!(ok, "{activate}");
    let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(answer["code"], "VALID", "{answer}");
    assert_eq!(answer["entitlement"]["access"]["allowed"], true);
    assert!(
        answer["lease"]["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );

    let validate = printed(&banner, "curl ", "/api/license/validate");
    let (ok, answer) = sh(validate);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["code"], "VALID");

    let service = printed(&banner, "curl ", "/api/entitlements?");
    let (ok, answer) = sh(service);
    assert!(ok);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["entitlements"][0]["provider"], "aghanim", "{answer}");

    // The printed operator command reads the same world through its config.
    let show = printed(&banner, "/", " entitlements show whop mem_tgdev_active");
    let show = show.split("  (").next().unwrap().trim();
    let (ok, shown) = sh(&format!("cd {} && {show}", dev.cwd.path().display()));
    assert!(ok, "{show}");
    assert!(shown.contains("access         allowed (VALID)"), "{shown}");

    assert_eq!(dev.stop().code(), Some(0));
}

#[test]
fn help_explains_dev_with_examples() {
    let cwd = tempfile::tempdir().unwrap();
    let out = crate::harness::dev::tollgate(cwd.path())
        .args(["dev", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for part in [
        "--listen <ADDR>",
        "--dir <DIR>",
        "--json",
        "/dev/providers/{whop|dodo|aghanim}/outage",
        "tollgate dev --listen 127.0.0.1:0 --dir /tmp/tg-dev --json",
    ] {
        assert!(help.contains(part), "{part} missing:\n{help}");
    }
}
