package policy

import (
	"errors"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the same zones wherever the tests run

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
)

// basePolicy is a valid, normalized policy: every host, every update,
// Saturdays 02:00–05:00 Berlin time.
func basePolicy() patchbay.Policy {
	p := patchbay.Policy{
		ID:      1,
		Name:    "all hosts",
		Version: 1,
		Enabled: true,
		Windows: []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
	}
	Normalize(&p)
	return p
}

// with returns basePolicy changed by f.
func with(f func(p *patchbay.Policy)) patchbay.Policy {
	p := basePolicy()
	f(&p)
	return p
}

func mustCompile(t testing.TB, p patchbay.Policy) *Compiled {
	t.Helper()
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile(%q): %v", p.Name, err)
	}
	return c
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", s, err)
	}
	return v
}

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// fieldOf returns the field a validation error names, failing unless err
// is an EUnprocessable *patchbay.Error.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var pe *patchbay.Error
	if !errors.As(err, &pe) || pe.Code != patchbay.EUnprocessable {
		t.Fatalf("error %v (%T): want an EUnprocessable *patchbay.Error", err, err)
	}
	return pe.Field
}

// host is a Debian 12 host with id, labels and a zone.
func host(id int64, zone string, labels ...string) *patchbay.Host {
	return &patchbay.Host{
		ID: id, Hostname: "h" + strconv.FormatInt(id, 10), OSFamily: "debian", OSName: "debian", OSRelease: "12",
		OSCodename: "bookworm", Labels: labels, Criticality: patchbay.CriticalityMedium, TimeZone: zone,
	}
}

// cand is a candidate update of class cl on host hostID, first seen at
// seen.
func cand(hostID int64, name string, cl risk.Class, sev string, kev bool, seen time.Time, fixes ...string) Candidate {
	return Candidate{
		HostID: hostID, Ecosystem: "deb", Name: name, Arch: "amd64", FromVersion: "1.0-1", ToVersion: "1.0-2",
		Class: cl, Fixes: fixes, KEV: kev, Severity: sev, FirstSeen: seen,
	}
}
