//! Find a license (by key, by provider id, by subject) and the license page: the decision in plain words, the
//! devices with **Reset device** and **Reset all devices**, and the audit timeline.
//!
//! The key search is a POST, so the key never appears in a URL, the browser history or an access log line; it is
//! hashed for the look-up (`Store::list_entitlements_by_license_key`) and neither stored nor logged nor echoed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use tollgate_policy::Provider;
use tollgate_providers::CallContext;
use tollgate_service::license::{LicenseError, ProviderRelease};
use tollgate_store::{Actor, DeviceId, EntitlementId};

use super::error::ConsoleError;
use super::session::{CsrfForm, Session};
use super::views::{AuditRow, DeviceRow, EntitlementRow, Layout, fields_of, html, parse_provider, see_other};
use crate::app::AppState;
use crate::http::error::ErrorCode;
use crate::http::request::request_id;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/find", web::get().to(find))
        .route("/find", web::post().to(find_by_key))
        .route("/licenses/{id}", web::get().to(license))
        .route("/licenses/{id}/devices/reset-all", web::post().to(reset_all))
        .route(
            "/licenses/{id}/devices/{device_id}/reset",
            web::post().to(reset_one),
        );
}

#[derive(Template)]
#[template(path = "console/find.html")]
struct FindPage {
    layout: Layout,
    providers: Vec<&'static str>,
    searched: Option<String>,
    results: Vec<EntitlementRow>,
    provider: String,
    external_id: String,
    subject: String,
}

impl FindPage {
    fn new(session: &Session) -> FindPage {
        FindPage {
            layout: session.layout("Find a license"),
            providers: Provider::ALL.iter().map(|p| p.as_str()).collect(),
            searched: None,
            results: Vec::new(),
            provider: String::new(),
            external_id: String::new(),
            subject: String::new(),
        }
    }
}

/// At most this long for an id or subject typed into a search.
const MAX_SEARCH_LEN: usize = 256;

#[derive(Debug, Deserialize)]
struct FindQuery {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    subject: String,
}

/// `GET /console/find`: the search forms, and the results of a search by provider id or by subject.
async fn find(
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<FindQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let query = query.into_inner();
    let mut page = FindPage::new(&session);
    let (external_id, subject) = (query.external_id.trim(), query.subject.trim());
    if external_id.len() > MAX_SEARCH_LEN || subject.len() > MAX_SEARCH_LEN {
        return Err(ConsoleError::Invalid("That id is too long to be one.".to_owned()));
    }
    let provider = parse_provider(&query.provider)?;
    let support = state.console().support().clone();
    if !external_id.is_empty() {
        let Some(provider) = provider else {
            return Err(ConsoleError::Invalid(
                "Pick the provider the membership, grant or subscription id belongs to.".to_owned(),
            ));
        };
        let id = external_id.to_owned();
        let found = web::block(move || support.find_by_external_id(provider, &id)).await??;
        page.searched = Some(format!("{provider} id {external_id}"));
        page.results = found.iter().map(EntitlementRow::from).collect();
    } else if !subject.is_empty() {
        let who = subject.to_owned();
        let found = web::block(move || support.find_by_subject(provider, &who)).await??;
        page.searched = Some(format!("subject {subject}"));
        page.results = found.iter().map(EntitlementRow::from).collect();
    }
    page.provider = query.provider;
    page.external_id = external_id.to_owned();
    page.subject = subject.to_owned();
    Ok(html(page.render()?))
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    license_key: String,
}

/// `POST /console/find`: by license key. One match goes straight to its page.
async fn find_by_key(
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<KeyForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let key = form.license_key;
    if key.trim().is_empty() || key.len() > tollgate_service::license::MAX_LICENSE_KEY_LEN {
        return Err(ConsoleError::Invalid(
            "Type or paste the customer's license key into the License key field.".to_owned(),
        ));
    }
    let support = state.console().support().clone();
    let found = web::block(move || support.find_by_license_key(&key)).await??;
    if let [only] = found.as_slice() {
        return Ok(see_other(&format!("/console/licenses/{}", only.id)));
    }
    let mut page = FindPage::new(&session);
    page.searched = Some("the license key you typed".to_owned());
    page.results = found.iter().map(EntitlementRow::from).collect();
    Ok(html(page.render()?))
}

#[derive(Template)]
#[template(path = "console/license.html")]
struct LicensePage {
    layout: Layout,
    e: EntitlementRow,
    policy: Vec<(String, String)>,
    max_devices: u32,
    devices: Vec<DeviceRow>,
    audit: Vec<AuditRow>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// What the page says after an action redirected back to it.
fn done_message(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "reset" => "Device reset. The app on that device must activate again.",
            "reset-skipped" => {
                "Device reset here. Its Dodo instance is still active at Dodo (the console does not have the \
                 key): deactivate it in Dodo's dashboard, or reset through the admin API with the key."
            }
            "reset-all" => "Every device was reset. The customer's apps must activate again.",
            "reset-none" => "There was no device to reset.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// `GET /console/licenses/{id}`.
async fn license(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let id = EntitlementId::new(path.into_inner());
    let support = state.console().support().clone();
    let lookup = id.clone();
    let Some(detail) = web::block(move || support.entitlement(&lookup)).await?? else {
        return Err(not_found(&id));
    };
    let page = LicensePage {
        layout: session.layout(&format!("License {}", detail.entitlement.external_id)),
        e: EntitlementRow::from(&detail.entitlement),
        policy: fields_of(&detail.policy),
        max_devices: detail.policy.max_devices,
        devices: detail.devices.iter().map(DeviceRow::from).collect(),
        audit: detail.audit.iter().map(AuditRow::from).collect(),
        message: done_message(query.done.as_deref()),
    };
    Ok(html(page.render()?))
}

fn not_found(id: &EntitlementId) -> ConsoleError {
    ConsoleError::NotFound(format!(
        "There is no license (entitlement) `{}`. Find it again from the Find a license page.",
        id.as_str().chars().take(64).collect::<String>()
    ))
}

fn from_license_error(e: LicenseError, id: &EntitlementId) -> ConsoleError {
    match e {
        LicenseError::LicenseNotFound => not_found(id),
        LicenseError::DeviceNotActivated => ConsoleError::NotFound(
            "That device is not active on this license any more (reset already?). Reload the page."
                .to_owned(),
        ),
        LicenseError::Storage(_) => ConsoleError::Unavailable("The database cannot be reached.".to_owned()),
        other if ErrorCode::of_license(&other).status() == StatusCode::SERVICE_UNAVAILABLE => {
            ConsoleError::Unavailable(format!("{} Nothing was changed.", other.message()))
        }
        other => ConsoleError::Internal(other.to_string()),
    }
}

/// Reset devices of one license (all of them when `only` is `None`) as the session, through the admin API's use
/// case. The page it redirects to says what happened.
async fn reset(
    session: &Session,
    state: &AppState,
    req: &HttpRequest,
    id: EntitlementId,
    only: Option<DeviceId>,
) -> Result<HttpResponse, ConsoleError> {
    let licensing = crate::http::license::licensing(state)
        .await
        .map_err(|e| ConsoleError::Unavailable(format!("{}.", e.message())))?;
    let single = only.is_some();
    let devices: Vec<DeviceId> = match only {
        Some(device) => vec![device],
        None => {
            let support = state.console().support().clone();
            let lookup = id.clone();
            let detail = web::block(move || support.entitlement(&lookup))
                .await??
                .ok_or_else(|| not_found(&id))?;
            detail
                .devices
                .iter()
                .map(|d| DeviceId::new(d.id.clone()))
                .collect()
        }
    };
    let ctx = CallContext::with_request_id(request_id(req));
    let mut skipped = false;
    for device in &devices {
        let done = licensing
            .reset_device_by(&ctx, &id, device, Actor::Console, &session.name, None)
            .await
            .map_err(|e| from_license_error(e, &id))?;
        skipped |= done.provider == ProviderRelease::SkippedNoLicenseKey;
        log::info!(
            request_id = request_id(req).as_str(),
            entitlement_id = id.as_str(),
            device_id = device.as_str(),
            session = session.name.as_str();
            "device reset in the console"
        );
    }
    let done = match (devices.len(), skipped, single) {
        (0, _, _) => "reset-none",
        (_, true, _) => "reset-skipped",
        (_, false, true) => "reset",
        (_, false, false) => "reset-all",
    };
    Ok(see_other(&format!(
        "/console/licenses/{}?done={done}",
        id.as_str()
    )))
}

/// `POST /console/licenses/{id}/devices/{device_id}/reset`: **Reset device**.
async fn reset_one(
    session: Session,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let (id, device) = path.into_inner();
    reset(
        &session,
        &state,
        &req,
        EntitlementId::new(id),
        Some(DeviceId::new(device)),
    )
    .await
}

/// `POST /console/licenses/{id}/devices/reset-all`: **Reset all devices**.
async fn reset_all(
    session: Session,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    reset(
        &session,
        &state,
        &req,
        EntitlementId::new(path.into_inner()),
        None,
    )
    .await
}
