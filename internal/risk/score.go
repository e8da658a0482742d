package risk

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/severity"
)

// MaxScore is the highest score. Scores are integers from 0 to MaxScore.
const MaxScore = 1000

// The weights of docs/risk.md. A finding's threat is the sum of four parts
// (at most 400 + 300 + 200 + 100 = MaxScore), scaled by the host's exposure
// (from 0.50 to 1.00, in hundredths).
const (
	cvssTenthPoints = 4   // points per tenth of a CVSS base score: 10.0 is 400
	kevPoints       = 300 // known exploited (CISA KEV)
	epssPoints      = 200 // times the EPSS probability
	agePoints       = 5   // times the square root of the age in days…
	ageMaxPoints    = 100 // …up to this, reached at 400 days
	exposureBase    = 50  // hundredths: the exposure of a low-criticality host with no label
	labelsMax       = 20  // hundredths: the most all labels add together
)

// The points of an update's class, and of the findings it fixes beyond the
// worst one: a tenth of their scores, at most moreFindingsMax.
const (
	moreFindingsDivisor = 10
	moreFindingsMax     = 100
)

// levelPoints returns the severity points of a level without a CVSS score
// (a representative score of its band: 9.5, 8.0, 5.5, 2.0) and the floor a
// CVSS score is raised to (its band's lowest score: 9.0, 7.0, 4.0, 0.1).
// Unknown, and any value that is not a level, scores as High: nobody rated
// it, which does not make it minor, and only a rating may call it critical.
func levelPoints(l severity.Level) (points, floor int) {
	switch l {
	case severity.Critical:
		return 380, 360
	case severity.Medium:
		return 220, 160
	case severity.Low:
		return 80, 4
	case severity.None:
		return 0, 0
	}
	return 320, 280 // High, Unknown and anything else
}

// criticalityPoints returns the exposure a host's criticality adds, in
// hundredths. An unset or unknown criticality counts as medium, the
// store's default.
func criticalityPoints(c patchbay.Criticality) int {
	switch c {
	case patchbay.CriticalityLow:
		return 0
	case patchbay.CriticalityHigh:
		return 20
	case patchbay.CriticalityCritical:
		return 30
	}
	return 10
}

// labelWeights are the host labels that add exposure, in hundredths; all
// together add at most labelsMax. Labels are compared exactly, as host
// filters compare them. A label can only raise a score: weights are never
// negative, so adding a label never lowers one.
var labelWeights = [...]struct {
	label  string
	points int
}{
	{"internet-facing", 20}, // reachable from the internet: anyone can try
	{"dmz", 10},             // reachable from outside the internal network
}

// classPoints returns the points an update's class adds: small, so that
// they order updates fixing nothing known and break ties, but never
// outweigh a finding.
func classPoints(c Class) int {
	switch c {
	case Critical:
		return 50
	case Security:
		return 30
	case Bugfix:
		return 10
	}
	return 0
}

// FindingInput is everything a finding's score depends on.
type FindingInput struct {
	// Severity is the advisory's level; Unknown scores as High.
	Severity severity.Level
	// CVSS is the advisory's base score (0 to 10), nil when none is known.
	CVSS *float64
	// KEV is set when the advisory is in CISA's KEV catalog.
	KEV bool
	// EPSS is the exploitation probability (0 to 1), nil when none is known.
	EPSS *float64
	// Criticality and Labels are the host's.
	Criticality patchbay.Criticality
	Labels      []string
	// AgeDays is how many days the finding has been open (AgeDays).
	AgeDays int
}

// Score is a score and its parts, which sum to it.
type Score struct {
	Value int    `json:"value"`
	Parts []Part `json:"parts"`
}

// Part is one term of a score: its name, the points it adds (negative for
// the exposure of a host that is not fully exposed, or a cap) and why, in
// words.
type Part struct {
	Name  string `json:"name"`
	Value int    `json:"value"`
	Why   string `json:"why"`
}

// String returns "+300 kev: known exploited (CISA KEV)".
func (p Part) String() string { return fmt.Sprintf("%+d %s: %s", p.Value, p.Name, p.Why) }

// String returns the score and its parts on one line.
func (s Score) String() string {
	parts := make([]string, len(s.Parts))
	for i, p := range s.Parts {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%d = %s", s.Value, strings.Join(parts, "; "))
}

// AgeDays returns the number of calendar days, in UTC, from firstSeen to
// now: 0 on the day it was first seen, 1 from the next midnight UTC. Every
// finding's age turns at the same moment, so scores are recomputed once a
// day in one pass. A firstSeen after now is 0.
func AgeDays(firstSeen, now time.Time) int {
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	n := int(day(now).Sub(day(firstSeen)) / (24 * time.Hour))
	return max(n, 0)
}

// FindingValue returns a finding's score, 0 to MaxScore:
//
//	round(threat × exposure), threat = severity + kev + epss + age
//
// with the parts of ScoreFinding. It does not allocate.
func FindingValue(in FindingInput) int {
	t := severityPart(in.Severity, in.CVSS) + kevPart(in.KEV) + epssPart(in.EPSS) + agePart(in.AgeDays)
	x, _ := exposure(in.Criticality, in.Labels)
	return scale(t, x)
}

// ScoreFinding returns FindingValue's score with its parts: severity, kev,
// epss, age, and exposure (the points the host's exposure takes off the
// threat, zero on a fully exposed host).
func ScoreFinding(in FindingInput) Score {
	sev, kev, epss, age := severityPart(in.Severity, in.CVSS), kevPart(in.KEV), epssPart(in.EPSS), agePart(in.AgeDays)
	t := sev + kev + epss + age
	x, labels := exposure(in.Criticality, in.Labels)
	v := scale(t, x)
	parts := []Part{
		{"severity", sev, severityWhy(in.Severity, in.CVSS, sev)},
		{"kev", kev, "not in CISA KEV"},
		{"epss", epss, "no EPSS score"},
		{"age", age, ageWhy(in.AgeDays)},
		{"exposure", v - t, exposureWhy(in.Criticality, labels, x, t)},
	}
	if in.KEV {
		parts[1].Why = "known exploited (CISA KEV)"
	}
	if in.EPSS != nil {
		parts[2].Why = fmt.Sprintf("EPSS %g × %d", clampedEPSS(*in.EPSS), epssPoints)
	}
	return Score{Value: v, Parts: parts}
}

// scale returns round(t × x / 100), t in points and x in hundredths.
func scale(t, x int) int {
	return (t*x + 50) / 100
}

// cvssTenths returns a CVSS base score in tenths, clamped to 0–100; ok is
// false when c is nil or not a number.
func cvssTenths(c *float64) (int, bool) {
	if c == nil || math.IsNaN(*c) {
		return 0, false
	}
	return int(math.Round(min(max(*c, 0), 10) * 10)), true
}

func severityPart(l severity.Level, cvss *float64) int {
	points, floor := levelPoints(l)
	if tenths, ok := cvssTenths(cvss); ok {
		return max(tenths*cvssTenthPoints, floor)
	}
	return points
}

func severityWhy(l severity.Level, cvss *float64, points int) string {
	name := string(l)
	if !l.Known() {
		name = "unknown (nobody rated it), scored as high"
		if l != severity.Unknown {
			name = fmt.Sprintf("%q is not a level: unknown, scored as high", string(l))
		}
	}
	tenths, ok := cvssTenths(cvss)
	switch {
	case !ok:
		return fmt.Sprintf("%s, no CVSS: the level's %d", name, points)
	case tenths*cvssTenthPoints < points:
		return fmt.Sprintf("%s, CVSS %.1f: raised to the level's floor %d", name, float64(tenths)/10, points)
	}
	return fmt.Sprintf("%s, CVSS %.1f × %d", name, float64(tenths)/10, cvssTenthPoints*10)
}

func kevPart(kev bool) int {
	if kev {
		return kevPoints
	}
	return 0
}

// clampedEPSS returns p within 0–1, 0 for not a number.
func clampedEPSS(p float64) float64 {
	if math.IsNaN(p) {
		return 0
	}
	return min(max(p, 0), 1)
}

func epssPart(p *float64) int {
	if p == nil {
		return 0
	}
	return int(math.Round(clampedEPSS(*p) * epssPoints))
}

// agePart returns agePoints × √days rounded down, at most ageMaxPoints:
// it grows fast in the first weeks and slowly after (7 days 13, 30 days
// 27, 90 days 47, a year 95), in integers.
func agePart(days int) int {
	if days <= 0 {
		return 0
	}
	if days >= ageMaxPoints*ageMaxPoints/(agePoints*agePoints) {
		return ageMaxPoints
	}
	return isqrt(agePoints * agePoints * days)
}

func ageWhy(days int) string {
	switch {
	case days <= 0:
		return "first seen today"
	case agePart(days) == ageMaxPoints:
		return fmt.Sprintf("first seen %d days ago: at most %d", days, ageMaxPoints)
	case days == 1:
		return fmt.Sprintf("first seen yesterday: %d × √1", agePoints)
	}
	return fmt.Sprintf("first seen %d days ago: %d × √%d, rounded down", days, agePoints, days)
}

// isqrt returns ⌊√n⌋ for n ≥ 0, exactly.
func isqrt(n int) int {
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// exposure returns how exposed a host is, in hundredths (50 to 100), and
// the bitmask of labelWeights it matched.
func exposure(c patchbay.Criticality, labels []string) (int, uint) {
	var matched uint
	sum := 0
	for i, w := range labelWeights {
		for _, l := range labels {
			if l == w.label {
				matched |= 1 << i
				sum += w.points
				break
			}
		}
	}
	return exposureBase + criticalityPoints(c) + min(sum, labelsMax), matched
}

func exposureWhy(c patchbay.Criticality, matched uint, x, t int) string {
	crit := string(c)
	switch c {
	case patchbay.CriticalityLow, patchbay.CriticalityMedium, patchbay.CriticalityHigh, patchbay.CriticalityCritical:
	case "":
		crit = "unset, as medium"
	default:
		crit = fmt.Sprintf("%q, as medium", string(c))
	}
	var labels []string
	sum := 0
	for i, w := range labelWeights {
		if matched&(1<<i) != 0 {
			labels = append(labels, w.label)
			sum += w.points
		}
	}
	why := fmt.Sprintf("×%.2f of %d: 0.50 + criticality %s %.2f", float64(x)/100, t, crit, float64(criticalityPoints(c))/100)
	if len(labels) > 0 {
		why += fmt.Sprintf(" + %s %.2f", strings.Join(labels, ", "), float64(min(sum, labelsMax))/100)
		if sum > labelsMax {
			why += fmt.Sprintf(" (labels add at most %.2f)", float64(labelsMax)/100)
		}
	}
	return why
}

// FindingScore is the score of one finding an update fixes on the host.
type FindingScore struct {
	Advisory string
	Value    int
}

// UpdateInput is everything an update's score depends on: its class on the
// host (Classify) and the scores of the host's open findings it fixes.
type UpdateInput struct {
	Class    Class
	Findings []FindingScore
}

// UpdateValue returns an update's score, 0 to MaxScore:
//
//	min(MaxScore, worst + min(100, rest / 10) + class)
//
// where worst is the highest score of the findings it fixes, rest the sum
// of the others' (rounded down after dividing) and class the class's
// points. It does not allocate.
//
// The worst finding decides because an update is urgent when one thing it
// fixes is; the rest add with diminishing returns, capped, so a kernel
// update fixing forty medium findings gains a band but cannot overtake one
// fixing an exploited flaw on an exposed host.
func UpdateValue(in UpdateInput) int {
	worst, _, rest := findingsParts(in.Findings)
	return min(MaxScore, worst+rest+classPoints(in.Class))
}

// ScoreUpdate returns UpdateValue's score with its parts: worst finding,
// more findings, class, and a negative cap when the sum passes MaxScore.
func ScoreUpdate(in UpdateInput) Score {
	worst, wi, rest := findingsParts(in.Findings)
	class := classPoints(in.Class)
	parts := []Part{
		{"worst finding", worst, "fixes no open finding"},
		{"more findings", rest, "none"},
		{"class", class, classWhy(in.Class)},
	}
	if wi >= 0 {
		parts[0].Why = "fixes " + nameOr(in.Findings[wi].Advisory)
	}
	if n := len(in.Findings) - 1; n > 0 {
		sum := 0
		for i, f := range in.Findings {
			if i != wi {
				sum += clampScore(f.Value)
			}
		}
		parts[1].Why = fmt.Sprintf("%d more, a tenth of their %d points, at most %d", n, sum, moreFindingsMax)
	}
	v := min(MaxScore, worst+rest+class)
	if sum := worst + rest + class; sum > v {
		parts = append(parts, Part{"cap", v - sum, fmt.Sprintf("scores stop at %d", MaxScore)})
	}
	return Score{Value: v, Parts: parts}
}

// findingsParts returns the highest finding score and its index (-1 for
// none), and what the others add.
func findingsParts(fs []FindingScore) (worst, index, rest int) {
	index = -1
	for i, f := range fs {
		if v := clampScore(f.Value); index < 0 || v > worst {
			worst, index = v, i
		}
	}
	sum := 0
	for i, f := range fs {
		if i != index {
			sum += clampScore(f.Value)
		}
	}
	return worst, index, min(sum/moreFindingsDivisor, moreFindingsMax)
}

func clampScore(v int) int { return min(max(v, 0), MaxScore) }

// nameOr returns an advisory's id for a reason or an explanation.
func nameOr(advisory string) string {
	if advisory == "" {
		return "an advisory without an id"
	}
	return advisory
}

func classWhy(c Class) string {
	if !c.Valid() {
		return fmt.Sprintf("%q is not a class: no points", string(c))
	}
	return string(c)
}
