package feed

import (
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/internal/osv"
)

func TestNormalizeCVE(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"CVE-2023-23914", "CVE-2023-23914", true},
		{" cve-2023-1234\t", "CVE-2023-1234", true},
		{"CVE-2025-1000001", "CVE-2025-1000001", true},
		{"CVE-2023-123", "", false},
		{"CVE-23-1234", "", false},
		{"CVE-2023-12a4", "", false},
		{"DEBIAN-CVE-2008-1768", "", false},
		{"GHSA-xxxx-yyyy-zzzz", "", false},
		{"CVE-2023-1234-5", "", false},
		{"", "", false},
	} {
		got, ok := NormalizeCVE(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeCVE(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCVEsOf(t *testing.T) {
	rec := &osv.Record{
		ID:       "CVE-2024-0001",
		Aliases:  []string{"GHSA-aaaa-bbbb-cccc", "cve-2024-0002"},
		Upstream: []string{"CVE-2024-0003", "DEBIAN-CVE-2024-0003", "CVE-2024-0001"},
		Related:  []string{"CVE-2024-0004", "USN-1-1"},
	}
	want := []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"}
	if got := CVEsOf(rec); !reflect.DeepEqual(got, want) {
		t.Errorf("CVEsOf = %q, want %q", got, want)
	}
	if got := CVEsOf(nil); got != nil {
		t.Errorf("CVEsOf(nil) = %q, want nil", got)
	}
}

// TestCVEsLinkSources checks the point of CVEsOf on the real data: Debian
// records keep their CVEs in upstream, and those reach the KEV catalog.
func TestCVEsLinkSources(t *testing.T) {
	recs, _ := parseTrackerFile(t, DSA)
	cat := mustKEV(t)
	kev := cat.ByCVE()
	linked := 0
	for _, r := range recs {
		for _, c := range CVEsOf(r) {
			if _, ok := kev[c]; ok {
				linked++
				break
			}
		}
	}
	if linked < 100 {
		t.Errorf("%d DSA records name a CVE in KEV, want at least 100", linked)
	}
	t.Logf("%d of %d DSA records name a CVE in the KEV catalog", linked, len(recs))
}
