package web_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
	"github.com/patchbay/patchbay/internal/web"
)

// TestStoreOutage cuts the server's PostgreSQL connection through a loopback
// proxy: requests answer 503 with Retry-After while it is down, and the
// server recovers by itself when it returns.
func TestStoreOutage(t *testing.T) {
	base, err := url.Parse(storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, base.Host)
	base.Host = proxy.Addr()
	q := base.Query()
	q.Set("connect_timeout", "2")
	base.RawQuery = q.Encode()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Location{Engine: store.Postgres, URL: base.String()}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boot, err := s.Bootstrap(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, server: web.New(web.Config{Store: s}), tokens: map[patchbay.Role]string{patchbay.RoleAdmin: boot.Secret}}
	admin := boot.Secret
	n := 0
	check := func(when string, want int) {
		t.Helper()
		n++
		for _, rq := range []struct{ method, path, body string }{
			{"GET", "/readyz", ""},
			{"GET", "/api/v1/users", ""},
			{"POST", "/api/v1/users", fmt.Sprintf(`{"name":"u%d","role":"viewer"}`, n)},
		} {
			w := f.do(t, rq.method, rq.path, admin, rq.body, false)
			got := w.Code
			if got == 201 {
				got = 200
			}
			if got != want {
				t.Errorf("%s: %s %s = %d, want %d: %s", when, rq.method, rq.path, w.Code, want, w.Body)
			}
			if want == 503 && w.Header().Get("Retry-After") == "" {
				t.Errorf("%s: %s %s: 503 without Retry-After", when, rq.method, rq.path)
			}
		}
	}
	check("before the outage", 200)
	proxy.Cut()
	check("during the outage", 503)
	proxy.Restore()
	check("after the outage", 200)
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatalf("audit chain after the outage: %v", err)
	}
}
