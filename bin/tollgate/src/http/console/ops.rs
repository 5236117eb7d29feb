//! The Overview (the `doctor` checklist, providers, inbox backlog, recent denials, the last reconciliation), the
//! Reconciliation page (**Run now**, the last runs and what they changed) and the Policy page.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use tollgate_policy::Provider;
use tollgate_service::reconcile::{ReconcileError, ReconcileReport};
use tollgate_store::Actor;

use super::error::ConsoleError;
use super::session::{CsrfForm, Session};
use super::views::{AuditRow, Layout, fields_of, html, when};
use crate::app::AppState;
use crate::cli::doctor::{Status, checklist};
use crate::http::request::request_id;

/// How many recent denials and reconciliation changes the pages list.
const RECENT: u32 = 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reconciliation", web::get().to(reconciliation))
        .route("/reconciliation/run", web::post().to(run_now))
        .route("/policy", web::get().to(policy));
}

/// `GET /console` goes to `/console/`.
pub async fn to_overview() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

/// One doctor check.
struct CheckRow {
    section: String,
    done: bool,
    broken: bool,
    summary: String,
    fix: String,
}

struct ProviderRow {
    name: &'static str,
    webhooks: bool,
    api: bool,
}

/// One reconciliation run, in words.
struct RunRow {
    started: String,
    finished: String,
    providers: Vec<PassRow>,
}

struct PassRow {
    provider: String,
    outcome: String,
    examined: u64,
    changed: u64,
    created: u64,
    ignored: u64,
    errors: Vec<String>,
    repairs: Vec<String>,
}

impl From<&ReconcileReport> for RunRow {
    fn from(report: &ReconcileReport) -> Self {
        RunRow {
            started: when(report.started_at),
            finished: when(report.finished_at),
            providers: report
                .providers
                .iter()
                .map(|p| PassRow {
                    provider: p.provider.to_string(),
                    outcome: match &p.held_by {
                        Some(holder) => format!("held by {holder}"),
                        None => serde_json::to_value(p.outcome)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    },
                    examined: p.examined,
                    changed: p.changed,
                    created: p.created,
                    ignored: p.ignored,
                    errors: p.errors.clone(),
                    repairs: p
                        .repairs
                        .iter()
                        .map(|r| format!("{} ({}): {}", r.external_id, r.entitlement_id, r.detail))
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    layout: Layout,
    checks: Vec<CheckRow>,
    done: usize,
    pending: usize,
    broken: usize,
    providers: Vec<ProviderRow>,
    received: u64,
    failed: u64,
    denials: Vec<AuditRow>,
    last_run: Option<RunRow>,
}

/// `GET /console/`.
pub async fn overview(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let settings = Arc::new(state.settings().clone());
    let for_doctor = settings.clone();
    let checks = web::block(move || checklist(&for_doctor)).await?;
    let support = state.console().support().clone();
    let (backlog, denials) = web::block(move || {
        Ok::<_, tollgate_store::StoreError>((
            support.query().inbox_backlog()?,
            support.recent_denials(RECENT)?,
        ))
    })
    .await??;
    let count = |status: Status| checks.iter().filter(|c| c.status == status).count();
    let page = OverviewPage {
        layout: session.layout("Overview"),
        done: count(Status::Done),
        pending: count(Status::Pending),
        broken: count(Status::Broken),
        checks: checks
            .iter()
            .map(|c| CheckRow {
                section: c.section.clone(),
                done: c.status == Status::Done,
                broken: c.status == Status::Broken,
                summary: c.summary.clone(),
                fix: c.fix.clone().unwrap_or_default(),
            })
            .collect(),
        providers: Provider::ALL
            .iter()
            .map(|p| ProviderRow {
                name: p.as_str(),
                webhooks: settings.providers.get(*p).webhooks_enabled(),
                api: settings.providers.get(*p).api_key.is_set(),
            })
            .collect(),
        received: backlog.received,
        failed: backlog.failed,
        denials: denials.iter().map(AuditRow::from).collect(),
        last_run: state.reconciler().last_report().as_deref().map(RunRow::from),
    };
    Ok(html(page.render()?))
}

#[derive(Template)]
#[template(path = "console/reconciliation.html")]
struct ReconciliationPage {
    layout: Layout,
    configured: Vec<String>,
    every: String,
    runs: Vec<RunRow>,
    changes: Vec<AuditRow>,
    message: Option<String>,
}

async fn render_reconciliation(
    session: &Session,
    state: &AppState,
    message: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let support = state.console().support().clone();
    let changes = web::block(move || support.recent_by(Actor::Reconcile, RECENT)).await??;
    let page = ReconciliationPage {
        layout: session.layout("Reconciliation"),
        configured: state
            .reconciler()
            .providers()
            .iter()
            .map(ToString::to_string)
            .collect(),
        every: state.settings().reconcile.every.to_string(),
        runs: state
            .reconciler()
            .recent_reports()
            .iter()
            .map(|r| RunRow::from(r.as_ref()))
            .collect(),
        changes: changes.iter().map(AuditRow::from).collect(),
        message,
    };
    Ok(html(page.render()?))
}

/// `GET /console/reconciliation`.
async fn reconciliation(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    render_reconciliation(&session, &state, None).await
}

/// `POST /console/reconciliation/run`: **Run now**, every configured provider; the page shows the run on top.
async fn run_now(
    session: Session,
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    if state.reconciler().providers().is_empty() {
        return Err(ConsoleError::Invalid(
            "No provider has an API key, so there is nothing to reconcile with: set providers.<name>.api_key \
             (TOLLGATE_PROVIDERS__<NAME>__API_KEY)."
                .to_owned(),
        ));
    }
    let report = state.reconciler().run_once(None).await.map_err(|e| match e {
        ReconcileError::Storage(store) => ConsoleError::from(store),
        other => ConsoleError::Internal(other.to_string()),
    })?;
    let support = state.console().support().clone();
    let who = session.name.clone();
    let audited = report.clone();
    web::block(move || support.audit_reconcile(&audited, &who)).await??;
    log::info!(
        request_id = request_id(&req).as_str(),
        repaired = report.repaired(),
        errors = report.has_errors(),
        session = session.name.as_str();
        "reconciliation run in the console"
    );
    let message = format!(
        "Reconciliation finished: {} entitlements repaired{}.",
        report.repaired(),
        if report.has_errors() {
            ", with errors (below)"
        } else {
            ""
        }
    );
    render_reconciliation(&session, &state, Some(message)).await
}

struct ProductRow {
    provider: String,
    product: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/policy.html")]
struct PolicyPage {
    layout: Layout,
    default: Vec<(String, String)>,
    products: Vec<ProductRow>,
}

/// `GET /console/policy`.
async fn policy(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let view = state.query().policy();
    let page = PolicyPage {
        layout: session.layout("Policy"),
        default: fields_of(&view.default),
        products: view
            .products
            .iter()
            .map(|p| ProductRow {
                provider: p.provider.to_string(),
                product: p.product.clone(),
                fields: fields_of(&p.effective),
            })
            .collect(),
    };
    Ok(html(page.render()?))
}
