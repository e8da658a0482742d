package web

import (
	"testing"

	"github.com/patchbay/patchbay"
)

// TestReview8FindingPageTies: a host's history of one advisory holds a
// finding per version it was found in (openssl 3.0.1 fixed when 3.0.2
// came, itself still affected, then fixed): same host, package name, arch
// and advisory. The cursor held only those, and a page that ended on one
// of them skipped the others on the next page: `findings ls --status
// fixed` lost rows, and an API client paging by 1 saw one of three.
func TestReview8FindingPageTies(t *testing.T) {
	var fs []patchbay.Finding
	for _, v := range []string{"3.0.3", "3.0.1", "3.0.2"} { // the store's order among them is not defined
		fs = append(fs, patchbay.Finding{HostID: 7, Advisory: "CVE-2025-1", Status: patchbay.FindingFixed,
			Package: patchbay.Package{Ecosystem: "deb", Name: "openssl", Arch: "amd64", Version: v}})
	}
	fs = append(fs, patchbay.Finding{HostID: 8, Advisory: "CVE-2025-1", Package: patchbay.Package{Ecosystem: "deb", Name: "openssl", Arch: "amd64", Version: "3.0.1"}})
	seen := map[string]int{}
	var after *findingKey
	for pages := 0; ; pages++ {
		page := findingPage(fs, after, 1)
		for _, f := range page.Items {
			seen[f.Package.Version+"@"+string(rune('0'+f.HostID))]++
		}
		if page.NextCursor == "" {
			break
		}
		if pages > len(fs) {
			t.Fatal("no end of pages")
		}
		var err error
		if after, err = findingCursorOf(page.NextCursor); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(fs) {
		t.Errorf("pages of 1 listed %v, want each of the %d findings once", seen, len(fs))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", k, n)
		}
	}
}
