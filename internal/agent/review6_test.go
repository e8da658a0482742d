package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// TestReview6RecoverFetch: the agent killed while a fetch job downloaded
// the targets and kept the installed versions' files. Nothing in the
// package database tells whether that finished, so reporting the fetch
// succeeded (as recovery did, judging it like an install) lets the install
// start on a host whose previous packages were never kept: its rollback
// then fails for want of them. A fetch changes nothing installed; it is
// run again.
func TestReview6RecoverFetch(t *testing.T) {
	ctx := context.Background()
	pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}
	x := newExec(t, pm)
	job := protocol.Job{ID: 11, Attempt: 1, Kind: protocol.JobFetch, Actions: []protocol.Action{{Name: "hello", Version: "1.1"}}}
	before, _ := pm.Versions(ctx, job.Actions)
	// The first run died inside Fetch, before it kept anything.
	if err := x.Journal.Put(Entry{Job: job, Phase: PhaseStarted, Before: before, Started: time.Now(), At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	results, _, err := x.Recover(ctx)
	if err != nil || len(results) != 1 {
		t.Fatalf("Recover = %+v, %v", results, err)
	}
	if r := results[0]; r.Status == protocol.JobSucceeded && !pm.kept["hello=1.0"] {
		t.Fatalf("recovered fetch = %+v, but hello 1.0 was never kept for a rollback", r)
	}
}

// rebootHost reboots "later": its boot time never moves during the test.
type rebootHost struct{ boot time.Time }

func (h rebootHost) ServiceActive(context.Context, string) (bool, error) { return true, nil }
func (h rebootHost) BootTime(context.Context) (time.Time, error)         { return h.boot, nil }
func (h rebootHost) RebootRequired(context.Context) bool                 { return true }
func (h rebootHost) Reboot(context.Context, time.Duration) error         { return nil }
func (h rebootHost) RunHook(context.Context, string) (string, error)     { return "", nil }

// TestReview6RebootingDoesNotSpin: while the host waits out a job's
// reboot delay, the server keeps offering the job (handed out, not
// reported). Each poll came back at once with it, the executor said
// "rebooting", and the agent polled again at once: a busy loop of polls
// (each a write transaction on the server) for the whole delay, on every
// host of the ring.
func TestReview6RebootingDoesNotSpin(t *testing.T) {
	job := protocol.Job{ID: 21, Attempt: 1, Kind: protocol.JobInstall, Ecosystem: "deb", Actions: []protocol.Action{{Name: "hello", Version: "1.1"}},
		StartBy: time.Now().Add(time.Hour), Reboot: patchbay.RebootRule{Mode: patchbay.RebootAlways, Delay: "5m"}}
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathJobsPoll {
			polls.Add(1)
			json.NewEncoder(w).Encode(protocol.PollResponse{Jobs: []protocol.Job{job}})
			return
		}
		json.NewEncoder(w).Encode(map[string]bool{"accepted": true})
	}))
	defer srv.Close()
	api, err := client.New(client.Options{Server: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}
	x := newExec(t, pm)
	x.Host = rebootHost{boot: time.Now().Add(-time.Hour)}
	a := &runner{cfg: Config{PollWait: time.Second}, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	a.runJobs(ctx, api, x)
	if n := polls.Load(); n > 5 {
		t.Fatalf("%d polls in 1.5s while the host waited to reboot; the agent spins", n)
	}
	if n := len(pm.calls); n != 1 {
		t.Fatalf("package manager called %v; want one install", pm.calls)
	}
}

// failingPM fails every install with a multi-line error, changing nothing.
type failingPM struct{ *failCount }

type failCount struct {
	*fakePM
	n int
}

func (p failingPM) Install(context.Context, []protocol.Action) (string, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return "", errors.New("apt-get install: exit status 100\nE: Unable to correct problems, you have held broken packages.")
}

// TestReview6ResultAlwaysAccepted: a failed install of many packages made
// a reason of thousands of bytes with a line break in it, which the server
// refuses (422: at most 2000 bytes, no control characters). The agent then
// dropped the result and its journal entry as refused for good, while the
// server still had the job running and offered it again: the agent, with
// nothing journalled, installed it a second time.
func TestReview6ResultAlwaysAccepted(t *testing.T) {
	var actions []protocol.Action
	for i := range 120 {
		actions = append(actions, protocol.Action{Name: fmt.Sprintf("libexample-component-%03d", i), Version: "2.36-9+deb12u7"})
	}
	job := install(31, actions...)
	var reported atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathJobsPoll {
			var res protocol.PollResponse
			if !reported.Load() { // handed out and not reported: offered again
				res.Jobs = []protocol.Job{job}
			}
			json.NewEncoder(w).Encode(res)
			return
		}
		var res protocol.JobResult
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := res.Validate(); err != nil { // as the server does
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		reported.Store(true)
		json.NewEncoder(w).Encode(map[string]bool{"accepted": true})
	}))
	defer srv.Close()
	api, err := client.New(client.Options{Server: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	pm := failingPM{&failCount{fakePM: &fakePM{installed: map[string]string{}, kept: map[string]bool{}}}}
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	x := &Executor{Journal: j, PM: pm}
	a := &runner{cfg: Config{PollWait: 100 * time.Millisecond}, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	a.runJobs(ctx, api, x)
	if !reported.Load() {
		t.Error("the server refused the job's result")
	}
	if n := pm.installs(); n != 1 {
		t.Errorf("the job was installed %d times", n)
	}
}

func (p failingPM) installs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// TestReview6HookRelativeDir: with a relative --hooks-dir, the hook whose
// ownership and mode were checked (DIR/NAME from the agent's directory)
// was not the one run: the command ran in DIR with the relative path
// DIR/NAME, that is DIR/DIR/NAME, a file never checked (and with
// --hooks-dir ".", the name alone, looked up in $PATH: a hook named
// "reboot" ran /usr/sbin/reboot).
func TestReview6HookRelativeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("hooks must be owned by root; the test makes them, which needs root")
	}
	base := t.TempDir()
	t.Chdir(base)
	for _, d := range []string{"hooks.d", "hooks.d/hooks.d"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("hooks.d/check", []byte("#!/bin/sh\necho checked\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("hooks.d/hooks.d/check", []byte("#!/bin/sh\necho unchecked\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod("hooks.d/hooks.d/check", 0o777)
	h := LocalHost{HooksDir: "hooks.d", AllowHooks: true, HookTimeout: 5 * time.Second}
	out, err := h.RunHook(context.Background(), "check")
	if err != nil || !strings.Contains(out, "checked") || strings.Contains(out, "unchecked") {
		t.Fatalf("RunHook = %q, %v; want the checked hook's output", out, err)
	}
}
