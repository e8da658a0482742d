package web

import (
	"net/http"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// Class is who may call a route and how they prove it.
type Class string

// The route classes.
const (
	ClassPublic  Class = "public"  // anyone: health, readiness, the OpenAPI document
	ClassMetrics Class = "metrics" // anyone from loopback; a token with metrics:read from elsewhere
	ClassUser    Class = "user"    // a user API token whose role grants Route.Perm
	ClassEnroll  Class = "enroll"  // an enroll secret, in the body
	ClassAgent   Class = "agent"   // a host token; the request acts for that host only
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
		{"GET", "/api/v1/hosts/{id}", ClassUser, patchbay.PermHostsRead, "Show a host with its facts", s.handleHostGet()},
		{"GET", "/api/v1/hosts/{id}/packages", ClassUser, patchbay.PermHostsRead, "A host's installed packages and available updates", s.handleHostPackages()},
		{"PATCH", "/api/v1/hosts/{id}", ClassUser, patchbay.PermHostsWrite, "Change a host's labels, groups, criticality or owner", s.handleHostUpdate()},
		{"POST", "/api/v1/hosts/{id}/retire", ClassUser, patchbay.PermHostsWrite, "Retire a host", s.handleHostRetire()},
		{"POST", "/api/v1/hosts/{id}/resolve-duplicate", ClassUser, patchbay.PermHostsWrite, "Merge a possible duplicate into its original, or keep both", s.handleHostResolveDuplicate()},
		{"GET", "/api/v1/packages/{name}/hosts", ClassUser, patchbay.PermHostsRead, "Which hosts have a package installed", s.handlePackageHosts()},

		{"GET", "/api/v1/vulns", ClassUser, patchbay.PermAdvisoriesRead, "List advisories affecting the fleet (all imported with all=true)", s.handleVulnsList()},
		{"GET", "/api/v1/vulns/{id}", ClassUser, patchbay.PermAdvisoriesRead, "Show an advisory, or every advisory of a CVE, with each affected host", s.handleVulnGet()},
		{"GET", "/api/v1/findings", ClassUser, patchbay.PermAdvisoriesRead, "List findings: host × package × advisory", s.handleFindingsList()},
		{"GET", "/api/v1/feeds", ClassUser, patchbay.PermAdvisoriesRead, "Synced feed URLs, their state, and recent imports", s.handleFeedsList()},
		{"POST", "/api/v1/feeds/import", ClassUser, patchbay.PermFeedsWrite, "Import a feed file sent as the body", s.handleFeedImport()},
		{"POST", "/api/v1/feeds/fetch", ClassUser, patchbay.PermFeedsWrite, "Have the server fetch and import a feed URL", s.handleFeedFetch()},
		{"GET", "/api/v1/feeds/export", ClassUser, patchbay.PermAdvisoriesRead, "A bundle of every advisory, KEV entry and EPSS score", s.handleFeedExport()},

		{"GET", "/api/v1/policies", ClassUser, patchbay.PermPoliciesRead, "List policies (disabled ones too with all=true)", s.handlePoliciesList()},
		{"POST", "/api/v1/policies", ClassUser, patchbay.PermPoliciesWrite, "Create a policy", s.handlePolicyCreate()},
		{"GET", "/api/v1/policies/{id}", ClassUser, patchbay.PermPoliciesRead, "Show a policy (a past version with version=N)", s.handlePolicyGet()},
		{"PUT", "/api/v1/policies/{id}", ClassUser, patchbay.PermPoliciesWrite, "Change a policy: stores its next version", s.handlePolicyUpdate()},
		{"GET", "/api/v1/policies/{id}/versions", ClassUser, patchbay.PermPoliciesRead, "Every version of a policy", s.handlePolicyVersions()},
		{"GET", "/api/v1/policies/{id}/simulate", ClassUser, patchbay.PermPoliciesRead, "What a policy would deploy in its windows over the coming days", s.handlePolicySimulate()},
		{"GET", "/api/v1/hosts/{id}/policy", ClassUser, patchbay.PermHostsRead, "Which policy governs a host, and why", s.handleHostPolicy()},
		{"GET", "/api/v1/updates", ClassUser, patchbay.PermAdvisoriesRead, "The work queue: available updates by risk", s.handleUpdatesList()},
		{"GET", "/api/v1/updates/{id}", ClassUser, patchbay.PermAdvisoriesRead, "One update with its class, fixes and every part of its risk score", s.handleUpdateExplain()},
		{"GET", "/api/v1/sla", ClassUser, patchbay.PermAdvisoriesRead, "Findings against their SLA due dates, by owner", s.handleSLAReport()},
		{"GET", "/api/v1/exceptions", ClassUser, patchbay.PermPoliciesRead, "List exceptions (accepted risk)", s.handleExceptionsList()},
		{"POST", "/api/v1/exceptions", ClassUser, patchbay.PermPoliciesWrite, "Request an exception", s.handleExceptionCreate()},
		{"POST", "/api/v1/exceptions/{id}/decision", ClassUser, patchbay.PermApprovalsDecide, "Approve or reject a requested exception", s.handleExceptionDecide()},
		{"POST", "/api/v1/exceptions/{id}/revoke", ClassUser, patchbay.PermPoliciesWrite, "End an exception before it expires", s.handleExceptionRevoke()},
		{"GET", "/api/v1/deployments", ClassUser, patchbay.PermDeploymentsRead, "List deployments, newest first", s.handleDeploymentsList()},
		{"POST", "/api/v1/deployments", ClassUser, patchbay.PermDeploymentsWrite, "Make a deployment of hosts' available updates (emergency: skips windows); it needs an approver", s.handleDeploymentCreate()},
		{"GET", "/api/v1/deployments/{id}", ClassUser, patchbay.PermDeploymentsRead, "Show a deployment with its hosts and decisions", s.handleDeploymentGet()},
		{"GET", "/api/v1/deployments/{id}/jobs", ClassUser, patchbay.PermDeploymentsRead, "A deployment's jobs: per host, state, attempts, versions before and after, output", s.handleDeploymentJobs()},
		{"POST", "/api/v1/deployments/{id}/action", ClassUser, patchbay.PermDeploymentsWrite, "Pause, resume, retry, promote, cancel or roll back a deployment", s.handleDeploymentAction()},
		{"POST", "/api/v1/deployments/{id}/decision", ClassUser, patchbay.PermApprovalsDecide, "Approve or reject a deployment awaiting approval", s.handleDeploymentDecide()},
		{"GET", "/api/v1/approvals", ClassUser, patchbay.PermDeploymentsRead, "What waits for an approver: deployments and exceptions", s.handleApprovalsList()},

		{"GET", "/api/v1/enroll-secrets", ClassUser, patchbay.PermEnrollSecrets, "List enroll secrets", s.handleEnrollSecretsList()},
		{"POST", "/api/v1/enroll-secrets", ClassUser, patchbay.PermEnrollSecrets, "Create an enroll secret", s.handleEnrollSecretsCreate()},
		{"DELETE", "/api/v1/enroll-secrets/{id}", ClassUser, patchbay.PermEnrollSecrets, "Revoke an enroll secret", s.handleEnrollSecretsRevoke()},

		{"POST", protocol.PathEnroll, ClassEnroll, "", "Enroll a host with an enroll secret", s.handleEnroll()},
		{"POST", protocol.PathCheckIn, ClassAgent, "", "Check in: facts and inventory hash", s.handleCheckIn()},
		{"PUT", protocol.PathInventory, ClassAgent, "", "Upload the full inventory (gzip)", s.handleInventory()},
		{"POST", protocol.PathJobsPoll, ClassAgent, "", "Wait for due jobs (long poll)", s.handleJobsPoll()},
		{"POST", protocol.PathJobResult, ClassAgent, "", "Report a job's result (idempotent per attempt)", s.handleJobResult()},
	}
}
