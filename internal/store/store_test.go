package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

func TestParseLocation(t *testing.T) {
	tests := []struct {
		name, in, dataDir string
		want              store.Location
		wantErr           string
	}{
		{"default", "", "/d", store.Location{Engine: store.SQLite, Path: "/d/patchbay.db"}, ""},
		{"sqlite colon", "sqlite:", "/d", store.Location{Engine: store.SQLite, Path: "/d/patchbay.db"}, ""},
		{"relative file", "sqlite:x.db", "/d", store.Location{Engine: store.SQLite, Path: "/d/x.db"}, ""},
		{"absolute file", "sqlite:/tmp/x.db", "/d", store.Location{Engine: store.SQLite, Path: "/tmp/x.db"}, ""},
		{"postgres", "postgres://u@h/db", "", store.Location{Engine: store.Postgres, URL: "postgres://u@h/db"}, ""},
		{"postgresql", "postgresql://u@h/db", "", store.Location{Engine: store.Postgres, URL: "postgresql://u@h/db"}, ""},
		{"no data dir", "sqlite:", "", store.Location{}, "needs a data directory"},
		{"mysql", "mysql://h/db", "/d", store.Location{}, "not a database location"},
		{"bad postgres", "postgres://u@h:notaport/db", "", store.Location{}, "postgres URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.ParseLocation(tt.in, tt.dataDir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLocation(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLocation(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLocationStringHidesPassword(t *testing.T) {
	l := store.Location{Engine: store.Postgres, URL: "postgres://u:secret@h/db"}
	if s := l.String(); strings.Contains(s, "secret") {
		t.Fatalf("Location.String() = %q, shows the password", s)
	}
}

func TestUsersAndTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, err := s.CreateUser(ctx, "user:admin", "alice", patchbay.RoleOperator)
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if _, err := s.CreateUser(ctx, "user:admin", "alice", patchbay.RoleViewer); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("CreateUser twice: err = %v, want conflict", err)
		}
		if _, err := s.CreateUser(ctx, "user:admin", "Bad Name", patchbay.RoleViewer); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("CreateUser bad name: err = %v, want unprocessable", err)
		}
		if _, err := s.CreateUser(ctx, "user:admin", "bob", "root"); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("CreateUser bad role: err = %v, want unprocessable", err)
		}
		tok, secret, err := s.CreateToken(ctx, "user:admin", "alice", "laptop", nil)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		if !strings.HasPrefix(secret, patchbay.TokenPrefix) {
			t.Fatalf("secret %q lacks prefix %q", secret, patchbay.TokenPrefix)
		}
		u, got, err := s.Authenticate(ctx, secret)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if u.ID != alice.ID || u.Role != patchbay.RoleOperator || got.ID != tok.ID {
			t.Fatalf("Authenticate = %+v %+v, want alice's token %d", u, got, tok.ID)
		}
		// A well-formed secret that was never issued, and garbage.
		other, _ := patchbay.NewSecret(patchbay.TokenPrefix)
		for _, bad := range []string{other, "", "pbu_short", secret + "x"} {
			if _, _, err := s.Authenticate(ctx, bad); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
				t.Errorf("Authenticate(%q) err = %v, want unauthorized", bad, err)
			}
		}
		toks, err := s.Tokens(ctx, alice.ID)
		if err != nil || len(toks) != 1 || toks[0].Name != "laptop" {
			t.Fatalf("Tokens(alice) = %+v, %v", toks, err)
		}
		if _, err := s.RevokeToken(ctx, "user:bob", tok.ID, alice.ID+1000); patchbay.ErrorCodeOf(err) != patchbay.ENotFound {
			t.Fatalf("RevokeToken of another user's token: err = %v, want not found", err)
		}
		if _, err := s.RevokeToken(ctx, "user:alice", tok.ID, alice.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, _, err := s.Authenticate(ctx, secret); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("Authenticate revoked: err = %v, want unauthorized (revoked)", err)
		}
	})
}

func TestTokenExpiryAndDisabledUser(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			s, err := store.Open(context.Background(), storetest.Location(t, eng), store.Options{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if _, err := s.CreateUser(ctx, "system", "carol", patchbay.RoleViewer); err != nil {
				t.Fatal(err)
			}
			exp := now.Add(time.Hour)
			_, secret, err := s.CreateToken(ctx, "system", "carol", "ci", &exp)
			if err != nil {
				t.Fatal(err)
			}
			past := now.Add(-time.Second)
			if _, _, err := s.CreateToken(ctx, "system", "carol", "old", &past); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
				t.Fatalf("CreateToken expiring in the past: err = %v, want unprocessable", err)
			}
			if _, _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatalf("Authenticate before expiry: %v", err)
			}
			mu.Lock()
			now = exp
			mu.Unlock()
			if _, _, err := s.Authenticate(ctx, secret); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
				t.Fatalf("Authenticate at expiry: err = %v, want unauthorized", err)
			}
			_, secret2, err := s.CreateToken(ctx, "system", "carol", "ci2", nil)
			if err != nil {
				t.Fatal(err)
			}
			yes := true
			if _, err := s.UpdateUser(ctx, "system", "carol", store.UserUpdate{Disabled: &yes}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Authenticate(ctx, secret2); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
				t.Fatalf("Authenticate of disabled user: err = %v, want unauthorized", err)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		res, err := s.Bootstrap(ctx, false)
		if err != nil || !res.CreatedAdmin || res.Secret == "" {
			t.Fatalf("Bootstrap on empty store = %+v, %v; want admin and a token", res, err)
		}
		u, _, err := s.Authenticate(ctx, res.Secret)
		if err != nil || u.Name != "admin" || u.Role != patchbay.RoleAdmin {
			t.Fatalf("bootstrap token authenticates as %+v, %v; want admin", u, err)
		}
		again, err := s.Bootstrap(ctx, false)
		if err != nil || again.CreatedAdmin || again.Secret != "" {
			t.Fatalf("second Bootstrap = %+v, %v; want nothing done", again, err)
		}
		// The last admin cannot be demoted or disabled...
		viewer := patchbay.RoleViewer
		if _, err := s.UpdateUser(ctx, "user:admin", "admin", store.UserUpdate{Role: &viewer}); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("demote last admin: err = %v, want conflict", err)
		}
		// ...and a forced bootstrap mints a new admin token for recovery.
		forced, err := s.Bootstrap(ctx, true)
		if err != nil || forced.CreatedAdmin || forced.Secret == "" {
			t.Fatalf("forced Bootstrap = %+v, %v; want a new token", forced, err)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatalf("VerifyAudit after bootstrap: %v", err)
		}
	})
}

func TestAuditChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// Concurrent changes must still form one unbroken chain.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreateUser(ctx, fmt.Sprintf("user:u%d", i%3), fmt.Sprintf("user%02d", i), patchbay.RoleViewer)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
		}
		n, err := s.VerifyAudit(ctx)
		if err != nil || n != 20 {
			t.Fatalf("VerifyAudit = %d, %v; want 20 entries, intact", n, err)
		}
		evs, err := s.ListAudit(ctx, patchbay.AuditFilter{Actor: "user:u1", Limit: 100})
		if err != nil || len(evs) != 7 {
			t.Fatalf("ListAudit(actor u1) = %d events, %v; want 7", len(evs), err)
		}
		for _, e := range evs {
			if e.Action != "user.create" || e.ObjectType != "user" || !strings.Contains(string(e.After), `"role":"viewer"`) {
				t.Errorf("event %+v: want a user.create with the new user's summary", e)
			}
		}
		evs, err = s.ListAudit(ctx, patchbay.AuditFilter{ObjectType: "user", ObjectID: "user07", Limit: 100})
		if err != nil || len(evs) != 1 {
			t.Fatalf("ListAudit(object user07) = %v, %v; want 1", evs, err)
		}
		evs, err = s.ListAudit(ctx, patchbay.AuditFilter{Since: time.Now().Add(time.Hour), Limit: 100})
		if err != nil || len(evs) != 0 {
			t.Fatalf("ListAudit(since in an hour) = %v, %v; want none", evs, err)
		}
	})
}

// TestAuditTamper edits, deletes and cuts entries the way someone with
// direct access to the database would (dropping the append-only triggers
// first) and checks that verification names the first entry at fault.
func TestAuditTamper(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string
		wantSeq int64
		reason  string
	}{
		{"edit", []string{"UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 3"}, 3, "edited"},
		{"delete middle", []string{"DELETE FROM audit_events WHERE seq = 2"}, 3, "removed"},
		{"cut the end", []string{"DELETE FROM audit_events WHERE seq = 5"}, 5, "removed from the end"},
		{"rehash without chain", []string{"UPDATE audit_events SET prev_hash = 'x' WHERE seq = 4"}, 4, "prev_hash"},
	}
	for _, eng := range storetest.Engines() {
		for _, tc := range cases {
			t.Run(string(eng)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				loc := storetest.Location(t, eng)
				ctx := context.Background()
				s, err := store.Open(ctx, loc, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				for i := range 5 {
					if _, err := s.CreateUser(ctx, "system", fmt.Sprintf("u%d", i), patchbay.RoleViewer); err != nil {
						t.Fatal(err)
					}
				}
				db := rawDB(t, loc)
				// The triggers refuse edits first.
				if _, err := db.Exec(tc.tamper[0]); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Fatalf("%s with triggers in place: err = %v, want append-only refusal", tc.tamper[0], err)
				}
				dropTriggers(t, db, eng)
				for _, q := range tc.tamper {
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				_, err = s.VerifyAudit(ctx)
				var br *patchbay.ChainBreak
				if !errors.As(err, &br) || br.Seq != tc.wantSeq || !strings.Contains(br.Reason, tc.reason) {
					t.Fatalf("VerifyAudit after %s = %v; want a break at %d mentioning %q", tc.name, err, tc.wantSeq, tc.reason)
				}
			})
		}
	}
}

func rawDB(t *testing.T, loc store.Location) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", loc.Path
	if loc.Engine == store.Postgres {
		driver, dsn = "pgx", loc.URL
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func dropTriggers(t *testing.T, db *sql.DB, eng store.Engine) {
	t.Helper()
	stmts := []string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"}
	if eng == store.Postgres {
		stmts = []string{"DROP TRIGGER audit_events_no_change ON audit_events"}
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestHostsFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i, h := range []patchbay.Host{
			{Hostname: "web1", Labels: []string{"prod", "internet-facing"}, Groups: []string{"web"}, Owner: "team-a"},
			{Hostname: "web2", Labels: []string{"prod"}, Groups: []string{"web"}, Owner: "team-b"},
			{Hostname: "db1", Labels: []string{"staging"}, Groups: []string{"db"}, Owner: "team-a"},
		} {
			if _, err := s.CreateHost(ctx, "system", h); err != nil {
				t.Fatalf("CreateHost %d: %v", i, err)
			}
		}
		names := func(f patchbay.HostFilter) string {
			f.Limit = 100
			hs, err := s.Hosts(ctx, f)
			if err != nil {
				t.Fatalf("Hosts(%+v): %v", f, err)
			}
			var n []string
			for _, h := range hs {
				n = append(n, h.Hostname)
			}
			return strings.Join(n, ",")
		}
		for _, tc := range []struct {
			f    patchbay.HostFilter
			want string
		}{
			{patchbay.HostFilter{}, "web1,web2,db1"},
			{patchbay.HostFilter{Label: "prod"}, "web1,web2"},
			{patchbay.HostFilter{Label: "prod", Owner: "team-a"}, "web1"},
			{patchbay.HostFilter{Group: "db"}, "db1"},
			{patchbay.HostFilter{Label: "nothing"}, ""},
			{patchbay.HostFilter{Cursor: 1}, "web2,db1"},
		} {
			if got := names(tc.f); got != tc.want {
				t.Errorf("Hosts(%+v) = %q, want %q", tc.f, got, tc.want)
			}
		}
		hs, _ := s.Hosts(ctx, patchbay.HostFilter{Limit: 1})
		if len(hs) != 1 || strings.Join(hs[0].Labels, ",") != "internet-facing,prod" || hs[0].Groups[0] != "web" {
			t.Fatalf("Hosts(limit 1) = %+v, want web1 with its labels and groups", hs)
		}
	})
}

// TestTokenLastUsed checks that using a token records when, after the
// batched flush, and that authentication itself writes nothing.
func TestTokenLastUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.CreateUser(ctx, "system", "dora", patchbay.RoleViewer); err != nil {
			t.Fatal(err)
		}
		tok, secret, err := s.CreateToken(ctx, "system", "dora", "cli", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		toks, _ := s.Tokens(ctx, tok.UserID)
		if toks[0].LastUsedAt != nil {
			t.Fatalf("last used written before the flush: %v", toks[0].LastUsedAt)
		}
		if err := s.FlushSeen(ctx); err != nil {
			t.Fatal(err)
		}
		toks, _ = s.Tokens(ctx, tok.UserID)
		if toks[0].LastUsedAt == nil {
			t.Fatal("last used not recorded after the flush")
		}
	})
}
