package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// HostQuery filters a host listing.
type HostQuery struct {
	Label, Group, Owner string
	Cursor              string
	Limit               int
}

// Hosts returns one page of hosts.
func (c *Client) Hosts(ctx context.Context, q HostQuery) (apiv1.List[patchbay.Host], error) {
	v := url.Values{}
	for k, s := range map[string]string{"label": q.Label, "group": q.Group, "owner": q.Owner, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l apiv1.List[patchbay.Host]
	return l, c.do(ctx, "GET", "/api/v1/hosts", v, nil, &l)
}
