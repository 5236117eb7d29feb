# Everyday recipes. Each one is plain cargo underneath, so `just` is optional.

default:
    @just --list

# Format check and clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The test command the README shows.
test:
    cargo test --workspace

# The whole suite against the local PostgreSQL (fails instead of skipping when it is down).
test-pg:
    TOLLGATE_REQUIRE_PG=1 TOLLGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test --workspace

# Criterion benchmarks; figures go to docs/benchmarks.md.
bench:
    cargo bench --workspace

# Prove that the light crates stay light: no I/O, HTTP, database or logging crate under policy and verify.
deps-check:
    bash scripts/deps-check.sh
