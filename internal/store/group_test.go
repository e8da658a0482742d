package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openGroupTest(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Location{Engine: SQLite, Path: filepath.Join(t.TempDir(), "group.db")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "CREATE TABLE grouped_rows (n INTEGER PRIMARY KEY)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func groupedRows(t *testing.T, s *Store) map[int]bool {
	t.Helper()
	rows, err := s.read.Query("SELECT n FROM grouped_rows")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got[n] = true
	}
	return got
}

// holdGroup starts a writer that inserts row 1 once release is closed,
// and returns when it leads a group: writers after it queue. first brings
// its outcome.
func holdGroup(t *testing.T, s *Store) (release chan struct{}, first <-chan error) {
	t.Helper()
	release = make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		done <- s.inGroupTx(ctx, func(tx *Tx) error {
			close(started)
			<-release
			_, err := tx.exec(ctx, "INSERT INTO grouped_rows (n) VALUES (1)")
			return err
		})
	}()
	<-started
	return release, done
}

// TestGroupCommitIsolatesFailures runs many writers at once: those that
// fail or panic after writing leave nothing, each gets its own outcome,
// and the others' rows are all committed, several to a commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := openGroupTest(t)
	ctx := context.Background()
	const n = 300
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = s.inGroupTx(ctx, func(tx *Tx) error {
				if _, err := tx.exec(ctx, "INSERT INTO grouped_rows (n) VALUES (?)", i); err != nil {
					return err
				}
				switch {
				case i%10 == 3:
					return fmt.Errorf("writer %d fails", i)
				case i%50 == 7:
					panic(fmt.Sprintf("writer %d panics", i))
				}
				return nil
			})
		}()
	}
	wg.Wait()
	got := groupedRows(t, s)
	for i := range n {
		failed, panicked := i%10 == 3, i%50 == 7
		switch {
		case failed:
			if errs[i] == nil || errs[i].Error() != fmt.Sprintf("writer %d fails", i) {
				t.Errorf("writer %d: error %v, want its own", i, errs[i])
			}
		case panicked:
			if panics[i] != fmt.Sprintf("writer %d panics", i) {
				t.Errorf("writer %d: panic %v, want its own raised in its caller", i, panics[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("writer %d: %v %v, want success", i, errs[i], panics[i])
			}
		}
		if got[i] == (failed || panicked) {
			t.Errorf("writer %d: row stored %v, failed %v, panicked %v", i, got[i], failed, panicked)
		}
	}
	groups, requests := s.GroupStats()
	if requests != n || groups >= n {
		t.Errorf("%d requests in %d groups: want all %d, sharing commits", requests, groups, n)
	}
	t.Logf("%d writers in %d commits", requests, groups)
}

// TestGroupCommitCancelWhileQueued: a writer whose context ends while it
// waits behind a group writes nothing and says why; the group it waited
// behind, and the one after, commit.
func TestGroupCommitCancelWhileQueued(t *testing.T) {
	s := openGroupTest(t)
	ctx := context.Background()
	release, first := holdGroup(t, s)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	ran := false
	err := s.inGroupTx(cctx, func(tx *Tx) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("queued writer whose context ended: %v, ran %v; want the deadline, not run", err, ran)
	}
	third := make(chan error, 1)
	go func() {
		third <- s.inGroupTx(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, "INSERT INTO grouped_rows (n) VALUES (3)")
			return err
		})
	}()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	if got := groupedRows(t, s); !got[1] || !got[3] || len(got) != 2 {
		t.Errorf("rows %v, want 1 and 3", got)
	}
}
