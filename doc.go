// Package patchbay holds the domain of patch management: hosts, packages,
// advisories, findings, updates, policies, deployments, users, tokens, roles
// and the audit trail, as types, validation and pure rules.
//
// It imports only the standard library. Storage (internal/store), the HTTP
// surface (internal/web), the agent (internal/agent) and the CLI
// (cmd/patchbay) depend on it; it depends on none of them.
package patchbay
