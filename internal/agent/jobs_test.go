package agent

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// fakePM is a package database in memory. crashIn makes the named
// operation "kill the agent" after applying (or not) its change: it
// returns errCrash, which the test treats as the process dying.
type fakePM struct {
	mu        sync.Mutex
	installed map[string]string
	kept      map[string]bool // name=version files kept for rollback
	broken    []string
	failNext  string // the next Install leaves this package half-configured
	calls     []string
	crashIn   string
	crashDone bool // whether the crashing operation completed its change
}

var errCrash = errors.New("agent killed")

func (p *fakePM) Versions(_ context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]protocol.PackageVersion, len(actions))
	for i, a := range actions {
		out[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch, Version: p.installed[a.Name]}
	}
	return out, nil
}

func (p *fakePM) Fetch(_ context.Context, actions []protocol.Action, before []protocol.PackageVersion) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "fetch")
	for _, b := range before {
		p.kept[b.Name+"="+b.Version] = true
	}
	return "fetched", nil
}

func (p *fakePM) Install(_ context.Context, actions []protocol.Action) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "install")
	if p.crashIn == "install" && !p.crashDone {
		return "", errCrash
	}
	for _, a := range actions {
		p.installed[a.Name] = a.Version
		if a.Name == p.failNext {
			p.broken = append(p.broken, a.Name)
			return "Setting up " + a.Name + " ...\npostinst returned error exit status 1", errors.New("apt-get install: exit status 100")
		}
	}
	if p.crashIn == "install" {
		return "", errCrash
	}
	return "Unpacking ... Setting up ...", nil
}

func (p *fakePM) Restore(_ context.Context, actions []protocol.Action) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "restore")
	for _, a := range actions {
		if !p.kept[a.Name+"="+a.Version] {
			return "", errors.New("no kept file for " + a.Name + "=" + a.Version)
		}
		p.installed[a.Name] = a.Version
	}
	p.broken = nil
	return "restored", nil
}

func (p *fakePM) Broken(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.broken...), nil
}

func (p *fakePM) WaitIdle(context.Context) error { return nil }

func newExec(t *testing.T, pm *fakePM) *Executor {
	t.Helper()
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Executor{Journal: j, PM: pm}
}

func install(id int64, actions ...protocol.Action) protocol.Job {
	return protocol.Job{ID: id, Attempt: 1, Kind: protocol.JobInstall, Ecosystem: "deb", Actions: actions, StartBy: time.Now().Add(time.Hour)}
}

// TestRunJobs tells the story on the executor: fetch keeps the
// old files, 1.1 installs, the broken 1.2 fails half-configured (the
// result says which package), and the rollback restores 1.1 from the kept
// file.
func TestRunJobs(t *testing.T) {
	ctx := context.Background()
	pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}
	x := newExec(t, pm)
	to11 := protocol.Action{Name: "hello", Version: "1.1"}
	r, err := x.Run(ctx, protocol.Job{ID: 1, Attempt: 1, Kind: protocol.JobFetch, Actions: []protocol.Action{to11}})
	if err != nil || r.Status != protocol.JobSucceeded || !pm.kept["hello=1.0"] {
		t.Fatalf("fetch = %+v, %v; kept %v", r, err, pm.kept)
	}
	r, err = x.Run(ctx, install(2, to11))
	if err != nil || r.Status != protocol.JobHealthy || r.Before[0].Version != "1.0" || r.After[0].Version != "1.1" {
		t.Fatalf("install 1.1 = %+v, %v", r, err)
	}
	if _, err := x.Run(ctx, protocol.Job{ID: 3, Attempt: 1, Kind: protocol.JobFetch, Actions: []protocol.Action{{Name: "hello", Version: "1.2"}}}); err != nil {
		t.Fatal(err)
	}
	pm.failNext = "hello"
	r, err = x.Run(ctx, install(4, protocol.Action{Name: "hello", Version: "1.2"}))
	if err != nil || r.Status != protocol.JobFailed || !strings.Contains(r.Reason, "half-installed: hello") || !strings.Contains(r.Output, "postinst") {
		t.Fatalf("install broken 1.2 = %+v, %v", r, err)
	}
	r, err = x.Run(ctx, protocol.Job{ID: 5, Attempt: 1, Kind: protocol.JobRollback, Actions: []protocol.Action{{Name: "hello", Version: "1.1"}}, StartBy: time.Now().Add(time.Hour)})
	if err != nil || r.Status != protocol.JobHealthy || r.After[0].Version != "1.1" {
		t.Fatalf("rollback = %+v, %v", r, err)
	}
	// Asking for a job it ran returns its result; nothing runs twice.
	calls := len(pm.calls)
	again, err := x.Run(ctx, install(2, to11))
	if err != nil || again.Status != protocol.JobHealthy || len(pm.calls) != calls {
		t.Fatalf("the same job again = %+v, %v; package manager called %d more times", again, err, len(pm.calls)-calls)
	}
}

// TestRecoverAfterCrash: the agent dies during an install, before or
// after the package manager finished; the next run reads the outcome from
// the package database, reports it marked recovered, and never installs
// again.
func TestRecoverAfterCrash(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		done       bool
		wantStatus protocol.JobStatus
	}{
		{"killed before dpkg changed anything", false, protocol.JobFailed},
		{"killed after dpkg finished", true, protocol.JobHealthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}, crashIn: "install", crashDone: tc.done}
			x := newExec(t, pm)
			job := install(7, protocol.Action{Name: "hello", Version: "1.1"})
			// The first run "dies" inside Install: its journal says started.
			e := Entry{Job: job, Phase: PhaseReceived, At: time.Now()}
			if err := x.Journal.Put(e); err != nil {
				t.Fatal(err)
			}
			before, _ := pm.Versions(ctx, job.Actions)
			e.Phase, e.Before, e.Started = PhaseStarted, before, time.Now()
			if err := x.Journal.Put(e); err != nil {
				t.Fatal(err)
			}
			if _, err := pm.Install(ctx, job.Actions); !errors.Is(err, errCrash) {
				t.Fatalf("the fake did not crash: %v", err)
			}
			// The agent starts again.
			pm.crashIn = ""
			calls := len(pm.calls)
			results, jobs, err := x.Recover(ctx)
			if err != nil || len(results) != 1 || jobs[0].ID != 7 {
				t.Fatalf("Recover = %+v, %v", results, err)
			}
			r := results[0]
			if r.Status != tc.wantStatus || !r.Recovered || r.Before[0].Version != "1.0" {
				t.Fatalf("recovered result = %+v; want %s, recovered, before 1.0", r, tc.wantStatus)
			}
			if len(pm.calls) != calls {
				t.Fatalf("recovery called the package manager's changes again: %v", pm.calls[calls:])
			}
			// Until the server acknowledges it, the result stays; then it goes.
			if again, _, _ := x.Recover(ctx); len(again) != 1 || again[0].Status != r.Status {
				t.Fatalf("a second recovery = %+v", again)
			}
			if err := x.Journal.Remove(7, 1); err != nil {
				t.Fatal(err)
			}
			if left, _, _ := x.Recover(ctx); len(left) != 0 {
				t.Fatalf("after the acknowledgement the journal still holds %+v", left)
			}
		})
	}
}

// TestRefusedOutsideWindow: an install received after its window closed
// is refused without touching anything.
func TestRefusedOutsideWindow(t *testing.T) {
	pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}
	x := newExec(t, pm)
	job := install(9, protocol.Action{Name: "hello", Version: "1.1"})
	job.StartBy = time.Now().Add(-time.Minute)
	r, err := x.Run(context.Background(), job)
	if err != nil || r.Status != protocol.JobRefused || !strings.Contains(r.Reason, "window ended") || len(pm.calls) != 0 {
		t.Fatalf("Run = %+v, %v; calls %v", r, err, pm.calls)
	}
}

// TestJournalCorrupt: a damaged entry is an error naming the file, not a
// guess.
func TestJournalCorrupt(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Put(Entry{Job: install(3), Phase: PhaseReceived}); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(j.name(3, 1), "{\"job\":"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Entries(); err == nil || !strings.Contains(err.Error(), "job-3-1.json") {
		t.Fatalf("Entries on a damaged journal: %v", err)
	}
}

func writeFile(name, content string) error { return os.WriteFile(name, []byte(content), 0o600) }
