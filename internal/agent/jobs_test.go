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
	if err != nil || r.Status != protocol.JobFailed || !strings.Contains(r.Reason, "left broken: hello") || !strings.Contains(r.Output, "postinst") {
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

// fakeHost is HostOps in memory.
type fakeHost struct {
	active   map[string]bool
	boot     time.Time
	required bool
	reboots  int
	hooks    map[string]error
	ran      []string
}

func (h *fakeHost) ServiceActive(_ context.Context, unit string) (bool, error) {
	return h.active[unit], nil
}
func (h *fakeHost) BootTime(context.Context) (time.Time, error) { return h.boot, nil }
func (h *fakeHost) RebootRequired(context.Context) bool         { return h.required }
func (h *fakeHost) Reboot(context.Context, time.Duration) error { h.reboots++; return nil }
func (h *fakeHost) RunHook(_ context.Context, name string) (string, error) {
	h.ran = append(h.ran, name)
	return name + " ran\n", h.hooks[name]
}

// TestFinishHooksRebootHealth: hooks run around the install (a failing
// pre-check changes nothing), a required reboot suspends the job until the
// boot time moves, and services must stay active for the minimum healthy
// time.
func TestFinishHooksRebootHealth(t *testing.T) {
	ctx := context.Background()
	to11 := protocol.Action{Name: "hello", Version: "1.1"}
	setup := func(t *testing.T) (*Executor, *fakePM, *fakeHost, *time.Time) {
		pm := &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}
		host := &fakeHost{active: map[string]bool{"nginx.service": true}, boot: time.Unix(1_700_000_000, 0), hooks: map[string]error{}}
		x := newExec(t, pm)
		now := time.Now()
		x.Host, x.Now = host, func() time.Time { return now }
		x.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
		return x, pm, host, &now
	}
	t.Run("a failing pre-check changes nothing", func(t *testing.T) {
		x, pm, host, _ := setup(t)
		host.hooks["drain"] = errors.New("exit status 1")
		job := install(1, to11)
		job.PreHooks = []string{"drain"}
		r, err := x.Run(ctx, job)
		if err != nil || r.Status != protocol.JobFailed || !strings.Contains(r.Reason, "pre-check failed, nothing changed") || len(pm.calls) != 0 {
			t.Fatalf("Run = %+v, %v; package manager calls %v", r, err, pm.calls)
		}
	})
	t.Run("a failing post-check fails the job", func(t *testing.T) {
		x, _, host, _ := setup(t)
		host.hooks["smoke"] = errors.New("exit status 2")
		job := install(2, to11)
		job.PostHooks = []string{"smoke"}
		r, _ := x.Run(ctx, job)
		if r.Status != protocol.JobFailed || !strings.Contains(r.Reason, "post-check failed") || !strings.Contains(r.Output, "== hook smoke") {
			t.Fatalf("Run = %+v", r)
		}
	})
	t.Run("services watched for the minimum healthy time", func(t *testing.T) {
		x, _, _, now := setup(t)
		job := install(3, to11)
		job.Services, job.MinHealthySeconds = []string{"nginx.service"}, 60
		start := *now
		r, err := x.Run(ctx, job)
		if err != nil || r.Status != protocol.JobHealthy || now.Sub(start) < time.Minute {
			t.Fatalf("Run = %+v, %v after %s; want healthy after a minute", r, err, now.Sub(start))
		}
	})
	t.Run("an inactive service is unhealthy", func(t *testing.T) {
		x, _, host, _ := setup(t)
		host.active["nginx.service"] = false
		job := install(4, to11)
		job.Services = []string{"nginx.service"}
		r, _ := x.Run(ctx, job)
		if r.Status != protocol.JobFailed || !strings.Contains(r.Reason, "nginx.service is not active") {
			t.Fatalf("Run = %+v", r)
		}
	})
	t.Run("a required reboot, then health", func(t *testing.T) {
		x, _, host, now := setup(t)
		host.required = true
		job := install(5, to11)
		job.Reboot.Mode, job.Reboot.Delay = "if-required", "5m"
		if _, err := x.Run(ctx, job); !errors.Is(err, ErrRebooting) || host.reboots != 1 {
			t.Fatalf("Run: %v, %d reboots; want ErrRebooting after one reboot", err, host.reboots)
		}
		// The agent starts again before the reboot happened: still waiting.
		if results, _, err := x.Recover(ctx); err != nil || len(results) != 0 {
			t.Fatalf("Recover before the reboot = %+v, %v; want nothing to report yet", results, err)
		}
		host.boot = host.boot.Add(time.Hour) // rebooted
		*now = now.Add(10 * time.Minute)
		results, _, err := x.Recover(ctx)
		if err != nil || len(results) != 1 || results[0].Status != protocol.JobHealthy || !results[0].Rebooted {
			t.Fatalf("Recover after the reboot = %+v, %v", results, err)
		}
	})
	t.Run("a host that never rebooted fails", func(t *testing.T) {
		x, _, _, now := setup(t)
		job := install(6, to11)
		job.Reboot.Mode = "always"
		if _, err := x.Run(ctx, job); !errors.Is(err, ErrRebooting) {
			t.Fatal(err)
		}
		*now = now.Add(time.Hour)
		results, _, err := x.Recover(ctx)
		if err != nil || len(results) != 1 || results[0].Status != protocol.JobFailed || !strings.Contains(results[0].Reason, "did not reboot") {
			t.Fatalf("Recover = %+v, %v", results, err)
		}
	})
}
