package severity

import (
	"errors"
	"fmt"
	"strings"

	cvss20 "github.com/pandatix/go-cvss/20"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// The CVSS versions Score knows, as CVSS.Version spells them.
const (
	CVSSv20 = "2.0"
	CVSSv30 = "3.0"
	CVSSv31 = "3.1"
	CVSSv40 = "4.0"
)

// ErrInvalidVector is wrapped by every error Score returns.
var ErrInvalidVector = errors.New("invalid cvss vector")

// CVSS is a scored CVSS vector.
type CVSS struct {
	Vector  string  // as given, without surrounding space
	Version string  // CVSSv20, CVSSv30, CVSSv31 or CVSSv40
	Base    float64 // the base score, 0.0 to 10.0 (v4.0: CVSS-B)
	Level   Level   // the rating of Base per Version's specification
}

// String returns the score, level, version and vector, as
// "9.8 critical (CVSS 3.1 CVSS:3.1/AV:N/…)".
func (c CVSS) String() string {
	return fmt.Sprintf("%.1f %s (CVSS %s %s)", c.Base, c.Level, c.Version, c.Vector)
}

// versionRank orders CVSS versions for preferring the newest; an unknown
// version ranks lowest.
func versionRank(v string) int {
	switch v {
	case CVSSv40:
		return 4
	case CVSSv31:
		return 3
	case CVSSv30:
		return 2
	case CVSSv20:
		return 1
	}
	return 0
}

// v4NonBase lists the CVSS v4.0 threat and environmental metrics, which
// Score sets to Not Defined ("X") to compute the base score.
var v4NonBase = [...]string{
	"E", "CR", "IR", "AR",
	"MAV", "MAC", "MAT", "MPR", "MUI", "MVC", "MVI", "MVA", "MSC", "MSI", "MSA",
}

// Score parses a CVSS vector and computes its base score and level. The
// version comes from the vector's prefix: "CVSS:4.0/", "CVSS:3.1/",
// "CVSS:3.0/"; a vector with no "CVSS:" prefix, or with "CVSS:2.0/", is
// read as v2.0 ("AV:N/AC:L/Au:N/C:P/I:P/A:P"), as NVD writes them.
// Temporal, threat and environmental metrics are accepted but do not change
// the score. A vector that does not parse is an error wrapping
// ErrInvalidVector, naming the vector and the reason.
func Score(vector string) (CVSS, error) {
	v := strings.TrimSpace(vector)
	c := CVSS{Vector: v}
	var err error
	switch {
	case v == "":
		err = errors.New("empty")
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c.Version = CVSSv40
		var p *cvss40.CVSS40
		if p, err = cvss40.ParseVector(v); err == nil {
			for _, m := range v4NonBase {
				if err = p.Set(m, "X"); err != nil {
					break
				}
			}
			if err == nil {
				c.Base = p.Score()
			}
		}
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c.Version = CVSSv31
		var p *cvss31.CVSS31
		if p, err = cvss31.ParseVector(v); err == nil {
			c.Base = p.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c.Version = CVSSv30
		var p *cvss30.CVSS30
		if p, err = cvss30.ParseVector(v); err == nil {
			c.Base = p.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:2.0/") || !strings.HasPrefix(v, "CVSS:"):
		c.Version = CVSSv20
		var p *cvss20.CVSS20
		if p, err = cvss20.ParseVector(strings.TrimPrefix(v, "CVSS:2.0/")); err == nil {
			c.Base = p.BaseScore()
		}
	default:
		prefix, _, _ := strings.Cut(v, "/")
		err = fmt.Errorf("unknown version %q", prefix)
	}
	if err != nil {
		return CVSS{}, fmt.Errorf("%w %q: %w", ErrInvalidVector, vector, err)
	}
	if c.Base < 0 || c.Base > 10 {
		// The library's formulas stay in range; this guards the levels below.
		return CVSS{}, fmt.Errorf("%w %q: base score %.1f out of range", ErrInvalidVector, vector, c.Base)
	}
	c.Level = levelOf(c.Version, c.Base)
	return c, nil
}

// levelOf rates a base score per its version's specification. v2.0 defines
// no qualitative ratings; NVD's are Low below 4.0, Medium below 7.0, High
// from 7.0, with neither None nor Critical.
func levelOf(version string, base float64) Level {
	// Scores carry one decimal; compare in tenths so that 3.9000000001
	// from floating point cannot fall between two bands.
	tenths := int(base*10 + 0.5)
	if version == CVSSv20 {
		switch {
		case tenths >= 70:
			return High
		case tenths >= 40:
			return Medium
		}
		return Low
	}
	switch {
	case tenths >= 90:
		return Critical
	case tenths >= 70:
		return High
	case tenths >= 40:
		return Medium
	case tenths >= 1:
		return Low
	}
	return None
}
