package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func policyPath(id int64, rest string) string {
	return "/api/v1/policies/" + strconv.FormatInt(id, 10) + rest
}

// Policies lists the enabled policies, or every policy with all.
func (c *Client) Policies(ctx context.Context, all bool) ([]patchbay.Policy, error) {
	v := url.Values{}
	if all {
		v.Set("all", "true")
	}
	var l apiv1.List[patchbay.Policy]
	return l.Items, c.do(ctx, "GET", "/api/v1/policies", v, nil, &l)
}

// Policy returns version of policy id, its current version when version
// is 0.
func (c *Client) Policy(ctx context.Context, id int64, version int) (patchbay.Policy, error) {
	v := url.Values{}
	if version != 0 {
		v.Set("version", strconv.Itoa(version))
	}
	var p patchbay.Policy
	return p, c.do(ctx, "GET", policyPath(id, ""), v, nil, &p)
}

// CreatePolicy stores p as version 1 of a new policy.
func (c *Client) CreatePolicy(ctx context.Context, p patchbay.Policy) (apiv1.PolicyResult, error) {
	var r apiv1.PolicyResult
	return r, c.do(ctx, "POST", "/api/v1/policies", nil, p, &r)
}

// UpdatePolicy stores p as the next version of policy id. p.Version is the
// version the change was made from: the server refuses the change (409)
// when the policy moved on meanwhile.
func (c *Client) UpdatePolicy(ctx context.Context, id int64, p patchbay.Policy) (apiv1.PolicyResult, error) {
	var r apiv1.PolicyResult
	return r, c.do(ctx, "PUT", policyPath(id, ""), nil, p, &r)
}

// PolicyVersions returns every version of policy id, oldest first.
func (c *Client) PolicyVersions(ctx context.Context, id int64) ([]patchbay.Policy, error) {
	var l apiv1.List[patchbay.Policy]
	return l.Items, c.do(ctx, "GET", policyPath(id, "/versions"), nil, nil, &l)
}

// SimulatePolicy answers what policy id would deploy in its windows over
// the coming days (0: the server's default).
func (c *Client) SimulatePolicy(ctx context.Context, id int64, days int) (apiv1.Simulation, error) {
	v := url.Values{}
	if days != 0 {
		v.Set("days", strconv.Itoa(days))
	}
	var s apiv1.Simulation
	return s, c.do(ctx, "GET", policyPath(id, "/simulate"), v, nil, &s)
}

// HostPolicy says which policy governs a host, and why.
func (c *Client) HostPolicy(ctx context.Context, id int64) (patchbay.Governance, error) {
	var g patchbay.Governance
	return g, c.do(ctx, "GET", hostPath(id, "/policy"), nil, nil, &g)
}

// UpdateQuery filters the work queue; see GET /api/v1/updates.
type UpdateQuery struct {
	Classes []string // critical, security, bugfix, feature
	HostID  int64
	Owner   string
	Sort    string // risk (the default) or host
	Cursor  string
	Limit   int
}

// Updates returns one page of the work queue.
func (c *Client) Updates(ctx context.Context, q UpdateQuery) (apiv1.List[patchbay.HostUpdate], error) {
	v := url.Values{}
	for _, cl := range q.Classes {
		v.Add("class", cl)
	}
	if q.HostID != 0 {
		v.Set("host", strconv.FormatInt(q.HostID, 10))
	}
	for k, s := range map[string]string{"owner": q.Owner, "sort": q.Sort, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l apiv1.List[patchbay.HostUpdate]
	return l, c.do(ctx, "GET", "/api/v1/updates", v, nil, &l)
}

// ExplainUpdate returns a work queue entry ("HOST-UPDATE") with its class,
// the findings it fixes and every part of its risk score.
func (c *Client) ExplainUpdate(ctx context.Context, id string) (apiv1.UpdateExplanation, error) {
	var x apiv1.UpdateExplanation
	return x, c.do(ctx, "GET", "/api/v1/updates/"+url.PathEscape(id), nil, nil, &x)
}

// SLA returns the findings against their SLA due dates, by owner.
func (c *Client) SLA(ctx context.Context) ([]patchbay.SLAReport, error) {
	var l apiv1.List[patchbay.SLAReport]
	return l.Items, c.do(ctx, "GET", "/api/v1/sla", nil, nil, &l)
}

func exceptionPath(id int64, rest string) string {
	return "/api/v1/exceptions/" + strconv.FormatInt(id, 10) + rest
}

// Exceptions lists the active exceptions, or every exception with all.
func (c *Client) Exceptions(ctx context.Context, all bool) ([]patchbay.Exception, error) {
	v := url.Values{}
	if all {
		v.Set("all", "true")
	}
	var l apiv1.List[patchbay.Exception]
	return l.Items, c.do(ctx, "GET", "/api/v1/exceptions", v, nil, &l)
}

// CreateException requests an exception; it counts once another person
// approves it.
func (c *Client) CreateException(ctx context.Context, req apiv1.CreateExceptionRequest) (patchbay.Exception, error) {
	var x patchbay.Exception
	return x, c.do(ctx, "POST", "/api/v1/exceptions", nil, req, &x)
}

// DecideException approves or rejects a pending exception.
func (c *Client) DecideException(ctx context.Context, id int64, req apiv1.DecisionRequest) (patchbay.Exception, error) {
	var x patchbay.Exception
	return x, c.do(ctx, "POST", exceptionPath(id, "/decision"), nil, req, &x)
}

// RevokeException ends an exception before it expires.
func (c *Client) RevokeException(ctx context.Context, id int64) (patchbay.Exception, error) {
	var x patchbay.Exception
	return x, c.do(ctx, "POST", exceptionPath(id, "/revoke"), nil, nil, &x)
}

func deploymentPath(id int64, rest string) string {
	return "/api/v1/deployments/" + strconv.FormatInt(id, 10) + rest
}

// DeploymentQuery filters a deployment listing; see GET
// /api/v1/deployments.
type DeploymentQuery struct {
	States   []patchbay.DeploymentState
	PolicyID int64
	Cursor   string
	Limit    int
}

// Deployments returns one page of deployments, newest first, without
// their hosts.
func (c *Client) Deployments(ctx context.Context, q DeploymentQuery) (apiv1.List[patchbay.Deployment], error) {
	v := url.Values{}
	for _, s := range q.States {
		v.Add("state", string(s))
	}
	if q.PolicyID != 0 {
		v.Set("policy", strconv.FormatInt(q.PolicyID, 10))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l apiv1.List[patchbay.Deployment]
	return l, c.do(ctx, "GET", "/api/v1/deployments", v, nil, &l)
}

// Deployment returns a deployment with its hosts and decisions.
func (c *Client) Deployment(ctx context.Context, id int64) (patchbay.Deployment, error) {
	var d patchbay.Deployment
	return d, c.do(ctx, "GET", deploymentPath(id, ""), nil, nil, &d)
}

// DecideDeployment approves or rejects a deployment awaiting approval.
func (c *Client) DecideDeployment(ctx context.Context, id int64, req apiv1.DecisionRequest) (patchbay.Deployment, error) {
	var d patchbay.Deployment
	return d, c.do(ctx, "POST", deploymentPath(id, "/decision"), nil, req, &d)
}

// Approvals lists what waits for an approver.
func (c *Client) Approvals(ctx context.Context) (apiv1.Approvals, error) {
	var a apiv1.Approvals
	return a, c.do(ctx, "GET", "/api/v1/approvals", nil, nil, &a)
}
