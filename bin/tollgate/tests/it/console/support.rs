//! Signing in and talking to the console like a browser: cookies kept, forms posted with their CSRF token.

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;

use crate::harness::app::{ADMIN_TOKEN, Reply, send};

/// Where the browser's requests come from.
pub const BROWSER: &str = "198.51.100.7:50000";

/// The value of `name="csrf"` in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The `name=value` of a `Set-Cookie` for `name`, and the whole header.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<(String, String)> {
    reply
        .headers
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|header| {
            let pair = header.split(';').next().unwrap().to_owned();
            let value = pair.split_once('=').unwrap().1.to_owned();
            (value, header)
        })
}

/// A signed-in browser: the session cookie and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub session: String,
    pub csrf: String,
}

pub async fn get<S, B>(app: &S, uri: &str, session: Option<&str>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::get()
        .uri(uri)
        .peer_addr(BROWSER.parse::<SocketAddr>().unwrap());
    if let Some(session) = session {
        req = req.insert_header(("Cookie", format!("tollgate_console={session}")));
    }
    send(app, req).await
}

/// POST a form with these cookies (`name=value; ...`).
pub async fn post_form<S, B>(app: &S, uri: &str, cookies: &str, form: &[(&str, &str)]) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    post_form_from(app, uri, cookies, form, BROWSER).await
}

pub async fn post_form_from<S, B>(
    app: &S,
    uri: &str,
    cookies: &str,
    form: &[(&str, &str)],
    peer: &str,
) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post()
        .uri(uri)
        .peer_addr(peer.parse::<SocketAddr>().unwrap())
        .set_form(form.to_vec());
    if !cookies.is_empty() {
        req = req.insert_header(("Cookie", cookies.to_owned()));
    }
    send(app, req).await
}

/// The sign-in form's cookie value and CSRF token.
pub async fn sign_in_form<S, B>(app: &S) -> (String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let page = get(app, "/console/sign-in", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let (cookie, _) = set_cookie(&page, "tollgate_console_sign_in").unwrap();
    (cookie, csrf_of(&page.text()))
}

/// Type `token` into the sign-in form and submit it from `peer`.
pub async fn try_sign_in<S, B>(app: &S, token: &str, peer: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (cookie, csrf) = sign_in_form(app).await;
    post_form_from(
        app,
        "/console/sign-in",
        &format!("tollgate_console_sign_in={cookie}"),
        &[("csrf", &csrf), ("token", token), ("next", "/console/")],
        peer,
    )
    .await
}

/// Sign in with the admin token; the overview then shows the session's CSRF token.
pub async fn sign_in<S, B>(app: &S) -> Browser
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = try_sign_in(app, ADMIN_TOKEN, BROWSER).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.headers.get("location").unwrap(), "/console/");
    let (session, _) = set_cookie(&reply, "tollgate_console").unwrap();
    let page = get(app, "/console/policy", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    Browser {
        csrf: csrf_of(&page.text()),
        session,
    }
}

impl Browser {
    pub fn cookie(&self) -> String {
        format!("tollgate_console={}", self.session)
    }

    /// POST a form of this session with its CSRF token and `fields`.
    pub async fn post<S, B>(&self, app: &S, uri: &str, fields: &[(&str, &str)]) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        post_form(app, uri, &self.cookie(), &form).await
    }

    pub async fn get<S, B>(&self, app: &S, uri: &str) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        get(app, uri, Some(&self.session)).await
    }
}

/// The newest audit rows with this action and/or actor, newest first, from anywhere in the trail.
pub fn recent_audit(
    store: &tollgate_store::Store,
    action: Option<&str>,
    actor: Option<tollgate_store::Actor>,
) -> Vec<tollgate_store::AuditEntry> {
    store
        .recent_audit(&tollgate_store::AuditQuery {
            action,
            actor,
            limit: 20,
            scan: 1_000,
        })
        .unwrap()
}
