package window

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

// TestDocsExamples runs the examples table of docs/windows.md, so the
// documentation cannot drift from the code.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/windows.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- examples:begin -->\n", "<!-- examples:end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/windows.md lacks the %q … %q markers", strings.TrimSpace(begin), end)
	}
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(s[i+len(begin):j]), "\n")[2:] {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 8 {
			t.Fatalf("docs/windows.md row %q: %d cells; want 8", line, len(cells))
		}
		for k := range cells {
			cells[k] = strings.Trim(strings.TrimSpace(cells[k]), "`")
		}
		d, err := time.ParseDuration(cells[1])
		if err != nil {
			t.Fatalf("docs/windows.md row %q: %v", line, err)
		}
		rows++
		runNext(t, []nextCase{{name: cells[7], cron: cells[0], dur: d, zone: cells[2], host: cells[3], after: cells[4], wantStart: cells[5], wantEnd: cells[6]}})
	}
	if rows < 10 {
		t.Errorf("docs/windows.md has %d examples; want the table", rows)
	}
}

// TestDocsValidationMessages checks the messages docs/windows.md quotes.
func TestDocsValidationMessages(t *testing.T) {
	doc, err := os.ReadFile("../../docs/windows.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		spec  Spec
	}{
		{"windows[0]", Spec{Cron: "", Duration: time.Hour, Zone: "UTC"}},
		{"windows[0]", Spec{Cron: "0 0 2 * * SAT", Duration: time.Hour, Zone: "UTC"}},
		{"windows[0]", Spec{Cron: "0 2 * * 7", Duration: time.Hour, Zone: "UTC"}},
		{"windows[0]", Spec{Cron: "0 0 31 2 *", Duration: time.Hour, Zone: "UTC"}},
		{"windows[0]", Spec{Cron: "@hourly", Duration: time.Hour, Zone: "UTC"}},
		{"windows[1]", Spec{Cron: "@daily", Zone: "UTC", badDuration: `"3 hours"`}},
		{"windows[1]", Spec{Cron: "@daily", Duration: 200 * time.Hour, Zone: "UTC"}},
		{"windows[2]", Spec{Cron: "@daily", Duration: time.Hour, Zone: "Europe/Berln"}},
	} {
		msg := patchbay.ErrorMessageOf(Validate(tc.field, tc.spec))
		field, text, _ := strings.Cut(msg, ": ")
		found := false
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "| `"+field+"` |") && strings.HasSuffix(line, "| "+text+" |") {
				found = true
			}
		}
		if !found {
			t.Errorf("docs/windows.md lacks the row | `%s` | … | %s |", field, text)
		}
	}
}
