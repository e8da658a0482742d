package risk

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/severity"
)

var update = flag.Bool("update", false, "rewrite the generated sections of docs/risk.md")

const riskDoc = "../../docs/risk.md"

// compact returns a score's parts as "+212 severity +300 kev …".
func compact(s Score) string {
	var b strings.Builder
	for i, p := range s.Parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%+d %s", p.Value, p.Name)
	}
	return b.String()
}

// docExamples renders the worked examples: one finding in full, then every
// named case of the tests with its scores.
func docExamples() string {
	var b strings.Builder
	full := finding{severity.High, 7.5, true, 0.42, patchbay.CriticalityHigh, []string{"prod", "dmz"}, 30}.input()
	s := ScoreFinding(full)
	fmt.Fprintf(&b, "One finding in full: %s.\n\n| part | points | why |\n|---|---:|---|\n", describe(full))
	for _, p := range s.Parts {
		fmt.Fprintf(&b, "| %s | %+d | %s |\n", p.Name, p.Value, p.Why)
	}
	fmt.Fprintf(&b, "| **score** | **%d** | |\n\nFindings, each case higher first:\n\n", s.Value)
	for _, tc := range findingCases {
		fmt.Fprintf(&b, "- **%s**\n", tc.name)
		for _, f := range []finding{tc.higher, tc.lower} {
			in := f.input()
			fmt.Fprintf(&b, "  - %d: %s (%s)\n", FindingValue(in), describe(in), compact(ScoreFinding(in)))
		}
	}
	b.WriteString("\nTies:\n\n")
	for _, tc := range findingTies {
		fmt.Fprintf(&b, "- **%s**: both score %d: (%s) and (%s)\n", tc.name, FindingValue(tc.a.input()), describe(tc.a.input()), describe(tc.b.input()))
	}
	b.WriteString("\nUpdates, each case higher first:\n\n")
	for _, tc := range updateCases {
		fmt.Fprintf(&b, "- **%s**\n", tc.name)
		for _, in := range []UpdateInput{tc.higher, tc.lower} {
			fixed := fmt.Sprintf("%d findings", len(in.Findings))
			if len(in.Findings) == 1 {
				fixed = "1 finding"
			}
			fmt.Fprintf(&b, "  - %d: %s, fixes %s (%s)\n", UpdateValue(in), in.Class, fixed, compact(ScoreUpdate(in)))
		}
	}
	return b.String()
}

// TestDocExamples holds docs/risk.md's worked examples to the code; run
// with -update to rewrite them after changing a weight.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(riskDoc)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- examples:begin -->\n", "<!-- examples:end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", riskDoc, strings.TrimSpace(begin), end)
	}
	want := docExamples()
	if got := s[i+len(begin) : j]; got == want {
		return
	}
	if *update {
		if err := os.WriteFile(riskDoc, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's worked examples differ from the code; run go test ./internal/risk -run TestDocExamples -update, or put this between the markers:\n%s", riskDoc, want)
}
