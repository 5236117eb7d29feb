//! The webhook inbox: newest first, filtered by provider, status and type; an event's metadata, its body only on an
//! explicit **Show body** (a POST, audited); **Replay** one event, and **Replay all failed**.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use tollgate_policy::Provider;
use tollgate_service::ingest::IngestOutcome;
use tollgate_store::{InboxId, InboxPage, InboxStatus};

use super::error::ConsoleError;
use super::session::{CsrfForm, Session};
use super::views::{EventRow, Layout, html, parse_provider, see_other, url_encode};
use crate::app::AppState;

/// Events per inbox page.
const PAGE: u32 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/inbox", web::get().to(inbox))
        .route("/inbox/replay-failed", web::post().to(replay_failed))
        .route("/inbox/{id}", web::get().to(event))
        .route("/inbox/{id}/body", web::post().to(show_body))
        .route("/inbox/{id}/replay", web::post().to(replay));
}

const STATUSES: [&str; 4] = ["received", "processed", "ignored", "failed"];

#[derive(Template)]
#[template(path = "console/inbox.html")]
struct InboxView {
    layout: Layout,
    providers: Vec<&'static str>,
    statuses: Vec<&'static str>,
    provider: String,
    status: String,
    event_type: String,
    events: Vec<EventRow>,
    /// The link to the next (older) page, when this one is full.
    older: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    status: String,
    #[serde(default, rename = "type")]
    event_type: String,
    before: Option<i64>,
    done: Option<String>,
}

fn parse_status(name: &str) -> Result<Option<InboxStatus>, ConsoleError> {
    Ok(Some(match name.trim() {
        "" => return Ok(None),
        "received" => InboxStatus::Received,
        "processed" => InboxStatus::Processed,
        "ignored" => InboxStatus::Ignored,
        "failed" => InboxStatus::Failed,
        _ => {
            return Err(ConsoleError::Invalid(
                "Pick a status: received, processed, ignored or failed.".to_owned(),
            ));
        }
    }))
}

/// `GET /console/inbox`.
async fn inbox(
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let query = query.into_inner();
    let provider = parse_provider(&query.provider)?;
    let status = parse_status(&query.status)?;
    let event_type = query.event_type.trim().chars().take(128).collect::<String>();
    let support = state.console().support().clone();
    let kind = event_type.clone();
    let before = query.before.map(InboxId);
    let events = web::block(move || {
        support.inbox_page(&InboxPage {
            provider,
            status,
            event_type: Some(kind.as_str()).filter(|t| !t.is_empty()),
            before_id: before,
            limit: PAGE,
        })
    })
    .await??;
    let older = (events.len() == PAGE as usize)
        .then(|| events.last())
        .flatten()
        .map(|last| {
            format!(
                "/console/inbox?provider={}&status={}&type={}&before={}",
                url_encode(&query.provider),
                url_encode(&query.status),
                url_encode(&event_type),
                last.id
            )
        });
    let message = query.done.as_deref().and_then(|done| {
        let (replayed, applied) = done.strip_prefix("replayed-")?.split_once('-')?;
        Some(format!(
            "Replayed {replayed} failed events: {applied} applied. Those still failing show their error."
        ))
    });
    let page = InboxView {
        layout: session.layout("Inbox"),
        providers: Provider::ALL.iter().map(|p| p.as_str()).collect(),
        statuses: STATUSES.to_vec(),
        provider: query.provider,
        status: query.status,
        event_type,
        events: events.iter().map(EventRow::from).collect(),
        older,
        message,
    };
    Ok(html(page.render()?))
}

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventView {
    layout: Layout,
    e: EventRow,
    body: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn replay_message(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "applied" => "Replayed: the event was applied to its license.",
            "ignored" => "Replayed: Tollgate does not act on this event type, so it is marked ignored.",
            "failed" => "Replayed, and it failed again: see the error below.",
            "duplicate" => "Replayed: it had no further effect.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn render_event(
    session: &Session,
    state: &AppState,
    id: i64,
    with_body: bool,
    message: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let support = state.console().support().clone();
    let who = session.name.clone();
    let found = web::block(move || {
        if with_body {
            support.show_inbox_body(InboxId(id), &who)
        } else {
            support.inbox_event(InboxId(id))
        }
    })
    .await??;
    let Some(item) = found else {
        return Err(ConsoleError::NotFound(format!("There is no inbox event {id}.")));
    };
    let body = item
        .body
        .as_ref()
        .map(|b| serde_json::to_string_pretty(b).unwrap_or_else(|_| b.to_string()));
    let page = EventView {
        layout: session.layout(&format!("Inbox event {id}")),
        e: EventRow::from(&item),
        body,
        message,
    };
    Ok(html(page.render()?))
}

/// `GET /console/inbox/{id}`: metadata only.
async fn event(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let message = replay_message(query.done.as_deref());
    render_event(&session, &state, path.into_inner(), false, message).await
}

/// `POST /console/inbox/{id}/body`: **Show body**, audited before it is shown.
async fn show_body(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    render_event(&session, &state, path.into_inner(), true, None).await
}

/// `POST /console/inbox/{id}/replay`: **Replay**.
async fn replay(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let support = state.console().support().clone();
    let who = session.name.clone();
    let outcome = web::block(move || support.replay(InboxId(id), &who)).await??;
    log::info!(
        inbox_id = id,
        status = outcome.as_str(),
        session = session.name.as_str();
        "inbox event replayed in the console"
    );
    let done = match outcome {
        IngestOutcome::Applied { .. } => "applied",
        IngestOutcome::Ignored { .. } => "ignored",
        IngestOutcome::Failed { .. } => "failed",
        _ => "duplicate",
    };
    Ok(see_other(&format!("/console/inbox/{id}?done={done}")))
}

/// `POST /console/inbox/replay-failed`: **Replay all failed**.
async fn replay_failed(
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let support = state.console().support().clone();
    let who = session.name.clone();
    let results = web::block(move || support.replay_failed(&who)).await??;
    let applied = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(IngestOutcome::Applied { .. })))
        .count();
    log::info!(
        replayed = results.len(),
        applied = applied,
        session = session.name.as_str();
        "failed inbox events replayed in the console"
    );
    Ok(see_other(&format!(
        "/console/inbox?status=failed&done=replayed-{}-{applied}",
        results.len()
    )))
}
