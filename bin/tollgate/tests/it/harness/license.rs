//! The license tests' additions to the in-process server ([`super::app`]): a server whose Whop and Dodo API
//! bases point at fresh fakes, its clock at the wall clock's second (the fakes stamp memberships with it), and
//! JSON requests from a chosen client address.

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::TestRequest;
use chrono::{DateTime, SubsecRound as _, Utc};
use serde_json::{Value, json};
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::whop::binding::{BINDING_KEY, device_tag};
use tollgate_providers::whop::fake::FakeWhop;
use tollgate_testkit::FakeProvider as _;

use crate::harness::app::{Reply, TestServer, send};

pub const WHOP_KEY: &str = "KLINE-8FFK3-SD83K-3K3K3-3K3K3";
pub const DODO_KEY: &str = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
/// The address requests come from unless a test picks another.
pub const PEER: &str = "192.0.2.10:40000";

/// A server with its fakes. Fields drop in order: the server (and its database) first, then the fakes.
pub struct Env {
    pub srv: TestServer,
    pub whop: FakeWhop,
    pub dodo: FakeDodo,
}

impl Env {
    pub fn now(&self) -> DateTime<Utc> {
        self.srv.now()
    }
}

fn build(backend: crate::harness::app::Backend, extra: &[(&str, &str)]) -> Option<Env> {
    let whop = FakeWhop::start();
    let dodo = FakeDodo::start();
    let (whop_base, dodo_base) = (whop.base_url(), dodo.base_url());
    let mut env: Vec<(&str, &str)> = vec![
        ("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop_base.as_str()),
        ("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY),
        (
            "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
            FakeWhop::WEBHOOK_SECRET,
        ),
        ("TOLLGATE_PROVIDERS__WHOP__REQUEST_TIMEOUT", "1s"),
        ("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", FakeWhop::COMPANY_ID),
        ("TOLLGATE_PROVIDERS__DODO__API_BASE", dodo_base.as_str()),
        ("TOLLGATE_PROVIDERS__DODO__API_KEY", FakeDodo::API_KEY),
        ("TOLLGATE_PROVIDERS__DODO__REQUEST_TIMEOUT", "1s"),
        // Most tests send many requests from one address; the rate-limit tests turn the limits back on.
        ("TOLLGATE_RATE_LIMIT__ENABLED", "false"),
    ];
    env.extend_from_slice(extra);
    let srv = match backend {
        crate::harness::app::Backend::Sqlite => TestServer::sqlite(&env),
        crate::harness::app::Backend::Postgres => TestServer::postgres(&env)?,
    };
    srv.clock.set(Utc::now().trunc_subsecs(0));
    Some(Env { srv, whop, dodo })
}

/// Run `body` with fresh fakes on a fresh SQLite server, then on a fresh PostgreSQL one.
pub async fn both_with_fakes(extra: &[(&str, &str)], body: impl AsyncFn(Env)) {
    body(build(crate::harness::app::Backend::Sqlite, extra).unwrap()).await;
    if let Some(env) = build(crate::harness::app::Backend::Postgres, extra) {
        body(env).await;
    }
}

/// POST `body` as JSON from `peer`.
pub async fn post_json<S, B>(app: &S, uri: &str, body: &Value, peer: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let peer: SocketAddr = peer.parse().unwrap();
    send(app, TestRequest::post().uri(uri).peer_addr(peer).set_json(body)).await
}

/// `POST /api/license/{action}` with this key and hwid, from [`PEER`].
pub async fn license<S, B>(app: &S, action: &str, key: &str, hwid: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    license_from(app, action, key, hwid, PEER).await
}

/// `POST /api/license/{action}` from `peer`.
pub async fn license_from<S, B>(app: &S, action: &str, key: &str, hwid: &str, peer: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let body = json!({"license_key": key, "hwid": hwid, "device_name": "Work laptop"});
    post_json(app, &format!("/api/license/{action}"), &body, peer).await
}

/// Tollgate's binding in the fake Whop's metadata of this membership: its device tags, `None` when the key is not
/// there at all.
pub fn bound_tags(env: &Env, membership_id: &str) -> Option<Vec<String>> {
    let membership = env.whop.membership(membership_id)?;
    let value = membership.metadata.get(BINDING_KEY)?.as_str()?.to_owned();
    Some(
        value
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The tag Tollgate writes at Whop for this raw hwid on this membership (through the server's own pepper).
pub fn tag_of(env: &Env, membership_id: &str, hwid: &str) -> String {
    device_tag(membership_id, env.srv.state.store().hash_hwid(hwid).as_str())
}

/// An RFC 3339 time as the API writes it (whole seconds, `Z`).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `Retry-After` header as a number.
pub fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {} {}", reply.status, reply.text()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
