package patchbay

import (
	"slices"
	"strings"
)

// Role is what a user may do, as a named set of permissions.
type Role string

// The roles. Their permissions are the table RolePermissions.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleApprover Role = "approver"
	RoleViewer   Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleOperator, RoleApprover, RoleViewer}

// ParseRole returns the role named s, or an EUnprocessable error naming field.
func ParseRole(field, s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", FieldError(EUnprocessable, field, "unknown role %q (want one of %s)", s, joinRoles())
}

func joinRoles() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Permission is one thing an API route needs. Routes name the permission
// they require; roles grant permissions; nothing else decides access.
type Permission string

// The permissions. Read permissions end in ":read".
const (
	PermUsersRead        Permission = "users:read"
	PermUsersWrite       Permission = "users:write"
	PermTokensOwn        Permission = "tokens:own" // list, create and revoke one's own tokens
	PermTokensAll        Permission = "tokens:all" // the same for every user's tokens
	PermAuditRead        Permission = "audit:read"
	PermHostsRead        Permission = "hosts:read"
	PermHostsWrite       Permission = "hosts:write"
	PermEnrollSecrets    Permission = "enroll-secrets:write"
	PermAdvisoriesRead   Permission = "advisories:read"
	PermFeedsWrite       Permission = "feeds:write"
	PermPoliciesRead     Permission = "policies:read"
	PermPoliciesWrite    Permission = "policies:write"
	PermDeploymentsRead  Permission = "deployments:read"
	PermDeploymentsWrite Permission = "deployments:write"
	PermApprovalsDecide  Permission = "approvals:decide"
	PermMetricsRead      Permission = "metrics:read"
)

// RolePermissions is the one table of what each role may do. docs/api.md
// shows the same table; a test keeps the two equal.
var RolePermissions = map[Role][]Permission{
	RoleAdmin: {
		PermUsersRead, PermUsersWrite, PermTokensOwn, PermTokensAll, PermAuditRead,
		PermHostsRead, PermHostsWrite, PermEnrollSecrets, PermAdvisoriesRead, PermFeedsWrite,
		PermPoliciesRead, PermPoliciesWrite, PermDeploymentsRead, PermDeploymentsWrite,
		PermApprovalsDecide, PermMetricsRead,
	},
	RoleOperator: {
		PermTokensOwn, PermHostsRead, PermHostsWrite, PermAdvisoriesRead, PermFeedsWrite,
		PermPoliciesRead, PermPoliciesWrite, PermDeploymentsRead, PermDeploymentsWrite,
		PermMetricsRead,
	},
	RoleApprover: {
		PermTokensOwn, PermHostsRead, PermAdvisoriesRead, PermPoliciesRead,
		PermDeploymentsRead, PermApprovalsDecide, PermMetricsRead,
	},
	RoleViewer: {
		PermTokensOwn, PermHostsRead, PermAdvisoriesRead, PermPoliciesRead,
		PermDeploymentsRead, PermMetricsRead,
	},
}

// Can reports whether role r grants permission p.
func (r Role) Can(p Permission) bool {
	return slices.Contains(RolePermissions[r], p)
}

// CheckApprover returns an EForbidden error when approver may not decide on a
// request made by requester: nobody approves their own request, admins
// included, and only roles with PermApprovalsDecide approve at all.
func CheckApprover(approver *User, requesterID int64) error {
	if !approver.Role.Can(PermApprovalsDecide) {
		return Errorf(EForbidden, "role %s may not approve or reject", approver.Role)
	}
	if approver.ID == requesterID {
		return Errorf(EForbidden, "user %s requested this and may not approve or reject it", approver.Name)
	}
	return nil
}

// String returns the role's name.
func (r Role) String() string { return string(r) }

// Validate returns an error when r is not one of Roles.
func (r Role) Validate(field string) error {
	_, err := ParseRole(field, string(r))
	return err
}
