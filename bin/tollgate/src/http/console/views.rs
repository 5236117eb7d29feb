//! The pages' templates (`templates/console/*.html`, compiled in by askama) and the rows they show, with times,
//! decisions and reasons already turned into words. askama escapes every value for HTML.

use actix_web::HttpResponse;
use actix_web::http::header::{self, ContentType};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tollgate_policy::Provider;
use tollgate_service::query::{AuditView, DeviceView, InboxItem};
use tollgate_service::support::RecentEntry;

use super::error::ConsoleError;
use tollgate_service::view::EntitlementView;

/// The frame of every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// The CSRF token of the session (or, on the sign-in page, of the sign-in form).
    pub csrf: String,
    /// Show the navigation and the sign-out button.
    pub signed_in: bool,
}

#[derive(Template)]
#[template(path = "console/error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub struct SignInPage {
    pub layout: Layout,
    pub next: String,
    pub message: Option<String>,
}

/// A `200` HTML page.
pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(body)
}

/// `303 See Other` to `location` (after a form, so a reload does not post it again).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A provider picked in a form; empty is none.
pub fn parse_provider(name: &str) -> Result<Option<Provider>, ConsoleError> {
    match name.trim() {
        "" => Ok(None),
        other => other
            .parse()
            .map(Some)
            .map_err(|_| ConsoleError::Invalid(format!("Pick a provider: {}.", Provider::names_list()))),
    }
}

/// A time as the pages show it.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), when)
}

/// Percent-encode a query value.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One entitlement as a row or a header.
#[derive(Debug, Clone)]
pub struct EntitlementRow {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    pub subject: String,
    pub product: String,
    pub plan: String,
    pub status: String,
    pub period_end: String,
    pub cancel_at_period_end: bool,
    pub allowed: bool,
    pub code: String,
    /// The decision in plain words.
    pub reason: String,
    pub key_last4: String,
}

impl From<&EntitlementView> for EntitlementRow {
    fn from(e: &EntitlementView) -> Self {
        EntitlementRow {
            id: e.id.clone(),
            provider: e.provider.to_string(),
            external_id: e.external_id.clone(),
            subject: e.subject.clone().unwrap_or_else(|| "-".to_owned()),
            product: e.product.clone().unwrap_or_else(|| "-".to_owned()),
            plan: e.plan.clone().unwrap_or_else(|| "-".to_owned()),
            status: e.status.clone(),
            period_end: when_opt(e.current_period_end),
            cancel_at_period_end: e.cancel_at_period_end,
            allowed: e.access.allowed,
            code: e.access.code.to_owned(),
            reason: reason(e),
            key_last4: e.license_key_last4.clone().unwrap_or_else(|| "-".to_owned()),
        }
    }
}

/// Why access is what it is, for a support person.
pub fn reason(e: &EntitlementView) -> String {
    let status = &e.status;
    match e.access.code {
        "VALID" => {
            let until = e.access.until.map_or_else(String::new, |u| {
                format!(" (a lease given now would run until {})", when(u))
            });
            let ending = if e.cancel_at_period_end {
                format!(
                    " It is set to cancel at the end of the period ({}); access ends then.",
                    when_opt(e.current_period_end)
                )
            } else {
                String::new()
            };
            format!(
                "Access is allowed: {} says the license is \"{status}\"{until}.{ending}",
                e.provider
            )
        }
        "LICENSE_INACTIVE" => format!(
            "Access is refused: the license is not active ({} status \"{status}\"). It expired, was canceled, \
             refunded or revoked, or was never delivered. The customer needs a new purchase or a renewal.",
            e.provider
        ),
        "PAYMENT_ISSUE" => format!(
            "Access is refused: the payment is on hold ({} status \"{status}\") beyond the grace the policy \
             allows. Access comes back by itself once the customer pays.",
            e.provider
        ),
        other => deny_words(other).to_owned(),
    }
}

/// A denial code in plain words.
pub fn deny_words(code: &str) -> &'static str {
    match code {
        "LICENSE_NOT_FOUND" => "No license is known for this key at any configured provider.",
        "DEVICE_MISMATCH" => {
            "The license is locked to another device. Reset that device here to let the new one in."
        }
        "DEVICE_LIMIT_REACHED" => {
            "Every device slot is taken. Reset a device the customer no longer uses to free a slot."
        }
        "LICENSE_INACTIVE" => "The license is not active (expired, canceled, revoked, or not delivered yet).",
        "PAYMENT_ISSUE" => "The payment is on hold; access returns when the customer pays.",
        "DEVICE_NOT_ACTIVATED" => {
            "This device was never activated, or it was reset: the app must activate again."
        }
        "TRANSFER_NOT_ALLOWED" => {
            "The policy does not let the app move the license itself: reset the device here."
        }
        "TRANSFER_COOLDOWN" => {
            "The license was moved too recently (cooldown or 30-day budget): reset the device here to move it now."
        }
        _ => "Refused.",
    }
}

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub activated: String,
    pub last_seen: String,
}

impl From<&DeviceView> for DeviceRow {
    fn from(d: &DeviceView) -> Self {
        DeviceRow {
            id: d.id.clone(),
            name: d.name.clone().unwrap_or_else(|| "(unnamed)".to_owned()),
            activated: when(d.activated_at),
            last_seen: when(d.last_seen_at),
        }
    }
}

/// One audit row.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub entitlement_id: String,
    pub inbox_id: String,
    /// The denial code of a `license.denied` row, and what it means.
    pub code: String,
    pub code_words: String,
}

impl From<&RecentEntry> for AuditRow {
    fn from(recent: &RecentEntry) -> Self {
        let mut row = AuditRow::from(&recent.entry);
        row.entitlement_id = recent.entitlement_id.clone().unwrap_or_default();
        row
    }
}

impl From<&AuditView> for AuditRow {
    /// A row of one entitlement's own timeline (the entitlement is the page's).
    fn from(a: &AuditView) -> Self {
        let detail = a.detail.clone().unwrap_or_default();
        let code: String = detail
            .split_once(": ")
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect()
            })
            .unwrap_or_default();
        AuditRow {
            at: when(a.at),
            actor: a.actor.to_owned(),
            action: a.action.clone(),
            code_words: if code.is_empty() {
                String::new()
            } else {
                deny_words(&code).to_owned()
            },
            code,
            detail,
            entitlement_id: String::new(),
            inbox_id: a.inbox_id.map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}

/// One inbox event's metadata.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub provider: String,
    pub event_type: String,
    pub status: String,
    pub received: String,
    pub processed: String,
    pub signed: String,
    pub attempts: i32,
    pub last_error: String,
    pub entitlement_id: String,
    pub dedupe_key: String,
    pub webhook_id: String,
}

impl From<&InboxItem> for EventRow {
    fn from(e: &InboxItem) -> Self {
        EventRow {
            id: e.id,
            provider: e.provider.to_string(),
            event_type: e.event_type.clone(),
            status: e.status.to_owned(),
            received: when(e.received_at),
            processed: when_opt(e.processed_at),
            signed: when_opt(e.signed_at),
            attempts: e.attempts,
            last_error: e.last_error.clone().unwrap_or_default(),
            entitlement_id: e.entitlement_id.clone().unwrap_or_default(),
            dedupe_key: e.dedupe_key.clone(),
            webhook_id: e.webhook_id.clone().unwrap_or_default(),
        }
    }
}

/// A serializable value's fields as `(name, value)` pairs, for the policy tables.
pub fn fields_of(value: &impl Serialize) -> Vec<(String, String)> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let shown = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => "-".to_owned(),
                    other => other.to_string(),
                };
                (k, shown)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_encode("/console/inbox?status=failed&x=1 2"),
            "/console/inbox%3Fstatus%3Dfailed%26x%3D1%202"
        );
    }

    #[test]
    fn every_denial_code_has_words() {
        for code in [
            "LICENSE_NOT_FOUND",
            "DEVICE_MISMATCH",
            "DEVICE_LIMIT_REACHED",
            "LICENSE_INACTIVE",
            "PAYMENT_ISSUE",
            "DEVICE_NOT_ACTIVATED",
            "TRANSFER_NOT_ALLOWED",
            "TRANSFER_COOLDOWN",
        ] {
            assert_ne!(deny_words(code), "Refused.", "{code}");
        }
    }
}
