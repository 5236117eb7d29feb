//! Reconciliation runs, against the testkit's fake providers on loopback and a real store, on SQLite and
//! PostgreSQL: one instance per provider at a time (a lock held elsewhere is reported with its holder), an
//! unreachable provider reported without stopping the others, an interrupted pass resumed from its cursor, and the
//! periodic task.

#![expect(clippy::unwrap_used, reason = "tests fail on any unexpected error")]

use crate::common::reconcile_harness as harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::{oneshot, watch};
use tollgate_policy::{Lifecycle, Provider};
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_providers::whop::{
    MembershipRef, WhopApi, WhopListQuery, WhopMembership, WhopMembershipPage, WhopProbe,
};
use tollgate_providers::{ApiFuture, CallContext, ProviderApi, ProviderApis};
use tollgate_service::clock::Clock as _;
use tollgate_service::reconcile::{PassOutcome, ReconcileError, Reconciler};
use tollgate_testkit::{FakeProvider as _, Fault};

use crate::reconcile::whop_apis;
use harness::{audit, both, clock, closed_port_url, dodo_client, entitlement, reconciler, seed, whop_client};

#[test]
fn two_instances_at_once_run_each_provider_once_and_the_other_reports_it_held() {
    both(|db| async move {
        let whop = FakeWhop::start();
        whop.add_membership(FakeMembership::new("mem_1", "KEY-AAAA-1111"));
        seed(
            &db.store,
            Provider::Whop,
            &whop.webhook("mem_1", "membership.activated").unwrap(),
        );
        whop.set_status("mem_1", "canceled");
        let clock = clock();
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        let gated = GatedWhop {
            inner: whop_client(whop.base_url(), FakeWhop::API_KEY),
            entered: Mutex::new(Some(entered_tx)),
            release: Mutex::new(Some(release_rx)),
        };
        let a = reconciler(
            db.store.clone(),
            ProviderApis::new().with(Provider::Whop, ProviderApi::Memberships(Arc::new(gated))),
            clock.clone(),
            "instance-a",
        );
        // B is another instance: its own pool on the same database.
        let b = reconciler(db.open_again(), whop_apis(&whop), clock.clone(), "instance-b");

        let a_run = tokio::spawn({
            let a = a.clone();
            async move { a.run_once(None).await }
        });
        entered_rx.await.unwrap();
        let b_report = b.run_once(None).await.unwrap();
        let held = b_report.provider(Provider::Whop).unwrap();
        assert_eq!(held.outcome, PassOutcome::Held, "{}", db.backend);
        assert_eq!(held.held_by.as_deref(), Some("instance-a"));
        assert_eq!((held.examined, held.changed), (0, 0));
        assert_eq!(whop.count("GET", "/api/v1/memberships"), 0, "B never called Whop");
        release_tx.send(()).unwrap();
        let a_report = a_run.await.unwrap().unwrap();
        let ran = a_report.provider(Provider::Whop).unwrap();
        assert_eq!((ran.outcome, ran.changed), (PassOutcome::Completed, 1));
        let mem = entitlement(&db.store, Provider::Whop, "mem_1");
        assert_eq!(audit(&db.store, &mem).len(), 2);

        // Free-running races: whoever gets the lock, each change is applied and audited exactly once.
        for (round, status) in ["active", "canceled", "active", "past_due"]
            .into_iter()
            .enumerate()
        {
            whop.set_status("mem_1", status);
            clock.advance(TimeDelta::minutes(15));
            let (ra, rb) = tokio::join!(a.run_once(None), b.run_once(None));
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            let passes = [
                ra.provider(Provider::Whop).unwrap(),
                rb.provider(Provider::Whop).unwrap(),
            ];
            assert_eq!(passes.iter().map(|p| p.changed).sum::<u64>(), 1, "round {round}");
            for pass in passes {
                assert!(matches!(pass.outcome, PassOutcome::Completed | PassOutcome::Held));
            }
            assert_eq!(audit(&db.store, &mem).len(), 3 + round, "round {round}");
            assert_eq!(
                entitlement(&db.store, Provider::Whop, "mem_1")
                    .state
                    .status
                    .as_deref(),
                Some(status)
            );
        }
    });
}

#[test]
fn a_lock_held_elsewhere_is_reported_with_its_holder_and_left_alone() {
    both(|db| async move {
        let whop = FakeWhop::start();
        let clock = clock();
        assert!(
            db.store
                .try_acquire_lock("reconcile:whop", "instance-z", TimeDelta::minutes(5), clock.now())
                .unwrap()
        );
        let reconciler = reconciler(db.store.clone(), whop_apis(&whop), clock.clone(), "instance-a");
        let report = reconciler.run_once(Some(Provider::Whop)).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(pass.outcome, PassOutcome::Held);
        assert_eq!(pass.held_by.as_deref(), Some("instance-z"));
        assert!(!report.has_errors());
        assert_eq!(
            db.store
                .find_lock("reconcile:whop")
                .unwrap()
                .map(|l| l.holder)
                .as_deref(),
            Some("instance-z"),
            "not released by the instance that did not hold it"
        );
        // Once it expires (its holder died), the next run takes over.
        clock.advance(TimeDelta::minutes(5));
        let report = reconciler.run_once(Some(Provider::Whop)).await.unwrap();
        assert_eq!(
            report.provider(Provider::Whop).unwrap().outcome,
            PassOutcome::Completed
        );
    });
}

#[test]
fn an_unreachable_provider_is_reported_and_the_others_still_reconcile() {
    both(|db| async move {
        let dodo = FakeDodo::start();
        dodo.add_grant(FakeGrant::pending("entg_1", "ent_1", "cus_1"));
        let [_, delivered] = dodo.fulfill_grant("entg_1", "DODO-KEY-0001", None).unwrap();
        seed(&db.store, Provider::Dodo, &delivered);
        assert!(dodo.revoke_grant("entg_1", "subscription_cancelled"));
        let clock = clock();
        let apis = ProviderApis::new()
            .with(
                Provider::Whop,
                ProviderApi::Memberships(whop_client(closed_port_url(), FakeWhop::API_KEY)),
            )
            .with(
                Provider::Dodo,
                ProviderApi::LicenseKeys(dodo_client(dodo.base_url(), FakeDodo::API_KEY)),
            );
        let reconciler = reconciler(db.store.clone(), apis, clock.clone(), "instance-a");

        let report = reconciler.run_once(None).await.unwrap();
        assert!(report.has_errors());
        assert_eq!(
            report.providers.iter().map(|p| p.provider).collect::<Vec<_>>(),
            vec![Provider::Whop, Provider::Dodo]
        );
        let whop = report.provider(Provider::Whop).unwrap();
        assert_eq!(whop.outcome, PassOutcome::Incomplete, "{}", db.backend);
        assert_eq!(
            whop.errors,
            vec!["whop list_memberships: provider unreachable: connection failed".to_owned()]
        );
        assert_eq!(whop.examined, 0);
        let dodo_pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(
            (dodo_pass.outcome, dodo_pass.changed),
            (PassOutcome::Completed, 1)
        );
        assert_eq!(
            entitlement(&db.store, Provider::Dodo, "entg_1").state.lifecycle,
            Lifecycle::Revoked
        );
        assert_eq!(
            db.store.find_lock("reconcile:whop").unwrap(),
            None,
            "released after the failure"
        );

        // Dodo answering 503 is the same: reported, nothing half-done, the grant stays as repaired.
        dodo.fail_always(Fault::Status(503));
        let report = reconciler.run_once(Some(Provider::Dodo)).await.unwrap();
        let dodo_pass = report.provider(Provider::Dodo).unwrap();
        assert_eq!(dodo_pass.outcome, PassOutcome::Incomplete);
        assert_eq!(
            dodo_pass.errors,
            vec!["dodo list_grants ent_1: provider unreachable: server error 503 after retries".to_owned()]
        );
        assert_eq!(
            reconciler.run_once(Some(Provider::Aghanim)).await.unwrap_err(),
            ReconcileError::NotConfigured(Provider::Aghanim)
        );
    });
}

/// A Whop client that runs `before` ahead of its `n`th membership listing (1-based).
struct WhopWithHook {
    inner: Arc<dyn WhopApi>,
    n: usize,
    calls: Mutex<usize>,
    before: Box<dyn Fn() + Send + Sync>,
}

impl WhopApi for WhopWithHook {
    fn retrieve_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership: MembershipRef<'a>,
    ) -> ApiFuture<'a, Option<WhopMembership>> {
        self.inner.retrieve_membership(ctx, membership)
    }

    fn update_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
        metadata: &'a serde_json::Map<String, serde_json::Value>,
    ) -> ApiFuture<'a, WhopMembership> {
        self.inner.update_metadata(ctx, membership_id, metadata)
    }

    fn company_id(&self) -> Option<&str> {
        self.inner.company_id()
    }

    fn probe<'a>(&'a self, ctx: &'a CallContext) -> ApiFuture<'a, WhopProbe> {
        self.inner.probe(ctx)
    }

    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage> {
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        if *calls == self.n {
            (self.before)();
        }
        self.inner.list_memberships(ctx, query)
    }
}

#[test]
fn an_interrupted_whop_pass_resumes_from_its_saved_cursor() {
    both(|db| async move {
        let whop = Arc::new(FakeWhop::start());
        for i in 1..=5 {
            whop.add_membership(FakeMembership::new(
                format!("mem_{i}"),
                format!("KEY-RESUME-000{i}"),
            ));
        }
        let hooked = WhopWithHook {
            inner: whop_client(whop.base_url(), FakeWhop::API_KEY),
            n: 2,
            calls: Mutex::new(0),
            before: Box::new({
                let whop = Arc::clone(&whop);
                move || whop.fail_next(Fault::Drop, 1)
            }),
        };
        let apis = ProviderApis::new().with(Provider::Whop, ProviderApi::Memberships(Arc::new(hooked)));
        let clock = clock();
        let reconciler = reconciler(db.store.clone(), apis, clock.clone(), "instance-a");
        let queries = || whop.requests().into_iter().map(|r| r.query).collect::<Vec<_>>();

        // Pages of 2: the second page's connection is dropped.
        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(
            (pass.outcome, pass.examined, pass.created),
            (PassOutcome::Incomplete, 2, 2),
            "{}",
            db.backend
        );
        assert_eq!(
            pass.errors,
            vec![
                "whop list_memberships: provider unreachable: connection closed before a response".to_owned()
            ]
        );
        assert_eq!(
            db.store.find_cursor(Provider::Whop).unwrap().as_deref(),
            Some("cur_2")
        );

        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(
            (pass.outcome, pass.examined, pass.created),
            (PassOutcome::Completed, 3, 3)
        );
        assert_eq!(
            queries()[2..],
            [
                "account_id=biz_fake&after=cur_2&first=2".to_owned(),
                "account_id=biz_fake&after=cur_4&first=2".to_owned()
            ]
        );
        assert_eq!(
            db.store.find_cursor(Provider::Whop).unwrap().as_deref(),
            Some(""),
            "cleared at the end"
        );

        // A full pass again; and a cursor Whop refuses is dropped rather than failing every run.
        db.store.set_cursor(Provider::Whop, "bogus", clock.now()).unwrap();
        let report = reconciler.run_once(None).await.unwrap();
        let pass = report.provider(Provider::Whop).unwrap();
        assert_eq!(
            (pass.outcome, pass.examined, pass.changed, pass.created),
            (PassOutcome::Completed, 5, 0, 0)
        );
        assert_eq!(
            queries()[4..6],
            [
                "account_id=biz_fake&after=bogus&first=2".to_owned(),
                "account_id=biz_fake&first=2".to_owned()
            ]
        );
    });
}

#[test]
fn the_periodic_task_reports_each_run_and_stops_on_shutdown() {
    both(|db| async move {
        let whop = FakeWhop::start();
        whop.add_membership(FakeMembership::new("mem_1", "KEY-AAAA-1111"));
        let reconciler: Reconciler = reconciler(db.store.clone(), whop_apis(&whop), clock(), "instance-a");
        let mut reports = reconciler.subscribe();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = reconciler
            .clone()
            .spawn_periodic(Duration::from_millis(50), shutdown_rx);

        reports.changed().await.unwrap();
        let first = reports.borrow_and_update().clone().unwrap();
        assert_eq!(
            first.provider(Provider::Whop).unwrap().created,
            1,
            "{}",
            db.backend
        );
        reports.changed().await.unwrap();
        let second = reports.borrow_and_update().clone().unwrap();
        assert_eq!(second.provider(Provider::Whop).unwrap().created, 0);
        assert_eq!(second.provider(Provider::Whop).unwrap().examined, 1);
        assert_eq!(reconciler.last_report().as_deref(), Some(&*second));

        shutdown_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the task stops on shutdown")
            .unwrap();
        assert_eq!(db.store.find_lock("reconcile:whop").unwrap(), None);
    });
}

/// A Whop client that, on its first membership listing, says so and waits to be let through: it holds a pass
/// inside its lock for as long as the test needs.
struct GatedWhop {
    inner: Arc<dyn WhopApi>,
    entered: Mutex<Option<oneshot::Sender<()>>>,
    release: Mutex<Option<oneshot::Receiver<()>>>,
}

impl WhopApi for GatedWhop {
    fn retrieve_membership<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership: MembershipRef<'a>,
    ) -> ApiFuture<'a, Option<WhopMembership>> {
        self.inner.retrieve_membership(ctx, membership)
    }

    fn update_metadata<'a>(
        &'a self,
        ctx: &'a CallContext,
        membership_id: &'a str,
        metadata: &'a serde_json::Map<String, serde_json::Value>,
    ) -> ApiFuture<'a, WhopMembership> {
        self.inner.update_metadata(ctx, membership_id, metadata)
    }

    fn company_id(&self) -> Option<&str> {
        self.inner.company_id()
    }

    fn probe<'a>(&'a self, ctx: &'a CallContext) -> ApiFuture<'a, WhopProbe> {
        self.inner.probe(ctx)
    }

    fn list_memberships<'a>(
        &'a self,
        ctx: &'a CallContext,
        query: &'a WhopListQuery,
    ) -> ApiFuture<'a, WhopMembershipPage> {
        let entered = self.entered.lock().unwrap().take();
        let release = self.release.lock().unwrap().take();
        Box::pin(async move {
            if let (Some(entered), Some(release)) = (entered, release) {
                entered.send(()).unwrap();
                release.await.unwrap();
            }
            self.inner.list_memberships(ctx, query).await
        })
    }
}
