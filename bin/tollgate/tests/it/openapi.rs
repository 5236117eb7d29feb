//! The OpenAPI document (`http/openapi.rs`): the checked-in copy is current, every route is registered through the
//! table that documents it, and every error code the server can send is in it. (`tests/it/dev/contract.rs` checks the
//! served document against real answers.)

#![expect(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate::http::openapi::{document_json, error_codes};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn document() -> Value {
    serde_json::from_str(document_json()).unwrap()
}

/// Every `.rs` file under `dir`, with its path relative to `src`.
fn sources(dir: &Path, src: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, src, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).unwrap().display().to_string();
            out.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn server_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    assert!(files.iter().any(|(name, _)| name == "http/openapi.rs"));
    files
}

/// The code without `//` comments (doc comments mention routes too).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split("//").next().unwrap_or_default()))
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = repo().join("docs/openapi.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == document_json(),
        "docs/openapi.json is stale: regenerate it with `cargo run -p tollgate -- openapi > docs/openapi.json` \
         and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_route_group() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for expected in [
        "/api/license/activate",
        "/api/license/validate",
        "/api/license/deactivate",
        "/.well-known/jwks.json",
        "/api/webhooks/whop",
        "/api/webhooks/dodo",
        "/api/webhooks/aghanim",
        "/api/entitlements",
        "/admin/entitlements",
        "/admin/entitlements/{provider}/{external_id}",
        "/admin/entitlements/{id}/devices/{device_id}/reset",
        "/admin/licenses/denials",
        "/admin/inbox",
        "/admin/inbox/{id}",
        "/admin/inbox/{id}/replay",
        "/admin/inbox/replay-failed",
        "/admin/policy",
        "/admin/reconcile",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains(&expected), "{expected} is not documented");
    }
    for path in &paths {
        assert!(
            !path.starts_with("/console") && !path.starts_with("/dev/"),
            "{path} is excluded by design"
        );
    }
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("`/console`") && description.contains("`/dev/...`"));
    // Every admin operation needs the admin token, the service API the service token, nothing else a token.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = op["security"][0]
                .as_object()
                .map(|s| s.keys().next().unwrap().clone());
            let expected = if path.starts_with("/admin/") {
                Some("admin_token")
            } else if path == "/api/entitlements" {
                Some("service_token")
            } else {
                None
            };
            assert_eq!(security.as_deref(), expected, "{method} {path}");
            if expected.is_some() {
                assert!(
                    op["responses"]["401"]["content"]["application/json"]["examples"]["UNAUTHORIZED"]
                        .is_object()
                );
            }
            assert!(op["responses"]["500"].is_object(), "{method} {path} lacks 500");
        }
    }
}

/// A route served outside `Api::add` would be missing from the document: only the table's registrar, the
/// request middleware's scope, the dev-only routes and the console (excluded by design) may touch actix routing.
#[test]
fn routes_are_registered_only_through_the_documenting_table() {
    const ALLOWED: [(&str, &str); 3] = [
        ("http/openapi.rs", "cfg.route(&path"),
        ("app.rs", "web::scope(\"\")"),
        ("http/dev.rs", ".route(\"/dev/providers/{provider}/outage\""),
    ];
    let registering = [
        ".route(",
        "web::resource(",
        "web::scope(",
        "Resource::new(",
        "Scope::new(",
        "#[get(",
        "#[post(",
        "#[put(",
        "#[patch(",
        "#[delete(",
        "#[route(",
    ];
    let mut found = Vec::new();
    for (file, text) in server_sources() {
        if file.starts_with("http/console") {
            continue;
        }
        for (n, line) in code_lines(&text) {
            if registering.iter().any(|r| line.contains(r))
                && !ALLOWED
                    .iter()
                    .any(|(f, allowed)| *f == file && line.contains(allowed))
            {
                found.push(format!("{file}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "routes registered outside the OpenAPI table (add them with `api.add(__path_handler, handler)` in the \
         file's `routes(api)`, with a #[utoipa::path]):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_guard_above_sees_a_route_registered_by_hand() {
    let text = "pub fn routes(cfg: &mut web::ServiceConfig) {\n    cfg.route(\"/x\", web::get().to(h));\n}\n";
    let hits: Vec<usize> = code_lines(text)
        .filter(|(_, line)| line.contains(".route("))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, [2]);
    assert_eq!(
        code_lines("// cfg.route(\"/x\")")
            .filter(|(_, l)| l.contains(".route("))
            .count(),
        0
    );
}

/// Every `ApiError::new(.., "CODE", ..)` in the server's source is in the catalogue the document lists, and every
/// catalogued code is explained.
#[test]
fn every_error_code_the_server_can_send_is_documented() {
    let catalogue = error_codes();
    let mut missing = Vec::new();
    let mut seen = 0;
    for (file, text) in server_sources() {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("ApiError::new(") {
            let call = &rest[at..];
            let window = &call[..call.len().min(300)];
            // The code is the first upper-case string literal of the call (not `error.code()` passed through).
            let literal = window
                .split('"')
                .skip(1)
                .step_by(2)
                .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
            if let Some(code) = literal {
                seen += 1;
                if !catalogue.iter().any(|c| c.code == code) {
                    missing.push(format!("{file}: {code}"));
                }
            }
            rest = &call["ApiError::new(".len()..];
        }
    }
    assert!(
        seen >= 10,
        "the scan found only {seen} codes: it no longer reads the source right"
    );
    assert!(
        missing.is_empty(),
        "codes not in http/openapi.rs's error_codes():\n{}",
        missing.join("\n")
    );
    for code in &catalogue {
        assert_ne!(
            code.meaning, "see the message",
            "{} has no meaning in openapi::meaning",
            code.code
        );
    }
    let doc = document();
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in &catalogue {
        assert!(listed.contains(&code.code), "{}", code.code);
        assert!(
            doc["info"]["description"]
                .as_str()
                .unwrap()
                .contains(&format!("`{}`", code.code))
        );
    }
    // Every code an operation documents is a catalogued one.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(examples) = response["content"]["application/json"]["examples"].as_object() else {
                    continue;
                };
                for code in examples.keys() {
                    assert!(
                        catalogue
                            .iter()
                            .any(|c| c.code == code && c.status.to_string() == *status),
                        "{path} documents {status} {code}, which is not catalogued with that status"
                    );
                }
            }
        }
    }
}

/// docs/api.md, the human reference, has a section for every documented operation and lists every error code with
/// its status.
#[test]
fn the_api_reference_covers_every_operation_and_code() {
    let reference = std::fs::read_to_string(repo().join("docs/api.md")).unwrap();
    let doc = document();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let heading = format!("### `{} {path}`", method.to_ascii_uppercase());
            if !reference.lines().any(|line| line == heading) {
                missing.push(heading);
            }
        }
    }
    for code in error_codes() {
        let row = format!("| {} | `{}` |", code.status, code.code);
        if !reference.contains(&row) {
            missing.push(row);
        }
    }
    assert!(missing.is_empty(), "docs/api.md lacks:\n{}", missing.join("\n"));
}
