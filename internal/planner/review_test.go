package planner_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// clock is a settable store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// eachClocked runs fn on every engine with a fresh store whose clock the
// test sets.
func eachClocked(t *testing.T, fn func(t *testing.T, s *store.Store, c *clock)) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			c := &clock{t: time.Now()}
			s, err := store.Open(context.Background(), storetest.Location(t, eng), store.Options{Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s, c)
		})
	}
}

// TestReviewLeaseChangedHands: a server whose lease lapsed while another
// planned (and then went away) must not diff its next pass against the
// rows it stored before, since the other server rewrote the queue
// meantime: rows the other added made every later pass fail on a duplicate
// key, and rows the other added that are gone now were never deleted.
func TestReviewLeaseChangedHands(t *testing.T) {
	for _, retire := range []bool{false, true} {
		t.Run(map[bool]string{false: "joined", true: "joined-and-retired"}[retire], func(t *testing.T) {
			eachClocked(t, func(t *testing.T, s *store.Store, c *clock) {
				ctx := context.Background()
				f := setup(t, s)
				a := planner.New(s, planner.Options{Holder: "a"})
				if _, err := a.Pass(ctx); err != nil {
					t.Fatal(err)
				}
				// a stalls past its lease; b takes over, a host joins, b
				// plans and shuts down cleanly.
				c.add(20 * time.Second)
				f.host("web2", "team-a", patchbay.CriticalityHigh, []string{"prod"}, []protocol.Package{openssl, curl}, []protocol.Update{opensslUp, curlUp})
				if _, err := matcher.New(s, matcher.Options{Holder: "test"}).Sync(ctx); err != nil {
					t.Fatal(err)
				}
				b := planner.New(s, planner.Options{Holder: "b"})
				if res, err := b.Pass(ctx); err != nil || res.Queue != 6 {
					t.Fatalf("b's pass = %+v, %v; want 6 entries", res, err)
				}
				if err := s.ReleaseLease(ctx, "planner", "b"); err != nil {
					t.Fatal(err)
				}
				want := 6
				if retire {
					if _, err := s.RetireHost(ctx, "user:admin", f.ids["web2"]); err != nil {
						t.Fatal(err)
					}
					want = 4
				}
				for i := range 2 {
					if _, err := a.Pass(ctx); err != nil {
						t.Fatalf("a's pass %d after b planned: %v", i+1, err)
					}
				}
				if items := queue(t, s, patchbay.UpdateFilter{Limit: 100}); len(items) != want {
					t.Fatalf("queue holds %d entries, want %d", len(items), want)
				}
			})
		})
	}
}
