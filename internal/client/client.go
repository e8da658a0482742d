// Package client is the one typed HTTP client of patchbay's API, used by
// the CLI, the agent and the tests. It speaks plain HTTP only to loopback
// addresses; anything else must be https, trusted through a CA file, a
// pinned certificate fingerprint, or the system's roots.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/certs"
)

// Options configure a Client.
type Options struct {
	Server      string // base URL, e.g. https://patchbay.example:8080
	Token       string
	CAFile      string // trust the server through this PEM bundle
	Fingerprint string // or through its certificate's SHA-256
	Timeout     time.Duration
	UserAgent   string
}

// Client talks to one patchbay server.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	ua    string
}

// New checks opt and returns a client.
func New(opt Options) (*Client, error) {
	if opt.Server == "" {
		return nil, errors.New("no server: give --server URL (or run patchbay login)")
	}
	u, err := url.Parse(strings.TrimRight(opt.Server, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("server %q is not an http(s) URL such as https://patchbay.example:8080", opt.Server)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("server %s: plain http is allowed only to loopback; use https (with --ca or --server-fingerprint for a self-signed server)", u.Host)
	}
	if u.Scheme == "http" && (opt.CAFile != "" || opt.Fingerprint != "") {
		return nil, fmt.Errorf("server %s is plain http: --ca and --server-fingerprint need https", u.Host)
	}
	tlsCfg, err := certs.ClientConfig(opt.CAFile, opt.Fingerprint)
	if err != nil {
		return nil, err
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 64
	ua := opt.UserAgent
	if ua == "" {
		ua = "patchbay-client"
	}
	return &Client{base: u, token: opt.Token, http: &http.Client{Transport: tr, Timeout: timeout}, ua: ua}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is an error answer of the server.
type Error struct {
	Status  int
	Problem apiv1.Problem
}

func (e *Error) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Problem.Field != "" && !strings.HasPrefix(msg, e.Problem.Field+":") {
		msg = e.Problem.Field + ": " + msg
	}
	return fmt.Sprintf("server answered %d: %s", e.Status, msg)
}

// Code returns the domain error code of the answer.
func (e *Error) Code() patchbay.ErrorCode { return patchbay.ErrorCode(e.Problem.Code) }

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.url(path)
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

// send adds credentials, sends req and decodes a JSON answer into out
// (when not nil); an error answer becomes an *Error.
func (c *Client) send(req *http.Request, out any) error {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e.Problem) != nil {
			e.Problem.Detail = strings.TrimSpace(string(b))
		}
		return e
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(writerTo); ok {
		return w(resp.Body)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// WithToken returns a client like c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// Healthz asks whether the server process answers.
func (c *Client) Healthz(ctx context.Context) (apiv1.Health, error) {
	var h apiv1.Health
	return h, c.do(ctx, "GET", "/healthz", nil, nil, &h)
}

// Readyz asks whether the server and its store are ready.
func (c *Client) Readyz(ctx context.Context) (apiv1.Health, error) {
	var h apiv1.Health
	return h, c.do(ctx, "GET", "/readyz", nil, nil, &h)
}

// WhoAmI returns the signed-in user.
func (c *Client) WhoAmI(ctx context.Context) (apiv1.WhoAmI, error) {
	var w apiv1.WhoAmI
	return w, c.do(ctx, "GET", "/api/v1/whoami", nil, nil, &w)
}

// Roles returns the roles and their permissions.
func (c *Client) Roles(ctx context.Context) ([]apiv1.RoleInfo, error) {
	var l apiv1.List[apiv1.RoleInfo]
	return l.Items, c.do(ctx, "GET", "/api/v1/roles", nil, nil, &l)
}

// writerTo, passed as send's out, takes the raw answer body.
type writerTo func(io.Reader) error

// url returns the server's URL of path, an already escaped path such as
// "/api/v1/packages/golang.org%2Fx%2Fnet/hosts": escaped slashes stay
// escaped.
func (c *Client) url(path string) url.URL {
	u := *c.base
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		unescaped = path
	}
	u.RawPath = c.base.EscapedPath() + path
	u.Path += unescaped
	return u
}
