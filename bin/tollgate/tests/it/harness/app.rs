//! The harness: the real `App` (built by `tollgate::app::configure`) over a fresh SQLite file or a fresh
//! PostgreSQL schema, a fixed `ManualClock`, and helpers that send provider-signed fixture webhooks.
//!
//! PostgreSQL comes from the shared `tollgate_store::test_support` (`TOLLGATE_TEST_DATABASE_URL`). Each test gets its
//! own role and schema, so tests run in parallel and an outage test can lock its own role out. When the server is
//! unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::{App, test::init_service};
use chrono::{DateTime, TimeZone, Utc};
use diesel::PgConnection;
use serde_json::Value;
use tollgate::app::{AppState, build_state, configure};
use tollgate::settings::{ConfigFile, Settings};
use tollgate_service::clock::{Clock, ManualClock};
pub use tollgate_store::test_support::Backend;
use tollgate_store::test_support::PgSchema;
use tollgate_store::{Store, StoreConfig, StoreKeys};
use tollgate_testkit::{SignedWebhook, WebhookBuilder, WebhookFormat};

pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
pub const SERVICE_TOKEN: &str = "service-token-0123456789abcdef";
pub const WHOP_SECRET: &str = "ws_test_whop_secret_0123456789";
pub const DODO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const AGHANIM_SECRET: &str = "aghanim_test_secret_0123456789";
/// 32 bytes, base64: the PostgreSQL store keys (each test has its own schema, so one constant pair is enough).
const PEPPER: &str = "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTAxMjM=";
const DATA_KEY: &str = "ZGF0YWtleS1kYXRha2V5LWRhdGFrZXktZGF0YWtleTA=";

/// A fresh database and the state of a server over it.
pub struct TestServer {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub settings: Arc<Settings>,
    pub backend: Backend,
    pub db_url: String,
    // Declared last: dropped after the pools above.
    sqlite_dir: Option<tempfile::TempDir>,
    pg: Option<PgSchema>,
}

/// 2026-10-10T00:00:00Z: after the Whop and Dodo fixtures' activations, before their period ends.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).unwrap()
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn base_env(db_url: &str, backend: Backend) -> Vec<(String, String)> {
    let mut env = vec![
        ("TOLLGATE_DATABASE__URL", db_url),
        ("TOLLGATE_ADMIN__TOKEN", ADMIN_TOKEN),
        ("TOLLGATE_SERVICE__TOKEN", SERVICE_TOKEN),
        ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", WHOP_SECRET),
        ("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", DODO_SECRET),
        ("TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET", AGHANIM_SECRET),
        ("TOLLGATE_WEBHOOKS__MAX_BODY_BYTES", "65536"),
    ];
    if backend == Backend::Postgres {
        env.push(("TOLLGATE_DATABASE__PEPPER", PEPPER));
        env.push(("TOLLGATE_DATABASE__DATA_KEY", DATA_KEY));
    }
    env.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Settings as an operator would write them, with `extra` environment variables on top.
pub fn settings(db_url: &str, backend: Backend, extra: &[(&str, &str)]) -> Settings {
    let mut env = base_env(db_url, backend);
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    Settings::load_from(ConfigFile::Explicit(&defaults_file()), env).unwrap()
}

/// An empty config file, so a `tollgate.toml` in the working directory never leaks into a test.
fn defaults_file() -> PathBuf {
    let path = std::env::temp_dir().join("tollgate-server-tests-empty.toml");
    if !path.is_file() {
        std::fs::write(&path, "").unwrap();
    }
    path
}

impl TestServer {
    /// A fresh SQLite server.
    pub fn sqlite(extra: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
        Self::build(url, Backend::Sqlite, extra, Some(dir), None)
    }

    /// A fresh PostgreSQL server (own role and schema), or `None` with a note when PostgreSQL is down.
    pub fn postgres(extra: &[(&str, &str)]) -> Option<TestServer> {
        let pg = PgSchema::create_with_role("tg_")?;
        let url = pg.url(None);
        Some(Self::build(url, Backend::Postgres, extra, None, Some(pg)))
    }

    fn build(
        db_url: String,
        backend: Backend,
        extra: &[(&str, &str)],
        sqlite_dir: Option<tempfile::TempDir>,
        pg: Option<PgSchema>,
    ) -> TestServer {
        let settings = Arc::new(settings(&db_url, backend, extra));
        let clock = Arc::new(ManualClock::new(start_time()));
        let state = build_state(settings.clone(), clock.clone()).unwrap();
        TestServer {
            state,
            clock,
            settings,
            backend,
            db_url,
            sqlite_dir,
            pg,
        }
    }

    /// Another fresh server on the same backend.
    pub fn fresh_like(&self) -> TestServer {
        match self.backend {
            Backend::Sqlite => TestServer::sqlite(&[]),
            Backend::Postgres => TestServer::postgres(&[]).unwrap(),
        }
    }

    /// A second state over the same database: a restarted server (for example after an upgrade).
    pub fn restart(&self) -> AppState {
        build_state(self.settings.clone(), self.clock.clone()).unwrap()
    }

    /// A state over the same database whose store gives up quickly: `busy` for SQLite locks, `connect` for a
    /// connection (the outage tests).
    pub fn impatient_state(&self, busy: Duration, connect: Duration) -> AppState {
        let keys = match self.backend {
            Backend::Sqlite => {
                let mut name = self.sqlite_path().into_os_string();
                name.push(".keys");
                StoreKeys::load_or_create(&PathBuf::from(name)).unwrap()
            }
            Backend::Postgres => StoreKeys::from_base64(PEPPER, DATA_KEY).unwrap(),
        };
        let mut config = StoreConfig::new(self.db_url.clone());
        config.busy_timeout = busy;
        config.connection_timeout = connect;
        config.min_idle = Some(0);
        config.max_connections = 4;
        let store = Store::open(&config, keys).unwrap();
        let clock: Arc<dyn Clock> = self.clock.clone();
        AppState::new(store, self.settings.clone(), clock).unwrap()
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.sqlite_dir.as_ref().unwrap().path().join("tollgate.db")
    }

    /// The PostgreSQL role (and schema) name of this test.
    pub fn pg_role(&self) -> Option<&str> {
        self.pg.as_ref().map(PgSchema::name)
    }

    /// A superuser connection to the test PostgreSQL.
    pub fn pg_admin(&self) -> PgConnection {
        self.pg.as_ref().unwrap().admin()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sign `body` as `format` does, timestamped now by the server's clock.
    pub fn sign(&self, format: WebhookFormat, body: impl Into<Vec<u8>>) -> SignedWebhook {
        WebhookBuilder::new(format, secret_of(format), body)
            .timestamp(self.now().timestamp())
            .sign()
    }
}

pub fn secret_of(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::WhopCurrent | WebhookFormat::WhopLegacy => WHOP_SECRET,
        WebhookFormat::Dodo => DODO_SECRET,
        WebhookFormat::HexHmac { .. } => AGHANIM_SECRET,
    }
}

pub fn path_of(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::WhopCurrent | WebhookFormat::WhopLegacy => "/api/webhooks/whop",
        WebhookFormat::Dodo => "/api/webhooks/dodo",
        WebhookFormat::HexHmac { .. } => "/api/webhooks/aghanim",
    }
}

/// Run `body` on a fresh SQLite server, then on a fresh PostgreSQL one.
pub async fn both(extra: &[(&str, &str)], body: impl AsyncFn(TestServer)) {
    body(TestServer::sqlite(extra)).await;
    if let Some(pg) = TestServer::postgres(extra) {
        body(pg).await;
    }
}

/// A fixture body, byte for byte (the copies in `crates/providers/tests/fixtures/`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/providers/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The app as `main` builds it.
pub async fn app(
    state: &AppState,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>
{
    let state = state.clone();
    init_service(App::new().configure(move |cfg| configure(cfg, state))).await
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn send<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await.to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// POST a signed webhook to its provider's endpoint.
pub async fn deliver<S, B>(app: &S, format: WebhookFormat, hook: &SignedWebhook) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(path_of(format));
    for (name, value) in &hook.headers {
        req = req.insert_header((name.as_str(), value.as_str()));
    }
    send(app, req.set_payload(hook.body.clone())).await
}

/// GET with a bearer token (`None`: no Authorization header).
pub async fn get<S, B>(app: &S, uri: &str, token: Option<&str>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::get().uri(uri);
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    send(app, req).await
}

/// POST with a bearer token and no body.
pub async fn post<S, B>(app: &S, uri: &str, token: Option<&str>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(uri);
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    send(app, req).await
}

/// `GET /api/entitlements` with the service token: the `entitlements` array.
pub async fn entitlements<S, B>(app: &S, provider: &str, subject: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = get(
        app,
        &format!("/api/entitlements?provider={provider}&subject={subject}"),
        Some(SERVICE_TOKEN),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["entitlements"].as_array().unwrap().clone()
}

/// `GET /admin/inbox` with the admin token: the `events` array.
pub async fn inbox<S, B>(app: &S, query: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = get(app, &format!("/admin/inbox?{query}"), Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["events"].as_array().unwrap().clone()
}

/// `GET /admin/entitlements/{provider}/{external_id}` with the admin token.
pub async fn admin_entitlement<S, B>(app: &S, provider: &str, external_id: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    get(
        app,
        &format!("/admin/entitlements/{provider}/{external_id}"),
        Some(ADMIN_TOKEN),
    )
    .await
}
