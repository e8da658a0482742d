#!/usr/bin/env bash
# 1,000 inventory uploads from 50 hosts while the server is SIGKILLed ten
# times at seeded points just before an inventory commits; then every host
# must hold exactly its last acknowledged inventory, complete.
set -euo pipefail
cd "$(dirname "$0")/.."
PATCHBAY_BENCH_KILL=1 go test -count=1 -run 'TestKillDuringInventoryUploadsLong' -v ./cmd/patchbay/ | grep -E 'uploads acknowledged|^(---|ok|FAIL)'
