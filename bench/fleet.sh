#!/usr/bin/env bash
# Fleet figures of the agent and inventory issue, server and simulated fleet
# in separate processes on this machine:
#   1. 10,000 hosts enroll and upload a full inventory of 2,000 packages each
#      (every host different: 2% variation);
#   2. the same hosts check in unchanged, 5 times each;
#   3. storage of 10,000 hosts of the five images as they are (no growth).
# Usage: bench/fleet.sh [HOSTS] [postgres://…]   (default 10000, SQLite)
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-10000}
database=${2:-sqlite:}
work=$(mktemp -d /tmp/patchbay-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/patchbay" ./cmd/patchbay

serve() { # data-dir database
  "$work/patchbay" server --listen 127.0.0.1:0 --data-dir "$1" --database "$2" --log-level warn >"$1.out" 2>"$1.err" &
  for _ in $(seq 1 100); do grep -q 'listening on' "$1.out" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$1.out" | head -1)
  token=$(grep -o 'pbu_[A-Za-z0-9_-]*' "$1.out" | head -1)
  if [ -z "$token" ]; then token=$("$work/patchbay" users bootstrap --data-dir "$1" --database "$2"); fi
}
sim() { PATCHBAY_CLIENT_CONFIG="$work/client.yaml" "$work/patchbay" sim --server "$url" --token "$token" --report 0 "$@"; }

echo "== $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $database, $hosts hosts"
serve "$work/d1" "$database"
echo "-- 1. enroll and upload (2,000 packages a host)"
sim --hosts "$hosts" --packages 2000 --change-rate -1 --checkins 1 --interval 0 --ramp 0 --workers 32 --state "$work/tokens"
echo "-- 2. unchanged check-ins"
sim --hosts "$hosts" --packages 2000 --change-rate -1 --checkins 5 --interval 0 --ramp 0 --workers 64 --state "$work/tokens"
echo "-- 3. uploads: after the first, every check-in brings a changed inventory (one package differs)"
sim --hosts "$hosts" --packages 2000 --change-rate 1 --checkins 3 --interval 0 --ramp 0 --workers 32 --state "$work/tokens"
sleep 2
echo "-- server RSS: $(ps -o rss= -p "$(pgrep -f "data-dir $work/d1" | head -1)" | awk '{printf "%.0f MB", $1/1024}')"
pkill -f "data-dir $work/d1" || true; sleep 1

if [ "$database" = "sqlite:" ]; then
  echo "-- 4. storage: $hosts hosts of the five images as they are, 2% variation"
  serve "$work/d2" sqlite:
  sim --hosts "$hosts" --change-rate -1 --checkins 1 --interval 0 --ramp 0 --workers 32 >/dev/null
  pkill -f "data-dir $work/d2" || true; sleep 1
  "$work/patchbay" users bootstrap --data-dir "$work/d2" >/dev/null  # checkpoints the WAL on close
  du -b "$work/d2/patchbay.db"* | awk '{s+=$1} END {printf "store on disk: %.1f MB\n", s/1048576}'
fi
