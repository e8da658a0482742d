#!/usr/bin/env bash
# The agent's figures on this machine: peak RSS of one full run (facts, the
# dpkg database, apt's available updates read-only, check-in and upload)
# against a local server, and the time of one inventory read.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/patchbay-agent-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/patchbay" ./cmd/patchbay
"$work/patchbay" server --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/out" 2>/dev/null &
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out" | head -1)
token=$(grep -o 'pbu_[A-Za-z0-9_-]*' "$work/out" | head -1)
secret=$(PATCHBAY_CLIENT_CONFIG="$work/c.yaml" "$work/patchbay" enroll-secrets create --name bench --server "$url" --token "$token" 2>/dev/null)
# /usr/bin/time counts the largest child too (apt-get and apt-cache load the
# whole package cache); the agent's own peak comes from its /proc status.
/usr/bin/time -f "agent --once with apt: %e s wall, %U s user; largest process (apt) peak RSS %M KB" \
  "$work/patchbay" agent --server "$url" --enroll-secret "$secret" --state-dir "$work/agent" --once \
  --refresh-interval=-1s --log-level error
"$work/patchbay" agent --server "$url" --state-dir "$work/agent" --interval 1h --refresh-interval=-1s --log-level info 2>"$work/agent.log" &
pid=$!
for _ in $(seq 1 300); do grep -q 'server reachable' "$work/agent.log" 2>/dev/null && break; sleep 0.1; done
echo "agent process itself after a check-in: $(grep -E 'VmHWM|VmRSS' /proc/$pid/status | tr -s ' ' | tr '\n' ' ')"
kill $pid
go test -run XXX -bench 'DpkgRead' -benchtime 50x ./internal/pkgdb/ | grep -E '^Benchmark'
