package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// TestNewerSchemaRefused records a migration this build does not know, as a
// newer patchbay would, and checks that Open refuses and changes nothing.
func TestNewerSchemaRefused(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			loc := storetest.Location(t, eng)
			s, err := store.Open(ctx, loc, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			db := rawDB(t, loc)
			future := store.SchemaVersion() + 1
			if _, err := db.Exec(fmt.Sprintf("INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, true)", future)); err != nil {
				t.Fatal(err)
			}
			var before int
			db.QueryRow("SELECT COUNT(*) FROM goose_db_version").Scan(&before)
			_, err = store.Open(ctx, loc, store.Options{})
			if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade patchbay") {
				t.Fatalf("Open of a newer schema: err = %v, want ErrNewerSchema with advice", err)
			}
			var after int
			db.QueryRow("SELECT COUNT(*) FROM goose_db_version").Scan(&after)
			if after != before {
				t.Fatalf("refused Open changed goose_db_version: %d rows, then %d", before, after)
			}
		})
	}
}

// TestConcurrentMigration starts several stores against one empty
// PostgreSQL schema at once: one migrates, the others wait, and all end on
// the current schema with one chain.
func TestConcurrentMigration(t *testing.T) {
	url := storetest.NewSchema(t)
	loc := store.Location{Engine: store.Postgres, URL: url}
	ctx := context.Background()
	var wg sync.WaitGroup
	stores := make([]*store.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = store.Open(ctx, loc, store.Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	for i, s := range stores {
		if _, err := s.CreateUser(ctx, "system", fmt.Sprintf("u%d", i), patchbay.RoleViewer); err != nil {
			t.Fatalf("CreateUser through store %d: %v", i, err)
		}
	}
	db := rawDB(t, loc)
	var applied int
	if err := db.QueryRow("SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != int(store.SchemaVersion()) {
		t.Fatalf("goose_db_version has %d migrations applied, want %d (each once)", applied, store.SchemaVersion())
	}
	if n, err := stores[0].VerifyAudit(ctx); err != nil || n != 4 {
		t.Fatalf("VerifyAudit = %d, %v; want 4 intact", n, err)
	}
}

func TestOpenUnavailable(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err = store.Open(ctx, store.Location{Engine: store.Postgres, URL: "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2"}, store.Options{})
	if patchbay.ErrorCodeOf(err) != patchbay.EUnavailable || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Open of an unreachable server: err = %v, want unavailable naming %s", err, addr)
	}
	_, err = store.Open(ctx, store.Location{Engine: store.SQLite, Path: "/proc/no/such/dir/x.db"}, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "/proc/no/such/dir") {
		t.Fatalf("Open of an impossible SQLite path: err = %v, want an error naming it", err)
	}
}
