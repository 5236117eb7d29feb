//! A real Tollgate on `127.0.0.1:<port>` (its own thread and actix system), over a fresh SQLite file, with the fake
//! Whop configured as the provider and a fixed server clock.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a setup error fails the test"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::{App, HttpServer};
use chrono::{DateTime, Utc};
use tollgate::app::{build_state, configure};
use tollgate::settings::{ConfigFile, Settings};
use tollgate_client::{Client, Clock as _, DeviceSource, Keys, ManualClock};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_service::clock::ManualClock as ServerClock;
use tollgate_testkit::FakeProvider as _;

pub const PURCHASE_URL: &str = "https://shop.example/renew";

/// Real time, whole seconds: the fake Whop's periods and webhook signatures use the real clock, so both the server
/// and the client clocks start here (and then only the client's moves).
pub fn real_now() -> DateTime<Utc> {
    DateTime::from_timestamp(tollgate_client::SystemClock.now().timestamp(), 0).unwrap()
}

pub struct Tollgate {
    pub base_url: String,
    pub whop: FakeWhop,
    server: Option<actix_web::dev::ServerHandle>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn empty_config_file(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("tollgate.toml");
    std::fs::write(&path, "").unwrap();
    path
}

impl Tollgate {
    /// Starts the server at `now` (server clock) with the fake Whop holding `memberships`.
    pub fn start(now: DateTime<Utc>, memberships: Vec<FakeMembership>) -> Tollgate {
        let whop = FakeWhop::start();
        for membership in memberships {
            whop.add_membership(membership);
        }
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = [
            (
                "TOLLGATE_DATABASE__URL",
                format!("sqlite://{}", dir.path().join("tollgate.db").display()),
            ),
            ("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop.base_url()),
            ("TOLLGATE_PROVIDERS__WHOP__API_KEY", whop.api_key().to_owned()),
            (
                "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
                whop.webhook_secret().to_owned(),
            ),
            ("TOLLGATE_RATE_LIMIT__ENABLED", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let settings =
            Settings::load_from(ConfigFile::Explicit(&empty_config_file(dir.path())), env).unwrap();
        let clock = Arc::new(ServerClock::new(now));
        let state = build_state(Arc::new(settings), clock.clone()).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let app_state = state.clone();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || {
                    let state = app_state.clone();
                    App::new().configure(move |cfg| configure(cfg, state))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let server = rx.recv().expect("the server thread started");
        Tollgate {
            base_url,
            whop,
            server: Some(server),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The server's JWKS, fetched over HTTP (an app would ship this document).
    pub async fn jwks(&self) -> String {
        reqwest::get(format!("{}/.well-known/jwks.json", self.base_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn keys(&self) -> Keys {
        Keys::from_jwks_json(&self.jwks().await).unwrap()
    }

    /// A client for `machine` with its own state dir and a client clock at `now`.
    pub async fn client(&self, machine: &str, now: DateTime<Utc>) -> TestClient {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let client = Client::builder(&self.base_url, "com.example.e2e", self.keys().await)
            .state_path(dir.path().join("license.json"))
            .clock(clock.clone())
            .device(DeviceSource::Fixed(machine.into()))
            .purchase_url(PURCHASE_URL)
            .build()
            .unwrap();
        TestClient {
            client,
            clock,
            _dir: dir,
        }
    }

    /// Delivers a signed Whop webhook for `membership_id` to the server.
    pub async fn whop_webhook(&self, membership_id: &str, event_type: &str) {
        let hook = self.whop.webhook(membership_id, event_type).unwrap();
        let mut request = reqwest::Client::new().post(format!("{}/api/webhooks/whop", self.base_url));
        for (name, value) in hook.header_pairs() {
            request = request.header(name, value);
        }
        let response = request.body(hook.body.clone()).send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            200,
            "{}",
            response.text().await.unwrap()
        );
    }

    /// Stops the server: every later call finds nothing listening.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            // the stop command is sent when `stop` is called; the returned future only waits for it, which the
            // join below does too
            drop(server.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct TestClient {
    pub client: Client,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl TestClient {
    pub fn state_bytes(&self) -> Vec<u8> {
        std::fs::read(self.client.state_path()).unwrap()
    }
}
