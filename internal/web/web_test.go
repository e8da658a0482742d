package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
	"github.com/patchbay/patchbay/internal/web"
)

// fixture is a server with one user and token per role.
type fixture struct {
	store  *store.Store
	server *web.Server
	tokens map[patchbay.Role]string
	spare  int64 // a token of the-viewer that route walks may revoke

	enrollSecret string // a valid enroll secret
	hostToken    string // the token of an enrolled host
	victimHost   int64  // a host that route walks may retire
	victimSecret int64  // an enroll secret that route walks may revoke
}

func newFixture(t testing.TB, eng store.Engine) *fixture {
	t.Helper()
	s := storetest.Open(t, eng)
	f := &fixture{store: s, server: web.New(web.Config{Store: s, MaxBodyBytes: 4096, Rollout: rollout.NewController(s, rollout.Options{Holder: "test"})}),
		tokens: map[patchbay.Role]string{}}
	ctx := context.Background()
	for _, role := range patchbay.Roles {
		name := "the-" + string(role)
		if _, err := s.CreateUser(ctx, "system", name, role); err != nil {
			t.Fatal(err)
		}
		_, secret, err := s.CreateToken(ctx, "system", name, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[role] = secret
	}
	spare, _, err := s.CreateToken(ctx, "system", "the-viewer", "spare", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.spare = spare.ID
	_, secret, err := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "fixture"})
	if err != nil {
		t.Fatal(err)
	}
	f.enrollSecret = secret
	e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: "fixture-host", MachineID: "0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	f.hostToken = e.HostToken
	victim, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: "victim-host"}})
	if err != nil {
		t.Fatal(err)
	}
	f.victimHost = victim.HostID
	vs, _, err := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "victim"})
	if err != nil {
		t.Fatal(err)
	}
	f.victimSecret = vs.ID
	return f
}

// do sends a request from loopback (or from remote) with token and body.
func (f *fixture) do(t testing.TB, method, path, token, body string, remote bool) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = "127.0.0.1:40000"
	if remote {
		r.RemoteAddr = "192.0.2.10:40000"
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
		if path == protocol.PathInventory {
			r.Header.Set("Content-Type", protocol.ContentTypeInventory)
		}
	}
	w := httptest.NewRecorder()
	f.server.ServeHTTP(w, r)
	return w
}

// samplePath fills a route pattern's parameters with values that exist.
func (f *fixture) samplePath(pattern string) string {
	id := f.spare
	switch {
	case strings.HasPrefix(pattern, "/api/v1/hosts/"):
		id = f.victimHost
	case strings.HasPrefix(pattern, "/api/v1/enroll-secrets/"):
		id = f.victimSecret
	}
	name := "the-viewer"
	if strings.HasPrefix(pattern, "/api/v1/packages/") {
		name = "bash"
	}
	return strings.NewReplacer("{name}", name, "{id}", fmt.Sprint(id)).Replace(pattern)
}

// sampleBody returns a valid body for routes that take one.
func (f *fixture) sampleBody(rt web.Route) string {
	switch rt.Method + " " + rt.Pattern {
	case "POST /api/v1/users":
		return `{"name":"newuser","role":"viewer"}`
	case "PATCH /api/v1/users/{name}":
		return `{"role":"viewer"}`
	case "POST /api/v1/tokens":
		return `{"name":"another"}`
	case "PATCH /api/v1/hosts/{id}":
		return `{"owner":"team-a"}`
	case "POST /api/v1/hosts/{id}/resolve-duplicate":
		return `{"action":"keep"}`
	case "POST /api/v1/policies", "PUT /api/v1/policies/{id}":
		return `{"name":"route-walk","enabled":true,"selector":{"labels":["prod"]},"windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"Europe/Berlin"}]}`
	case "POST /api/v1/exceptions":
		return `{"advisory":"DSA-0000-1","reason":"accepted for the route walk","expires_at":"` + time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339) + `"}`
	case "POST /api/v1/exceptions/{id}/decision", "POST /api/v1/deployments/{id}/decision":
		return `{"decision":"approve","comment":"route walk"}`
	case "POST /agent/v1/jobs/poll":
		return `{"wait_seconds":0}`
	case "POST /agent/v1/jobs/{id}/result":
		return `{"attempt":1,"status":"succeeded","started":"2026-12-04T00:00:00Z","finished":"2026-12-04T00:01:00Z"}`
	case "POST /api/v1/deployments":
		return `{"name":"route walk","hosts":[` + fmt.Sprint(f.victimHost) + `],"windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"UTC"}]}`
	case "POST /api/v1/deployments/{id}/action":
		return `{"action":"pause"}`
	case "POST /api/v1/enroll-secrets":
		return `{"name":"more","max_uses":10}`
	case "POST /agent/v1/checkin":
		return `{"facts":{"hostname":"fixture-host"},"inventory_hash":"` + strings.Repeat("a", 64) + `"}`
	case "PUT /agent/v1/inventory":
		inv := protocol.Inventory{Packages: []protocol.Package{{Ecosystem: "deb", Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64"}}, Updates: []protocol.Update{}}
		inv.Hash = protocol.InventoryHash(inv)
		var b strings.Builder
		protocol.EncodeInventory(&b, inv)
		return b.String()
	}
	return ""
}

// TestRouteClasses walks every registered route with no token, a malformed
// token, a well-formed unknown token, and a token of each role, from
// loopback and from elsewhere, and checks each answer against the route's
// class and permission.
func TestRouteClasses(t *testing.T) {
	f := newFixture(t, store.SQLite)
	unknown, _ := patchbay.NewSecret(patchbay.TokenPrefix)
	for _, rt := range f.server.Routes() {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			path := f.samplePath(rt.Pattern)
			body := f.sampleBody(rt)
			if rt.Class == web.ClassEnroll {
				// The credential is the secret in the body; tokens do not count.
				for _, tok := range append(allTokens(f), "") {
					if w := f.do(t, rt.Method, path, tok, `{"enroll_secret":"pbe_nope","facts":{"hostname":"x"}}`, true); w.Code != http.StatusUnauthorized {
						t.Errorf("bad enroll secret with token %.8q: status %d, want 401", tok, w.Code)
					}
				}
				w := f.do(t, rt.Method, path, "", `{"enroll_secret":"`+f.enrollSecret+`","facts":{"hostname":"new-host"}}`, true)
				if w.Code != http.StatusCreated {
					t.Errorf("valid enroll secret: status %d, want 201: %s", w.Code, w.Body)
				}
				return
			}
			if rt.Class == web.ClassAgent {
				for _, tok := range append(allTokens(f), "", "garbage", unknown) {
					if w := f.do(t, rt.Method, path, tok, body, true); w.Code != http.StatusUnauthorized {
						t.Errorf("user or bad token %.8q on an agent route: status %d, want 401", tok, w.Code)
					}
				}
				// A route naming an object this host has none of answers 404
				// once the token passed.
				if w := f.do(t, rt.Method, path, f.hostToken, body, true); w.Code >= 300 && !(strings.Contains(rt.Pattern, "{id}") && w.Code == http.StatusNotFound) {
					t.Errorf("host token: status %d, want success: %s", w.Code, w.Body)
				}
				return
			}
			// No user route accepts a host token.
			if rt.Class == web.ClassUser || rt.Class == web.ClassMetrics {
				if w := f.do(t, rt.Method, path, f.hostToken, body, true); w.Code != http.StatusUnauthorized {
					t.Errorf("host token on a %s route: status %d, want 401", rt.Class, w.Code)
				}
			}
			for _, remote := range []bool{false, true} {
				for _, cred := range []struct{ name, token string }{{"no token", ""}, {"garbage", "garbage"}, {"unknown", unknown}} {
					w := f.do(t, rt.Method, path, cred.token, body, remote)
					needsToken := rt.Class == web.ClassUser || (rt.Class == web.ClassMetrics && remote)
					if needsToken && w.Code != http.StatusUnauthorized {
						t.Errorf("%s, remote=%v: status %d, want 401", cred.name, remote, w.Code)
					}
					if !needsToken && cred.token == "" && w.Code != http.StatusOK {
						t.Errorf("%s, remote=%v: status %d, want 200 on a %s route", cred.name, remote, w.Code, rt.Class)
					}
				}
				for _, role := range patchbay.Roles {
					w := f.do(t, rt.Method, path, f.tokens[role], body, remote)
					allowed := rt.Class == web.ClassPublic || (rt.Class == web.ClassMetrics && !remote) || rt.Perm == "" || role.Can(rt.Perm)
					switch {
					case allowed && (w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden):
						t.Errorf("role %s, remote=%v: status %d, want access (%s)", role, remote, w.Code, w.Body)
					case allowed && w.Code >= 500:
						t.Errorf("role %s, remote=%v: status %d: %s", role, remote, w.Code, w.Body)
					case !allowed && w.Code != http.StatusForbidden:
						t.Errorf("role %s lacks %s, remote=%v: status %d, want 403", role, rt.Perm, remote, w.Code)
					}
				}
			}
		})
	}
}

func allTokens(f *fixture) []string {
	var out []string
	for _, r := range patchbay.Roles {
		out = append(out, f.tokens[r])
	}
	return out
}

// TestOpenAPIMatchesRoutes holds the served document equal to the routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t, store.SQLite)
	w := f.do(t, "GET", "/api/v1/openapi.json", "", "", true)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.OpenAPI == "" {
		t.Fatalf("openapi.json does not parse as OpenAPI: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Class string `json:"x-patchbay-class"`
				Perm  string `json:"x-patchbay-permission"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[fmt.Sprintf("%s %s %s %s", strings.ToUpper(method), path, op.Class, op.Perm)] = true
		}
	}
	for _, rt := range f.server.Routes() {
		key := fmt.Sprintf("%s %s %s %s", rt.Method, rt.Pattern, rt.Class, rt.Perm)
		if !documented[key] {
			t.Errorf("route %q is not in openapi.json (method, path, class and permission must match)", key)
		}
		delete(documented, key)
	}
	for key := range documented {
		t.Errorf("openapi.json documents %q, which is not a route", key)
	}
}
