//! The console's errors, answered as HTML pages: a missing session (a GET goes to the sign-in page, a POST is
//! refused), a bad CSRF token, something not found, a storage outage. The message is for the person at the browser;
//! the cause goes to the access log only.

use std::fmt;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use crate::http::error::console_status;
use askama::Template as _;
use tollgate_service::ingest::IngestError;
use tollgate_store::StoreError;

use super::views::ErrorPage;
use crate::app::AppState;

/// Why a console request was not served.
#[derive(Debug)]
pub enum ConsoleError {
    /// No live session. `next`: where a GET wanted to go (the sign-in page returns there); `None` for a POST.
    NoSession {
        next: Option<String>,
    },
    /// The form's CSRF token is missing or not this session's.
    BadCsrf,
    NotFound(String),
    /// The request cannot be served as sent (the message says what to change).
    Invalid(String),
    /// The database (or a provider) cannot be reached right now.
    Unavailable(String),
    /// A bug or an unexpected failure: the cause is logged, the page says only that it failed.
    Internal(String),
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::NoSession { .. } => f.write_str("console: no live session"),
            ConsoleError::BadCsrf => f.write_str("console: missing or wrong CSRF token"),
            ConsoleError::NotFound(m) => write!(f, "console: not found: {m}"),
            ConsoleError::Invalid(m) => write!(f, "console: invalid request: {m}"),
            ConsoleError::Unavailable(m) => write!(f, "console: unavailable: {m}"),
            ConsoleError::Internal(m) => write!(f, "console: failed: {m}"),
        }
    }
}

impl ConsoleError {
    /// The page's title and text (its status is in `http::error`, with every other error status).
    fn page(&self) -> (&'static str, String) {
        match self {
            ConsoleError::NoSession { .. } => (
                "Signed out",
                "Your console session has ended (signed out, idle too long, or never started). Sign in again \
                 with the admin token, then repeat the action."
                    .to_owned(),
            ),
            ConsoleError::BadCsrf => (
                "Form expired",
                "This form did not carry a valid security token for your session. Go back, reload the page, and \
                 submit it again."
                    .to_owned(),
            ),
            ConsoleError::NotFound(m) => ("Not found", m.clone()),
            ConsoleError::Invalid(m) => ("Cannot do that", m.clone()),
            ConsoleError::Unavailable(m) => (
                "Unavailable",
                format!("{m} Try again in a few seconds; `tollgate doctor` and /readyz tell what is down."),
            ),
            ConsoleError::Internal(_) => (
                "Failed",
                "Something failed inside Tollgate. The server log has the details (look for this request's \
                 X-Request-Id)."
                    .to_owned(),
            ),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        console_status(self)
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::NoSession { next: Some(next) } = self {
            let location = format!("/console/sign-in?next={}", super::views::url_encode(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let (title, message) = self.page();
        let html = ErrorPage {
            title,
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| format!("{title}: {message}"));
        HttpResponse::build(console_status(self))
            .content_type(ContentType::html())
            .body(html)
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            ConsoleError::Unavailable("The database cannot be reached.".to_owned())
        } else {
            ConsoleError::Internal(e.to_string())
        }
    }
}

impl From<IngestError> for ConsoleError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Storage(store) => store.into(),
            IngestError::NotFound(id) => ConsoleError::NotFound(format!("There is no inbox event {id}.")),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ConsoleError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ConsoleError::Internal(format!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ConsoleError::Internal(format!("template: {e}"))
    }
}

/// Middleware: every `/console` path answers 404 while the console is off (`console.enabled = false`, or no
/// admin token to sign in with).
pub async fn only_when_enabled(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let enabled = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.console().enabled);
    if !enabled {
        let response = ConsoleError::NotFound(
            "The console is off: set admin.token (TOLLGATE_ADMIN__TOKEN) and console.enabled = true."
                .to_owned(),
        )
        .error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Any other `/console` path.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound(
        "There is no such console page.".to_owned(),
    ))
}
