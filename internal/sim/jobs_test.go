package sim

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
)

// fakeServer is the agent side of a server, scripted: each poll answers
// the next entry of polls, and the first failResults result posts fail
// with 503.
type fakeServer struct {
	mu          sync.Mutex
	hash        string
	inventory   protocol.Inventory
	polls       [][]protocol.Job
	failResults int
	results     []protocol.JobResult // every result posted and taken
}

func (f *fakeServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST "+protocol.PathCheckIn, func(w http.ResponseWriter, r *http.Request) {
		var req protocol.CheckInRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, protocol.CheckInResponse{InventoryNeeded: req.InventoryHash != f.hash})
	})
	mux.HandleFunc("PUT "+protocol.PathInventory, func(w http.ResponseWriter, r *http.Request) {
		var inv protocol.Inventory
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			inv, err = protocol.DecodeInventory(zr, 64<<20)
		}
		if err != nil {
			t.Errorf("inventory upload: %v", err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.inventory, f.hash = inv, inv.Hash
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+protocol.PathJobsPoll, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		jobs := []protocol.Job{}
		if len(f.polls) > 0 {
			jobs, f.polls = f.polls[0], f.polls[1:]
		}
		reply(w, protocol.PollResponse{Jobs: jobs})
	})
	mux.HandleFunc("POST "+protocol.PathJobResult, func(w http.ResponseWriter, r *http.Request) {
		var res protocol.JobResult
		json.NewDecoder(r.Body).Decode(&res)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failResults > 0 {
			f.failResults--
			http.Error(w, `{"title":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		f.results = append(f.results, res)
		reply(w, map[string]bool{"accepted": len(f.results) == 1})
	})
	return mux
}

// TestJobsRunOnceAndReportAgain follows one host through four turns: its
// install job is run and its result lost to a 503; the next turn sends the
// journalled result again before asking for more, and when the server
// hands the same (id, attempt) once more the host does not run it twice
// and says so. The versions the job installed reach the server with the
// next inventory, the updates they took gone.
func TestJobsRunOnceAndReportAgain(t *testing.T) {
	fl, err := fleet.NewFleet(3, 1, fleet.Options{ChangeRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	inv := fl.Inventory(0)
	if len(inv.Updates) < 2 {
		t.Fatalf("host 0 has %d updates, want two at least", len(inv.Updates))
	}
	job := protocol.Job{ID: 5, Attempt: 1, Kind: protocol.JobInstall}
	for _, u := range inv.Updates[:2] {
		job.Actions = append(job.Actions, protocol.Action{Name: u.Name, Arch: u.Arch, Version: u.ToVersion})
	}
	fake := &fakeServer{polls: [][]protocol.Job{{job}, {job}}, failResults: 1}
	ts := httptest.NewServer(fake.handler(t))
	defer ts.Close()
	c, err := client.New(client.Options{Server: ts.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var runs []JobRun
	cfg := Config{Client: c, Fleet: fl, EnrollSecret: "unused", Now: time.Now, Logger: slog.New(slog.DiscardHandler), Jobs: &PackageManager{Seed: 1},
		OnJob: func(r JobRun) { runs = append(runs, r) }}
	var stats Stats
	h := &host{i: 0, token: "pbh_test", gen: -1, advanced: -1}
	for range 4 {
		cfg.step(context.Background(), h, &stats)
	}
	if len(runs) != 1 || runs[0].Job.ID != 5 || runs[0].Result.Status != protocol.JobHealthy {
		t.Fatalf("runs %+v, want job 5 run once, healthy", runs)
	}
	if len(fake.results) != 1 {
		t.Fatalf("the server took %d results, want the lost one, sent again", len(fake.results))
	}
	for i, r := range fake.results {
		if !reflect.DeepEqual(r.After, runs[0].Result.After) || r.Status != runs[0].Result.Status || !r.Finished.Equal(runs[0].Result.Finished) {
			t.Errorf("result %d sent = %+v, want the journalled %+v", i, r, runs[0].Result)
		}
	}
	if stats.JobsRun.Load() != 1 || stats.JobsRepeated.Load() != 1 || stats.Reports.Load() != 1 || stats.Errors.Load() != 2 {
		t.Errorf("stats %s; want 1 run, 1 handed again, 1 reported, 2 errors (the 503 and the job handed again)", &stats)
	}
	// The inventory the server holds has the new versions and not the
	// updates they took.
	got := map[string]string{}
	for _, p := range fake.inventory.Packages {
		got[p.Name] = p.Version
	}
	for _, a := range job.Actions {
		if got[a.Name] != a.Version {
			t.Errorf("server's inventory has %s at %q, want %s", a.Name, got[a.Name], a.Version)
		}
	}
	for _, u := range fake.inventory.Updates {
		if u.Name == job.Actions[0].Name || u.Name == job.Actions[1].Name {
			t.Errorf("server's inventory still offers %s %s", u.Name, u.ToVersion)
		}
	}
	if len(fake.inventory.Updates) != len(inv.Updates)-2 || fake.inventory.Hash != protocol.InventoryHash(fake.inventory) {
		t.Errorf("server's inventory: %d updates (was %d), hash %s", len(fake.inventory.Updates), len(inv.Updates), fake.inventory.Hash)
	}
}
