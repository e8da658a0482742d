package feedload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay"
)

// Validators are what a server said about the copy of a feed last fetched,
// sent back so that it can answer 304 Not Modified.
type Validators struct {
	ETag         string // sent as If-None-Match
	LastModified string // sent as If-Modified-Since, as the server wrote it
}

// FetchResult is the answer to a Fetch.
type FetchResult struct {
	NotModified  bool   // 304: the copy behind the Validators is current; Data is nil
	Data         []byte // the whole body of a 2xx answer
	ETag         string // the validators to send next time: the server's,
	LastModified string // or those sent if a 304 did not repeat them
	ContentType  string
}

// maxRedirects is how many redirects Fetch follows, as net/http does.
const maxRedirects = 10

// Fetch gets rawURL with client (http.DefaultClient if nil), sending v as
// If-None-Match and If-Modified-Since. It returns the whole body of a 2xx
// answer, or NotModified for a 304 (an error if no validators were sent:
// there is no copy to keep).
//
// rawURL must be http or https and carry no user name or password. Fetch
// follows redirects on a copy of client whose CheckRedirect refuses any
// target but http and https, a target with credentials, a step from https
// down to http, and more than 10 redirects (client's own CheckRedirect, if
// any, is then asked too).
//
// Errors are *patchbay.Error: EInvalid for a URL or redirect refused;
// EUnavailable for a failed connection, a status other than 2xx and 304
// (206 too, as no range was asked for), a body shorter than its
// Content-Length or cut off, and a context that ends first; ETooLarge for a
// body over maxBytes (counted after any Content-Encoding is undone). Their
// messages never show credentials. Time limits are the caller's: set them on
// ctx or client.Timeout, or a server that never answers is waited for
// forever.
func Fetch(ctx context.Context, client *http.Client, rawURL string, v Validators, maxBytes int64) (FetchResult, error) {
	u, err := checkURL(rawURL)
	if err != nil {
		return FetchResult{}, err
	}
	where := u.Redacted()
	if maxBytes <= 0 {
		return FetchResult{}, fmt.Errorf("fetch feed %s: maxBytes %d: must be positive", where, maxBytes)
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = checkRedirect(client.CheckRedirect)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return FetchResult{}, patchbay.Errorf(patchbay.EInvalid, "fetch feed %s: %v", where, err)
	}
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.Do(req)
	if err != nil {
		return FetchResult{}, fetchError(ctx, where, err)
	}
	defer resp.Body.Close()
	res := FetchResult{
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		ContentType: resp.Header.Get("Content-Type"),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && v == (Validators{}):
		return FetchResult{}, patchbay.Errorf(patchbay.EUnavailable, "fetch feed %s: the server answered 304 Not Modified to a request without validators", where)
	case resp.StatusCode == http.StatusNotModified:
		if res.ETag == "" {
			res.ETag = v.ETag
		}
		if res.LastModified == "" {
			res.LastModified = v.LastModified
		}
		res.NotModified = true
		return res, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299 || resp.StatusCode == http.StatusPartialContent:
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return FetchResult{}, &patchbay.Error{
			Code:    patchbay.EUnavailable,
			Message: fmt.Sprintf("fetch feed %s: the server answered %s", where, resp.Status),
			Err:     fmt.Errorf("body begins %s", strconv.Quote(string(snippet))),
		}
	}
	if resp.ContentLength > maxBytes {
		return FetchResult{}, patchbay.Errorf(patchbay.ETooLarge, "fetch feed %s: the body is %d bytes, more than the limit of %d", where, resp.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, io.ErrUnexpectedEOF) {
			return FetchResult{}, &patchbay.Error{
				Code:    patchbay.EUnavailable,
				Message: fmt.Sprintf("fetch feed %s: the body was cut off after %d bytes (Content-Length %d): a truncated download; nothing is kept", where, len(data), resp.ContentLength),
				Err:     err,
			}
		}
		return FetchResult{}, fetchError(ctx, where, err)
	}
	if int64(len(data)) > maxBytes {
		return FetchResult{}, patchbay.Errorf(patchbay.ETooLarge, "fetch feed %s: the body is more than the limit of %d bytes", where, maxBytes)
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		// net/http reports a short body as io.ErrUnexpectedEOF; this is the
		// belt to its braces.
		return FetchResult{}, patchbay.Errorf(patchbay.EUnavailable, "fetch feed %s: the body has %d bytes but Content-Length says %d: a truncated download; nothing is kept", where, len(data), resp.ContentLength)
	}
	res.Data = data
	return res, nil
}

// checkURL parses rawURL, accepting absolute http and https URLs with a host
// and without credentials.
func checkURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the URL, which may hold a password.
		return nil, patchbay.Errorf(patchbay.EInvalid, "fetch feed: not a URL: want https://HOST/PATH or http://HOST/PATH")
	}
	where := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, patchbay.Errorf(patchbay.EInvalid, "fetch feed %s: only http and https URLs are fetched, not %q", where, u.Scheme)
	case u.User != nil:
		return nil, patchbay.Errorf(patchbay.EInvalid, "fetch feed %s: the URL carries a user name or password, which would be stored and logged with it; give a URL without credentials", where)
	case u.Host == "":
		return nil, patchbay.Errorf(patchbay.EInvalid, "fetch feed %s: no host", where)
	}
	return u, nil
}

// checkRedirect returns a CheckRedirect that refuses what Fetch refuses,
// then asks next, if any.
func checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		to := req.URL.Redacted()
		switch {
		case req.URL.Scheme != "http" && req.URL.Scheme != "https":
			return patchbay.Errorf(patchbay.EInvalid, "redirected to %s: only http and https are followed", to)
		case req.URL.User != nil:
			return patchbay.Errorf(patchbay.EInvalid, "redirected to %s: a URL with credentials is not followed", to)
		case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http":
			return patchbay.Errorf(patchbay.EInvalid, "redirected from https to %s: a step down to plain http is not followed", to)
		case len(via) >= maxRedirects:
			return patchbay.Errorf(patchbay.EUnavailable, "stopped after %d redirects", maxRedirects)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// fetchError turns an error of the request or body into a *patchbay.Error.
func fetchError(ctx context.Context, where string, err error) error {
	var pe *patchbay.Error
	if errors.As(err, &pe) { // from checkRedirect
		return &patchbay.Error{Code: pe.Code, Message: "fetch feed " + where + ": " + pe.Message}
	}
	if ctx.Err() != nil {
		return &patchbay.Error{Code: patchbay.EUnavailable, Message: fmt.Sprintf("fetch feed %s: no complete answer before the deadline or cancellation", where), Err: ctx.Err()}
	}
	// url.Error repeats the URL; keep its cause only.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if strings.Contains(msg, "Client.Timeout") || errors.Is(err, context.DeadlineExceeded) {
		msg = "no complete answer within the client's timeout"
	}
	return &patchbay.Error{Code: patchbay.EUnavailable, Message: fmt.Sprintf("fetch feed %s: %s", where, msg), Err: err}
}
