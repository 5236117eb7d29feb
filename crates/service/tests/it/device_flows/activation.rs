//! An activation as one `Store::write`: the provider's answer (the real fold), the policy check and the admission in
//! one transaction (see `flows`).

use std::sync::Barrier;

use serde_json::json;
use tollgate_policy::{Lifecycle, Provider};
use tollgate_store::{Actor, EntitlementChange, EntitlementId, StoreError};

use tollgate_service::entitlement_change::ProviderAnswer;

use super::entitlement;
use super::flows::{Activated, ActivationTarget, Admission, DeviceFlows, NewDevice};
use crate::common::folding::Folding as _;
use crate::entitlement_change::fixtures::{TestDb, activated, both, t};

const THREADS: usize = 16;

fn device(hwid: &str, secs: i64) -> NewDevice<'_> {
    NewDevice {
        hwid,
        name: None,
        instance_id: None,
        now: t(secs),
    }
}

fn answer(change: &EntitlementChange, synced_secs: i64) -> ProviderAnswer<'_> {
    ProviderAnswer {
        change,
        actor: Actor::Activation,
        reason: "whop validate_license",
        merge_extras: false,
        synced_at: t(synced_secs),
    }
}

/// The audit actions of an entitlement, oldest first.
#[expect(clippy::unwrap_used, reason = "a test helper: a store error fails the test")]
fn actions(db: &TestDb, id: &EntitlementId) -> Vec<(Actor, String, Option<String>)> {
    let mut rows = db.store.list_audit(id, 100).unwrap();
    rows.reverse();
    rows.into_iter().map(|a| (a.actor, a.action, a.detail)).collect()
}

#[test]
fn an_answer_is_folded_synced_checked_and_the_device_admitted_in_one_call() {
    both(|db| {
        let change = EntitlementChange {
            license_key: Some("KEY-ABCD-1234".to_owned()),
            ..EntitlementChange::new(activated("mem_a", 0))
        };
        let mut checked = None;
        let activated = db
            .store
            .activate(
                ActivationTarget::Answer(answer(&change, 7)),
                &NewDevice {
                    name: Some("Laptop"),
                    instance_id: Some("lki_1"),
                    ..device("hw-1", 5)
                },
                |ent| {
                    checked = Some(ent.clone());
                    Ok::<u32, ()>(2)
                },
            )
            .unwrap();
        let ent = activated.entitlement.clone();
        // The check saw the entitlement after the fold, and it is what was returned.
        assert_eq!(checked.as_ref(), Some(&ent));
        assert_eq!(ent.state.lifecycle, Lifecycle::Active);
        assert_eq!((ent.version, ent.synced_at), (1, Some(t(7))));
        assert_eq!(ent.license_key_last4.as_deref(), Some("1234"));
        let Ok(Admission::Admitted(dev)) = &activated.admission else {
            panic!("expected Admitted, got {:?}", activated.admission);
        };
        assert_eq!(
            (
                dev.name.as_deref(),
                dev.provider_instance_id.as_deref(),
                dev.activated_at
            ),
            (Some("Laptop"), Some("lki_1"), t(5))
        );
        assert_eq!(activated.devices, vec![dev.clone()]);
        // Stored as returned.
        assert_eq!(
            db.store.find_entitlement(Provider::Whop, "mem_a").unwrap(),
            Some(ent.clone())
        );
        assert_eq!(db.store.list_devices(&ent.id).unwrap(), activated.devices);
        // The audit rows apply_change and activate_device write, in that order.
        assert_eq!(
            actions(db, &ent.id),
            vec![
                (
                    Actor::Activation,
                    "event.activated".to_owned(),
                    Some("whop validate_license: lifecycle pending -> active; status - -> active; paid_through - -> 2027-02-14T08:00:00+00:00; details updated".to_owned())
                ),
                (Actor::Activation, "device.activated".to_owned(), None),
            ]
        );

        // The same device again, on the stored entitlement: AlreadyActive, its last_seen and instance refreshed.
        let before = db.store.entitlement_version(&ent.id);
        let again = db
            .store
            .activate(
                ActivationTarget::Stored(&ent.id),
                &NewDevice {
                    instance_id: Some("lki_2"),
                    ..device("hw-1", 9)
                },
                |stored| {
                    assert_eq!(stored, &ent);
                    Ok::<u32, ()>(1)
                },
            )
            .unwrap();
        let Ok(Admission::AlreadyActive(same)) = &again.admission else {
            panic!("expected AlreadyActive, got {:?}", again.admission);
        };
        assert_eq!(
            (&same.id, same.last_seen_at, same.provider_instance_id.as_deref()),
            (&dev.id, t(9), Some("lki_2"))
        );
        assert_eq!(again.devices, vec![same.clone()]);
        assert_eq!(again.entitlement, ent);
        assert!(db.store.entitlement_version(&ent.id) > before);
        // A full entitlement: LimitReached, nothing added.
        let full = db
            .store
            .activate(ActivationTarget::Stored(&ent.id), &device("hw-2", 10), |_| {
                Ok::<u32, ()>(1)
            })
            .unwrap();
        assert_eq!(full.admission, Ok(Admission::LimitReached { active: 1 }));
        assert_eq!(full.devices, vec![same.clone()]);
        assert_eq!(actions(db, &ent.id).len(), 2);
    });
}

#[test]
fn a_refused_device_leaves_no_device_but_keeps_the_providers_answer() {
    both(|db| {
        let change = EntitlementChange::new(activated("mem_r", 0));
        let refused: Activated<&str> = db
            .store
            .activate(
                ActivationTarget::Answer(answer(&change, 3)),
                &device("hw-1", 3),
                |_| Err("policy says no"),
            )
            .unwrap();
        assert_eq!(refused.admission, Err("policy says no"));
        assert_eq!(refused.devices, vec![]);
        // The provider's answer is fact: stored, synced and audited although the device was refused.
        let stored = db
            .store
            .find_entitlement(Provider::Whop, "mem_r")
            .unwrap()
            .unwrap();
        assert_eq!(stored, refused.entitlement);
        assert_eq!(
            (stored.state.lifecycle, stored.synced_at),
            (Lifecycle::Active, Some(t(3)))
        );
        assert_eq!(db.store.list_devices(&stored.id).unwrap(), vec![]);
        let audit = actions(db, &stored.id);
        assert_eq!(
            audit
                .iter()
                .map(|(_, action, _)| action.as_str())
                .collect::<Vec<_>>(),
            vec!["event.activated"]
        );

        // A stored target that does not exist is an error, and writes nothing.
        let missing = EntitlementId::new("ent_nope");
        let result = db
            .store
            .activate(ActivationTarget::Stored(&missing), &device("hw-1", 4), |_| {
                Ok::<u32, ()>(1)
            });
        assert_eq!(
            result,
            Err(StoreError::NotFound {
                entity: "entitlement",
                id: "ent_nope".to_owned()
            })
        );
        assert_eq!(db.store.list_devices(&missing).unwrap(), vec![]);
    });
}

#[test]
fn an_answer_merges_or_replaces_the_stored_extras() {
    both(|db| {
        let first = EntitlementChange {
            extras: Some(json!({"plan_id": "plan_old", "oauth_url": "https://example.test/o"})),
            ..EntitlementChange::new(activated("mem_x", 0))
        };
        db.store.apply_change(Actor::Webhook, &first, "test").unwrap();
        let plan = EntitlementChange {
            extras: Some(json!({"plan_id": "plan_new"})),
            ..EntitlementChange::new(activated("mem_x", 1))
        };
        let merged = db
            .store
            .apply_provider_answer(&ProviderAnswer {
                merge_extras: true,
                ..answer(&plan, 2)
            })
            .unwrap();
        assert_eq!(
            merged.extras,
            Some(json!({"plan_id": "plan_new", "oauth_url": "https://example.test/o"}))
        );
        assert_eq!((merged.synced_at, merged.version), (Some(t(2)), 2));
        // No extras in the answer keeps the stored ones.
        let bare = EntitlementChange::new(activated("mem_x", 2));
        let kept = db
            .store
            .apply_provider_answer(&ProviderAnswer {
                merge_extras: true,
                ..answer(&bare, 3)
            })
            .unwrap();
        assert_eq!(kept.extras, merged.extras);
        let replaced = db.store.apply_provider_answer(&answer(&plan, 4)).unwrap();
        assert_eq!(replaced.extras, Some(json!({"plan_id": "plan_new"})));
        assert_eq!(replaced.synced_at, Some(t(4)));
        assert_eq!(
            actions(db, &replaced.id)
                .iter()
                .map(|(actor, action, _)| (*actor, action.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (Actor::Webhook, "event.activated"),
                (Actor::Activation, "event.activated"),
                (Actor::Activation, "event.activated"),
                (Actor::Activation, "event.activated"),
            ]
        );
    });
}

/// Sixteen instances activate sixteen devices at once, each folding a provider answer first: exactly `max`
/// admitted, every answer folded once.
#[test]
fn sixteen_racing_activations_with_answers_admit_exactly_max_devices() {
    both(|db| {
        const MAX: u32 = 3;
        let ent = entitlement(db, "mem_race");
        let barrier = Barrier::new(THREADS);
        let results: Vec<Activated<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|i| {
                    let store = db.open_again();
                    let barrier = &barrier;
                    s.spawn(move || {
                        let change = EntitlementChange::new(activated("mem_race", 1 + i as i64));
                        let hwid = format!("hw-{i}");
                        barrier.wait();
                        store
                            .activate(
                                ActivationTarget::Answer(answer(&change, 100 + i as i64)),
                                &device(&hwid, i as i64),
                                |_| Ok(MAX),
                            )
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let admitted = results
            .iter()
            .filter(|r| matches!(r.admission, Ok(Admission::Admitted(_))))
            .count();
        assert_eq!(admitted, MAX as usize);
        assert!(results.iter().all(|r| matches!(
            r.admission,
            Ok(Admission::Admitted(_) | Admission::LimitReached { active: MAX })
        )));
        assert!(results.iter().all(|r| r.entitlement.id == ent));
        // Each admitted device saw itself among the devices its own transaction listed.
        for r in &results {
            if let Ok(Admission::Admitted(dev)) = &r.admission {
                assert!(r.devices.contains(dev));
            }
            assert!(r.devices.len() <= MAX as usize);
        }
        assert_eq!(db.store.list_devices(&ent).unwrap().len(), MAX as usize);
        let stored = db.store.get_entitlement(&ent).unwrap();
        assert_eq!(stored.version, 1 + THREADS as i64);
        let audit = actions(db, &ent);
        let count = |name: &str| audit.iter().filter(|(_, action, _)| action == name).count();
        assert_eq!(
            (count("event.activated"), count("device.activated")),
            (1 + THREADS, MAX as usize)
        );
    });
}
