package severity

import (
	"fmt"
	"strings"
)

// Level is a qualitative severity. Its values are lower-case words, stable
// for storage and JSON.
type Level string

// The levels. Critical to None follow CVSS v3.x/v4.0's qualitative ratings;
// Unknown means nothing rated the advisory.
const (
	Critical Level = "critical"
	High     Level = "high"
	Medium   Level = "medium"
	Low      Level = "low"
	None     Level = "none"
	Unknown  Level = "unknown"
)

// rank orders the levels for Compare. Unknown ranks above Critical; a value
// that is not a Level ranks as Unknown.
func (l Level) rank() int {
	switch l {
	case None:
		return 0
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	default:
		return 5
	}
}

// Known reports whether l is a rated level, None to Critical. Unknown and
// any value that is not a Level are not known.
func (l Level) Known() bool {
	return l.rank() < 5
}

// Compare returns -1, 0 or +1 as a is less severe than, as severe as, or
// more severe than b, in the order None < Low < Medium < High < Critical <
// Unknown (a value that is not a Level compares as Unknown).
//
// Unknown sorts above Critical on purpose. Sorted most severe first, an
// unrated advisory comes to the top, where a person must look at it, rather
// than sinking below the Low ones; and a threshold test written with Compare
// ("at least High") includes it, erring towards attention. Code that must
// treat Unknown otherwise, such as an SLA table, should test Known first.
func Compare(a, b Level) int {
	ra, rb := a.rank(), b.rank()
	switch {
	case ra < rb:
		return -1
	case ra > rb:
		return +1
	}
	return 0
}

// ParseLevel returns the Level named by s, ignoring case and surrounding
// space: "High" is High.
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToLower(strings.TrimSpace(s)))
	switch l {
	case Critical, High, Medium, Low, None, Unknown:
		return l, nil
	}
	return "", fmt.Errorf("severity level %q: not one of critical, high, medium, low, none, unknown", s)
}
