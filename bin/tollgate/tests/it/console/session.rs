//! Sign-in, the session cookie, idle expiry, sign-out across instances, CSRF, the security headers, and sign-in
//! throttling, on both backends.

use actix_web::http::StatusCode;
use chrono::TimeDelta;

use std::sync::Arc;

use tollgate::app::build_state;

use crate::console::support::{BROWSER, get, post_form, set_cookie, sign_in, sign_in_form, try_sign_in};
use crate::harness::app::{ADMIN_TOKEN, TestServer, app, both, settings};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_security_headers(reply: &crate::harness::app::Reply, what: &str) {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-security-policy"), CSP, "{what}");
    assert!(
        !header("content-security-policy").contains("unsafe-inline"),
        "{what}"
    );
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert!(header("cache-control").starts_with("no-"), "{what}");
}

#[actix_web::test]
async fn a_signed_in_session_cookie_is_http_only_strict_and_lives_in_the_database() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let reply = try_sign_in(&app, ADMIN_TOKEN, BROWSER).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        let (id, header) = set_cookie(&reply, "tollgate_console").unwrap();
        assert_eq!(
            header,
            format!("tollgate_console={id}; HttpOnly; SameSite=Strict; Path=/console; Max-Age=43200")
        );
        assert_eq!(id.len(), 43);
        // The sign-in form's cookie is removed.
        let (_, removed) = set_cookie(&reply, "tollgate_console_sign_in").unwrap();
        assert!(removed.contains("Max-Age=0"), "{removed}");
        // The database holds only the hash of the id, never the id.
        let stored = srv
            .state
            .store()
            .find_console_session(&tollgate_service::console_session::session_id_hash(&id))
            .unwrap()
            .unwrap();
        assert_ne!(stored.id_hash, id);
        assert!(srv.state.store().find_console_session(&id).unwrap().is_none());

        let page = get(&app, "/console/", Some(&id)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("Setup checklist"), "{}", page.text());
        assert_security_headers(&page, "overview");
    })
    .await;
}

#[actix_web::test]
async fn the_cookie_is_secure_behind_tls_as_configured() {
    let srv = TestServer::sqlite(&[("TOLLGATE_CONSOLE__TRUST_FORWARDED_PROTO", "true")]);
    let app = app(&srv.state).await;
    let (cookie, csrf) = sign_in_form(&app).await;
    let req = actix_web::test::TestRequest::post()
        .uri("/console/sign-in")
        .peer_addr(BROWSER.parse().unwrap())
        .insert_header(("X-Forwarded-Proto", "https"))
        .insert_header(("Cookie", format!("tollgate_console_sign_in={cookie}")))
        .set_form([
            ("csrf", csrf.as_str()),
            ("token", ADMIN_TOKEN),
            ("next", "/console/"),
        ]);
    let reply = crate::harness::app::send(&app, req).await;
    let (_, header) = set_cookie(&reply, "tollgate_console").unwrap();
    assert!(header.contains("; Secure"), "{header}");

    // Without trusting the proxy, the header is ignored; `always` sets it anyway.
    let srv = TestServer::sqlite(&[("TOLLGATE_CONSOLE__SECURE_COOKIES", "always")]);
    let always = crate::harness::app::app(&srv.state).await;
    let reply = try_sign_in(&always, ADMIN_TOKEN, BROWSER).await;
    assert!(
        set_cookie(&reply, "tollgate_console")
            .unwrap()
            .1
            .contains("; Secure")
    );
}

#[actix_web::test]
async fn without_a_session_a_page_redirects_to_sign_in_and_an_action_is_refused() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        for uri in [
            "/console/",
            "/console/inbox?status=failed",
            "/console/find",
            "/console/policy",
            "/console/reconciliation",
            "/console/licenses/ent_x",
            "/console/inbox/1",
        ] {
            let reply = get(&app, uri, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{uri}");
            let location = reply.headers.get("location").unwrap().to_str().unwrap();
            assert!(
                location.starts_with("/console/sign-in?next=/console/"),
                "{uri}: {location}"
            );
            assert_security_headers(&reply, uri);
            // A made-up cookie is no session either.
            let reply = get(&app, uri, Some(&"A".repeat(43))).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{uri}");
        }
        for uri in [
            "/console/sign-out",
            "/console/find",
            "/console/inbox/replay-failed",
            "/console/inbox/1/replay",
            "/console/inbox/1/body",
            "/console/licenses/ent_x/devices/dev_y/reset",
            "/console/licenses/ent_x/devices/reset-all",
            "/console/reconciliation/run",
        ] {
            let reply = post_form(&app, uri, "", &[("csrf", "x")]).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
            assert!(reply.text().contains("Sign in again"), "{uri}: {}", reply.text());
            assert_security_headers(&reply, uri);
        }
        // Not-found pages, assets and the sign-in page carry the headers too.
        for uri in [
            "/console/nothing-here",
            "/console/assets/console.css",
            "/console/sign-in",
        ] {
            assert_security_headers(&get(&app, uri, None).await, uri);
        }
    })
    .await;
}

#[actix_web::test]
async fn a_post_without_the_csrf_token_is_refused() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        let browser = sign_in(&app).await;
        for csrf in [None, Some(""), Some("not-the-token")] {
            let mut form = vec![("license_key", "KEY-1234-5678")];
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let reply = post_form(&app, "/console/find", &browser.cookie(), &form).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{csrf:?}");
            assert!(reply.text().contains("security token"), "{}", reply.text());
        }
        // Sign-out without the token does not sign out.
        let reply = post_form(&app, "/console/sign-out", &browser.cookie(), &[]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(browser.get(&app, "/console/").await.status, StatusCode::OK);
        // The sign-in form needs its own cookie and token (no login CSRF).
        let (_, csrf) = sign_in_form(&app).await;
        let reply = post_form(
            &app,
            "/console/sign-in",
            "",
            &[("csrf", &csrf), ("token", ADMIN_TOKEN)],
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(set_cookie(&reply, "tollgate_console").is_none());
    })
    .await;
}

#[actix_web::test]
async fn sign_out_kills_the_session_on_every_instance() {
    both(&[], async |srv| {
        // A second instance over the same database.
        let other_state = srv.restart();
        let first = app(&srv.state).await;
        let second = app(&other_state).await;
        let browser = sign_in(&first).await;
        assert_eq!(browser.get(&second, "/console/").await.status, StatusCode::OK);

        let reply = browser.post(&second, "/console/sign-out", &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.headers.get("location").unwrap(), "/console/sign-in");
        assert!(
            set_cookie(&reply, "tollgate_console")
                .unwrap()
                .1
                .contains("Max-Age=0")
        );
        for app in [&first, &second] {
            let reply = browser.get(app, "/console/").await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "the old cookie still works");
            let reply = browser.post(app, "/console/inbox/replay-failed", &[]).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
        }
        let audit = crate::console::support::recent_audit(
            srv.state.store(),
            None,
            Some(tollgate_store::Actor::Console),
        );
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["console.signed_out", "console.signed_in"]);
    })
    .await;
}

#[actix_web::test]
async fn a_session_ends_after_idle_time_and_after_its_maximum_age() {
    both(
        &[
            ("TOLLGATE_CONSOLE__IDLE_TIMEOUT", "10m"),
            ("TOLLGATE_CONSOLE__MAX_SESSION", "30m"),
        ],
        async |srv| {
            let app = app(&srv.state).await;
            let browser = sign_in(&app).await;
            // Used every 9 minutes it lives on, until its maximum age.
            for _ in 0..3 {
                srv.clock.advance(TimeDelta::minutes(9));
                assert_eq!(browser.get(&app, "/console/policy").await.status, StatusCode::OK);
            }
            srv.clock.advance(TimeDelta::minutes(3));
            assert_eq!(
                browser.get(&app, "/console/policy").await.status,
                StatusCode::SEE_OTHER
            );

            let browser = sign_in(&app).await;
            srv.clock.advance(TimeDelta::minutes(10));
            assert_eq!(
                browser.get(&app, "/console/policy").await.status,
                StatusCode::SEE_OTHER
            );
            // The expired row is gone, not only refused.
            let hash = tollgate_service::console_session::session_id_hash(&browser.session);
            assert!(srv.state.store().find_console_session(&hash).unwrap().is_none());
        },
    )
    .await;
}

#[actix_web::test]
async fn a_new_admin_token_ends_the_sessions_of_the_old_one() {
    both(&[], async |srv| {
        let browser = sign_in(&app(&srv.state).await).await;
        let settings = settings(
            &srv.db_url,
            srv.backend,
            &[("TOLLGATE_ADMIN__TOKEN", "a-brand-new-admin-token-0987654321")],
        );
        let rotated = build_state(Arc::new(settings), srv.clock.clone()).unwrap();
        let app = app(&rotated).await;
        assert_eq!(browser.get(&app, "/console/").await.status, StatusCode::SEE_OTHER);
    })
    .await;
}

#[actix_web::test]
async fn wrong_tokens_are_throttled_per_client_ip_and_then_even_the_right_one_waits() {
    both(&[("TOLLGATE_CONSOLE__SIGN_IN_PER_MINUTE", "3")], async |srv| {
        let app = app(&srv.state).await;
        for _ in 0..3 {
            let reply = try_sign_in(&app, "not-the-admin-token-000", BROWSER).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert!(
                reply.text().contains("That is not the admin token"),
                "{}",
                reply.text()
            );
            assert!(set_cookie(&reply, "tollgate_console").is_none());
        }
        let reply = try_sign_in(&app, ADMIN_TOKEN, BROWSER).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            reply.text().contains("Too many sign-in attempts"),
            "{}",
            reply.text()
        );
        let retry: u64 = reply
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=20).contains(&retry), "{retry}");
        assert!(set_cookie(&reply, "tollgate_console").is_none());
        // Another address is not held back.
        let reply = try_sign_in(&app, ADMIN_TOKEN, "203.0.113.50:1234").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
    })
    .await;
}

#[actix_web::test]
async fn the_console_is_off_without_an_admin_token_or_when_disabled() {
    for env in [
        vec![("TOLLGATE_ADMIN__TOKEN", "")],
        vec![("TOLLGATE_CONSOLE__ENABLED", "false")],
    ] {
        let srv = TestServer::sqlite(&env);
        let app = app(&srv.state).await;
        for uri in ["/console/", "/console/sign-in"] {
            let reply = get(&app, uri, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{env:?} {uri}");
            assert!(reply.text().contains("The console is off"), "{}", reply.text());
            assert_security_headers(&reply, uri);
        }
    }
}
