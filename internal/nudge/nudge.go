// Package nudge is the wake-up a background loop waits on between its
// ticks (the planner, the matcher, the rollout controller): any number of
// callers may ask for a pass without blocking, and asks made before the
// loop looks again collapse into one pass.
package nudge

// Signal is one loop's wake-up. The zero Signal is not usable: call New.
type Signal struct{ ch chan struct{} }

// New returns a Signal with nothing pending.
func New() Signal { return Signal{ch: make(chan struct{}, 1)} }

// Nudge asks for a pass soon; it never blocks.
func (s Signal) Nudge() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// C delivers a pending ask, once.
func (s Signal) C() <-chan struct{} { return s.ch }
