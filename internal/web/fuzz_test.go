package web_test

import (
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
)

// FuzzBodies sends arbitrary bodies to every route that takes one. Any
// answer but success must be a 4xx problem and change nothing; nothing may
// answer 5xx.
func FuzzBodies(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/users"},
		{"PATCH", "/api/v1/users/the-viewer"},
		{"POST", "/api/v1/tokens"},
		{"POST", "/api/v1/policies"},
		{"PUT", "/api/v1/policies/1"},
		{"POST", "/api/v1/exceptions"},
		{"POST", "/api/v1/exceptions/1/decision"},
		{"POST", "/api/v1/deployments/1/decision"},
	}
	for i, body := range []string{
		`{"name":"alice","role":"operator"}`, `{"name":"x","role":"root"}`, `{"role":"approver"}`, `{"disabled":true}`,
		`{"name":"ci","expires_in":"720h"}`, `{"name":"ci","expires_at":"2030-01-01T00:00:00Z","user":"the-viewer"}`,
		`{"name":"ci","expires_in":"-1h"}`, `{}`, `[]`, `null`, `{"name":"\u0000"}`, `{"role":{"x":1}}`,
		// The policy of docs/policies.md, and broken ones.
		`{"name":"prod critical","enabled":true,"priority":10,"selector":{"labels":["prod"]},"updates":{"classes":["critical"]},` +
			`"windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"Europe/Berlin"}],"sla":{"critical":7,"high":14,"medium":30,"low":90,"unknown":30}}`,
		`{"name":"x","windows":[{"cron":"61 2 * * *","duration":"3h","zone":"UTC"}]}`,
		`{"name":"x","windows":[{"cron":"0 2 * * *","duration":"3 hours","zone":"Mars/Olympus"}],"sla":{"critical":0}}`,
		`{"name":"x","version":1,"rings":[{"name":"a","percent":200},{"name":"a"}],"windows":[]}`,
		`{"advisory":"DSA-5532-1","group":"dmz","reason":"compensating control","expires_at":"2030-01-01T00:00:00Z"}`,
		`{"package":"openssl","reason":"short","expires_at":"1999-01-01T00:00:00Z"}`,
		`{"decision":"approve","comment":"checked"}`, `{"decision":"maybe","comment":""}`,
	} {
		f.Add(uint8(i), body)
	}
	fx := newFixture(f, store.SQLite)
	admin := fx.tokens[patchbay.RoleAdmin]
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		rt := routes[int(which)%len(routes)]
		before := auditCount(t, fx)
		w := fx.do(t, rt.method, rt.path, admin, body, false)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s %q: status %d: %s", rt.method, rt.path, body, w.Code, w.Body)
		case w.Code >= 400:
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s %s %q: status %d with Content-Type %q", rt.method, rt.path, body, w.Code, ct)
			}
			if after := auditCount(t, fx); after != before {
				t.Fatalf("%s %s %q: refused with %d but the audit grew", rt.method, rt.path, body, w.Code)
			}
		}
	})
}
