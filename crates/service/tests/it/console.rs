//! The console's use cases over a real store on both backends: sessions (start, check, idle and age limits, a new
//! admin token, sign-out, the audit rows), and the support lookups and audited body view.

#![expect(clippy::unwrap_used, reason = "test bodies fail the test on any setup error")]

use std::sync::Arc;

use crate::common::folding::Folding as _;
use chrono::{DateTime, TimeDelta, Utc};
use tollgate_policy::{EventKind, PolicySet, Provider, ProviderEvent};
use tollgate_service::clock::{Clock, ManualClock};
use tollgate_service::console_session::{ConsoleSessions, SessionLimits, csrf_token, session_id_hash};
use tollgate_service::ingest::{Ingest, WebhookSecrets};
use tollgate_service::query::Query;
use tollgate_service::support::Support;
use tollgate_store::test_support::for_each_backend;
use tollgate_store::{Actor, AuditQuery, EntitlementChange, InboxEffect, InboxId, NewInboxEvent, Store};

const TOKEN: &str = "admin-token-0123456789abcdef";

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn sessions(store: &Store, clock: &Arc<ManualClock>, token: &str) -> ConsoleSessions {
    let clock: Arc<dyn Clock> = clock.clone();
    ConsoleSessions::new(
        store.clone(),
        clock,
        token,
        SessionLimits {
            idle: TimeDelta::minutes(30),
            max_age: TimeDelta::hours(2),
        },
    )
}

fn console_actions(store: &Store) -> Vec<String> {
    store
        .recent_audit(&AuditQuery {
            action: None,
            actor: Some(Actor::Console),
            limit: 100,
            scan: 1_000,
        })
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect()
}

#[test]
fn a_session_lives_while_used_and_ends_on_sign_out_idle_age_or_a_new_token() {
    for_each_backend(4, |db| {
        let clock = Arc::new(ManualClock::new(start()));
        let console = sessions(&db.store, &clock, TOKEN);
        let started = console.start().unwrap();
        assert_eq!(started.id.len(), 43);
        assert_eq!(started.csrf, csrf_token(&started.id));
        let stored = db
            .store
            .find_console_session(&session_id_hash(&started.id))
            .unwrap()
            .unwrap();
        assert_ne!(stored.id_hash, started.id);
        assert_ne!(stored.token_binding, started.id);

        // Used every 29 minutes, it lives until its 2 hours are up.
        for _ in 0..4 {
            clock.advance(TimeDelta::minutes(29));
            let live = console.check(&started.id).unwrap().unwrap();
            assert_eq!(live.csrf, started.csrf);
            assert_eq!(live.name, started.name);
        }
        clock.advance(TimeDelta::minutes(5));
        assert_eq!(console.check(&started.id).unwrap(), None);

        // Idle for 30 minutes: over, and its row is gone.
        let idle = console.start().unwrap();
        clock.advance(TimeDelta::minutes(30));
        assert_eq!(console.check(&idle.id).unwrap(), None);
        assert_eq!(
            db.store.find_console_session(&session_id_hash(&idle.id)).unwrap(),
            None
        );

        // Another admin token (the same database, a restarted instance): refused.
        let current = console.start().unwrap();
        assert!(
            sessions(&db.store, &clock, "another-admin-token-000000")
                .check(&current.id)
                .unwrap()
                .is_none()
        );
        let current = console.start().unwrap();
        assert!(
            sessions(&db.store, &clock, TOKEN)
                .check(&current.id)
                .unwrap()
                .is_some()
        );

        // Sign-out ends it for every instance; ending twice is a no-op.
        assert!(console.end(&current.id).unwrap());
        assert!(!console.end(&current.id).unwrap());
        assert_eq!(
            sessions(&db.store, &clock, TOKEN).check(&current.id).unwrap(),
            None
        );
        // Malformed cookies are refused without a look-up.
        assert_eq!(console.check("short").unwrap(), None);
        assert!(!console.end("short").unwrap());

        assert_eq!(
            console_actions(&db.store),
            [
                "console.signed_out",
                "console.signed_in",
                "console.signed_in",
                "console.signed_in",
                "console.signed_in"
            ]
        );
    });
}

fn activated(provider: Provider, external_id: &str, subject: &str) -> EntitlementChange {
    EntitlementChange::new(ProviderEvent {
        provider,
        external_id: external_id.to_owned(),
        occurred_at: start(),
        subject: Some(subject.to_owned()),
        product: Some("prod_1".to_owned()),
        kind: EventKind::Activated {
            status: Some("active".to_owned()),
            paid_through: Some(start() + TimeDelta::days(30)),
            cancel_at_period_end: Some(false),
            features: Vec::new(),
        },
    })
}

#[test]
fn support_finds_a_subject_at_every_provider_and_audits_a_shown_body() {
    for_each_backend(4, |db| {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start() + TimeDelta::days(1)));
        let store = db.store.clone();
        let query = Query::new(store.clone(), Arc::new(PolicySet::default()), clock.clone());
        let ingest = Ingest::new(store.clone(), &WebhookSecrets::default(), clock.clone()).unwrap();
        let support = Support::new(store.clone(), query, ingest, clock);
        for (provider, id) in [(Provider::Whop, "mem_1"), (Provider::Aghanim, "sub_1")] {
            store
                .apply_change(Actor::Webhook, &activated(provider, id, "same_person"), "test")
                .unwrap();
        }
        store
            .apply_change(
                Actor::Webhook,
                &activated(Provider::Dodo, "grant_1", "other"),
                "test",
            )
            .unwrap();
        let ids = |found: Vec<tollgate_service::view::EntitlementView>| -> Vec<String> {
            found.into_iter().map(|e| e.external_id).collect()
        };
        assert_eq!(
            ids(support.find_by_subject(None, "same_person").unwrap()),
            ["mem_1", "sub_1"]
        );
        assert_eq!(
            ids(support
                .find_by_subject(Some(Provider::Aghanim), " same_person ")
                .unwrap()),
            ["sub_1"]
        );
        assert!(support.find_by_subject(None, "  ").unwrap().is_empty());
        assert!(
            support
                .find_by_license_key("UNKNOWN-KEY-1234")
                .unwrap()
                .is_empty()
        );
        let found = support
            .find_by_external_id(Provider::Whop, "mem_1")
            .unwrap()
            .unwrap();
        assert!(found.access.allowed);
        let detail = support
            .entitlement(&tollgate_store::EntitlementId::new(found.id.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(detail.entitlement.external_id, "mem_1");

        let event = NewInboxEvent {
            provider: Provider::Whop,
            dedupe_key: "k1".to_owned(),
            semantic_key: None,
            event_type: "membership.activated".to_owned(),
            body: br#"{"secret":"customer data"}"#.to_vec(),
            received_at: start(),
            webhook_id: None,
            signed_at: None,
        };
        store
            .record_webhook(&event, InboxEffect::Fail("bad".to_owned()))
            .unwrap();
        assert_eq!(support.inbox_event(InboxId(1)).unwrap().unwrap().body, None);
        assert!(
            console_actions(&store).is_empty(),
            "metadata alone is not audited"
        );
        let shown = support
            .show_inbox_body(InboxId(1), "console session 0a1b2c3d")
            .unwrap()
            .unwrap();
        assert_eq!(shown.body.unwrap()["secret"], "customer data");
        let audit = store
            .recent_audit(&AuditQuery {
                action: Some("inbox.body_shown"),
                actor: None,
                limit: 10,
                scan: 100,
            })
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, Actor::Console);
        assert_eq!(audit[0].inbox_id, Some(InboxId(1)));
        assert_eq!(
            audit[0].detail.as_deref(),
            Some("body of inbox event 1 shown to console session 0a1b2c3d")
        );
        assert_eq!(support.show_inbox_body(InboxId(99), "x").unwrap(), None);
    });
}
