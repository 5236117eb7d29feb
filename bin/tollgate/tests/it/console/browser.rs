//! The browser suite (`console-tests/console.test.mjs`: Playwright driving Debian's Chromium) against the real
//! `tollgate` binary, seeded through the real webhook and activation paths with the testkit's fake Whop. Once on
//! SQLite (which also writes the screenshots in `docs/console/`) and once on PostgreSQL.
//!
//! Ignored by default: it needs `npm ci` in `console-tests/` and `/usr/bin/chromium`. `.ci/run` installs both and
//! runs `cargo test -p tollgate --test it -- --ignored console::browser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_store::test_support::PgSchema;
use tollgate_testkit::{FakeProvider as _, WebhookBuilder, WebhookFormat};

use crate::console::actions::UNPARSEABLE;

const ADMIN_TOKEN: &str = "browser-admin-token-0123456789";
const LICENSE_KEY: &str = "BROWSER-7K2Q-9XWD-4MPL-TEST";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The server process, killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Start `tollgate serve` on `database` with Whop pointed at `whop`, and wait until it answers `/readyz`.
async fn start(database: &str, whop: &FakeWhop, workdir: &Path) -> (Server, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let whop_base = whop.base_url();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .arg("serve")
        .current_dir(workdir)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_DATABASE__URL", database)
        .env("TOLLGATE_ADMIN__TOKEN", ADMIN_TOKEN)
        .env("TOLLGATE_PROVIDERS__WHOP__API_BASE", &whop_base)
        .env("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY)
        .env(
            "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
            FakeWhop::WEBHOOK_SECRET,
        )
        .env("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "2")
        // One sign-in a minute per address: the suite's throttling check is exact. Its other browsers come from
        // their own addresses (X-Forwarded-For, trusted here).
        .env("TOLLGATE_CONSOLE__SIGN_IN_PER_MINUTE", "1")
        .env("TOLLGATE_RATE_LIMIT__TRUST_FORWARDED_FOR", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if database.starts_with("postgres") {
        command
            .env(
                "TOLLGATE_DATABASE__PEPPER",
                "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTAxMjM=",
            )
            .env(
                "TOLLGATE_DATABASE__DATA_KEY",
                "ZGF0YWtleS1kYXRha2V5LWRhdGFrZXktZGF0YWtleTA=",
            );
    }
    let mut server = Server(command.spawn().unwrap());
    let client = reqwest::Client::new();
    // Waiting for a process to start listening: a bounded poll, not a race.
    let started = Instant::now();
    loop {
        if let Ok(reply) = client.get(format!("{base}/readyz")).send().await
            && reply.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not come up"
        );
        assert!(matches!(server.0.try_wait(), Ok(None)), "the server exited early");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

/// Two devices on one Whop license, a denial, and an authentic webhook this release cannot parse.
async fn seed(base: &str, whop: &FakeWhop) {
    whop.add_membership(FakeMembership::new("mem_browser_1", LICENSE_KEY));
    let client = reqwest::Client::new();
    for (hwid, name) in [("hw-laptop", "Laptop"), ("hw-desktop", "Desktop")] {
        let reply = client
            .post(format!("{base}/api/license/activate"))
            .json(&json!({"license_key": LICENSE_KEY, "hwid": hwid, "device_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    }
    let reply = client
        .post(format!("{base}/api/license/validate"))
        .json(&json!({"license_key": LICENSE_KEY, "hwid": "hw-stranger"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    let hook = WebhookBuilder::new(WebhookFormat::WhopCurrent, FakeWhop::WEBHOOK_SECRET, UNPARSEABLE)
        .timestamp(Utc::now().timestamp())
        .sign();
    let mut request = client
        .post(format!("{base}/api/webhooks/whop"))
        .body(hook.body.clone());
    for (name, value) in &hook.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

/// Run the Playwright suite against `base`; `screenshots`: where to write the page screenshots.
fn run_suite(base: &str, backend: &str, screenshots: Option<&Path>) {
    let dir = repo_root().join("console-tests");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in console-tests/ first (.ci/run does)"
    );
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("console.test.mjs")
        .current_dir(&dir)
        .env("TOLLGATE_URL", base)
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TOLLGATE_LICENSE_KEY", LICENSE_KEY)
        .env("TOLLGATE_BACKEND", backend);
    if let Some(path) = screenshots {
        command.env("TOLLGATE_SCREENSHOTS", path);
    }
    let status = command.status().unwrap();
    assert!(
        status.success(),
        "the browser suite failed on {backend}: {status}"
    );
}

#[actix_web::test]
#[ignore = "needs node, `npm ci` in console-tests/ and /usr/bin/chromium: .ci/run runs it"]
async fn browser_suite_on_sqlite_and_postgres() {
    let work = tempfile::tempdir().unwrap();
    let whop = FakeWhop::start();
    let database = format!("sqlite://{}", work.path().join("console.db").display());
    let (server, base) = start(&database, &whop, work.path()).await;
    seed(&base, &whop).await;
    run_suite(&base, "sqlite", Some(&repo_root().join("docs/console")));
    drop(server);

    let pg = PgSchema::create_with_role("tg_console_").expect("PostgreSQL is needed for the browser suite");
    let whop = FakeWhop::start();
    let (server, base) = start(&pg.url(None), &whop, work.path()).await;
    seed(&base, &whop).await;
    run_suite(&base, "postgres", None);
    drop(server);
}
