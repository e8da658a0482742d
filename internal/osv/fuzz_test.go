package osv

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts marshals and
// parses back to the same JSON, and that evaluating it never panics.
func FuzzParse(f *testing.F) {
	for _, path := range realRecords(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(rec(`{"package":{"ecosystem":"npm","name":"p"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"*"},{"last_affected":"2.0.0"}]}]}`)))
	f.Add([]byte(rec(`{"package":{"ecosystem":"Debian:12","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}`)))
	f.Add([]byte(`{"id":"X","withdrawn":"2024-01-02T03:04:05+01:00","affected":null}`))
	probes := []string{"0", "1.0", "1.0.0", "1:2.3-4", "1.2.3-r4", "v1.2.3", "2.2.24"}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		// Marshal bytes, not values, are compared: a timestamp equal to the
		// zero time is left out when marshalled, and [] becomes absent.
		checkRoundTrip(t, data, r)
		for i := range r.Affected {
			for _, v := range probes {
				_, _ = r.Affected[i].Evaluate(v)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
