package store

import (
	"context"
	"testing"
	"time"
)

// TestReview7CancelledFollowerSparesGroup: an agent's request whose
// context ends while its write runs (the agent hung up mid-claim) must not
// take the rest of its group down. SQLite's sqlite3_interrupt, which the
// driver calls on a cancelled statement, rolls back the whole transaction
// when the statement writes: every other claim and result committed in
// that group was lost and reported as failed (up to maxGroup agents
// answered 500 for one agent's dropped connection).
func TestReview7CancelledFollowerSparesGroup(t *testing.T) {
	s := openGroupTest(t)
	ctx := context.Background()
	release, first := holdGroup(t, s)
	queued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			s.group.mu.Lock()
			l := len(s.group.queue)
			s.group.mu.Unlock()
			if l == n {
				return
			}
		}
		t.Fatalf("queue never reached %d", n)
	}
	queued(0) // the first leads alone
	second := make(chan error, 1)
	go func() {
		second <- s.inGroupTx(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, "INSERT INTO grouped_rows (n) VALUES (2)")
			return err
		})
	}()
	queued(1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	third := make(chan error, 1)
	go func() {
		third <- s.inGroupTx(cctx, func(tx *Tx) error {
			// Cancelled while its write runs: a write that steps long
			// enough for the driver's interrupt to land.
			time.AfterFunc(5*time.Millisecond, cancel)
			_, err := tx.exec(cctx, `INSERT INTO grouped_rows (n) SELECT 1000 + COUNT(*) FROM (
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000) SELECT x FROM c)`)
			return err
		})
	}()
	queued(2)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	err2, err3 := <-second, <-third
	if cctx.Err() == nil {
		t.Fatal("the third writer's context was never cancelled: the test proves nothing")
	}
	got := groupedRows(t, s)
	if err2 != nil || !got[2] {
		t.Errorf("writer grouped with a cancelled one: %v, row stored %v; want committed", err2, got[2])
	}
	if stored := len(got) == 3; stored != (err3 == nil) {
		t.Errorf("cancelled writer: error %v but its row stored %v", err3, stored)
	}
	t.Logf("cancelled writer: %v", err3)
}
