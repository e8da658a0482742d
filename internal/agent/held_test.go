package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

func pv(name, version string) protocol.PackageVersion {
	return protocol.PackageVersion{Name: name, Version: version}
}

// TestHeld: files two deployments share are released only with the last;
// the record survives a restart; a damaged record is an error, not an
// empty one.
func TestHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.json")
	h, err := OpenHeld(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Add(7, []protocol.PackageVersion{pv("openssl", "3.0.2")}, []protocol.PackageVersion{pv("openssl", "3.0.1"), pv("new", "")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(9, []protocol.PackageVersion{pv("openssl", "3.0.2"), pv("curl", "8.1")}, nil); err != nil {
		t.Fatal(err)
	}
	h, err = OpenHeld(path)
	if err != nil {
		t.Fatal(err)
	}
	if ids := h.IDs(); !slices.Equal(ids, []int64{7, 9}) {
		t.Fatalf("ids after reopening: %v", ids)
	}
	fetched, kept := h.Unused([]int64{7})
	if len(fetched) != 0 || len(kept) != 1 || kept[0] != pv("openssl", "3.0.1") {
		t.Errorf("releasing 7: fetched %v kept %v; want only the kept openssl 3.0.1 (3.0.2 is 9's too; nothing kept for a new package)", fetched, kept)
	}
	if err := h.Remove([]int64{7}); err != nil {
		t.Fatal(err)
	}
	fetched, _ = h.Unused([]int64{9, 12})
	if len(fetched) != 2 {
		t.Errorf("releasing 9 and an unknown 12: fetched %v, want openssl and curl", fetched)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHeld(path); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("damaged record: %v, want an error saying what to do", err)
	}
}

// prunePM records what the agent asks it to prune.
type prunePM struct {
	*fakePM
	mu            sync.Mutex
	fetched, kept []protocol.PackageVersion
}

func (p *prunePM) Prune(_ context.Context, fetched, kept []protocol.PackageVersion) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetched, p.kept = append(p.fetched, fetched...), append(p.kept, kept...)
	return nil
}

// TestReleaseDeletesFiles: the agent tells the server the deployments it
// holds files for, and deletes those the server releases.
func TestReleaseDeletesFiles(t *testing.T) {
	job := install(51, protocol.Action{Name: "hello", Version: "1.1"})
	job.DeploymentID = 5
	var mu sync.Mutex
	var polls [][]int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != protocol.PathJobsPoll {
			json.NewEncoder(w).Encode(map[string]bool{"accepted": true})
			return
		}
		var req protocol.PollRequest
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		polls = append(polls, req.Holding)
		n := len(polls)
		mu.Unlock()
		var res protocol.PollResponse
		switch {
		case n == 1:
			res.Jobs = []protocol.Job{job}
		case slices.Contains(req.Holding, 5):
			res.Release = []int64{5}
		}
		json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	api, err := client.New(client.Options{Server: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	pm := &prunePM{fakePM: &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}}
	x := newExec(t, pm.fakePM)
	x.PM = pm
	a := &runner{cfg: Config{PollWait: 50 * time.Millisecond, StateDir: t.TempDir()}, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	a.runJobs(ctx, api, x)
	mu.Lock()
	defer mu.Unlock()
	if len(polls) < 3 || len(polls[0]) != 0 || !slices.Equal(polls[1], []int64{5}) || len(polls[len(polls)-1]) != 0 {
		t.Fatalf("holding in successive polls: %v; want none, then 5, then none once released", polls)
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if !slices.Equal(pm.fetched, []protocol.PackageVersion{pv("hello", "1.1")}) || !slices.Equal(pm.kept, []protocol.PackageVersion{pv("hello", "1.0")}) {
		t.Errorf("pruned fetched %v kept %v; want hello 1.1 and the kept 1.0", pm.fetched, pm.kept)
	}
}
