// Package storetest opens fresh, isolated stores for tests: a SQLite file in
// the test's temporary directory, and a PostgreSQL schema of its own on the
// test server. Every test that touches the store runs on both engines.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/store"
)

// EnvPostgres names the variable that points tests at a PostgreSQL server
// (a URL). When set, PostgreSQL tests must run: an unreachable server fails
// them instead of skipping them. When unset, tests use 127.0.0.1:5432 if a
// server answers there and skip PostgreSQL, saying why, if none does.
const EnvPostgres = "PATCHBAY_TEST_POSTGRES"

const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Engines lists the engines a test should run on.
func Engines() []store.Engine { return []store.Engine{store.SQLite, store.Postgres} }

// Each runs fn as a subtest on every engine with a fresh, migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, eng := range Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, eng))
		})
	}
}

// Open returns a fresh, migrated store of engine, closed when t ends.
func Open(t testing.TB, eng store.Engine) *store.Store {
	t.Helper()
	loc := Location(t, eng)
	s, err := store.Open(context.Background(), loc, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Location returns where a fresh store of engine lives for t: a file in
// t's temporary directory, or a new PostgreSQL schema dropped when t ends.
func Location(t testing.TB, eng store.Engine) store.Location {
	t.Helper()
	if eng == store.SQLite {
		return store.Location{Engine: store.SQLite, Path: filepath.Join(t.TempDir(), "patchbay.db")}
	}
	return store.Location{Engine: store.Postgres, URL: NewSchema(t)}
}

// PostgresURL returns the URL of the test PostgreSQL server, or skips t
// when none is configured or answering.
func PostgresURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvPostgres); u != "" {
		return u
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if err != nil {
		t.Skipf("PostgreSQL tests skipped: %s is not set and nothing answers on 127.0.0.1:5432 (%v)", EnvPostgres, err)
	}
	c.Close()
	return defaultPostgresURL
}

// NewSchema creates a schema of its own for t on the test PostgreSQL server
// and returns a URL whose search_path selects it. The schema is dropped when
// t ends.
func NewSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "pbtest_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres %s: %v", base, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema on %s (is PostgreSQL running? %s=%q): %v", base, EnvPostgres, os.Getenv(EnvPostgres), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
