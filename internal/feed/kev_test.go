package feed

import (
	"os"
	"strings"
	"testing"
	"time"
)

const kevFile = "testdata/kev/known_exploited_vulnerabilities.json"

func TestKEVReal(t *testing.T) {
	f, err := os.Open(kevFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := ParseKEV(f)
	if err != nil {
		t.Fatalf("ParseKEV(%s): %v", kevFile, err)
	}
	if cat.Version != "2025.08.25" || len(cat.Entries) != 1404 {
		t.Errorf("ParseKEV: version %q, %d entries; want 2025.08.25, 1404", cat.Version, len(cat.Entries))
	}
	if want := time.Date(2025, 8, 25, 17, 4, 19, 979600000, time.UTC); !cat.Released.Equal(want) {
		t.Errorf("Released = %v, want %v", cat.Released, want)
	}
	by := cat.ByCVE()
	if len(by) != 1404 {
		t.Errorf("ByCVE: %d ids, want 1404 (no duplicates)", len(by))
	}
	git := by["CVE-2025-48384"]
	want := KEVEntry{CVE: "CVE-2025-48384", VendorProject: "Git", Product: "Git",
		VulnerabilityName: "Git Link Following Vulnerability",
		DateAdded:         time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC),
		DueDate:           time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)}
	if git != want {
		t.Errorf("CVE-2025-48384 = %+v, want %+v", git, want)
	}
	// Entries from earlier emergency directives, added with the catalog's
	// start on 2021-11-03, keep their older due dates: real data, kept as is.
	known, dueFirst := 0, 0
	for _, e := range cat.Entries {
		if e.KnownRansomwareUse {
			known++
		}
		if e.DueDate.Before(e.DateAdded) {
			dueFirst++
		}
	}
	if dueFirst != 15 {
		t.Errorf("%d entries due before they were added, want 15", dueFirst)
	}
	if known != 293 {
		t.Errorf("known ransomware use: %d entries, want 293", known)
	}
}

func TestKEVErrors(t *testing.T) {
	const head = `{"catalogVersion":"1","dateReleased":"2025-08-25T17:04:19.9796Z","vulnerabilities":[`
	const good = `{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24"}`
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "<html>", "not a KEV catalog JSON object"},
		{"array", "[]", "not a KEV catalog JSON object"},
		{"no version", `{"dateReleased":"2025-08-25T00:00:00Z","vulnerabilities":[]}`, "catalogVersion: missing"},
		{"bad released", `{"catalogVersion":"1","dateReleased":"yesterday","vulnerabilities":[]}`, `dateReleased "yesterday"`},
		{"no vulnerabilities", `{"catalogVersion":"1","dateReleased":"2025-08-25T00:00:00Z"}`, "vulnerabilities: missing"},
		{"count", `{"catalogVersion":"1","dateReleased":"2025-08-25T00:00:00Z","count":2,"vulnerabilities":[]}`, "count is 2"},
		{"missing cve", head + good + `,{"dateAdded":"2021-12-10","dueDate":"2021-12-24"}]}`, "vulnerabilities[1]: cveID: missing"},
		{"bad cve", head + `{"cveID":"CVE-21-1","dateAdded":"2021-12-10","dueDate":"2021-12-24"}]}`, `vulnerabilities[0]: cveID "CVE-21-1"`},
		{"bad added", head + `{"cveID":"CVE-2021-44228","dateAdded":"12/10/2021","dueDate":"2021-12-24"}]}`, `vulnerabilities[0] (CVE-2021-44228): dateAdded: "12/10/2021" is not a YYYY-MM-DD date`},
		{"missing due", head + `{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"}]}`, "vulnerabilities[0] (CVE-2021-44228): dueDate: missing"},
		{"ransomware", head + `{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Yes"}]}`, `knownRansomwareCampaignUse "Yes"`},
		{"entry type", head + `"CVE-2021-44228"]}`, "vulnerabilities[0]: not an entry object"},
		{"trailing", head + good + `]} {}`, "data after the catalog object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKEV(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseKEV(%q) error %v, want one containing %q", tc.in, err, tc.want)
			}
		})
	}
	if _, err := ParseKEV(strings.NewReader(head + good + `]}`)); err != nil {
		t.Errorf("ParseKEV(minimal): %v", err)
	}
}

func mustKEV(t testing.TB) KEVCatalog {
	t.Helper()
	f, err := os.Open(kevFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := ParseKEV(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
