package feed

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/osv"
)

const trackerDir = "testdata/debian-security-tracker-2023-04"

func parseTrackerFile(t testing.TB, kind TrackerKind) ([]*osv.Record, []Problem) {
	t.Helper()
	name := string(kind) + "/list"
	f, err := os.Open(filepath.Join(trackerDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, probs, err := ParseTrackerList(f, name, kind)
	if err != nil {
		t.Fatalf("ParseTrackerList(%s) error: %v", name, err)
	}
	return recs, probs
}

// TestTrackerRealLists parses the real lists of 2023-04-02: every advisory
// header becomes a record or a Problem, and every record survives the strict
// OSV parser after marshalling.
func TestTrackerRealLists(t *testing.T) {
	for _, tc := range []struct {
		kind     TrackerKind
		entries  int // advisory headers in the file (testdata/README.md)
		problems int // advisories without a usable release line
	}{
		{DSA, 5406, 25},
		{DLA, 3534, 4},
		{DTSA, 208, 1},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			recs, probs := parseTrackerFile(t, tc.kind)
			if len(recs)+len(probs) != tc.entries || len(probs) != tc.problems {
				t.Errorf("%s/list: %d records + %d problems, want %d + %d", tc.kind, len(recs), len(probs), tc.entries-tc.problems, tc.problems)
				for _, p := range probs {
					t.Log(p)
				}
			}
			for _, p := range probs {
				if p.File != string(tc.kind)+"/list" || p.Line == 0 || p.ID == "" || p.Reason == "" {
					t.Errorf("problem without file, line, id or reason: %+v", p)
				}
			}
			for _, rec := range recs {
				data, err := json.Marshal(rec)
				if err != nil {
					t.Fatalf("json.Marshal(%s): %v", rec.ID, err)
				}
				back, err := osv.Parse(data)
				if err != nil {
					t.Fatalf("osv.Parse(json.Marshal(%s)): %v\n%s", rec.ID, err, data)
				}
				if len(back.Warnings) > 0 {
					t.Errorf("osv.Parse(%s) warnings: %v", rec.ID, back.Warnings)
				}
				if !strings.HasPrefix(rec.ID, string(tc.kind)+"-") || rec.Published.IsZero() {
					t.Errorf("record %q: bad id or no published date", rec.ID)
				}
			}
		})
	}
}

func findRecord(t *testing.T, recs []*osv.Record, id string) *osv.Record {
	t.Helper()
	for _, r := range recs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no record %s", id)
	return nil
}

// affectedOf summarises a record's affected entries as
// "ecosystem name introduced..fixed".
func affectedOf(rec *osv.Record) []string {
	var out []string
	for _, a := range rec.Affected {
		s := a.Package.Ecosystem + " " + a.Package.Name + " "
		for _, r := range a.Ranges {
			for i, e := range r.Events {
				if i > 0 {
					s += ".."
				}
				s += e.Version
			}
		}
		out = append(out, s)
	}
	return out
}

func TestTrackerRealExamples(t *testing.T) {
	dsa, _ := parseTrackerFile(t, DSA)
	dla, _ := parseTrackerFile(t, DLA)
	dtsa, _ := parseTrackerFile(t, DTSA)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		recs      []*osv.Record
		id        string
		published time.Time
		summary   string
		upstream  []string
		affected  []string
	}{
		{dsa, "DSA-5365-1", day(2023, 2, 27), "curl - security update",
			[]string{"CVE-2023-23916"}, []string{"Debian:11 curl 0..7.74.0-1.3+deb11u7"}},
		{dsa, "DSA-1991-1", day(2010, 2, 4), "squid squid3 - denial of service",
			[]string{"CVE-2009-2855", "CVE-2010-0308"},
			[]string{"Debian:4.0 squid3 0..3.0.PRE5-5+etch2", "Debian:4.0 squid 0..2.6.5-6etch5",
				"Debian:5.0 squid 0..2.7.STABLE3-4.1lenny1", "Debian:5.0 squid3 0..3.0.STABLE8-3+lenny3"}},
		{dsa, "DSA-5356-2", day(2023, 3, 17), "sox - regression update",
			nil, []string{"Debian:11 sox 0..14.4.2+git20190427-2+deb11u2"}},
		{dla, "DLA-3372-1", day(2023, 3, 29), "xorg-server - security update",
			[]string{"CVE-2023-1393"}, []string{"Debian:10 xorg-server 0..2:1.20.4-1+deb10u9"}},
		{dtsa, "DTSA-125-1", day(2008, 4, 28), "vlc - multiple vulnerabilities",
			[]string{"CVE-2008-1769", "CVE-2008-1768", "CVE-2008-1881"}, []string{"Debian:5.0 vlc 0..0.8.6.c-6+lenny4"}},
		{dtsa, "DTSA-1-1", day(2005, 8, 26), "kismet - various",
			[]string{"CVE-2005-2626", "CVE-2005-2627"}, []string{"Debian:4.0 kismet 0..2005.08.R1-0.1etch1"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rec := findRecord(t, tc.recs, tc.id)
			if !rec.Published.Equal(tc.published) || rec.Summary != tc.summary {
				t.Errorf("%s: published %v summary %q, want %v %q", tc.id, rec.Published, rec.Summary, tc.published, tc.summary)
			}
			if !reflect.DeepEqual(rec.Upstream, tc.upstream) || len(rec.Aliases) != 0 {
				t.Errorf("%s: upstream %q aliases %q, want %q and none", tc.id, rec.Upstream, rec.Aliases, tc.upstream)
			}
			if got := affectedOf(rec); !reflect.DeepEqual(got, tc.affected) {
				t.Errorf("%s: affected\n got %q\nwant %q", tc.id, got, tc.affected)
			}
		})
	}
}

// TestTrackerReleasesCoverConfig checks that every distribution the
// tracker's config.json knows, except sid, has a version number.
func TestTrackerReleasesCoverConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(trackerDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Distributions map[string]json.RawMessage `json:"distributions"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	rel := DebianReleases()
	for name := range cfg.Distributions {
		if _, ok := rel[name]; !ok && name != "sid" {
			t.Errorf("config.json distribution %q has no version in DebianReleases", name)
		}
	}
}

func TestTrackerSynthetic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		affected []string // of the one record; nil if none expected
		problems []string // substrings of the Problems' String, in order
		err      string   // substring of the error
	}{
		{name: "markers",
			in:       "[01 Jan 2020] DSA-1-1 pkg - x\n\t[buster] - pkg <unfixed>\n\t[stretch] - pkg <not-affected> (code not present)\n\t[jessie] - pkg <end-of-life>\n",
			affected: []string{"Debian:10 pkg 0", "Debian:8 pkg 0"}},
		{name: "remarks after the version and spaces",
			in:       "[01 Jan 2020] DSA-2-1 p - x\n        [sarge] - p  1.0-1 (bug #1; medium)\n",
			affected: []string{"Debian:3.1 p 0..1.0-1"}},
		{name: "unknown release and bad version",
			in:       "[01 Jan 2020] DSA-3-1 p - x\n\t[sid] - p 1.0\n\t[buster] - p :bad\n\t[bullseye] - p 2.0-1\n",
			affected: []string{"Debian:11 p 0..2.0-1"},
			problems: []string{`x:2: DSA-3-1: unknown release "sid"`, `x:3: DSA-3-1: fixed version ":bad"`}},
		{name: "other kind, bad date, duplicate",
			in: "[01 Jan 2020] DLA-1-1 p - x\n\t[buster] - p 1\n[32 Jan 2020] DSA-4-1 p\n\t[buster] - p 1\n" +
				"[01 Jan 2020] DSA-5-1 p\n\t[buster] - p 1\n[01 Jan 2020] DSA-5-1 p\n\t[buster] - p 2\n",
			affected: []string{"Debian:10 p 0..1"},
			problems: []string{`x:1: advisory id "DLA-1-1" is not of the form DSA-N-N`, `x:3: DSA-4-1: date "32 Jan 2020"`, `x:7: DSA-5-1: advisory listed again (first at line 5)`}},
		{name: "orphan and unrecognised lines",
			in:       "\t[buster] - p 1\n[01 Jan 2020] DSA-6-1 p\n\t{CVE-2020-0001\n\twhat is this\n\t[buster] p 1\n\t[buster] - p 1\n\t[buster] - p 1\n",
			affected: []string{"Debian:10 p 0..1"},
			problems: []string{"x:1: indented line outside any advisory", "x:3: DSA-6-1: id list without closing brace", "x:4: DSA-6-1: unrecognised line", "x:5: DSA-6-1: malformed release line", "x:7: DSA-6-1: p in buster listed twice"}},
		{name: "announcement", in: "[18 Apr 2018] DSA-4205-1 jessie end-of-life\n\tNOTE: x\n",
			problems: []string{"x:1: DSA-4205-1: no usable release line"}},
		{name: "garbage", in: "hello\nworld\n", err: `no advisory header`},
		{name: "binary", in: "\x00\x01\x02", err: "line 1: not UTF-8 text"},
		{name: "empty", in: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, probs, err := ParseTrackerList(strings.NewReader(tc.in), "x", DSA)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseTrackerList(%q) error %v, want one containing %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrackerList(%q): %v", tc.in, err)
			}
			switch {
			case tc.affected == nil && len(recs) != 0:
				t.Errorf("ParseTrackerList(%q): %d records, want none", tc.in, len(recs))
			case tc.affected != nil && len(recs) != 1:
				t.Errorf("ParseTrackerList(%q): %d records, want 1", tc.in, len(recs))
			case tc.affected != nil:
				if got := affectedOf(recs[0]); !reflect.DeepEqual(got, tc.affected) {
					t.Errorf("ParseTrackerList(%q) affected %q, want %q", tc.in, got, tc.affected)
				}
			}
			if len(probs) != len(tc.problems) {
				t.Fatalf("ParseTrackerList(%q) problems %v, want %d", tc.in, probs, len(tc.problems))
			}
			for i, want := range tc.problems {
				if !strings.Contains(probs[i].String(), want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, probs[i], want)
				}
			}
		})
	}
	if _, _, err := ParseTrackerList(strings.NewReader(""), "x", "USN"); err == nil {
		t.Errorf("ParseTrackerList(kind USN): no error")
	}
}
