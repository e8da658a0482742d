package web

import (
	"net/http"

	"github.com/patchbay/patchbay"
)

// Class is who may call a route and how they prove it.
type Class string

// The route classes.
const (
	ClassPublic  Class = "public"  // anyone: health, readiness, the OpenAPI document
	ClassMetrics Class = "metrics" // anyone from loopback; a token with metrics:read from elsewhere
	ClassUser    Class = "user"    // a user API token whose role grants Route.Perm
)

// Route is one entry of the API surface.
type Route struct {
	Method  string
	Pattern string // net/http pattern path, e.g. /api/v1/users/{name}
	Class   Class
	Perm    patchbay.Permission // for ClassUser: the permission needed; "" means any signed-in user
	Summary string
	handler http.Handler
}

// routeTable is the whole API surface, in one place.
func (s *Server) routeTable() []Route {
	return []Route{
		{"GET", "/healthz", ClassPublic, "", "Liveness: the process answers", s.handleHealthz()},
		{"GET", "/readyz", ClassPublic, "", "Readiness: the store answers", s.handleReadyz()},
		{"GET", "/metrics", ClassMetrics, patchbay.PermMetricsRead, "Prometheus metrics", s.handleMetrics()},
		{"GET", "/api/v1/openapi.json", ClassPublic, "", "This API's OpenAPI document", s.handleOpenAPI()},

		{"GET", "/api/v1/whoami", ClassUser, "", "The signed-in user and token", s.handleWhoami()},
		{"GET", "/api/v1/roles", ClassUser, "", "Roles and their permissions", s.handleRoles()},

		{"GET", "/api/v1/users", ClassUser, patchbay.PermUsersRead, "List users", s.handleUsersList()},
		{"POST", "/api/v1/users", ClassUser, patchbay.PermUsersWrite, "Create a user", s.handleUsersCreate()},
		{"GET", "/api/v1/users/{name}", ClassUser, patchbay.PermUsersRead, "Show a user", s.handleUsersGet()},
		{"PATCH", "/api/v1/users/{name}", ClassUser, patchbay.PermUsersWrite, "Change a user's role or disable them", s.handleUsersUpdate()},

		{"GET", "/api/v1/tokens", ClassUser, patchbay.PermTokensOwn, "List one's tokens (all with tokens:all)", s.handleTokensList()},
		{"POST", "/api/v1/tokens", ClassUser, patchbay.PermTokensOwn, "Create a token (for another user with tokens:all)", s.handleTokensCreate()},
		{"DELETE", "/api/v1/tokens/{id}", ClassUser, patchbay.PermTokensOwn, "Revoke a token", s.handleTokensRevoke()},

		{"GET", "/api/v1/audit", ClassUser, patchbay.PermAuditRead, "List audit events", s.handleAuditList()},
		{"GET", "/api/v1/audit/verify", ClassUser, patchbay.PermAuditRead, "Verify the audit chain", s.handleAuditVerify()},

		{"GET", "/api/v1/hosts", ClassUser, patchbay.PermHostsRead, "List hosts", s.handleHostsList()},
	}
}
