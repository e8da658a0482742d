package store_test

import (
	"net/url"
	"testing"

	"github.com/patchbay/patchbay/internal/store"
)

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"", "sqlite:", "sqlite:x.db", "sqlite:/var/lib/patchbay/p.db",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgresql://u:p@h/db", "mysql://x", "postgres://h:99999999/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := store.ParseLocation(s, "/data")
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseLocation(%q): empty error", s)
			}
			return
		}
		switch loc.Engine {
		case store.SQLite:
			if loc.Path == "" {
				t.Fatalf("ParseLocation(%q) = SQLite with no path", s)
			}
		case store.Postgres:
			if _, err := url.Parse(loc.URL); err != nil && loc.URL[:8] != "postgres" {
				t.Fatalf("ParseLocation(%q) = PostgreSQL %q", s, loc.URL)
			}
		default:
			t.Fatalf("ParseLocation(%q) = engine %q", s, loc.Engine)
		}
		_ = loc.String()
	})
}
