package web

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
)

// principal is who a request acts for.
type principal struct {
	user  *patchbay.User
	token *patchbay.Token
}

type principalKey struct{}

// caller returns the user a ClassUser request acts for.
func caller(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// actor is how the audit trail names the caller.
func (p principal) actor() string { return "user:" + p.user.Name }

// guard wraps a route's handler with its access check and its metrics.
func (s *Server) guard(rt Route) http.Handler {
	check := s.checkerFor(rt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.observe(rt.Method, rt.Pattern, sw.status, time.Since(start)) }()
		r, err := check(r)
		if err != nil {
			writeError(sw, r, s.log, err)
			return
		}
		rt.handler.ServeHTTP(sw, r)
	})
}

// checkerFor returns the access check of rt's class. Every class is handled
// here; an unknown class refuses everything.
func (s *Server) checkerFor(rt Route) func(*http.Request) (*http.Request, error) {
	switch rt.Class {
	case ClassPublic:
		return func(r *http.Request) (*http.Request, error) { return r, nil }
	case ClassMetrics:
		return func(r *http.Request) (*http.Request, error) {
			if fromLoopback(r) {
				return r, nil
			}
			return s.authUser(r, rt.Perm)
		}
	case ClassUser:
		return func(r *http.Request) (*http.Request, error) { return s.authUser(r, rt.Perm) }
	case ClassEnroll:
		// The enroll secret is in the body; the handler checks it.
		return func(r *http.Request) (*http.Request, error) { return r, nil }
	case ClassAgent:
		return s.authHost
	}
	return func(r *http.Request) (*http.Request, error) {
		return r, patchbay.Errorf(patchbay.EForbidden, "route has no access class")
	}
}

// authUser authenticates the bearer token of r and checks that its user's
// role grants perm ("" needs only a valid token).
func (s *Server) authUser(r *http.Request, perm patchbay.Permission) (*http.Request, error) {
	secret, ok := bearer(r)
	if !ok {
		return r, patchbay.Errorf(patchbay.EUnauthorized, "this route needs an API token: send Authorization: Bearer <token>")
	}
	u, tok, err := s.store.Authenticate(r.Context(), secret)
	if err != nil {
		return r, err
	}
	if perm != "" && !u.Role.Can(perm) {
		return r, patchbay.Errorf(patchbay.EForbidden, "role %s lacks permission %s", u.Role, perm)
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{user: u, token: tok})), nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// fromLoopback reports whether r came over a loopback connection.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// statusWriter remembers the status a handler wrote, for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
