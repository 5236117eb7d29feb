//! The fake Whop's routes (see the module docs of `whop/mod.rs` for what each one does and why).

use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::{COMPANY_ID, FakeMembership, KNOWN_VERSIONS, WhopState};
use tollgate_testkit::now_unix;
use tollgate_testkit::{HttpRequest, HttpResponse, lock};

const MAX_KEYS: usize = 50;
const MAX_KEY_LEN: usize = 100;
const MAX_VALUE_LEN: usize = 500;

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &json!({"error": {"status": status.to_string(), "message": message}}),
    )
}

fn is_retired(path: &[&str]) -> bool {
    matches!(path, ["api", "v2" | "v5", ..] | ["v2" | "v5", ..])
}

pub(super) fn route(state: &Mutex<WhopState>, api_key: &str, request: &HttpRequest) -> HttpResponse {
    let path = request.path();
    let mut state = lock(state);
    let mut response = answer(&mut state, api_key, request, &path);
    response.headers.extend(state.extra_headers.iter().cloned());
    response
}

fn answer(state: &mut WhopState, api_key: &str, request: &HttpRequest, path: &[&str]) -> HttpResponse {
    if is_retired(path) {
        state.retired_calls += 1;
        return error(404, "Not found");
    }
    if !request.has_bearer(api_key) {
        return error(
            401,
            "Your access token is invalid. Please make sure you are passing an access token, and that it is correctly formatted.",
        );
    }
    let version = match request.header("api-version-date") {
        None => None,
        Some(version) if KNOWN_VERSIONS.contains(&version) => Some(version.to_owned()),
        Some(version) => {
            return error(
                400,
                &format!(
                    "Unknown Api-Version-Date `{version}`. Supported versions: {}",
                    KNOWN_VERSIONS.join(", ")
                ),
            );
        }
    };
    let version = version.as_deref();
    match (request.method.as_str(), path) {
        ("GET", ["api", "v1", "memberships"]) => match permitted(state, "member:basic:read") {
            Err(refused) => refused,
            Ok(()) => list(state, request, version),
        },
        ("GET", ["api", "v1", "memberships", key_or_id]) => match permitted(state, "member:basic:read") {
            Err(refused) => refused,
            Ok(()) => match state.by_key_or_id(key_or_id) {
                Some(membership) => HttpResponse::json(200, &membership.json_for(version)),
                None => error(404, "Membership not found"),
            },
        },
        ("PATCH", ["api", "v1", "memberships", key_or_id]) => match permitted(state, "member:manage") {
            Err(refused) => refused,
            Ok(()) => update(state, key_or_id, request, version),
        },
        _ => error(404, "Not found"),
    }
}

fn permitted(state: &WhopState, permission: &str) -> Result<(), HttpResponse> {
    if state.permissions.iter().any(|p| p == permission) {
        Ok(())
    } else {
        Err(error(
            403,
            &format!("You do not have permission to perform this action. Required permission: {permission}"),
        ))
    }
}

/// Merge the metadata key by key; `{}` clears it. The result must stay within Whop's limits.
fn update(
    state: &mut WhopState,
    key_or_id: &str,
    request: &HttpRequest,
    version: Option<&str>,
) -> HttpResponse {
    let Some(update) = request.json().and_then(|b| b.get("metadata").cloned()) else {
        return error(422, "metadata must be an object");
    };
    let Value::Object(update) = update else {
        return error(422, "metadata must be an object");
    };
    let Some(membership) = state.by_key_or_id(key_or_id) else {
        return error(404, "Membership not found");
    };
    let mut merged: Map<String, Value> = if update.is_empty() {
        Map::new()
    } else {
        membership.metadata.clone()
    };
    merged.extend(update);
    if let Some(problem) = limits_broken(&merged) {
        return error(422, &problem);
    }
    membership.metadata = merged;
    membership.updated_at = now_unix().max(membership.updated_at);
    HttpResponse::json(200, &membership.json_for(version))
}

fn limits_broken(metadata: &Map<String, Value>) -> Option<String> {
    if metadata.len() > MAX_KEYS {
        return Some(format!("metadata can have at most {MAX_KEYS} keys"));
    }
    for (key, value) in metadata {
        if key.chars().count() > MAX_KEY_LEN {
            return Some(format!("metadata keys can be at most {MAX_KEY_LEN} characters"));
        }
        if value.as_str().is_some_and(|v| v.chars().count() > MAX_VALUE_LEN) {
            return Some(format!(
                "metadata values can be at most {MAX_VALUE_LEN} characters"
            ));
        }
    }
    None
}

/// Cursor paging like the SDKs: `first` (default 10, max 100), `after` = the previous `end_cursor`. With an API key
/// the company must be named (`company_id`, or `account_id`).
fn list(state: &WhopState, request: &HttpRequest, version: Option<&str>) -> HttpResponse {
    let company = request
        .query("company_id")
        .or_else(|| request.query("account_id"));
    match company {
        None => return error(400, "company_id is required when using an API key"),
        Some(company) if company != COMPANY_ID => {
            return error(403, "You do not have access to this company");
        }
        Some(_) => {}
    }
    let first = request
        .query("first")
        .and_then(|f| f.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let start = match request.query("after") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("cur_").and_then(|n| n.parse::<usize>().ok()) {
            Some(start) => start,
            None => return error(400, "invalid cursor"),
        },
    };
    let page: Vec<Value> = state
        .memberships
        .iter()
        .skip(start)
        .take(first)
        .map(|m: &FakeMembership| m.json_for(version))
        .collect();
    let end = start + page.len();
    let has_next_page = end < state.memberships.len();
    HttpResponse::json(
        200,
        &json!({
            "data": page,
            "page_info": {
                "end_cursor": has_next_page.then(|| format!("cur_{end}")),
                "start_cursor": format!("cur_{start}"),
                "has_next_page": has_next_page,
                "has_previous_page": start > 0,
            }
        }),
    )
}
