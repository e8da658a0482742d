package patchbay_test

import (
	"os"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
)

// roleTable renders RolePermissions as the Markdown table docs/api.md shows.
func roleTable() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range patchbay.Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range patchbay.Roles {
		b.WriteString(":---:|")
	}
	b.WriteString("\n")
	for _, p := range patchbay.RolePermissions[patchbay.RoleAdmin] {
		b.WriteString("| `" + string(p) + "` |")
		for _, r := range patchbay.Roles {
			if r.Can(p) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("   |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestDocsRoleTable holds docs/api.md's role table equal to the code's.
func TestDocsRoleTable(t *testing.T) {
	doc, err := os.ReadFile("docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- roles:begin -->\n", "<!-- roles:end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/api.md lacks the %q … %q markers", strings.TrimSpace(begin), end)
	}
	if got, want := s[i+len(begin):j], roleTable(); got != want {
		t.Errorf("docs/api.md role table differs from patchbay.RolePermissions; put this between the markers:\n%s", want)
	}
}
