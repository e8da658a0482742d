package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// WithTimeout returns a client like c whose requests may take d: feed
// imports and exports take longer than the default.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cc := *c
	h := *c.http
	h.Timeout = d
	cc.http = &h
	return &cc
}

// ImportFeed sends a feed file (size bytes from body) for the server to
// import; name is its file name, which the server records and uses to
// recognise it.
func (c *Client) ImportFeed(ctx context.Context, name string, body io.Reader, size int64) (apiv1.FeedImportResult, error) {
	u := c.url("/api/v1/feeds/import")
	u.RawQuery = url.Values{"name": {name}}.Encode()
	req, err := http.NewRequestWithContext(ctx, "POST", u.String(), body)
	if err != nil {
		return apiv1.FeedImportResult{}, fmt.Errorf("import %s: %w", name, err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	var res apiv1.FeedImportResult
	return res, c.send(req, &res)
}

// FetchFeed has the server fetch and import a feed URL.
func (c *Client) FetchFeed(ctx context.Context, feedURL string) (apiv1.FeedImportResult, error) {
	var res apiv1.FeedImportResult
	return res, c.do(ctx, "POST", "/api/v1/feeds/fetch", nil, apiv1.FeedFetch{URL: feedURL}, &res)
}

// Feeds returns the synced feeds, recent imports and counts.
func (c *Client) Feeds(ctx context.Context) (apiv1.Feeds, error) {
	var f apiv1.Feeds
	return f, c.do(ctx, "GET", "/api/v1/feeds", nil, nil, &f)
}

// ExportFeeds writes the server's feed bundle to w.
func (c *Client) ExportFeeds(ctx context.Context, w io.Writer) (int64, error) {
	u := c.url("/api/v1/feeds/export")
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return 0, err
	}
	var n int64
	err = c.send(req, writerTo(func(r io.Reader) error {
		var err error
		n, err = io.Copy(w, r)
		return err
	}))
	return n, err
}

// VulnQuery filters Vulns.
type VulnQuery struct {
	All      bool
	Severity string
	KEV      bool
	HostID   int64
	Cursor   string
	Limit    int
}

// Vulns lists advisories affecting the fleet.
func (c *Client) Vulns(ctx context.Context, q VulnQuery) (apiv1.List[patchbay.Advisory], error) {
	v := url.Values{}
	if q.All {
		v.Set("all", "true")
	}
	if q.KEV {
		v.Set("kev", "true")
	}
	if q.Severity != "" {
		v.Set("severity", q.Severity)
	}
	if q.HostID != 0 {
		v.Set("host", strconv.FormatInt(q.HostID, 10))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var l apiv1.List[patchbay.Advisory]
	return l, c.do(ctx, "GET", "/api/v1/vulns", v, nil, &l)
}

// Vuln returns an advisory, or every advisory of a CVE, with its findings.
func (c *Client) Vuln(ctx context.Context, id string) ([]apiv1.AdvisoryDetail, error) {
	var l apiv1.List[apiv1.AdvisoryDetail]
	return l.Items, c.do(ctx, "GET", "/api/v1/vulns/"+url.PathEscape(id), nil, nil, &l)
}

// FindingQuery filters Findings.
type FindingQuery struct {
	HostID   int64
	Advisory string
	Status   []string
	Limit    int
	Cursor   string // next_cursor of the previous page
}

// Findings lists findings.
func (c *Client) Findings(ctx context.Context, q FindingQuery) (apiv1.List[patchbay.Finding], error) {
	v := url.Values{}
	if q.HostID != 0 {
		v.Set("host", strconv.FormatInt(q.HostID, 10))
	}
	if q.Advisory != "" {
		v.Set("advisory", q.Advisory)
	}
	for _, s := range q.Status {
		v.Add("status", s)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var l apiv1.List[patchbay.Finding]
	return l, c.do(ctx, "GET", "/api/v1/findings", v, nil, &l)
}
