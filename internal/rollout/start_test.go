package rollout

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
)

func TestMayStart(t *testing.T) {
	sat := []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "host"}}
	// 2026-12-12 is a Saturday: 02:30 in Tokyo is 17:30 UTC the day before.
	tokyo := time.Date(2026, 12, 11, 17, 30, 0, 0, time.UTC)
	job := func(kind patchbay.JobKind) patchbay.Job { return patchbay.Job{Kind: kind, DeploymentID: 1} }
	tests := []struct {
		name    string
		c       store.JobCandidate
		now     time.Time
		ok      bool
		startBy time.Time
	}{
		{"install inside the host's window, in its zone", store.JobCandidate{Job: job(patchbay.JobInstall), Windows: sat, HostZone: "Asia/Tokyo"}, tokyo, true,
			time.Date(2026, 12, 11, 20, 0, 0, 0, time.UTC)},
		{"the same moment for a host in Berlin: outside", store.JobCandidate{Job: job(patchbay.JobInstall), Windows: sat, HostZone: "Europe/Berlin"}, tokyo, false, time.Time{}},
		{"a host without a zone is read as UTC", store.JobCandidate{Job: job(patchbay.JobInstall), Windows: sat}, time.Date(2026, 12, 12, 3, 0, 0, 0, time.UTC), true,
			time.Date(2026, 12, 12, 5, 0, 0, 0, time.UTC)},
		{"a fetch at once", store.JobCandidate{Job: job(patchbay.JobFetch), Windows: sat, HostZone: "Europe/Berlin"}, tokyo, true, tokyo.Add(time.Hour)},
		{"a rollback at once", store.JobCandidate{Job: job(patchbay.JobRollback), Windows: sat, HostZone: "Europe/Berlin"}, tokyo, true, tokyo.Add(time.Hour)},
		{"an emergency install at once", store.JobCandidate{Job: job(patchbay.JobInstall), Emergency: true}, tokyo, true, tokyo.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			startBy, ok, err := MayStart(tc.c, tc.now)
			if err != nil || ok != tc.ok || (ok && !startBy.Equal(tc.startBy)) {
				t.Fatalf("MayStart = %s, %v, %v; want %s, %v", startBy, ok, err, tc.startBy, tc.ok)
			}
		})
	}
	if _, _, err := MayStart(store.JobCandidate{Job: job(patchbay.JobInstall), Windows: []patchbay.WindowSpec{{Cron: "bad", Duration: "1h", Zone: "UTC"}}}, tokyo); err == nil {
		t.Fatal("a window that does not parse gave no error")
	}
}
