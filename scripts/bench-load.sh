#!/usr/bin/env bash
# The load benchmarks of docs/benchmarks.md, each next to its baseline measured in the same run.
# Usage: scripts/bench-load.sh [OUT_DIR]   (default target/bench-load; JSON reports and tables land there)
# Needs a local PostgreSQL for the postgres run (TOLLGATE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/bench-load}"
mkdir -p "$out"
cargo build --release -p tollgate -p tollgate-bench
bench=target/release/tollgate-bench
{ echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; echo "commit: $(git rev-parse --short HEAD)"; date -u; uptime; } \
    | tee "$out/machine.txt"

run() {
    local name="$1"; shift
    echo "== $name: tollgate-bench run $* ($(uptime | sed "s/.*load/load/"))"
    "$bench" run "$@" --json "$out/$name.json" | tee "$out/$name.txt"
}

run ingest-sqlite    --scenario ingest   --db sqlite   --connections 64 --duration 20s
run ingest-postgres  --scenario ingest   --db postgres --connections 64 --duration 20s
run validate-sqlite  --scenario validate --db sqlite   --connections 64 --duration 20s --licenses 1000
run activate-64      --scenario activate --db sqlite   --connections 64 --requests 3000
run activate-64-5ms  --scenario activate --db sqlite   --connections 64 --requests 3000 --provider-latency 5ms
run activate-1       --scenario activate --db sqlite   --connections 1  --requests 500
run activate-1-known --scenario activate --db sqlite   --connections 1  --requests 500 --known-keys
run activate-1-5ms   --scenario activate --db sqlite   --connections 1  --requests 500 --known-keys --provider-latency 5ms
