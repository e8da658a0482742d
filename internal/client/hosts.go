package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// HostQuery filters a host listing; see GET /api/v1/hosts.
type HostQuery struct {
	Label, Group, Owner, OS string
	Stale, Online           string // durations, e.g. 24h
	RebootRequired          *bool
	Duplicates, Retired     bool
	Cursor                  string
	Limit                   int
}

// Hosts returns one page of hosts.
func (c *Client) Hosts(ctx context.Context, q HostQuery) (apiv1.List[patchbay.Host], error) {
	v := url.Values{}
	for k, s := range map[string]string{"label": q.Label, "group": q.Group, "owner": q.Owner, "os": q.OS,
		"stale": q.Stale, "online": q.Online, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.RebootRequired != nil {
		v.Set("reboot_required", strconv.FormatBool(*q.RebootRequired))
	}
	if q.Duplicates {
		v.Set("duplicates", "true")
	}
	if q.Retired {
		v.Set("retired", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l apiv1.List[patchbay.Host]
	return l, c.do(ctx, "GET", "/api/v1/hosts", v, nil, &l)
}

func hostPath(id int64, rest string) string {
	return "/api/v1/hosts/" + strconv.FormatInt(id, 10) + rest
}

// Host shows one host.
func (c *Client) Host(ctx context.Context, id int64) (patchbay.Host, error) {
	var h patchbay.Host
	return h, c.do(ctx, "GET", hostPath(id, ""), nil, nil, &h)
}

// HostPackages returns a host's packages and available updates.
func (c *Client) HostPackages(ctx context.Context, id int64) (apiv1.HostPackages, error) {
	var p apiv1.HostPackages
	return p, c.do(ctx, "GET", hostPath(id, "/packages"), nil, nil, &p)
}

// UpdateHost changes a host's labels, groups, criticality or owner.
func (c *Client) UpdateHost(ctx context.Context, id int64, req apiv1.UpdateHostRequest) (patchbay.Host, error) {
	var h patchbay.Host
	return h, c.do(ctx, "PATCH", hostPath(id, ""), nil, req, &h)
}

// RetireHost retires a host.
func (c *Client) RetireHost(ctx context.Context, id int64) (patchbay.Host, error) {
	var h patchbay.Host
	return h, c.do(ctx, "POST", hostPath(id, "/retire"), nil, nil, &h)
}

// ResolveDuplicate merges a flagged host into its original or keeps both.
func (c *Client) ResolveDuplicate(ctx context.Context, id int64, action string) (patchbay.Host, error) {
	var h patchbay.Host
	return h, c.do(ctx, "POST", hostPath(id, "/resolve-duplicate"), nil, apiv1.ResolveDuplicateRequest{Action: action}, &h)
}

// PackageHosts answers which hosts have a package installed.
// With versionLT, only packages at a lower version (by their ecosystem's
// ordering) are listed.
func (c *Client) PackageHosts(ctx context.Context, name, versionLT string, limit int) ([]apiv1.PackageHost, error) {
	v := url.Values{}
	if versionLT != "" {
		v.Set("version_lt", versionLT)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var l apiv1.List[apiv1.PackageHost]
	return l.Items, c.do(ctx, "GET", "/api/v1/packages/"+url.PathEscape(name)+"/hosts", v, nil, &l)
}

// EnrollSecrets lists enroll secrets.
func (c *Client) EnrollSecrets(ctx context.Context) ([]patchbay.EnrollSecret, error) {
	var l apiv1.List[patchbay.EnrollSecret]
	return l.Items, c.do(ctx, "GET", "/api/v1/enroll-secrets", nil, nil, &l)
}

// CreateEnrollSecret makes an enroll secret; its secret is in the answer only.
func (c *Client) CreateEnrollSecret(ctx context.Context, req apiv1.CreateEnrollSecretRequest) (apiv1.CreatedEnrollSecret, error) {
	var e apiv1.CreatedEnrollSecret
	return e, c.do(ctx, "POST", "/api/v1/enroll-secrets", nil, req, &e)
}

// RevokeEnrollSecret revokes an enroll secret.
func (c *Client) RevokeEnrollSecret(ctx context.Context, id int64) (patchbay.EnrollSecret, error) {
	var e patchbay.EnrollSecret
	return e, c.do(ctx, "DELETE", "/api/v1/enroll-secrets/"+strconv.FormatInt(id, 10), nil, nil, &e)
}
