//! The small queries reconciliation needs: the distinct subjects and products of one provider's entitlements, and
//! who holds a job lock.

use chrono::TimeDelta;
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_store::{Actor, EntitlementChange, LockHolder};

use crate::common::{both, t};
use crate::seed::put_change;

fn seen(
    provider: Provider,
    external_id: &str,
    subject: Option<&str>,
    product: Option<&str>,
) -> EntitlementChange {
    EntitlementChange::new(ProviderEvent {
        provider,
        external_id: external_id.to_owned(),
        occurred_at: t(0),
        subject: subject.map(str::to_owned),
        product: product.map(str::to_owned),
        kind: EventKind::GrantPending,
    })
}

#[test]
fn subjects_and_products_are_distinct_sorted_and_per_provider() {
    both(|db| {
        let changes = [
            seen(Provider::Aghanim, "sub_1", Some("player_b"), Some("sku_1")),
            seen(Provider::Aghanim, "sub_2", Some("player_a"), Some("sku_1")),
            seen(Provider::Aghanim, "sub_3", Some("player_b"), Some("sku_0")),
            seen(Provider::Aghanim, "sub_4", None, None),
            seen(Provider::Dodo, "entg_1", Some("cus_1"), Some("ent_1")),
        ];
        for change in &changes {
            put_change(&db.store, Actor::Reconcile, change, "test").unwrap();
        }
        assert_eq!(
            db.store.list_subjects(Provider::Aghanim).unwrap(),
            vec!["player_a".to_owned(), "player_b".to_owned()]
        );
        assert_eq!(
            db.store.list_products(Provider::Aghanim).unwrap(),
            vec!["sku_0".to_owned(), "sku_1".to_owned()]
        );
        assert_eq!(
            db.store.list_subjects(Provider::Dodo).unwrap(),
            vec!["cus_1".to_owned()]
        );
        assert_eq!(
            db.store.list_products(Provider::Dodo).unwrap(),
            vec!["ent_1".to_owned()]
        );
        assert_eq!(
            db.store.list_subjects(Provider::Whop).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            db.store.list_products(Provider::Whop).unwrap(),
            Vec::<String>::new()
        );
    });
}

#[test]
fn find_lock_names_the_holder_and_forgets_a_released_lock() {
    both(|db| {
        let ttl = TimeDelta::seconds(60);
        assert_eq!(db.store.find_lock("reconcile:whop").unwrap(), None);
        assert!(
            db.store
                .try_acquire_lock("reconcile:whop", "a", ttl, t(0))
                .unwrap()
        );
        let held = LockHolder {
            holder: "a".to_owned(),
            expires_at: t(60),
        };
        assert_eq!(db.store.find_lock("reconcile:whop").unwrap(), Some(held.clone()));
        assert!(
            !db.store
                .try_acquire_lock("reconcile:whop", "b", ttl, t(10))
                .unwrap()
        );
        assert_eq!(
            db.store.find_lock("reconcile:whop").unwrap(),
            Some(held),
            "a refused take-over changes nothing"
        );
        assert_eq!(db.store.find_lock("reconcile:dodo").unwrap(), None);
        assert!(db.store.release_lock("reconcile:whop", "a").unwrap());
        assert_eq!(db.store.find_lock("reconcile:whop").unwrap(), None);
    });
}
