//! Statements PostgreSQL must plan for their actual parameters each time, never from a cached generic plan.
//!
//! diesel prepares a statement once per connection and reuses it. After five runs PostgreSQL may switch a prepared
//! statement to a generic plan, chosen without the parameters, and keep it for the connection's life. For
//! `provider = $1 AND external_id = ANY($2)` a generic plan chosen while the table was small (or not yet analyzed)
//! walked every row of the provider instead of looking up each key in the unique index: measured in the ingest
//! benchmark as 1.1-1.6 million tuples read per second and half the throughput. [`PlannedEachTime`] sends the
//! statement unprepared (as an unnamed statement), so it is planned with the keys it carries.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query`, planned for its parameters on every run (PostgreSQL).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedEachTime<Q>(pub(crate) Q);

impl<Q: Query> Query for PlannedEachTime<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for PlannedEachTime<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for PlannedEachTime<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.0.walk_ast(out)
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for PlannedEachTime<Q> {}

#[cfg(test)]
mod tests {
    use diesel::dsl::select;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Integer};

    use super::PlannedEachTime;
    use crate::test_support::connect_pg_admin;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// Statements prepared (and so possibly generic-planned) on this session.
    fn prepared(conn: &mut PgConnection) -> i64 {
        diesel::sql_query("SELECT count(*) AS n FROM pg_prepared_statements")
            .get_result::<Count>(conn)
            .unwrap()
            .n
    }

    #[test]
    fn a_statement_planned_each_time_is_never_prepared_but_the_same_bare_statement_is() {
        let Some(mut conn) = connect_pg_admin() else {
            return;
        };
        let query = || select(7.into_sql::<Integer>());
        for _ in 0..7 {
            assert_eq!(PlannedEachTime(query()).get_result::<i32>(&mut conn).unwrap(), 7);
        }
        assert_eq!(prepared(&mut conn), 0);
        // The control: diesel prepares the bare statement, and the count sees it.
        assert_eq!(query().get_result::<i32>(&mut conn).unwrap(), 7);
        assert_eq!(prepared(&mut conn), 1);
    }
}
