//! What SQL a webhook batch runs: a handful of statements whatever its size, no upsert for a new entitlement, and
//! a lone delivery's statements kept prepared where that is safe. Counted with diesel's instrumentation, on this
//! thread's connections.

use tollgate_policy::Lifecycle;
use tollgate_store::{InboxEffect, RecordOutcome};

use super::batch::{apply, cancel_scheduled, delivery, state_of};
use super::fixtures::{Backend, activated, both};
use crate::common::folding::Folding as _;

thread_local! {
    /// Statements run by this thread's diesel connections while counting.
    static STATEMENTS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    /// The SQL of the statements this thread's connections put in their prepared-statement cache while recording.
    static CACHED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
    /// The SQL of the statements this thread's connections ran while counting.
    static RAN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn count_statements() -> Option<Box<dyn diesel::connection::Instrumentation>> {
    Some(Box::new(
        |event: diesel::connection::InstrumentationEvent<'_>| match event {
            diesel::connection::InstrumentationEvent::StartQuery { query, .. } => {
                STATEMENTS.with(|n| {
                    if let Some(count) = n.get() {
                        n.set(Some(count + 1));
                        RAN.with(|ran| ran.borrow_mut().push(query.to_string()));
                    }
                });
            }
            diesel::connection::InstrumentationEvent::CacheQuery { sql, .. } => CACHED.with(|cached| {
                if let Some(cached) = cached.borrow_mut().as_mut() {
                    cached.push(sql.to_owned());
                }
            }),
            _ => {}
        },
    ))
}

/// A lone delivery (like an activation) writes its one audit row with a statement diesel prepares once per
/// connection and keeps (a multi-row insert would be prepared again every time), and on SQLite locks its one
/// entitlement with one too. On PostgreSQL the lock is planned for its key each time: a kept generic plan, chosen
/// while the table was nearly empty, scanned the provider's every row.
#[test]
fn a_lone_delivery_writes_its_audit_row_with_a_kept_statement_and_locks_by_one_key_planned_for_it_on_postgres()
 {
    diesel::connection::set_default_instrumentation(count_statements).unwrap();
    both(|db| {
        CACHED.with(|cached| cached.replace(Some(Vec::new())));
        db.store
            .record_webhook(&delivery("a1", None), apply(activated("mem_a", 0)))
            .unwrap();
        // SQLite quotes with backticks, PostgreSQL with double quotes.
        let cached: Vec<String> = CACHED
            .with(|cached| cached.replace(None))
            .unwrap()
            .into_iter()
            .map(|sql| sql.replace('`', "\""))
            .collect();
        let lock = cached
            .iter()
            .filter(|sql| {
                sql.contains(r#"FROM "entitlements" WHERE (("entitlements"."provider" = "#)
                    && sql.contains(r#"AND ("entitlements"."external_id" = "#)
                    && !sql.contains("LIMIT")
            })
            .count();
        let kept_lock = match db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 0,
        };
        assert_eq!(lock, kept_lock, "{cached:#?}");
        let audit = cached
            .iter()
            .filter(|sql| sql.starts_with(r#"INSERT INTO "audit_log""#))
            .count();
        assert_eq!(audit, 1, "{cached:#?}");
    });
}

#[test]
fn a_batch_of_fifty_deliveries_runs_a_handful_of_statements() {
    // Every connection opened from now on counts the statements run on this thread while counting is on.
    diesel::connection::set_default_instrumentation(count_statements).unwrap();
    both(|db| {
        // Warm the pool: the batch below takes this connection, so no connection set-up is counted.
        db.store
            .record_webhook(&delivery("warm", None), InboxEffect::Ignore)
            .unwrap();
        // Store 50 deliveries (`prefix` and a number) on mem_00..mem_49 in one batch; how many statements it ran,
        // and how many of them were upserts (`ON CONFLICT .. DO UPDATE`).
        let statements_of_batch = |prefix: &str, effect: &dyn Fn(&str) -> InboxEffect| {
            let batch: Vec<_> = (0..50)
                .map(|i| {
                    (
                        delivery(&format!("{prefix}{i:02}"), None),
                        effect(&format!("mem_{i:02}")),
                    )
                })
                .collect();
            RAN.with(|ran| ran.borrow_mut().clear());
            STATEMENTS.with(|n| n.set(Some(0)));
            let outcomes = db.store.record_webhooks(&batch);
            let statements = STATEMENTS.with(|n| n.replace(None)).unwrap();
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, Ok(RecordOutcome::Applied { .. })))
            );
            let upserts = RAN.with(|ran| {
                ran.borrow()
                    .iter()
                    .filter(|sql| sql.contains("DO UPDATE"))
                    .count()
            });
            (statements, upserts)
        };
        let (on_new, upserts_on_new) = statements_of_batch("n", &|id| apply(activated(id, 0)));
        // A new entitlement is inserted in its final state, never inserted pending and then updated.
        assert_eq!(upserts_on_new, 0);
        assert_eq!(state_of(db, "mem_07").lifecycle, Lifecycle::Active);
        // The same 50 entitlements again, now existing: one upsert saves them all.
        let (on_existing, upserts_on_existing) = statements_of_batch("r", &|id| cancel_scheduled(id, 60));
        assert_eq!(upserts_on_existing, 1);
        assert!(state_of(db, "mem_07").cancel_at_period_end);
        // Begin, lock, insert the missing entitlements, insert the inbox rows, save, audit, commit (SQLite may
        // add a statement or two around its write lock).
        assert!(on_new < 15, "{on_new} statements for 50 new entitlements");
        assert!(
            on_existing < 15,
            "{on_existing} statements for 50 existing entitlements"
        );
        assert!(on_new > 3, "{on_new}: the counter sees the batch's statements");
    });
}
