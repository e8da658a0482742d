package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// AuditQuery filters an audit listing. Object is "TYPE" or "TYPE:ID".
type AuditQuery struct {
	Actor  string
	Object string
	Since  time.Time
	Until  time.Time
	Cursor string
	Limit  int
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("actor", q.Actor)
	set("object", q.Object)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339))
	}
	set("cursor", q.Cursor)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Audit returns one page of audit events.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (apiv1.List[patchbay.AuditEvent], error) {
	var l apiv1.List[patchbay.AuditEvent]
	return l, c.do(ctx, "GET", "/api/v1/audit", q.values(), nil, &l)
}

// VerifyAudit asks the server to verify the audit chain.
func (c *Client) VerifyAudit(ctx context.Context) (apiv1.AuditVerification, error) {
	var v apiv1.AuditVerification
	return v, c.do(ctx, "GET", "/api/v1/audit/verify", nil, nil, &v)
}
