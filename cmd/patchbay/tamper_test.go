package main

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"
)

// tamperSQLite edits a stopped server's database the way an intruder with
// file access would: drop the append-only triggers, then run q.
func tamperSQLite(t *testing.T, path, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete", q} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}
