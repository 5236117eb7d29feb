#!/usr/bin/env bash
# Fails if tollgate-policy or tollgate-verify pull in anything beyond their allowed dependencies.
# `cargo tree -e normal` lists only what ships with the crate (not dev- or build-dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='^(tokio|reqwest|hyper|http|actix|diesel|r2d2|libsqlite3-sys|pq-sys|log|env_logger|tracing|mio|socket2|std-io|iana-time-zone|js-sys|wasm-bindgen)$'
status=0

check() {
    local crate=$1 allowed=$2
    local deps
    deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u | grep -v "^$crate\$")
    echo "== $crate depends on: $(echo "$deps" | tr '\n' ' ')"
    while read -r dep; do
        [ -z "$dep" ] && continue
        if echo "$dep" | grep -Eq "$forbidden"; then
            echo "FAIL: $crate pulls in $dep (I/O, HTTP, database, clock or logging)"
            status=1
        fi
        if ! echo "$dep" | grep -Eq "$allowed"; then
            echo "FAIL: $crate pulls in $dep, which is not on its allow-list"
            status=1
        fi
    done <<< "$deps"
}

# Direct and transitive dependencies each light crate may have.
check tollgate-policy '^(serde|serde_core|serde_derive|chrono|num-traits|autocfg|proc-macro2|quote|syn|unicode-ident)$'
check tollgate-verify '^(ring|base64|hex|cc|cfg-if|getrandom|libc|untrusted|shlex|find-msvc-tools|wasi|r-efi)$'

exit $status
