#!/usr/bin/env bash
# Seeds the git-ignored fuzz/corpus/<target>/ directories from files that are in git: the providers' fixtures
# (each provider's own plus the malformed ones) and the configuration examples. Safe to re-run: it only adds.
# Usage, from anywhere: fuzz/seed-corpus.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/crates/providers/tests/fixtures"
corpus="$root/fuzz/corpus"

for provider in whop dodo aghanim; do
    mkdir -p "$corpus/parse_$provider"
    for file in "$fixtures/$provider"/* "$fixtures/malformed"/*; do
        cp "$file" "$corpus/parse_$provider/seed-$(basename "$(dirname "$file")")-$(basename "$file")"
    done
done

mkdir -p "$corpus/config"
cp "$root/bin/tollgate/src/defaults.toml" "$corpus/config/seed-defaults.toml"
# Every ```toml block of the docs, one seed each.
n=0
for doc in "$root"/docs/*.md; do
    awk -v out="$corpus/config/seed-$(basename "$doc" .md)-" '
        /^```toml/ { n++; file = out n ".toml"; inside = 1; next }
        /^```/ { inside = 0; next }
        inside { print > file }
    ' "$doc"
done
printf 'listen = "127.0.0.1:0"\n[policy.default]\nmax_devices = 0\n' > "$corpus/config/seed-bad-policy.toml"
printf '[database]\nurl = "mysql://x"\n' > "$corpus/config/seed-bad-url.toml"

mkdir -p "$corpus/lease_token"
for target in parse_whop parse_dodo parse_aghanim config lease_token; do
    echo "$target: $(find "$corpus/$target" -type f | wc -l) files in fuzz/corpus/$target"
done
