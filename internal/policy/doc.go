// Package policy validates patch policies and evaluates them: which policy
// governs a host and why, which of a host's available updates a policy
// deploys and which of those it approves without a person, how a
// deployment's hosts fall into rings, and what a policy proposes for each
// of its maintenance windows. docs/policies.md describes every field and
// rule; this package is that document's code.
//
// Everything here is pure: hosts, policies, candidate updates and the time
// are arguments, nothing is stored or read from a clock, so the scheduler's
// step (Evaluate), the what-if view (Simulate) and the API's validation
// (Compile) are the same functions and table-tested as such.
//
// Decisions:
//
//   - A policy is compiled once (Compile) and then evaluated many times:
//     patterns, zones, severities and ring specs are parsed and checked up
//     front, so evaluating a fleet allocates little beyond its result.
//   - Validation errors are *patchbay.Error with code EUnprocessable naming
//     the exact field ("windows[0].cron", "rings[1].percent"), the first in
//     field order that is wrong; Normalize fills defaults beforehand.
//   - A host is governed by one policy only: the enabled one of highest
//     priority that selects it, the lower ID on a tie. The others that
//     select it are listed, never merged in.
//   - Severity thresholds use the severity package's order, in which
//     unknown ranks above critical: an unrated advisory is not a minor one.
//   - Proposals carry a key built from the policy, its version, the zone and
//     the window's start, so that a scheduler that runs twice in one window
//     proposes once.
package policy
