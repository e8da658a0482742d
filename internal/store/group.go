package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// groupCommit runs the small write transactions many agents make at once
// (job claims and results) together, several to one commit.
//
// SQLite has one writer, and each commit waits for the disk (synchronous
// FULL: a job handed out or a result acknowledged must survive a power
// cut). Those waits, not the statements, bound how many claims a second
// one server hands out. Grouping commits keeps the durability and shares
// the wait: while one group commits, the requests that arrive queue, and
// the first of them leads the next group. A request alone in the queue
// runs at once, as it would by itself.
//
// Each request runs inside a savepoint: one that fails is rolled back to
// it and gets its own error; the others commit. A commit that fails fails
// every request of its group.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*groupReq
	leading bool // a request leads a group now, or has been told to

	groups, requests atomic.Int64 // committed so far, for the benchmarks
}

// maxGroup bounds a group, so that one slow commit does not hold a
// thousand agents' answers.
const maxGroup = 128

type groupReq struct {
	ctx      context.Context
	fn       func(*Tx) error
	err      error
	panicked any           // a panic in fn, raised again in its caller
	leader   bool          // told to lead (under groupCommit.mu)
	lead     chan struct{} // closed when this request must lead a group
	done     chan struct{} // closed when err is final
}

// inGroupTx runs fn in a write transaction that it may share with other
// callers' (on SQLite; on PostgreSQL, whose writers run side by side, in
// one of its own). fn must be safe to run with others in one transaction:
// it sees their changes before they commit, and what it returns is only
// final once inGroupTx returns nil.
func (s *Store) inGroupTx(ctx context.Context, fn func(*Tx) error) error {
	if s.loc.Engine != SQLite {
		return s.inTx(ctx, fn)
	}
	g := &s.group
	r := &groupReq{ctx: ctx, fn: fn, lead: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.leading {
		g.leading, r.leader = true, true
		close(r.lead)
	}
	g.mu.Unlock()

	select {
	case <-r.done:
	case <-r.lead:
		s.leadGroup(r)
	case <-ctx.Done():
		g.mu.Lock()
		switch {
		case r.leader:
			// Told to lead as it gave up: the group still needs leading.
			g.mu.Unlock()
			s.leadGroup(r)
		case g.remove(r):
			g.mu.Unlock()
			return fmt.Errorf("waiting to write: %w", ctx.Err())
		default:
			// In a group being committed: its outcome is decided there.
			g.mu.Unlock()
			<-r.done
		}
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// remove takes r out of the queue, reporting whether it was there.
func (g *groupCommit) remove(r *groupReq) bool {
	for i, q := range g.queue {
		if q == r {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			return true
		}
	}
	return false
}

// leadGroup commits the queue's first requests (leader among them: it is
// the queue's first) in one transaction, then hands the lead to the next
// request waiting, if any.
func (s *Store) leadGroup(leader *groupReq) {
	g := &s.group
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := append([]*groupReq(nil), g.queue[:n]...)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()

	// The group outlives its leader's context: the others' work is in it.
	ctx := context.WithoutCancel(leader.ctx)
	err := s.inTx(ctx, func(tx *Tx) error {
		tx.shared = true
		for _, r := range batch {
			if err := tx.savepoint(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	g.groups.Add(1)
	g.requests.Add(int64(len(batch)))
	for _, r := range batch {
		if err != nil && r.err == nil && r.panicked == nil {
			r.err = err
		}
		close(r.done)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.leading = false
		return
	}
	next := g.queue[0]
	next.leader = true
	close(next.lead)
}

// savepoint runs r's function inside a savepoint of t, rolling back to it
// when the function fails or panics. Only a failure of the savepoint
// statements themselves is returned: they leave t unusable.
func (t *Tx) savepoint(ctx context.Context, r *groupReq) error {
	if r.ctx.Err() != nil {
		r.err = fmt.Errorf("waiting to write: %w", r.ctx.Err())
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT grouped"); err != nil {
		return fmt.Errorf("savepoint: %w", classify(err))
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.panicked = p
			}
		}()
		r.err = r.fn(t)
	}()
	if r.err != nil || r.panicked != nil {
		if _, err := t.tx.ExecContext(ctx, "ROLLBACK TO grouped"); err != nil {
			return fmt.Errorf("roll back to savepoint: %w", classify(err))
		}
	}
	if _, err := t.tx.ExecContext(ctx, "RELEASE grouped"); err != nil {
		return fmt.Errorf("release savepoint: %w", classify(err))
	}
	return nil
}

// GroupStats returns how many grouped transactions the store has run and
// how many requests they held: their ratio is how many claims and results
// share a commit.
func (s *Store) GroupStats() (groups, requests int64) {
	return s.group.groups.Load(), s.group.requests.Load()
}
