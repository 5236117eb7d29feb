//! Sign-in, the session extractor, CSRF and sign-out.
//!
//! - `GET /console/sign-in` sets a short-lived sign-in cookie holding a random CSRF value, and the form carries the
//!   same value (double submit): a cross-site page cannot sign a browser in under the attacker's session.
//! - `POST /console/sign-in` counts the attempt against the client IP (`console.sign_in_per_minute`, right or wrong,
//!   so the limit cannot tell a guesser which guess was right), checks the token in constant time
//!   (`TokenCheck`), and starts a session: cookie `tollgate_console`, `HttpOnly`, `SameSite=Strict`, `Path=/console`,
//!   `Secure` behind TLS (`console.secure_cookies`).
//! - [`Session`] (extractor) finds the live session of a request; every POST handler then calls
//!   [`Session::check_csrf`] with its form's `csrf` field.
//! - `POST /console/sign-out` deletes the session row: the cookie is dead on every instance.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header::{self, ContentType};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use tollgate_service::console_session::{random_token, tokens_match};

use super::error::ConsoleError;
use super::views::{Layout, SignInPage};
use crate::app::AppState;
use crate::http::error::{SignInRefusal, sign_in_refusal_status};
use crate::settings::SecureCookies;

/// The session cookie.
pub const SESSION_COOKIE: &str = "tollgate_console";
/// The sign-in form's CSRF cookie.
pub const SIGN_IN_COOKIE: &str = "tollgate_console_sign_in";
/// How long a sign-in form stays usable.
const SIGN_IN_FORM_SECS: i64 = 3_600;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in", web::get().to(sign_in_form))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out));
}

/// Sign-in attempts per client IP (in memory, per instance, like the license rate limits).
pub struct SignInLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for SignInLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInLimiter")
            .field("tracked", &self.limiter.len())
            .finish()
    }
}

impl SignInLimiter {
    pub fn new(per_minute: u32) -> SignInLimiter {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        SignInLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
        }
    }

    /// Count one attempt. `Err(seconds)`: refused, retry after that many seconds.
    fn check(&self, ip: IpAddr) -> Result<(), u64> {
        use governor::clock::Clock as _;
        self.limiter.retain_recent();
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// A live session, found from the request's cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// How the audit trail names it.
    pub name: String,
    pub csrf: String,
}

impl Session {
    /// The form's `csrf` field must be this session's token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        if presented.is_empty() || !tokens_match(presented, &self.csrf) {
            return Err(ConsoleError::BadCsrf);
        }
        Ok(())
    }

    /// The page frame for this session (navigation, sign-out form).
    pub fn layout(&self, title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            csrf: self.csrf.clone(),
            signed_in: true,
        }
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ConsoleError::Internal("AppState is not registered".to_owned()))
}

/// Where a GET without a session should come back to after sign-in: its own path and query.
fn next_of(req: &HttpRequest) -> Option<String> {
    (req.method() == Method::GET).then(|| {
        let path = req.uri().path_and_query().map_or("/console/", |p| p.as_str());
        safe_next(path).to_owned()
    })
}

/// Only a console path may be returned to (never another site: `//evil` or `/console/../x` are refused).
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with("/console/")
        && !next.contains("//")
        && !next.contains("..")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic());
    if ok { next } else { "/console/" }
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let no_session = || ConsoleError::NoSession { next: next_of(&req) };
            let Some(cookie) = req.cookie(SESSION_COOKIE) else {
                return Err(no_session());
            };
            let state = state(&req)?;
            let id = cookie.value().to_owned();
            let sessions = state.console().sessions().clone();
            let live = web::block(move || sessions.check(&id)).await??;
            let live = live.ok_or_else(no_session)?;
            Ok(Session {
                name: live.name,
                csrf: live.csrf,
            })
        })
    }
}

/// Whether cookies set on this request get `Secure`.
fn secure(state: &AppState, req: &HttpRequest) -> bool {
    let console = &state.settings().console;
    match console.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => {
            req.app_config().secure()
                || (console.trust_forwarded_proto
                    && req
                        .headers()
                        .get("x-forwarded-proto")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
        }
    }
}

fn cookie(name: &'static str, value: String, max_age: Option<i64>, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    if let Some(secs) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(secs));
    }
    cookie
}

/// A cookie that deletes `name` in the browser.
fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    cookie(name, String::new(), Some(0), secure)
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in page with a fresh form token; for a refused attempt, why (its status) and the message.
fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    next: &str,
    refused: Option<(SignInRefusal, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (status, message) = match refused {
        Some((refusal, message)) => (sign_in_refusal_status(refusal), Some(message)),
        None => (StatusCode::OK, None),
    };
    let token = random_token()
        .map_err(|_| ConsoleError::Internal("the system random generator failed".to_owned()))?;
    let html = SignInPage {
        layout: Layout {
            title: "Sign in".to_owned(),
            csrf: token.clone(),
            signed_in: false,
        },
        next: safe_next(next).to_owned(),
        message,
    }
    .render()?;
    Ok(HttpResponse::build(status)
        .cookie(cookie(
            SIGN_IN_COOKIE,
            token,
            Some(SIGN_IN_FORM_SECS),
            secure(state, req),
        ))
        .content_type(ContentType::html())
        .body(html))
}

async fn sign_in_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let next = query.next.as_deref().unwrap_or("/console/");
    sign_in_page(&state, &req, next, None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    let form_cookie = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_owned());
    if form.csrf.is_empty() || !form_cookie.is_some_and(|c| tokens_match(&form.csrf, &c)) {
        return Err(ConsoleError::BadCsrf);
    }
    let ip = state
        .rate_limits()
        .client_ip(&req)
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    if let Err(retry_after) = state.console().sign_in.check(ip) {
        log::info!(client_ip = ip.to_string().as_str(), retry_after = retry_after; "console sign-in throttled");
        let message =
            format!("Too many sign-in attempts from this address. Try again in {retry_after} seconds.");
        let mut page = sign_in_page(
            &state,
            &req,
            &form.next,
            Some((SignInRefusal::Throttled, message)),
        )?;
        if let Ok(value) = header::HeaderValue::from_str(&retry_after.to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(page);
    }
    if !state.admin_token().verify(&form.token) {
        log::info!(client_ip = ip.to_string().as_str(); "console sign-in refused: wrong admin token");
        return sign_in_page(
            &state,
            &req,
            &form.next,
            Some((
                SignInRefusal::WrongToken,
                "That is not the admin token (admin.token). Check it and try again.".to_owned(),
            )),
        );
    }
    let sessions = state.console().sessions().clone();
    let started = web::block(move || sessions.start()).await??;
    let secure = secure(&state, &req);
    let max_age = state.settings().console.max_session.as_secs();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, safe_next(&form.next).to_owned()))
        .cookie(cookie(SESSION_COOKIE, started.id, Some(max_age), secure))
        .cookie(removal(SIGN_IN_COOKIE, secure))
        .finish())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let id = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let sessions = state.console().sessions().clone();
    web::block(move || sessions.end(&id)).await??;
    let secure = secure(&state, &req);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/sign-in"))
        .cookie(removal(SESSION_COOKIE, secure))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(
            safe_next("/console/inbox?status=failed"),
            "/console/inbox?status=failed"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/console/../admin",
            "/consolex",
            "/console/\\evil",
            "",
        ] {
            assert_eq!(safe_next(bad), "/console/", "{bad}");
        }
    }

    #[test]
    fn the_limiter_refuses_past_its_burst_with_a_wait() {
        let limiter = SignInLimiter::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(limiter.check(ip), Ok(()));
        assert_eq!(limiter.check(ip), Ok(()));
        let wait = limiter.check(ip).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(limiter.check("192.0.2.2".parse().unwrap_or(ip)), Ok(()));
    }
}
