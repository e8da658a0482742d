package osv

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// realRecords returns the paths of the real records under testdata.
func realRecords(t testing.TB) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir("testdata/osv-real", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 34 {
		t.Fatalf("found %d real records, want 34", len(paths))
	}
	return paths
}

func TestParseRealRecords(t *testing.T) {
	// The two records the data's README calls out, and what Parse does with them.
	wantWarnings := map[string][]string{
		"DSA-3029-1": {"modified: missing"},
		"DLA-3623-1": {"affected: none: the record affects no package"},
	}
	for _, path := range realRecords(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse(%s): %v", path, err)
			}
			if want := strings.TrimSuffix(filepath.Base(path), ".json"); r.ID != want {
				t.Errorf("Parse(%s).ID = %q, want %q", path, r.ID, want)
			}
			if got, want := r.Warnings, wantWarnings[r.ID]; !slices.Equal(got, want) {
				t.Errorf("Parse(%s).Warnings = %q, want %q", path, got, want)
			}
			if r.Modified.IsZero() != (r.ID == "DSA-3029-1") {
				t.Errorf("Parse(%s).Modified = %v", path, r.Modified)
			}
			if r.Published.IsZero() {
				t.Errorf("Parse(%s).Published is zero", path)
			}
			checkRoundTrip(t, data, r)
			checkVersionsInRanges(t, r)
		})
	}
}

// checkRoundTrip marshals r, parses the result and checks that it marshals
// to the same bytes and has the same warnings.
func checkRoundTrip(t *testing.T, data []byte, r *Record) {
	t.Helper()
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("Marshal(Parse(%.40q)): %v", data, err)
	}
	r2, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal(Parse(%.40q))): %v\n%s", data, err, out)
	}
	out2, err := json.Marshal(r2)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(out2) {
		t.Fatalf("record %q does not survive a round trip:\nfirst:  %s\nsecond: %s", r.ID, out, out2)
	}
	if !r.Modified.Equal(r2.Modified) || !r.Published.Equal(r2.Published) || !r.Withdrawn.Equal(r2.Withdrawn) {
		t.Errorf("record %q: timestamps changed in a round trip", r.ID)
	}
}

// checkVersionsInRanges checks real data against the evaluator: every version
// a record lists explicitly must be inside its ECOSYSTEM or SEMVER ranges,
// where patchbay knows the ordering.
func checkVersionsInRanges(t *testing.T, r *Record) {
	t.Helper()
	for i, a := range r.Affected {
		if !a.Ecosystem().Supported {
			continue
		}
		hasRange := slices.ContainsFunc(a.Ranges, func(rg Range) bool { return rg.Type != RangeGit })
		if !hasRange {
			continue
		}
		rangesOnly := a
		rangesOnly.Versions = nil
		for _, v := range a.Versions {
			got, err := rangesOnly.Affects(v)
			if err != nil || !got {
				t.Errorf("%s affected[%d] (%s): listed version %q: Affects = %v, %v; want true, nil",
					r.ID, i, a.Package.Ecosystem, v, got, err)
			}
		}
	}
}

func TestParseFields(t *testing.T) {
	data, err := os.ReadFile("testdata/osv-real/Go/GO-2022-0493.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Modified, time.Date(2026, 2, 4, 3, 42, 54, 589715000, time.UTC); !got.Equal(want) {
		t.Errorf("Modified = %v, want %v", got, want)
	}
	if len(r.Affected) != 2 || r.Affected[0].Package.Name != "stdlib" || r.Affected[0].Package.Purl != "pkg:golang/stdlib" {
		t.Fatalf("Affected = %+v", r.Affected)
	}
	wantEvents := []Event{{Introduced, "0"}, {Fixed, "1.17.10"}, {Introduced, "1.18.0-0"}, {Fixed, "1.18.2"}}
	if got := r.Affected[0].Ranges[0].Events; !slices.Equal(got, wantEvents) {
		t.Errorf("Affected[0].Ranges[0].Events = %v, want %v", got, wantEvents)
	}
	if len(r.Affected[0].EcosystemSpecific) == 0 || len(r.DatabaseSpecific) == 0 {
		t.Errorf("ecosystem_specific or database_specific not kept")
	}
	if len(r.Credits) == 0 || len(r.Related) == 0 || len(r.Aliases) == 0 {
		t.Errorf("credits, related or aliases lost: %+v", r)
	}

	data, err = os.ReadFile("testdata/osv-real/Alpine/ALPINE-CVE-2025-26519.json")
	if err != nil {
		t.Fatal(err)
	}
	if r, err = Parse(data); err != nil {
		t.Fatal(err)
	}
	want := Severity{Type: SeverityCVSSv3, Score: "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H"}
	if len(r.Severity) != 1 || r.Severity[0] != want {
		t.Errorf("Severity = %v, want [%v]", r.Severity, want)
	}
}

// rec builds a record around one affected entry's JSON.
func rec(affected string) string {
	return `{"id":"TEST-1","modified":"2024-01-02T03:04:05Z","affected":[` + affected + `]}`
}

const okRange = `{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}`

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, json string
		field      string // InvalidError.Field; "" for a JSON error
		reason     string // part of the error message
	}{
		{"not json", `{`, "", "unexpected end"},
		{"not an object", `[]`, "", "cannot unmarshal"},
		{"wrong type", `{"id":"X","aliases":"CVE-1"}`, "", "field aliases"},
		{"missing id", `{"modified":"2024-01-02T03:04:05Z"}`, "id", "missing"},
		{"bad modified", `{"id":"X","modified":"yesterday"}`, "modified", "not an RFC 3339 time"},
		{"empty modified", `{"id":"X","modified":""}`, "modified", "not an RFC 3339 time"},
		{"bad published", `{"id":"X","modified":"2024-01-02T03:04:05Z","published":"2024-13-01T00:00:00Z"}`, "published", "RFC 3339"},
		{"bad withdrawn", `{"id":"X","modified":"2024-01-02T03:04:05Z","withdrawn":"2024-01-02"}`, "withdrawn", "RFC 3339"},
		{"severity without score", `{"id":"X","modified":"2024-01-02T03:04:05Z","severity":[{"type":"CVSS_V3"}]}`, "severity[0].score", "missing"},
		{"credit without name", `{"id":"X","modified":"2024-01-02T03:04:05Z","credits":[{"type":"FINDER"}]}`, "credits[0].name", "missing"},
		{"package without ecosystem", rec(`{"package":{"name":"p"},"ranges":[` + okRange + `]}`), "affected[0].package.ecosystem", "missing"},
		{"package without name", rec(`{"package":{"ecosystem":"PyPI"},"ranges":[` + okRange + `]}`), "affected[0].package.name", "missing"},
		{"no ranges nor versions", rec(`{"package":{"ecosystem":"PyPI","name":"p"}}`), "affected[0]", "neither ranges nor versions"},
		{"ecosystem range without package", rec(`{"ranges":[` + okRange + `]}`), "affected[0].ranges[0].type", "without affected package"},
		{"unknown range type", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"SVN","events":[{"introduced":"0"}]}]}`), "affected[0].ranges[0].type", `unknown range type "SVN"`},
		{"missing range type", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"events":[{"introduced":"0"}]}]}`), "affected[0].ranges[0].type", "missing"},
		{"git without repo", rec(`{"ranges":[{"type":"GIT","events":[{"introduced":"0"}]}]}`), "affected[0].ranges[0].repo", "missing"},
		{"no events", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[]}]}`), "affected[0].ranges[0].events", "no events"},
		{"no introduced", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1.0"}]}]}`), "affected[0].ranges[0].events", "no introduced event"},
		{"event with two kinds", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1.0"}]}]}`), "affected[0].ranges[0].events[0]", "two event kinds: introduced and fixed"},
		{"event with no kind", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{}]}]}`), "affected[0].ranges[0].events[1]", "no event kind"},
		{"event with only an unknown key", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"patched":"1.0"}]}]}`), "affected[0].ranges[0].events[1]", "no event kind"},
		{"null event", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},null]}]}`), "affected[0].ranges[0].events[1]", "no event kind"},
		{"empty event version", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":""}]}]}`), "affected[0].ranges[0].events[0]", "introduced: empty version"},
		{"event version not a string", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":0}]}]}`), "affected[0].ranges[0].events[0]", "introduced: not a string"},
		{"null event version", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":null}]}]}`), "affected[0].ranges[0].events[0]", "introduced: not a string"},
		{"fixed and last_affected", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"},{"last_affected":"2.0"}]}]}`), "affected[0].ranges[0].events", "both fixed and last_affected"},
		{"severity at both levels", `{"id":"X","modified":"2024-01-02T03:04:05Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}],"affected":[{"package":{"ecosystem":"PyPI","name":"p"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}],"ranges":[` + okRange + `]}]}`, "affected[0].severity", "top-level severity"},
		{"second affected bad", `{"id":"X","modified":"2024-01-02T03:04:05Z","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[` + okRange + `]},{"package":{"ecosystem":"PyPI","name":"q"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]}`, "affected[1].ranges[0].events", "no introduced event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, nil; want an error", tt.json, r)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Parse(%s) error = %q, want it to contain %q", tt.json, err, tt.reason)
			}
			var ie *InvalidError
			if tt.field == "" {
				if errors.As(err, &ie) {
					t.Errorf("Parse(%s) error = %#v, want a JSON error", tt.json, ie)
				}
				return
			}
			if !errors.As(err, &ie) {
				t.Fatalf("Parse(%s) error = %v (%T), want *InvalidError", tt.json, err, err)
			}
			if ie.Field != tt.field {
				t.Errorf("Parse(%s) error field = %q, want %q", tt.json, ie.Field, tt.field)
			}
			if strings.ToLower(ie.Reason[:1]) != ie.Reason[:1] {
				t.Errorf("reason %q does not start in lower case", ie.Reason)
			}
		})
	}
}

func TestParseTolerant(t *testing.T) {
	tests := []struct {
		name, json string
		warnings   []string
	}{
		{"unknown fields everywhere", `{"id":"X","modified":"2024-01-02T03:04:05Z","new_top":{"a":1},"affected":[{"package":{"ecosystem":"PyPI","name":"p","new":1},"new_affected":[],"ranges":[{"type":"ECOSYSTEM","new_range":true,"events":[{"introduced":"0","note":"x"},{"fixed":"1.0"}]}]}]}`, nil},
		{"missing modified", `{"id":"X","affected":[]}`, []string{"modified: missing", "affected: none: the record affects no package"}},
		{"null affected", `{"id":"X","modified":"2024-01-02T03:04:05Z","affected":null}`, []string{"affected: none: the record affects no package"}},
		{"limit in an ECOSYSTEM range", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0"}]}]}`), nil},
		{"last_affected alone", rec(`{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.0"}]}]}`), nil},
		{"versions without ranges", rec(`{"package":{"ecosystem":"Maven","name":"g:a"},"versions":["1.0"]}`), nil},
		{"git range without package", rec(`{"ranges":[{"type":"GIT","repo":"https://example.com/r.git","events":[{"introduced":"0"},{"fixed":"abc"}]}],"versions":["v1.0"]}`), nil},
		{"time zone offset", `{"id":"X","modified":"2024-01-02T05:04:05+02:00","affected":[` + `{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[` + okRange + `]}]}`, nil},
		{"unknown severity type", `{"id":"X","modified":"2024-01-02T03:04:05Z","severity":[{"type":"Ubuntu","score":"high"}],"affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[` + okRange + `]}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.json, err)
			}
			if !slices.Equal(r.Warnings, tt.warnings) {
				t.Errorf("Parse(%s).Warnings = %q, want %q", tt.json, r.Warnings, tt.warnings)
			}
			if !r.Modified.IsZero() && !r.Modified.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Errorf("Parse(%s).Modified = %v", tt.json, r.Modified)
			}
			checkRoundTrip(t, []byte(tt.json), r)
		})
	}
}

func TestUnmarshalJSONChecks(t *testing.T) {
	var r Record
	if err := json.Unmarshal([]byte(`{"modified":"2024-01-02T03:04:05Z"}`), &r); err == nil {
		t.Errorf("json.Unmarshal of a record without id: nil error")
	}
	var e Event
	if err := json.Unmarshal([]byte(`{"introduced":"1","fixed":"2"}`), &e); err == nil {
		t.Errorf("json.Unmarshal of a two-kind event: nil error")
	}
	if err := json.Unmarshal([]byte(`{"last_affected":"2"}`), &e); err != nil || e != (Event{LastAffected, "2"}) {
		t.Errorf("json.Unmarshal event = %v, %v; want {last_affected 2}, nil", e, err)
	}
}
