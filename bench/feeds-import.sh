#!/usr/bin/env bash
# Issue 4's "importing 50,000 OSV records ≤ 15 s", end to end: a server on a
# fresh SQLite store, and `patchbay feeds import DIR` of the generated corpus
# (the CLI zips the directory, uploads it; the server parses, stores it in
# one transaction and answers the summary). Then the same import again
# (idempotent: nothing changes).
# Usage: bench/feeds-import.sh [DIR]   (default: generate 50,000 records)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/patchbay-import-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
dir=${1:-}
if [ -z "$dir" ]; then
  dir=$work/osv
  go run ./bench/osvgen -seed 1 -n 50000 -out "$dir" >/dev/null
fi
go build -o "$work/patchbay" ./cmd/patchbay
"$work/patchbay" server --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/out" 2>/dev/null &
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out" | head -1)
token=$(grep -o 'pbu_[A-Za-z0-9_-]*' "$work/out" | head -1)
import() { PATCHBAY_CLIENT_CONFIG="$work/c.yaml" /usr/bin/time -f "$1: %e s wall, CLI peak RSS %M KB" \
  "$work/patchbay" feeds import "$dir" --server "$url" --token "$token"; }
import "first import"
import "second import"
