#!/usr/bin/env bash
# A 3-ring deployment of 1,000 simulated hosts' updates while the server is
# SIGKILLed at seeded points (before a claim, a result or a rollout
# transition commits) and started again on the same data: 25 kills in a
# rollout that completes, 21 in one whose second ring fails, halts and
# rolls back. Every job must be run by its host exactly once per attempt,
# with its result held by the server, and the deployment must end in the
# right state. The tests' log lines are kept (the kills, the summary, and
# any error); the rest of go test's output is not.
set -euo pipefail
cd "$(dirname "$0")/.."
PATCHBAY_BENCH_KILL=1 go test -count=1 -timeout 60m -run 'TestKillRollout(CompletesLong|HaltsLong)$' -v ./cmd/patchbay/ |
	grep -E '_test\.go:[0-9]+: |^(---|ok|FAIL|panic)'
