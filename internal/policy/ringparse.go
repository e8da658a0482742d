package policy

import "github.com/patchbay/patchbay"

// ParseRings validates a ring template (as a deployment keeps it) and
// returns its rings with thresholds and soak times parsed; errors name
// rings[i] and the field, as Compile's do.
func ParseRings(specs []patchbay.RingSpec) ([]RingRule, error) {
	c := &Compiled{Policy: patchbay.Policy{Rings: specs}}
	if err := c.compileRings(); err != nil {
		return nil, err
	}
	return c.rings, nil
}
