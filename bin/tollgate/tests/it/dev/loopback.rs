//! `tollgate dev` and `tollgate simulate` make no call outside loopback, observed at the system-call boundary:
//! each runs under `strace -f`, which records every `connect`, `sendto`, `sendmsg` and `sendmmsg` of every thread
//! with its destination address. Nothing here needs the internet: the proof is what the processes *tried*.
//!
//! The observation is checked to see the provider calls it must see (the fakes' ports appear in the record), so the
//! test cannot pass because strace recorded nothing. Without strace the tests are skipped with a note, unless
//! `TOLLGATE_REQUIRE_STRACE=1` (set by CI), which makes them fail instead.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::dev::{Dev, call, code, license, tollgate};

/// The real-looking provider URLs every run here is given (none is reachable from a test machine).
const LIVE: [(&str, &str); 3] = [
    ("TOLLGATE_PROVIDERS__WHOP__API_BASE", "https://api.whop.com"),
    (
        "TOLLGATE_PROVIDERS__DODO__API_BASE",
        "https://live.dodopayments.com",
    ),
    ("TOLLGATE_PROVIDERS__AGHANIM__API_BASE", "https://api.aghanim.com"),
];

/// The strace command line recording to `log`, or `None` (skip) when strace cannot run here.
fn strace(log: &Path) -> Option<Vec<String>> {
    let works = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        assert!(
            std::env::var("TOLLGATE_REQUIRE_STRACE").as_deref() != Ok("1"),
            "strace cannot run here and TOLLGATE_REQUIRE_STRACE=1: install it (apt-get install -y strace)"
        );
        eprintln!("note: strace is not available; skipping the loopback-only proof (CI runs it)");
        return None;
    }
    Some(
        [
            "strace",
            "-f",
            "-qq",
            "--seccomp-bpf",
            "-e",
            "trace=connect,sendto,sendmsg,sendmmsg",
            "-o",
        ]
        .iter()
        .map(ToString::to_string)
        .chain(std::iter::once(log.display().to_string()))
        .collect(),
    )
}

/// One destination address strace recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Destination {
    family: String,
    ip: Option<IpAddr>,
    port: Option<u16>,
}

/// The text between `start` and the next `end` after it, from `at`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Every socket address in a strace log (`sa_family=...` with its `inet_addr("...")` / `inet_pton(AF_INET6,
/// "...")` and `htons(port)`).
fn destinations(log: &Path) -> Vec<(Destination, String)> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("sa_family=") {
            let address = &rest[at..];
            let end = address.find('}').unwrap_or(address.len());
            let address = &address[..end];
            let family = address["sa_family=".len()..]
                .split([',', '}'])
                .next()
                .unwrap_or_default()
                .to_owned();
            let ip = match family.as_str() {
                "AF_INET" => between(address, "inet_addr(\"", "\""),
                "AF_INET6" => between(address, "inet_pton(AF_INET6, \"", "\""),
                _ => None,
            }
            .map(|ip| ip.parse().unwrap_or_else(|e| panic!("{e}: {line}")));
            let port = between(address, "htons(", ")").and_then(|p| p.parse().ok());
            found.push((Destination { family, ip, port }, line.to_owned()));
            rest = &rest[at + end..];
        }
    }
    found
}

/// Fail on any destination that is not on this machine; return the loopback TCP/UDP ports that were addressed.
fn assert_loopback_only(log: &Path) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for (destination, line) in destinations(log) {
        match destination.family.as_str() {
            // Local by construction: a Unix socket, the kernel's netlink, "disconnect" of a UDP socket.
            "AF_UNIX" | "AF_NETLINK" | "AF_UNSPEC" => {}
            "AF_INET" | "AF_INET6" => {
                let ip = destination.ip.unwrap_or_else(|| panic!("no address in: {line}"));
                let loopback = match ip {
                    IpAddr::V4(ip) => ip.is_loopback(),
                    IpAddr::V6(ip) => {
                        ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                    }
                };
                assert!(loopback, "a call outside loopback: {line}");
                ports.extend(destination.port);
            }
            other => panic!("an address of family {other}: {line}"),
        }
    }
    ports
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A working directory holding a `tollgate.toml` that points every provider at its live API.
fn cwd_with_live_config() -> tempfile::TempDir {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("tollgate.toml"),
        "[providers.whop]\napi_base = \"https://api.whop.com\"\napi_key = \"live_key\"\n\
         [providers.dodo]\napi_base = \"https://live.dodopayments.com\"\n\
         [providers.aghanim]\napi_base = \"https://api.aghanim.com\"\n",
    )
    .unwrap();
    cwd
}

#[test]
fn dev_and_simulate_into_it_connect_to_nothing_outside_loopback() {
    let logs = tempfile::tempdir().unwrap();
    let dev_log = logs.path().join("dev.strace");
    let Some(wrapper) = strace(&dev_log) else { return };

    // Live provider URLs in the environment and in ./tollgate.toml: dev must ignore both.
    let cwd = cwd_with_live_config();
    let dir = cwd.path().join("world").display().to_string();
    let mut dev = Dev::spawn_in(
        cwd,
        &["--listen", "127.0.0.1:0", "--dir", &dir, "--json"],
        &LIVE,
        &wrapper,
    );
    let info: Value = serde_json::from_str(&dev.line()).unwrap();
    let server = info["server_url"].as_str().unwrap().to_owned();
    let admin = info["admin_token"].as_str().unwrap().to_owned();
    let keys = info["keys"].clone();
    let key = |name: &str| keys[name].as_str().unwrap().to_owned();

    // Every flow that reaches a provider: activation of each key (Whop validate and bind, Dodo activate),
    // validation, deactivation, a reconciliation of all three, an outage and back.
    for name in ["active", "node_locked", "dodo"] {
        assert_eq!(
            code(&license(&server, "activate", &key(name), "box-1")),
            (200, "VALID"),
            "{name}"
        );
        assert_eq!(
            code(&license(&server, "validate", &key(name), "box-1")),
            (200, "VALID"),
            "{name}"
        );
    }
    assert_eq!(
        code(&license(&server, "activate", &key("canceled"), "box-1")),
        (403, "LICENSE_INACTIVE")
    );
    assert_eq!(
        code(&license(&server, "deactivate", &key("dodo"), "box-1")),
        (200, "DEACTIVATED")
    );
    let (status, report) = call("POST", &format!("{server}/admin/reconcile"), Some(&admin), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["providers"].as_array().unwrap().len(), 3, "{report}");
    let outage = format!("{server}/dev/providers/dodo/outage");
    assert_eq!(
        call("POST", &outage, Some(&admin), Some(json!({"down": true}))).0,
        204
    );
    assert_eq!(
        code(&license(&server, "activate", &key("dodo"), "box-2")),
        (503, "PROVIDER_UNAVAILABLE")
    );
    assert_eq!(
        call("POST", &outage, Some(&admin), Some(json!({"down": false}))).0,
        204
    );

    // The case: a simulated Dodo delivery (its key made up) into this server, then that key activated.
    // simulate runs under strace too, with the dev world's config (its fakes on loopback).
    let simulate_log = logs.path().join("simulate.strace");
    let config = PathBuf::from(&dir).join("tollgate.toml");
    let simulate_wrapper = strace(&simulate_log).unwrap();
    let plain = tollgate(logs.path());
    let simulated = Command::new(&simulate_wrapper[0])
        .args(&simulate_wrapper[1..])
        .arg(plain.get_program())
        .current_dir(logs.path())
        .env("RUST_LOG", "warn")
        .args(["--config", &config.display().to_string()])
        .args([
            "simulate",
            "webhook",
            "--provider",
            "dodo",
            "--event",
            "entitlement_grant.delivered",
        ])
        .output()
        .unwrap();
    assert_eq!(
        simulated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    assert!(String::from_utf8_lossy(&simulated.stdout).contains("-> 200"));
    let simulated_key = "2b1f8e2d-c41e-4e8f-b2d3-5131a7e00001";
    // Known locally now, so Dodo (the loopback fake, which has never heard of it) is asked to activate it.
    assert_eq!(
        code(&license(&server, "activate", simulated_key, "box-1")),
        (404, "LICENSE_NOT_FOUND")
    );

    assert_eq!(dev.stop().code(), Some(0), "{}", dev.logs());

    let dev_ports = assert_loopback_only(&dev_log);
    for provider in ["whop", "dodo", "aghanim"] {
        let port = port_of(info["providers"][provider]["api_base"].as_str().unwrap());
        assert!(
            dev_ports.contains(&port),
            "the record shows no call to the fake {provider} (port {port}): the observation missed it; ports \
             seen: {dev_ports:?}"
        );
    }
    let simulate_ports = assert_loopback_only(&simulate_log);
    assert_eq!(
        simulate_ports,
        BTreeSet::from([port_of(&server)]),
        "simulate talks to the dev server only"
    );
}

#[test]
fn simulate_refuses_a_server_that_would_call_a_live_provider_and_sends_nothing() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("simulate.strace");
    let Some(wrapper) = strace(&log) else { return };
    let cwd = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)], provider: &str, event: &str| {
        let plain = tollgate(cwd.path());
        let mut cmd = Command::new(&wrapper[0]);
        cmd.args(&wrapper[1..])
            .arg(plain.get_program())
            .current_dir(cwd.path());
        for (name, value) in plain.get_envs() {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        // The server address simulate would post to: nothing listens there.
        cmd.env("TOLLGATE_LISTEN", "127.0.0.1:9")
            .envs(env.iter().copied())
            .args(["simulate", "webhook", "--provider", provider, "--event", event])
            .output()
            .unwrap()
    };

    // A Dodo secret builds the Dodo client, at its live default unless told otherwise.
    let refused = run(
        &[(
            "TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET",
            "whsec_bG9jYWwgdGVzdCBzZWNyZXQ=",
        )],
        "dodo",
        "entitlement_grant.delivered",
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("error: refusing to simulate")
            && stderr.contains("dodo at https://live.dodopayments.com")
            && stderr.contains("TOLLGATE_PROVIDERS__DODO__API_BASE"),
        "{stderr}"
    );
    assert_eq!(
        assert_loopback_only(&log),
        BTreeSet::new(),
        "nothing was sent at all"
    );

    // A Whop API key at a live base refuses a Whop delivery too, even with every other provider on loopback.
    let refused = run(
        &[
            ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_local_test_secret"),
            ("TOLLGATE_PROVIDERS__WHOP__API_KEY", "whop_live_key"),
            LIVE[0],
        ],
        "whop",
        "membership.activated",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("whop at https://api.whop.com"));
    assert_eq!(assert_loopback_only(&log), BTreeSet::new());

    // The same delivery with no Whop API client (only a webhook secret) is sent: to the loopback server only.
    let sent = run(
        &[
            ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_local_test_secret"),
            LIVE[0],
        ],
        "whop",
        "membership.activated",
    );
    assert_eq!(sent.status.code(), Some(1), "nothing listens on port 9");
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains("cannot reach http://127.0.0.1:9/api/webhooks/whop")
    );
    assert_eq!(assert_loopback_only(&log), BTreeSet::from([9]));
}

#[test]
fn the_record_check_accepts_loopback_and_fails_on_any_other_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sample.strace");
    std::fs::write(
        &log,
        "10 connect(7, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n\
         11 connect(8, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", \
         &sin6_addr), sin6_scope_id=0}, 28) = 0\n\
         12 connect(9, {sa_family=AF_UNIX, sun_path=\"/run/nscd/socket\"}, 110) = -1 ENOENT\n\
         12 sendto(9, \"x\", 1, 0, NULL, 0) = 1\n",
    )
    .unwrap();
    assert_eq!(assert_loopback_only(&log), BTreeSet::from([8080, 9]));
    for outside in [
        "13 connect(7, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"93.184.216.34\")}, 16) = -1 \
         ENETUNREACH\n",
        "14 sendto(5, \"q\", 1, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"10.0.0.2\")}, 16) = 1\n",
        "15 connect(8, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \
         \"2606:4700::1\", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH\n",
        "16 connect(8, {sa_family=AF_PACKET, sll_protocol=htons(ETH_P_ALL)}, 20) = 0\n",
    ] {
        std::fs::write(&log, outside).unwrap();
        let caught = std::panic::catch_unwind(|| assert_loopback_only(&log));
        assert!(caught.is_err(), "not caught: {outside}");
    }
}
