package nudge

import "testing"

// TestNudgesCollapse: asks before the loop looks are one pass; none
// blocks; after the pass a new ask is pending again.
func TestNudgesCollapse(t *testing.T) {
	s := New()
	for range 3 {
		s.Nudge()
	}
	select {
	case <-s.C():
	default:
		t.Fatal("nudged, nothing pending")
	}
	select {
	case <-s.C():
		t.Fatal("three asks made two passes")
	default:
	}
	s.Nudge()
	select {
	case <-s.C():
	default:
		t.Fatal("a nudge after the pass is lost")
	}
}
