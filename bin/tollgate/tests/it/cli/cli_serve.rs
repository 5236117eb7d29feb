//! `serve` end to end: the real binary on a free port, webhooks sent with `simulate`, the result read with
//! `entitlements show` and `inbox`, then SIGTERM and a clean exit.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::cli_support::Sandbox;

/// A port that was free a moment ago (bind to :0, read it, release it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over a fresh connection; the status code, or `None` if nothing answers yet.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// The server process, killed if the test fails before it is stopped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn entitlement(sandbox: &Sandbox, provider: &str, id: &str) -> Value {
    let shown = sandbox
        .ok(&["entitlements", "show", provider, id, "--json"])
        .json();
    let list = shown["entitlements"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{shown:#}");
    list[0].clone()
}

#[test]
fn serve_ingests_simulated_webhooks_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let sandbox = Sandbox::new()
        .with("TOLLGATE_LISTEN", &format!("127.0.0.1:{port}"))
        .with("TOLLGATE_DATABASE__URL", "sqlite://serve.db")
        .with("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_local_test_secret")
        .with(
            "TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET",
            "whsec_bG9jYWwgdGVzdCBzZWNyZXQ=",
        )
        // A Dodo secret builds the Dodo client, so simulate wants its API on loopback (nothing listens there, and
        // nothing here calls it).
        .with("TOLLGATE_PROVIDERS__DODO__API_BASE", "http://127.0.0.1:9")
        .with(
            "TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET",
            "aghanim_local_secret",
        );
    let child = sandbox
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);

    // Waiting for a process to start listening: a bounded poll, not a race.
    let started = Instant::now();
    while get_status(port, "/healthz") != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not come up"
        );
        assert!(matches!(server.0.try_wait(), Ok(None)), "the server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get_status(port, "/readyz"), Some(200));

    let sent = sandbox.ok(&[
        "simulate",
        "webhook",
        "--provider",
        "whop",
        "--event",
        "membership.activated",
    ]);
    assert!(
        sent.stdout.contains("-> 200 {\"status\":\"ok\"}"),
        "{}",
        sent.stdout
    );
    assert!(
        sent.stdout
            .contains("see the entitlement: tollgate entitlements show whop mem_7Hq2LwZp0aXkR1")
    );
    let whop = entitlement(&sandbox, "whop", "mem_7Hq2LwZp0aXkR1");
    assert_eq!(whop["status"], "active");
    assert_eq!(whop["access"]["allowed"], true);
    assert_eq!(whop["access"]["code"], "VALID");
    assert_eq!(whop["subject"], "user_Zx9Yw8Vu7");
    assert_eq!(whop["audit"].as_array().unwrap().len(), 1);
    // The subject finds the same entitlement.
    assert_eq!(entitlement(&sandbox, "whop", "user_Zx9Yw8Vu7")["id"], whop["id"]);
    let human = sandbox
        .ok(&["entitlements", "show", "whop", "mem_7Hq2LwZp0aXkR1"])
        .stdout;
    assert!(
        human.contains("access         allowed (VALID), until "),
        "{human}"
    );

    sandbox.ok(&[
        "simulate",
        "webhook",
        "--provider",
        "whop",
        "--event",
        "membership.deactivated",
    ]);
    let whop = entitlement(&sandbox, "whop", "mem_7Hq2LwZp0aXkR1");
    assert_eq!(whop["status"], "canceled");
    assert_eq!(whop["access"]["allowed"], false);
    assert_eq!(whop["access"]["code"], "LICENSE_INACTIVE");

    sandbox.ok(&[
        "simulate",
        "webhook",
        "--provider",
        "dodo",
        "--event",
        "entitlement_grant.delivered",
    ]);
    let dodo = entitlement(&sandbox, "dodo", "entg_8sKd02LmQp");
    assert_eq!(
        (dodo["access"]["allowed"].clone(), dodo["subject"].clone()),
        (Value::Bool(true), "cus_J7h6G5f4".into())
    );

    sandbox.ok(&[
        "simulate",
        "webhook",
        "--provider",
        "aghanim",
        "--event",
        "subscription.activated",
        "--subject",
        "PLAYER-1",
    ]);
    let aghanim = entitlement(&sandbox, "aghanim", "PLAYER-1");
    assert_eq!(aghanim["access"]["allowed"], true);
    assert_eq!(aghanim["features"], serde_json::json!(["exclusive_skin_001"]));

    let inbox = sandbox.ok(&["inbox", "list", "--json"]).json();
    let statuses: Vec<&str> = inbox["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["processed"; 4]);
    // Replaying an applied event changes nothing but the attempt count.
    let replayed = sandbox.ok(&["inbox", "replay", "1"]);
    assert_eq!(
        replayed.stdout,
        format!(
            "1: membership.activated applied to mem_7Hq2LwZp0aXkR1 ({})\n",
            whop["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        entitlement(&sandbox, "whop", "mem_7Hq2LwZp0aXkR1")["access"]["code"],
        "LICENSE_INACTIVE"
    );
    let body = sandbox.ok(&["inbox", "show", "1", "--body"]);
    assert!(body.stderr.contains("warning: this body holds customer data"));
    let body: Value = serde_json::from_str(&body.stdout).unwrap();
    assert_eq!(body["type"], "membership.activated");

    // A wrong secret is refused by the server, and simulate says why.
    let wrong = sandbox
        .command(&[
            "simulate",
            "webhook",
            "--provider",
            "whop",
            "--event",
            "membership.activated",
        ])
        .env("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_not_the_servers")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("the server answered 401"));

    let pid = server.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let stopping = Instant::now();
    let exit = loop {
        if let Some(exit) = server.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(30),
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0), "a clean exit after SIGTERM");

    // Moving databases: another database (here a second SQLite file) imports every delivery and rebuilds the same
    // entitlements; a second import finds them all present.
    let moved = Sandbox::new().with("TOLLGATE_DATABASE__URL", "sqlite://moved.db");
    moved.ok(&["migrate"]);
    let from = format!("sqlite://{}", sandbox.path("serve.db").display());
    let imported = moved.ok(&["inbox", "import", "--from", &from]);
    assert_eq!(
        imported.stdout,
        "imported 4 deliveries (0 already present): 4 applied, 0 not acted on, 0 failed\n"
    );
    let again = moved.ok(&["inbox", "import", "--from", &from]);
    assert_eq!(
        again.stdout,
        "imported 0 deliveries (4 already present): 0 applied, 0 not acted on, 0 failed\n"
    );
    let whop = entitlement(&moved, "whop", "mem_7Hq2LwZp0aXkR1");
    assert_eq!(
        (whop["status"].as_str(), whop["access"]["code"].as_str()),
        (Some("canceled"), Some("LICENSE_INACTIVE"))
    );
    assert_eq!(
        entitlement(&moved, "aghanim", "PLAYER-1")["access"]["allowed"],
        true
    );
    assert_eq!(
        entitlement(&moved, "dodo", "entg_8sKd02LmQp")["access"]["allowed"],
        true
    );
}

#[test]
fn simulate_says_when_no_server_answers() {
    let port = free_port();
    let sandbox = Sandbox::new()
        .with("TOLLGATE_LISTEN", &format!("127.0.0.1:{port}"))
        .with("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_local_test_secret");
    let run = sandbox.run(&[
        "simulate",
        "webhook",
        "--provider",
        "whop",
        "--event",
        "membership.activated",
    ]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.starts_with(&format!(
        "error: cannot reach http://127.0.0.1:{port}/api/webhooks/whop"
    )));
    assert!(
        run.stderr.contains("is `tollgate serve` running there?"),
        "{}",
        run.stderr
    );
}

#[test]
fn serve_says_when_its_address_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sandbox = Sandbox::new().with("TOLLGATE_LISTEN", &format!("127.0.0.1:{port}"));
    let run = sandbox.run(&["serve"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("error: cannot listen: Address already in use")
            && run
                .stderr
                .contains("set listen / TOLLGATE_LISTEN to another port"),
        "{}",
        run.stderr
    );
}
