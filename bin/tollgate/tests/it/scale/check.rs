//! The exactly-once assertions, read straight from the store the servers wrote.

use std::collections::{BTreeSet, HashMap};

use tollgate_policy::Provider;
use tollgate_store::{InboxEvent, InboxFilter, InboxId, InboxStatus, Store};

use crate::scale::events::EventSet;

/// Every inbox row, in id order.
pub fn inbox_rows(store: &Store) -> Vec<InboxEvent> {
    let mut rows: Vec<InboxEvent> = Vec::new();
    loop {
        let page = store
            .list_inbox(&InboxFilter {
                after_id: rows.last().map(|r| r.id),
                limit: 1_000,
                ..InboxFilter::default()
            })
            .unwrap();
        if page.is_empty() {
            return rows;
        }
        rows.extend(page);
    }
}

/// The inbox rows by `(provider, dedupe key)`, asserting no key is stored twice.
pub fn inbox_by_key(store: &Store) -> HashMap<(Provider, String), InboxEvent> {
    let rows = inbox_rows(store);
    let count = rows.len();
    let by_key: HashMap<(Provider, String), InboxEvent> = rows
        .into_iter()
        .map(|r| ((r.provider, r.dedupe_key.clone()), r))
        .collect();
    assert_eq!(by_key.len(), count, "an inbox dedupe key is stored twice");
    by_key
}

/// The events of `indexes` are in the inbox, processed (what a 2xx promised).
pub fn assert_stored(store: &Store, set: &EventSet, indexes: &BTreeSet<usize>) {
    let inbox = inbox_by_key(store);
    let missing: Vec<&str> = indexes
        .iter()
        .map(|&i| &set.events[i])
        .filter(|e| {
            inbox
                .get(&(e.provider, e.dedupe_key.clone()))
                .is_none_or(|row| row.status != InboxStatus::Processed)
        })
        .map(|e| e.dedupe_key.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events are not stored as processed, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// What [`assert_applied_exactly_once`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub inbox_rows: usize,
    pub entitlements: usize,
    pub audit_rows: usize,
}

/// The store holds exactly the events of `set`, each applied once: one processed inbox row per distinct event
/// (and no other row), every entitlement equal to the state a sorted single delivery gives, its version equal to
/// its number of events, and one `event.*` audit row per event pointing at that event's own inbox row.
pub fn assert_applied_exactly_once(store: &Store, set: &EventSet) -> Applied {
    let inbox = inbox_by_key(store);
    assert_eq!(inbox.len(), set.events.len(), "inbox rows != distinct events");
    let mut inbox_ids: HashMap<(Provider, String), BTreeSet<InboxId>> = HashMap::new();
    for event in &set.events {
        let row = inbox
            .get(&(event.provider, event.dedupe_key.clone()))
            .unwrap_or_else(|| panic!("event {} is not in the inbox", event.dedupe_key));
        assert_eq!(
            row.status,
            InboxStatus::Processed,
            "{}: {:?}",
            event.dedupe_key,
            row.last_error
        );
        inbox_ids.entry(event.entitlement()).or_default().insert(row.id);
    }

    let expected = set.expected_states();
    let mut audit_rows = 0;
    for ((provider, external_id), state) in &expected {
        let stored = store
            .find_entitlement(*provider, external_id)
            .unwrap()
            .unwrap_or_else(|| panic!("{provider} {external_id} is missing"));
        assert_eq!(
            &stored.state, state,
            "{provider} {external_id}: stored state != sorted single delivery"
        );
        let own = &inbox_ids[&(*provider, external_id.clone())];
        assert_eq!(
            stored.version,
            own.len() as i64,
            "{provider} {external_id}: one version per applied event"
        );
        let audit = store.list_audit(&stored.id, 1_000).unwrap();
        let applied: Vec<InboxId> = audit
            .iter()
            .filter(|a| a.action.starts_with("event."))
            .map(|a| {
                a.inbox_id
                    .unwrap_or_else(|| panic!("event audit without inbox id: {a:?}"))
            })
            .collect();
        let distinct: BTreeSet<InboxId> = applied.iter().copied().collect();
        assert_eq!(
            applied.len(),
            distinct.len(),
            "{provider} {external_id}: an inbox event was applied twice"
        );
        assert_eq!(
            &distinct, own,
            "{provider} {external_id}: audit rows != its events"
        );
        audit_rows += applied.len();
    }
    Applied {
        inbox_rows: inbox.len(),
        entitlements: expected.len(),
        audit_rows,
    }
}
