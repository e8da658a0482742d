package risk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/severity"
)

// finding builds a FindingInput from the parts the named cases vary.
type finding struct {
	sev    severity.Level
	cvss   float64 // < 0: none
	kev    bool
	epss   float64 // < 0: none
	crit   patchbay.Criticality
	labels []string
	days   int
}

func (f finding) input() FindingInput {
	in := FindingInput{Severity: f.sev, KEV: f.kev, Criticality: f.crit, Labels: f.labels, AgeDays: f.days}
	if f.cvss >= 0 {
		in.CVSS = ptr(f.cvss)
	}
	if f.epss >= 0 {
		in.EPSS = ptr(f.epss)
	}
	return in
}

// describe says what a FindingInput holds, for test messages and the
// worked examples of docs/risk.md.
func describe(in FindingInput) string {
	s := []string{string(in.Severity)}
	if in.CVSS != nil {
		s = append(s, fmt.Sprintf("CVSS %.1f", *in.CVSS))
	}
	if in.KEV {
		s = append(s, "KEV")
	}
	if in.EPSS != nil {
		s = append(s, fmt.Sprintf("EPSS %g", *in.EPSS))
	}
	host := string(in.Criticality)
	if host == "" {
		host = "unset"
	}
	s = append(s, "host "+host)
	s = append(s, in.Labels...)
	switch in.AgeDays {
	case 0:
		s = append(s, "seen today")
	case 1:
		s = append(s, "1 day old")
	default:
		s = append(s, fmt.Sprintf("%d days old", in.AgeDays))
	}
	return strings.Join(s, ", ")
}

// findingCases are the named orderings docs/risk.md promises: higher
// scores above lower.
var findingCases = []struct {
	name          string
	higher, lower finding
}{
	{"KEV on an internet-facing critical host beats a CVSS 9.8 without KEV on a low host",
		finding{severity.Medium, 5.3, true, -1, patchbay.CriticalityCritical, []string{"internet-facing"}, 0},
		finding{severity.Critical, 9.8, false, 0.94, patchbay.CriticalityLow, nil, 90}},
	{"KEV on a medium flaw beats a CVSS 10.0 without KEV, all else equal",
		finding{severity.Medium, 5.0, true, 0.2, patchbay.CriticalityMedium, nil, 10},
		finding{severity.Critical, 10.0, false, 0.2, patchbay.CriticalityMedium, nil, 10}},
	{"unknown severity is not scored as low",
		finding{severity.Unknown, -1, false, -1, patchbay.CriticalityMedium, nil, 0},
		finding{severity.Low, -1, false, -1, patchbay.CriticalityMedium, nil, 0}},
	{"unknown severity is not scored as critical",
		finding{severity.Critical, -1, false, -1, patchbay.CriticalityMedium, nil, 0},
		finding{severity.Unknown, -1, false, -1, patchbay.CriticalityMedium, nil, 0}},
	{"an old finding outranks the same one seen today",
		finding{severity.High, 7.5, false, 0.01, patchbay.CriticalityHigh, nil, 30},
		finding{severity.High, 7.5, false, 0.01, patchbay.CriticalityHigh, nil, 0}},
	{"a year-old medium does not outrank a critical seen today",
		finding{severity.Critical, 9.1, false, 0.01, patchbay.CriticalityMedium, nil, 0},
		finding{severity.Medium, 6.5, false, 0.01, patchbay.CriticalityMedium, nil, 365}},
	{"an internet-facing host outranks the same host inside",
		finding{severity.High, 8.1, false, 0.05, patchbay.CriticalityMedium, []string{"prod", "internet-facing"}, 3},
		finding{severity.High, 8.1, false, 0.05, patchbay.CriticalityMedium, []string{"prod"}, 3}},
	{"a critical host outranks a high one",
		finding{severity.Medium, 5.9, false, -1, patchbay.CriticalityCritical, nil, 3},
		finding{severity.Medium, 5.9, false, -1, patchbay.CriticalityHigh, nil, 3}},
	{"a likely exploit (EPSS 0.9) outranks an unlikely one (EPSS 0.01)",
		finding{severity.High, 7.5, false, 0.9, patchbay.CriticalityMedium, nil, 0},
		finding{severity.High, 7.5, false, 0.01, patchbay.CriticalityMedium, nil, 0}},
	{"a higher CVSS in the same level outranks a lower one",
		finding{severity.High, 8.8, false, -1, patchbay.CriticalityMedium, nil, 0},
		finding{severity.High, 7.0, false, -1, patchbay.CriticalityMedium, nil, 0}},
	{"a rating with a low CVSS score is raised to its level's floor",
		finding{severity.High, 5.0, false, -1, patchbay.CriticalityMedium, nil, 0},
		finding{severity.Medium, 6.9, false, -1, patchbay.CriticalityMedium, nil, 0}},
}

// findingTies are inputs that must score the same.
var findingTies = []struct {
	name string
	a, b finding
}{
	{"unknown severity scores as high",
		finding{severity.Unknown, -1, false, -1, patchbay.CriticalityMedium, nil, 0},
		finding{severity.High, -1, false, -1, patchbay.CriticalityMedium, nil, 0}},
	{"age stops counting at 400 days",
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, nil, 400},
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, nil, 4000}},
	{"an unset criticality is medium, the store's default",
		finding{severity.High, 7.5, false, -1, "", nil, 0},
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, nil, 0}},
	{"labels add at most 0.20",
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, []string{"internet-facing", "dmz"}, 0},
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, []string{"internet-facing"}, 0}},
	{"a label twice counts once",
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, []string{"dmz", "dmz"}, 0},
		finding{severity.High, 7.5, false, -1, patchbay.CriticalityMedium, []string{"dmz"}, 0}},
}

func TestFindingOrder(t *testing.T) {
	for _, tc := range findingCases {
		t.Run(tc.name, func(t *testing.T) {
			h, l := tc.higher.input(), tc.lower.input()
			if hv, lv := FindingValue(h), FindingValue(l); hv <= lv {
				t.Errorf("FindingValue(%s) = %d, not above FindingValue(%s) = %d\n%s\n%s", describe(h), hv, describe(l), lv, ScoreFinding(h), ScoreFinding(l))
			}
		})
	}
	for _, tc := range findingTies {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.a.input(), tc.b.input()
			if av, bv := FindingValue(a), FindingValue(b); av != bv {
				t.Errorf("FindingValue(%s) = %d; FindingValue(%s) = %d; want them equal", describe(a), av, describe(b), bv)
			}
		})
	}
}

func TestFindingValues(t *testing.T) {
	tests := []struct {
		f    finding
		want int
	}{
		{finding{severity.None, -1, false, -1, patchbay.CriticalityLow, nil, 0}, 0},
		{finding{severity.Critical, 10, true, 1, patchbay.CriticalityCritical, []string{"internet-facing"}, 400}, MaxScore},
		{finding{severity.Critical, 10, true, 1, patchbay.CriticalityLow, nil, 400}, 500},
		// 300 + 300 + round(0.42×200) = 84 + 5×√30 = 27 → 711, × 0.70 = 497.7
		{finding{severity.High, 7.5, true, 0.42, patchbay.CriticalityHigh, nil, 30}, 498},
		// Out of range inputs are clamped; NaN is no value.
		{finding{severity.High, 12, false, 1.7, patchbay.CriticalityCritical, []string{"internet-facing"}, -5}, 600},
		{finding{severity.High, math.NaN(), false, math.NaN(), patchbay.CriticalityCritical, []string{"internet-facing"}, 0}, 320},
		{finding{"bogus", -1, false, -1, "bogus", nil, 0}, 192},
	}
	for _, tc := range tests {
		in := tc.f.input()
		if got := FindingValue(in); got != tc.want {
			t.Errorf("FindingValue(%s) = %d; want %d\n%s", describe(in), got, tc.want, ScoreFinding(in))
		}
	}
}

// TestScoreFindingParts checks that ScoreFinding agrees with FindingValue
// and that its parts add up to it, and what they say.
func TestScoreFindingParts(t *testing.T) {
	in := finding{severity.High, 7.5, true, 0.42, patchbay.CriticalityHigh, []string{"prod", "dmz"}, 30}.input()
	s := ScoreFinding(in)
	want := "569 = +300 severity: high, CVSS 7.5 × 40; +300 kev: known exploited (CISA KEV); +84 epss: EPSS 0.42 × 200; " +
		"+27 age: first seen 30 days ago: 5 × √30, rounded down; -142 exposure: ×0.80 of 711: 0.50 + criticality high 0.20 + dmz 0.10"
	if s.String() != want {
		t.Errorf("ScoreFinding(%s) =\n%s\nwant\n%s", describe(in), s, want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		in := randomFinding(r)
		s := ScoreFinding(in)
		sum := 0
		for _, p := range s.Parts {
			sum += p.Value
			if p.Name == "" || p.Why == "" {
				t.Fatalf("ScoreFinding(%s): part %+v without a name or reason", describe(in), p)
			}
		}
		if v := FindingValue(in); s.Value != v || sum != v || v < 0 || v > MaxScore {
			t.Fatalf("ScoreFinding(%s) = %s (parts sum %d); FindingValue = %d", describe(in), s, sum, v)
		}
	}
}

func TestScoreWhy(t *testing.T) {
	tests := []struct {
		f    finding
		part int
		want string
	}{
		{finding{severity.Unknown, -1, false, -1, "", nil, 0}, 0, "unknown (nobody rated it), scored as high, no CVSS: the level's 320"},
		{finding{"", -1, false, -1, "", nil, 0}, 0, `"" is not a level: unknown, scored as high, no CVSS: the level's 320`},
		{finding{severity.Critical, 5.0, false, -1, "", nil, 0}, 0, "critical, CVSS 5.0: raised to the level's floor 360"},
		{finding{severity.Low, -1, false, -1, "", nil, 1}, 3, "first seen yesterday: 5 × √1"},
		{finding{severity.Low, -1, false, -1, "", nil, 0}, 3, "first seen today"},
		{finding{severity.Low, -1, false, -1, "", nil, 500}, 3, "first seen 500 days ago: at most 100"},
		{finding{severity.Low, -1, false, -1, "", nil, 0}, 4, "×0.60 of 80: 0.50 + criticality unset, as medium 0.10"},
		{finding{severity.Low, -1, false, -1, "vital", nil, 0}, 4, `×0.60 of 80: 0.50 + criticality "vital", as medium 0.10`},
		{finding{severity.Low, -1, false, -1, patchbay.CriticalityLow, []string{"dmz", "internet-facing"}, 0}, 4,
			"×0.70 of 80: 0.50 + criticality low 0.00 + internet-facing, dmz 0.20 (labels add at most 0.20)"},
	}
	for _, tc := range tests {
		in := tc.f.input()
		if got := ScoreFinding(in).Parts[tc.part]; got.Why != tc.want {
			t.Errorf("ScoreFinding(%s) part %s: %q; want %q", describe(in), got.Name, got.Why, tc.want)
		}
	}
}

// randomFinding returns a FindingInput with every field drawn at random,
// absent values and out-of-range ones included.
func randomFinding(r *rand.Rand) FindingInput {
	levels := []severity.Level{severity.None, severity.Low, severity.Medium, severity.High, severity.Critical, severity.Unknown, ""}
	crits := []patchbay.Criticality{patchbay.CriticalityLow, patchbay.CriticalityMedium, patchbay.CriticalityHigh, patchbay.CriticalityCritical, ""}
	labels := []string{"internet-facing", "dmz", "prod", "staging"}
	in := FindingInput{
		Severity:    levels[r.IntN(len(levels))],
		KEV:         r.IntN(4) == 0,
		Criticality: crits[r.IntN(len(crits))],
		AgeDays:     r.IntN(900) - 10,
	}
	if r.IntN(3) > 0 {
		in.CVSS = ptr(math.Round(r.Float64()*110) / 10) // up to 11.0
	}
	if r.IntN(3) > 0 {
		in.EPSS = ptr(r.Float64() * 1.05)
	}
	for _, l := range labels {
		if r.IntN(3) == 0 {
			in.Labels = append(in.Labels, l)
		}
	}
	return in
}

// rung is a level's place on the scoring ladder: Unknown scores as High.
func rung(l severity.Level) int {
	switch l {
	case severity.None:
		return 0
	case severity.Low:
		return 1
	case severity.Medium:
		return 2
	case severity.Critical:
		return 4
	}
	return 3
}

func critRung(c patchbay.Criticality) int {
	switch c {
	case patchbay.CriticalityLow:
		return 0
	case patchbay.CriticalityHigh:
		return 2
	case patchbay.CriticalityCritical:
		return 3
	}
	return 1
}

// TestFindingMonotone raises one input of random findings at a time and
// checks that the score never drops.
func TestFindingMonotone(t *testing.T) {
	levels := []severity.Level{severity.None, severity.Low, severity.Medium, severity.High, severity.Critical}
	crits := []patchbay.Criticality{patchbay.CriticalityLow, patchbay.CriticalityMedium, patchbay.CriticalityHigh, patchbay.CriticalityCritical}
	raises := []struct {
		name  string
		raise func(r *rand.Rand, in FindingInput) (FindingInput, bool)
	}{
		{"severity", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			up := levels[rung(in.Severity)+r.IntN(len(levels)-rung(in.Severity)):]
			in.Severity = up[r.IntN(len(up))]
			return in, true
		}},
		{"cvss", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			if in.CVSS == nil {
				return in, false
			}
			in.CVSS = ptr(*in.CVSS + r.Float64()*3)
			return in, true
		}},
		{"kev", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			in.KEV = true
			return in, true
		}},
		{"epss", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			if in.EPSS == nil {
				return in, false
			}
			in.EPSS = ptr(*in.EPSS + r.Float64()*0.3)
			return in, true
		}},
		{"criticality", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			in.Criticality = crits[critRung(in.Criticality)+r.IntN(len(crits)-critRung(in.Criticality))]
			return in, true
		}},
		{"label", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			labels := []string{"internet-facing", "dmz", "prod", "pci"}
			in.Labels = append(append([]string(nil), in.Labels...), labels[r.IntN(len(labels))])
			return in, true
		}},
		{"age", func(r *rand.Rand, in FindingInput) (FindingInput, bool) {
			in.AgeDays += r.IntN(60)
			return in, true
		}},
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 20000 {
		in := randomFinding(r)
		before := FindingValue(in)
		for _, rs := range raises {
			up, ok := rs.raise(r, in)
			if !ok {
				continue
			}
			if after := FindingValue(up); after < before {
				t.Fatalf("raising %s lowered the score: %s → %d, %s → %d", rs.name, describe(in), before, describe(up), after)
			}
		}
	}
}

func TestAgeDays(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		first, now string
		want       int
	}{
		{"2024-05-01T10:00:00Z", "2024-05-01T23:59:59Z", 0},
		{"2024-05-01T23:59:00Z", "2024-05-02T00:01:00Z", 1}, // the day turns at midnight UTC
		{"2024-05-01T10:00:00Z", "2024-05-31T09:00:00Z", 30},
		{"2024-05-01T23:30:00-04:00", "2024-05-02T01:00:00Z", 0}, // the same UTC day
		{"2024-03-30T12:00:00+01:00", "2024-04-02T12:00:00+02:00", 3},
		{"2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z", 0}, // first seen after now
		{"2023-05-01T00:00:00Z", "2024-05-01T00:00:00Z", 366},
	}
	for _, tc := range tests {
		if got := AgeDays(at(tc.first), at(tc.now)); got != tc.want {
			t.Errorf("AgeDays(%s, %s) = %d; want %d", tc.first, tc.now, got, tc.want)
		}
	}
}

func TestAgePart(t *testing.T) {
	prev := 0
	for d := range 1000 {
		p := agePart(d)
		if p < prev || p > ageMaxPoints || p != min(int(math.Floor(5*math.Sqrt(float64(d)))), ageMaxPoints) {
			t.Fatalf("agePart(%d) = %d after %d", d, p, prev)
		}
		prev = p
	}
	if agePart(399) != 99 || agePart(400) != 100 || agePart(math.MaxInt) != 100 || agePart(-1) != 0 {
		t.Errorf("agePart: 399 → %d, 400 → %d, MaxInt → %d, -1 → %d", agePart(399), agePart(400), agePart(math.MaxInt), agePart(-1))
	}
}

// scores returns FindingScores of the given values, named …
func scores(values ...int) []FindingScore {
	fs := make([]FindingScore, len(values))
	for i, v := range values {
		fs[i] = FindingScore{Advisory: fmt.Sprintf("A-%d", i+1), Value: v}
	}
	return fs
}

// updateCases are the named orderings of updates.
var updateCases = []struct {
	name          string
	higher, lower UpdateInput
}{
	{"an update fixing an exploited flaw on an exposed host outranks one fixing forty medium findings",
		UpdateInput{Critical, []FindingScore{{"DSA-5532-1", FindingValue(findingCases[0].higher.input())}}},
		UpdateInput{Security, scores(fill(40, FindingValue(finding{severity.Medium, 6.5, false, 0.02, patchbay.CriticalityMedium, nil, 20}.input()))...)}},
	{"fixing more findings outranks fixing one of them",
		UpdateInput{Security, scores(400, 300, 200)},
		UpdateInput{Security, scores(400)}},
	{"an update that fixes a finding outranks a security update that fixes none",
		UpdateInput{Security, scores(FindingValue(finding{severity.Low, 2.0, false, -1, patchbay.CriticalityLow, nil, 0}.input()))},
		UpdateInput{Security, nil}},
	{"with nothing known fixed, security outranks bugfix",
		UpdateInput{Security, nil}, UpdateInput{Bugfix, nil}},
	{"with nothing known fixed, bugfix outranks feature",
		UpdateInput{Bugfix, nil}, UpdateInput{Feature, nil}},
}

func fill(n, v int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = v
	}
	return vs
}

func TestUpdateOrder(t *testing.T) {
	for _, tc := range updateCases {
		t.Run(tc.name, func(t *testing.T) {
			if hv, lv := UpdateValue(tc.higher), UpdateValue(tc.lower); hv <= lv {
				t.Errorf("UpdateValue = %d (%s), not above %d (%s)", hv, ScoreUpdate(tc.higher), lv, ScoreUpdate(tc.lower))
			}
		})
	}
}

func TestUpdateValues(t *testing.T) {
	tests := []struct {
		name string
		in   UpdateInput
		want string
	}{
		{"nothing", UpdateInput{Feature, nil}, "0 = +0 worst finding: fixes no open finding; +0 more findings: none; +0 class: feature"},
		{"one", UpdateInput{Security, scores(569)}, "599 = +569 worst finding: fixes A-1; +0 more findings: none; +30 class: security"},
		{"worst named wherever it is", UpdateInput{Security, scores(100, 569, 120)},
			"621 = +569 worst finding: fixes A-2; +22 more findings: 2 more, a tenth of their 220 points, at most 100; +30 class: security"},
		{"the rest capped", UpdateInput{Security, scores(fill(40, 200)...)},
			"330 = +200 worst finding: fixes A-1; +100 more findings: 39 more, a tenth of their 7800 points, at most 100; +30 class: security"},
		{"capped at 1000", UpdateInput{Critical, scores(990, 500)},
			"1000 = +990 worst finding: fixes A-1; +50 more findings: 1 more, a tenth of their 500 points, at most 100; +50 class: critical; -90 cap: scores stop at 1000"},
		{"out of range values clamped", UpdateInput{"bogus", scores(-5, 2000)},
			`1000 = +1000 worst finding: fixes A-2; +0 more findings: 1 more, a tenth of their 0 points, at most 100; +0 class: "bogus" is not a class: no points`},
		{"unnamed", UpdateInput{Bugfix, []FindingScore{{Value: 10}}}, "20 = +10 worst finding: fixes an advisory without an id; +0 more findings: none; +10 class: bugfix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ScoreUpdate(tc.in)
			if s.String() != tc.want {
				t.Errorf("ScoreUpdate(%v) =\n%s\nwant\n%s", tc.in, s, tc.want)
			}
			sum := 0
			for _, p := range s.Parts {
				sum += p.Value
			}
			if v := UpdateValue(tc.in); v != s.Value || sum != v {
				t.Errorf("UpdateValue(%v) = %d; ScoreUpdate's value %d, parts sum %d", tc.in, v, s.Value, sum)
			}
		})
	}
}

// TestUpdateMonotone raises one finding's score, adds a finding, or raises
// the class, and checks that the update's score never drops.
func TestUpdateMonotone(t *testing.T) {
	classes := []Class{Feature, Bugfix, Security, Critical}
	r := rand.New(rand.NewPCG(3, 5))
	for range 20000 {
		fs := make([]FindingScore, r.IntN(12))
		for i := range fs {
			fs[i].Value = r.IntN(1100) - 50
		}
		ci := r.IntN(len(classes))
		in := UpdateInput{classes[ci], fs}
		before := UpdateValue(in)
		if s := ScoreUpdate(in); s.Value != before {
			t.Fatalf("ScoreUpdate(%v) = %d; UpdateValue %d", in, s.Value, before)
		}
		check := func(what string, up UpdateInput) {
			if after := UpdateValue(up); after < before {
				t.Fatalf("%s lowered the score: %v → %d, %v → %d", what, in, before, up, after)
			}
		}
		if len(fs) > 0 {
			raised := append([]FindingScore(nil), fs...)
			raised[r.IntN(len(raised))].Value += r.IntN(300)
			check("raising a finding", UpdateInput{in.Class, raised})
		}
		check("adding a finding", UpdateInput{in.Class, append(append([]FindingScore(nil), fs...), FindingScore{Value: r.IntN(1000)})})
		check("raising the class", UpdateInput{classes[ci+r.IntN(len(classes)-ci)], fs})
	}
}

// TestNoAllocs holds the fast paths to no allocation: 200,000 findings are
// scored each policy cycle.
func TestNoAllocs(t *testing.T) {
	in := finding{severity.High, 7.5, true, 0.42, patchbay.CriticalityHigh, []string{"prod", "internet-facing"}, 30}.input()
	if n := testing.AllocsPerRun(100, func() { FindingValue(in) }); n != 0 {
		t.Errorf("FindingValue allocates %v times", n)
	}
	up := UpdateInput{Security, scores(400, 300, 200)}
	if n := testing.AllocsPerRun(100, func() { UpdateValue(up) }); n != 0 {
		t.Errorf("UpdateValue allocates %v times", n)
	}
}
