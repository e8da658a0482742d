package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
)

// TestBadInputChangesNothing sends malformed bodies and checks the status,
// that the problem names the field, and that the audit trail (which every
// change appends to) did not grow.
func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, store.SQLite)
	admin := f.tokens[patchbay.RoleAdmin]
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"unknown field", "POST", "/api/v1/users", `{"name":"x","role":"viewer","admin":true}`, 400, "admin"},
		{"wrong type", "POST", "/api/v1/users", `{"name":42,"role":"viewer"}`, 400, "name"},
		{"bad enum", "POST", "/api/v1/users", `{"name":"x","role":"root"}`, 422, "role"},
		{"bad name", "POST", "/api/v1/users", `{"name":"X Y","role":"viewer"}`, 422, "name"},
		{"malformed", "POST", "/api/v1/users", `{"name":"x",`, 400, "body"},
		{"empty", "POST", "/api/v1/users", ``, 400, "body"},
		{"trailing", "POST", "/api/v1/users", `{"name":"x","role":"viewer"} {}`, 400, "body"},
		{"oversized", "POST", "/api/v1/users", `{"name":"` + strings.Repeat("a", 5000) + `","role":"viewer"}`, 413, "body"},
		{"array", "POST", "/api/v1/users", `[1,2]`, 400, "body"},
		{"patch nothing", "PATCH", "/api/v1/users/the-viewer", `{}`, 422, "body"},
		{"patch bad role", "PATCH", "/api/v1/users/the-viewer", `{"role":"god"}`, 422, "role"},
		{"patch wrong type", "PATCH", "/api/v1/users/the-viewer", `{"disabled":"yes"}`, 400, "disabled"},
		{"token both expiries", "POST", "/api/v1/tokens", `{"name":"t","expires_in":"1h","expires_at":"2030-01-01T00:00:00Z"}`, 422, "expires_in"},
		{"token bad duration", "POST", "/api/v1/tokens", `{"name":"t","expires_in":"soon"}`, 422, "expires_in"},
		{"token past", "POST", "/api/v1/tokens", `{"name":"t","expires_at":"2001-01-01T00:00:00Z"}`, 422, "expires_at"},
		{"token bad time", "POST", "/api/v1/tokens", `{"name":"t","expires_at":"tomorrow"}`, 400, "expires_at"},
		{"token no name", "POST", "/api/v1/tokens", `{}`, 422, "name"},
		{"token unknown user", "POST", "/api/v1/tokens", `{"name":"t","user":"nobody"}`, 404, "user"},
		{"revoke bad id", "DELETE", "/api/v1/tokens/abc", ``, 400, "id"},
		{"packages of a missing host", "GET", "/api/v1/hosts/99999/packages", ``, 404, ""},
		{"hosts bad limit", "GET", "/api/v1/hosts?limit=0", ``, 400, "limit"},
		{"hosts unknown filter", "GET", "/api/v1/hosts?lable=prod", ``, 400, "lable"},
		{"audit bad since", "GET", "/api/v1/audit?since=yesterday", ``, 400, "since"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, f)
			w := f.do(t, tc.method, tc.path, admin, tc.body, false)
			if w.Code != tc.status {
				t.Fatalf("%s %s %s: status %d, want %d: %s", tc.method, tc.path, tc.body, w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p apiv1.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("problem body %s: %v", w.Body, err)
			}
			if p.Status != tc.status || p.Field != tc.field || p.Detail == "" || p.Type == "" {
				t.Errorf("problem = %+v, want status %d naming field %q", p, tc.status, tc.field)
			}
			if after := auditCount(t, f); after != before {
				t.Errorf("audit grew from %d to %d entries: the bad request changed something", before, after)
			}
		})
	}
	// A body that is not declared as JSON is refused too.
	r := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(`{"name":"x","role":"viewer"}`))
	r.Header.Set("Authorization", "Bearer "+admin)
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	f.server.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "Content-Type") {
		t.Fatalf("text/plain body: %d %s, want 400 naming Content-Type", w.Code, w.Body)
	}
}

func auditCount(t testing.TB, f *fixture) int64 {
	t.Helper()
	n, err := f.store.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTokenLifecycle creates, uses, lists and revokes a token through the
// API, and checks that revocation stops it at once and that a user cannot
// touch another user's tokens.
func TestTokenLifecycle(t *testing.T) {
	f := newFixture(t, store.SQLite)
	op := f.tokens[patchbay.RoleOperator]
	w := f.do(t, "POST", "/api/v1/tokens", op, `{"name":"ci","expires_in":"24h"}`, false)
	if w.Code != http.StatusCreated {
		t.Fatalf("create token: %d %s", w.Code, w.Body)
	}
	var created apiv1.CreatedToken
	json.Unmarshal(w.Body.Bytes(), &created)
	if created.Secret == "" || created.ExpiresAt == nil || created.UserName != "the-operator" {
		t.Fatalf("created token = %+v, want a secret, an expiry and the caller as owner", created)
	}
	if w := f.do(t, "GET", "/api/v1/whoami", created.Secret, "", false); w.Code != 200 || !strings.Contains(w.Body.String(), `"the-operator"`) {
		t.Fatalf("whoami with new token: %d %s", w.Code, w.Body)
	}
	// Listing never shows secrets or hashes.
	w = f.do(t, "GET", "/api/v1/tokens", op, "", false)
	if strings.Contains(w.Body.String(), created.Secret) || strings.Contains(w.Body.String(), "hash") {
		t.Fatalf("token listing leaks secrets: %s", w.Body)
	}
	// The operator may not create tokens for others, nor list everyone's.
	if w := f.do(t, "POST", "/api/v1/tokens", op, `{"name":"x","user":"the-admin"}`, false); w.Code != 403 {
		t.Fatalf("operator creating admin's token: %d, want 403", w.Code)
	}
	if w := f.do(t, "GET", "/api/v1/tokens?all=true", op, "", false); w.Code != 403 {
		t.Fatalf("operator listing all tokens: %d, want 403", w.Code)
	}
	// Nor revoke the viewer's token: it is as if it did not exist.
	if w := f.do(t, "DELETE", f.samplePath("/api/v1/tokens/{id}"), op, "", false); w.Code != 404 {
		t.Fatalf("operator revoking viewer's token: %d, want 404", w.Code)
	}
	path := "/api/v1/tokens/" + jsonInt(created.ID)
	if w := f.do(t, "DELETE", path, op, "", false); w.Code != 200 {
		t.Fatalf("revoke own token: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "GET", "/api/v1/whoami", created.Secret, "", false); w.Code != 401 {
		t.Fatalf("whoami with revoked token: %d, want 401", w.Code)
	}
	// Every change is in the audit trail, under the operator's name.
	w = f.do(t, "GET", "/api/v1/audit?actor=user:the-operator", f.tokens[patchbay.RoleAdmin], "", false)
	var evs apiv1.List[patchbay.AuditEvent]
	json.Unmarshal(w.Body.Bytes(), &evs)
	if len(evs.Items) != 2 || evs.Items[0].Action != "token.create" || evs.Items[1].Action != "token.revoke" {
		t.Fatalf("operator's audit trail = %+v, want token.create then token.revoke", evs.Items)
	}
	if strings.Contains(w.Body.String(), created.Secret) {
		t.Fatalf("audit trail holds a token secret")
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestNotFoundIsProblem(t *testing.T) {
	f := newFixture(t, store.SQLite)
	w := f.do(t, "GET", "/api/v1/nothing", "", "", false)
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	w = f.do(t, "PUT", "/api/v1/users", f.tokens[patchbay.RoleAdmin], "", false)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("wrong method: %d, want 405", w.Code)
	}
}

// TestInventoryUploadLimits sends a gzip bomb (a small upload that inflates
// past the limit), a damaged table and a body of the wrong type: each is
// refused with a 4xx and stores nothing.
func TestInventoryUploadLimits(t *testing.T) {
	f := newFixture(t, store.SQLite)
	send := func(body []byte, encoding, ctype string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("PUT", protocol.PathInventory, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+f.hostToken)
		r.Header.Set("Content-Type", ctype)
		if encoding != "" {
			r.Header.Set("Content-Encoding", encoding)
		}
		w := httptest.NewRecorder()
		f.server.ServeHTTP(w, r)
		return w
	}
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte("{\"hash\":\"x\"}\n"))
	zeros := make([]byte, 1<<20)
	for range protocol.MaxInventoryBytes>>20 + 1 {
		zw.Write(zeros)
	}
	zw.Close()
	for _, tc := range []struct {
		name           string
		body           []byte
		encoding, kind string
		status         int
	}{
		{"gzip bomb", bomb.Bytes(), "gzip", protocol.ContentTypeInventory, 413},
		{"not gzip", []byte("plain"), "gzip", protocol.ContentTypeInventory, 400},
		{"damaged table", []byte("{\"hash\":\"x\"}\ndeb\tbash\n"), "", protocol.ContentTypeInventory, 400},
		{"truncated table", []byte("{\"hash\":\"x\"}\ndeb\tbash\t1\tamd64\t\t"), "", protocol.ContentTypeInventory, 400},
		{"json body", []byte(`{"hash":"x","packages":[]}`), "", "application/json", 400},
		{"brotli", []byte("x"), "br", protocol.ContentTypeInventory, 400},
		{"hash mismatch", []byte("{\"hash\":\"" + strings.Repeat("0", 64) + "\"}\ndeb\tbash\t1\tamd64\t\t\n"), "", protocol.ContentTypeInventory, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := send(tc.body, tc.encoding, tc.kind)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			hosts, _ := f.store.Hosts(context.Background(), patchbay.HostFilter{Limit: 10})
			for _, h := range hosts {
				if full, _ := f.store.Host(context.Background(), h.ID); full.Inventory != nil {
					t.Fatalf("a refused upload stored an inventory for host %d", h.ID)
				}
			}
		})
	}
}
