//! The fake Dodo's routes: the public license endpoints (activate, deactivate, validate) and the authenticated
//! listings and instance endpoints, with Dodo's documented statuses and error codes.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::{DodoState, FakeGrant, FakeLicenseKey, FakeSubscription, instance_json};
use tollgate_testkit::{HttpRequest, HttpResponse, lock};
use tollgate_testkit::{iso, now_unix};

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"code": code, "message": message}))
}

pub(super) fn route(state: &Mutex<DodoState>, api_key: &str, request: &HttpRequest) -> HttpResponse {
    let mut state = lock(state);
    match (request.method.as_str(), request.path().as_slice()) {
        // Public endpoints: no API key needed.
        ("POST", ["licenses", "activate"]) => activate(&mut state, request),
        ("POST", ["licenses", "deactivate"]) => deactivate(&mut state, request),
        ("POST", ["licenses", "validate"]) => validate(&state, request),
        _ if !request.has_bearer(api_key) => error(401, "UNAUTHORIZED", "Invalid API key"),
        ("GET", ["entitlements", entitlement, "grants"]) => {
            let status = request.query("status");
            let customer = request.query("customer_id");
            let grants: Vec<&FakeGrant> = state
                .grants
                .iter()
                .filter(|g| g.entitlement_id == *entitlement)
                .filter(|g| status.is_none_or(|s| g.status.eq_ignore_ascii_case(s)))
                .filter(|g| customer.is_none_or(|c| g.customer_id == c))
                .collect();
            let items: Vec<Value> = page(&grants, request).map(|g| state.grant_json(g)).collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["subscriptions"]) => {
            let subs: Vec<&FakeSubscription> = state.subscriptions.iter().collect();
            let items: Vec<Value> = page(&subs, request).map(|s| s.json()).collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["license_key_instances"]) => {
            // `license_key_id` (OpenAPI 1.53.2) and `grant_id` (SDK Aug 2026) filters; none lists every instance.
            let key_filter = request.query("license_key_id");
            let grant_key = request.query("grant_id").map(|grant| {
                state
                    .grants
                    .iter()
                    .find(|g| g.id == grant)
                    .and_then(|g| g.license_key.clone())
            });
            let found: Vec<(&FakeLicenseKey, &String, &String)> = state
                .instances()
                .filter(|(key, _, _)| key_filter.is_none_or(|id| key.id == id))
                .filter(|(key, _, _)| {
                    grant_key
                        .as_ref()
                        .is_none_or(|value| value.as_deref() == Some(key.key.as_str()))
                })
                .collect();
            let refs: Vec<&(&FakeLicenseKey, &String, &String)> = found.iter().collect();
            let items: Vec<Value> = page(&refs, request)
                .map(|(key, id, name)| instance_json(key, id, name))
                .collect();
            HttpResponse::json(200, &json!({ "items": items }))
        }
        ("GET", ["license_key_instances", id]) => match state.instances().find(|(_, i, _)| i == id) {
            Some((key, id, name)) => HttpResponse::json(200, &instance_json(key, id, name)),
            None => error(404, "NOT_FOUND", "License key instance not found"),
        },
        ("PATCH", ["license_key_instances", id]) => {
            let body = request.json().unwrap_or(Value::Null);
            let Some(name) = body_str(&body, "name") else {
                return error(422, "INVALID_REQUEST_BODY", "name is required");
            };
            let found = state.keys.iter_mut().find_map(|key| {
                let key_ref = key.clone();
                key.instances.iter_mut().find(|(i, _)| i == id).map(|(i, old)| {
                    *old = name.clone();
                    instance_json(&key_ref, i, &name)
                })
            });
            match found {
                Some(json) => HttpResponse::json(200, &json),
                None => error(404, "NOT_FOUND", "License key instance not found"),
            }
        }
        _ => error(404, "NOT_FOUND", "Not found"),
    }
}

/// `page_number` (from 0) and `page_size` (default 10, max 100).
fn page<'a, T>(items: &'a [&'a T], request: &HttpRequest) -> impl Iterator<Item = &'a T> {
    let size = request
        .query("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let number = request
        .query("page_number")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    items.iter().skip(number.saturating_mul(size)).take(size).copied()
}

fn body_str(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn activate(state: &mut DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let (Some(key), Some(name)) = (body_str(&body, "license_key"), body_str(&body, "name")) else {
        return error(422, "INVALID_REQUEST_BODY", "license_key and name are required");
    };
    if state.refuse_activations_as_invalid {
        return error(
            422,
            "INVALID_REQUEST_BODY",
            "Your request body is invalid. Please check your request headers and object.",
        );
    }
    let instance_id = state.next_instance_id();
    let now = now_unix();
    let Some(license) = state.keys.iter_mut().find(|k| k.key == key) else {
        return error(404, "NOT_FOUND", "License key not found");
    };
    if !license.is_active(now) {
        return error(403, "INACTIVE_LICENSE_KEY", "License key is not active");
    }
    if license
        .activations_limit
        .is_some_and(|limit| license.instances.len() >= limit as usize)
    {
        return error(
            422,
            "LICENSE_KEY_LIMIT_REACHED",
            "License key activation limit reached",
        );
    }
    license.instances.push((instance_id.clone(), name.clone()));
    HttpResponse::json(
        201,
        &json!({
            "id": instance_id, "business_id": "bus_fake", "license_key_id": license.id, "name": name,
            "created_at": iso(now),
            "customer": {"customer_id": license.customer_id, "email": "customer@example.com", "name": "Fake Customer"},
            "product": {"product_id": license.product_id, "name": "Fake Product"},
        }),
    )
}

fn deactivate(state: &mut DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let (Some(key), Some(instance)) = (
        body_str(&body, "license_key"),
        body_str(&body, "license_key_instance_id"),
    ) else {
        return error(
            422,
            "INVALID_REQUEST_BODY",
            "license_key and license_key_instance_id are required",
        );
    };
    let Some(license) = state.keys.iter_mut().find(|k| k.key == key) else {
        return error(404, "NOT_FOUND", "License key not found");
    };
    let before = license.instances.len();
    license.instances.retain(|(id, _)| *id != instance);
    if license.instances.len() == before {
        return error(
            403,
            "LICENSE_KEY_NOT_FOUND",
            "License key instance not found or does not belong to this license key",
        );
    }
    HttpResponse::empty(200)
}

fn validate(state: &DodoState, request: &HttpRequest) -> HttpResponse {
    let body = request.json().unwrap_or(Value::Null);
    let Some(key) = body_str(&body, "license_key") else {
        return error(422, "INVALID_REQUEST_BODY", "license_key is required");
    };
    let instance = body_str(&body, "license_key_instance_id");
    let Some(license) = state.keys.iter().find(|k| k.key == key) else {
        if state.validate_unknown_as_404 {
            return error(404, "NOT_FOUND", "License key not found");
        }
        return HttpResponse::json(200, &json!({ "valid": false }));
    };
    let valid = license.is_active(now_unix())
        && instance.is_none_or(|i| license.instances.iter().any(|(id, _)| *id == i));
    HttpResponse::json(200, &json!({ "valid": valid }))
}
