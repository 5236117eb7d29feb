//! The console's storage: sessions (hash-keyed rows, touch, sign-out, expiry), the newest-first inbox page with its
//! filters, and the recent audit rows across entitlements.

use tollgate_policy::Provider;
use tollgate_store::{
    Actor, AuditQuery, ConsoleSession, InboxEffect, InboxId, InboxPage, InboxStatus, NewAudit, NewInboxEvent,
};

use crate::common::{activated, both, t};
use crate::seed::{put_change, put_inbox_event};

fn session(id_hash: &str, at: i64) -> ConsoleSession {
    ConsoleSession {
        id_hash: id_hash.to_owned(),
        token_binding: format!("binding-{id_hash}"),
        created_at: t(at),
        last_seen_at: t(at),
    }
}

#[test]
fn sessions_are_found_touched_ended_and_expired() {
    both(|db| {
        let store = &db.store;
        store.create_console_session(&session("a", 0)).unwrap();
        store.create_console_session(&session("b", 0)).unwrap();
        store.create_console_session(&session("c", 100)).unwrap();
        assert_eq!(store.find_console_session("a").unwrap(), Some(session("a", 0)));
        assert_eq!(store.find_console_session("zz").unwrap(), None);

        assert!(store.touch_console_session("b", t(50)).unwrap());
        assert_eq!(
            store.find_console_session("b").unwrap().unwrap().last_seen_at,
            t(50)
        );
        assert!(!store.touch_console_session("zz", t(50)).unwrap());

        assert!(store.delete_console_session("a").unwrap());
        assert!(!store.delete_console_session("a").unwrap());
        assert!(!store.touch_console_session("a", t(60)).unwrap());

        // Idle before t(60), or signed in before t(90): b (seen at 50) goes, c stays.
        assert_eq!(store.delete_expired_console_sessions(t(60), t(90)).unwrap(), 1);
        assert_eq!(store.find_console_session("b").unwrap(), None);
        assert!(store.find_console_session("c").unwrap().is_some());
        // Signed in too long ago, however recently seen.
        store.touch_console_session("c", t(1_000)).unwrap();
        assert_eq!(store.delete_expired_console_sessions(t(0), t(101)).unwrap(), 1);
    });
}

fn inbox_event(provider: Provider, key: &str, event_type: &str) -> NewInboxEvent {
    NewInboxEvent {
        provider,
        dedupe_key: key.to_owned(),
        semantic_key: None,
        event_type: event_type.to_owned(),
        body: format!("{{\"key\":\"{key}\"}}").into_bytes(),
        received_at: t(0),
        webhook_id: None,
        signed_at: None,
    }
}

#[test]
fn the_inbox_page_is_newest_first_and_filtered() {
    both(|db| {
        let store = &db.store;
        let stored = [
            (Provider::Whop, "w1", "membership.activated", InboxEffect::Ignore),
            (
                Provider::Whop,
                "w2",
                "membership.went_valid",
                InboxEffect::Fail("bad".into()),
            ),
            (
                Provider::Dodo,
                "d1",
                "subscription.active",
                InboxEffect::Fail("bad".into()),
            ),
            (
                Provider::Whop,
                "w3",
                "membership.activated",
                InboxEffect::Fail("bad".into()),
            ),
        ];
        for (provider, key, kind, effect) in stored {
            put_inbox_event(store, &inbox_event(provider, key, kind), effect).unwrap();
        }
        let page = |page: InboxPage<'_>| -> Vec<String> {
            store
                .list_inbox_newest(&page)
                .unwrap()
                .into_iter()
                .map(|e| e.dedupe_key)
                .collect()
        };
        let all = InboxPage {
            provider: None,
            status: None,
            event_type: None,
            before_id: None,
            limit: 10,
        };
        assert_eq!(page(all), ["w3", "d1", "w2", "w1"]);
        assert_eq!(page(InboxPage { limit: 2, ..all }), ["w3", "d1"]);
        assert_eq!(
            page(InboxPage {
                before_id: Some(InboxId(3)),
                ..all
            }),
            ["w2", "w1"]
        );
        assert_eq!(
            page(InboxPage {
                provider: Some(Provider::Whop),
                status: Some(InboxStatus::Failed),
                ..all
            }),
            ["w3", "w2"]
        );
        assert_eq!(
            page(InboxPage {
                event_type: Some("membership.activated"),
                ..all
            }),
            ["w3", "w1"]
        );
        // Bodies come back decrypted.
        let first = store.list_inbox_newest(&InboxPage { limit: 1, ..all }).unwrap();
        assert_eq!(first[0].body, b"{\"key\":\"w3\"}");
    });
}

#[test]
fn recent_audit_rows_are_filtered_newest_first_within_the_scan_window() {
    both(|db| {
        let store = &db.store;
        let entitlement = put_change(
            store,
            Actor::Webhook,
            &tollgate_store::EntitlementChange::new(activated("mem_1", 0)),
            "test",
        )
        .unwrap();
        let row = |actor: Actor, action: &str, at: i64| NewAudit {
            entitlement_id: Some(entitlement.id.clone()),
            device_id: None,
            at: t(at),
            actor,
            action: action.to_owned(),
            detail: Some(format!("{action} at {at}")),
            inbox_id: None,
        };
        for (actor, action, at) in [
            (Actor::Validation, "license.denied", 1),
            (Actor::Console, "device.reset", 2),
            (Actor::Validation, "license.denied", 3),
            (Actor::Reconcile, "reconcile.changed", 4),
        ] {
            store.record_audit(&row(actor, action, at)).unwrap();
        }
        let query = |action: Option<&str>, actor: Option<Actor>, limit: u32, scan: u32| -> Vec<String> {
            store
                .recent_audit(&AuditQuery {
                    action,
                    actor,
                    limit,
                    scan,
                })
                .unwrap()
                .into_iter()
                .map(|a| a.detail.unwrap_or_default())
                .collect()
        };
        assert_eq!(
            query(Some("license.denied"), None, 10, 1_000),
            ["license.denied at 3", "license.denied at 1"]
        );
        assert_eq!(
            query(Some("license.denied"), None, 1, 1_000),
            ["license.denied at 3"]
        );
        assert_eq!(
            query(None, Some(Actor::Console), 10, 1_000),
            ["device.reset at 2"]
        );
        // Only the newest 3 rows are looked at: the denial at 1 is outside.
        assert_eq!(
            query(Some("license.denied"), None, 10, 3),
            ["license.denied at 3"]
        );
        let console = store
            .recent_audit(&AuditQuery {
                action: None,
                actor: Some(Actor::Console),
                limit: 1,
                scan: 100,
            })
            .unwrap();
        assert_eq!(console[0].actor.as_str(), "console");
        assert_eq!(console[0].entitlement_id.as_ref(), Some(&entitlement.id));
    });
}
