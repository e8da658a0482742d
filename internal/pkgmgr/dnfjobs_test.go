package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// dnfTestPkg is a tiny noarch package the DnfJobs tests build with
// rpmbuild: it installs /usr/share/NAME/version, may require another, and
// may have a %post in Lua. rpm runs scriptlets chrooted into the root, and
// a throwaway root has no shell, but rpm's Lua runs inside rpm itself.
type dnfTestPkg struct {
	name, version string
	requires      string // the value of a Requires: line, or ""
	post          string // a Lua %post, or ""
}

func (p dnfTestPkg) nevra() string { return p.name + "-" + p.version + "-1.noarch" }

func (p dnfTestPkg) spec() string {
	s := fmt.Sprintf("Name: %s\nVersion: %s\nRelease: 1\nSummary: patchbay test package\nLicense: MIT\nBuildArch: noarch\n", p.name, p.version)
	if p.requires != "" {
		s += "Requires: " + p.requires + "\n"
	}
	s += "%description\npatchbay test package\n"
	s += fmt.Sprintf("%%install\nmkdir -p %%{buildroot}/usr/share/%s\necho %s > %%{buildroot}/usr/share/%s/version\n", p.name, p.version, p.name)
	if p.post != "" {
		s += "%post -p <lua>\n" + p.post + "\n"
	}
	return s + fmt.Sprintf("%%files\n/usr/share/%s/version\n", p.name)
}

// The story's packages: story-pb 1.0 and 1.1, and 1.2 whose %post fails
// (rpm installs it all the same); 1.1 and 1.2 need storylib-pb 1.1.
var (
	dnfLib10   = dnfTestPkg{name: "storylib-pb", version: "1.0"}
	dnfLib11   = dnfTestPkg{name: "storylib-pb", version: "1.1"}
	dnfStory10 = dnfTestPkg{name: "story-pb", version: "1.0", requires: "storylib-pb >= 1.0"}
	dnfStory11 = dnfTestPkg{name: "story-pb", version: "1.1", requires: "storylib-pb >= 1.1"}
	dnfStory12 = dnfTestPkg{name: "story-pb", version: "1.2", requires: "storylib-pb >= 1.1",
		post: `error("patchbay test: the broken update's post-install fails")`}
	dnfOther10 = dnfTestPkg{name: "other-pb", version: "1.0"}
)

// dnfFixture is a set of built packages, a repository publishing some of
// them, and throwaway installroots using it.
type dnfFixture struct {
	tmp, repo  string
	files      map[string]string // nevra -> the built file
	dnf, rpm   string
	createrepo string
}

func newDnfFixture(t *testing.T, pkgs ...dnfTestPkg) *dnfFixture {
	t.Helper()
	f := &dnfFixture{dnf: lookTool(t, "dnf"), rpm: lookTool(t, "rpm"), createrepo: lookTool(t, "createrepo_c"), files: map[string]string{}}
	rpmbuild := lookTool(t, "rpmbuild")
	f.tmp = t.TempDir()
	f.repo = filepath.Join(f.tmp, "repo")
	top := filepath.Join(f.tmp, "rpmbuild")
	for i, p := range pkgs {
		spec := filepath.Join(f.tmp, fmt.Sprintf("%d.spec", i))
		writeFile(t, spec, p.spec())
		run(t, "", nil, rpmbuild, "--define", "_topdir "+top, "--quiet", "-bb", spec)
		f.files[p.nevra()] = filepath.Join(top, "RPMS/noarch", p.nevra()+".rpm")
	}
	f.publish(t, pkgs...)
	return f
}

// publish makes the repository hold exactly pkgs.
func (f *dnfFixture) publish(t *testing.T, pkgs ...dnfTestPkg) {
	t.Helper()
	if err := os.RemoveAll(f.repo); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if err := copyFile(f.files[p.nevra()], filepath.Join(f.repo, p.nevra()+".rpm")); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "", nil, f.createrepo, "--quiet", f.repo)
}

// newRoot makes an empty installroot using the repository, and the
// DnfJobs of an agent on it.
func (f *dnfFixture) newRoot(t *testing.T, name string) *DnfJobs {
	t.Helper()
	root := filepath.Join(f.tmp, name)
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/story.repo"),
		"[story]\nname=patchbay story\nbaseurl=file://"+f.repo+"\ngpgcheck=0\nenabled=1\n")
	run(t, "", nil, f.rpm, "--root", root, "--initdb")
	return &DnfJobs{Dnf: &Dnf{Root: root, Command: f.dnf, Releasever: "9"}, Rpm: f.rpm, Dir: filepath.Join(f.tmp, name+"-agent"), LockTimeout: 20 * time.Second}
}

func dnfAct(p dnfTestPkg) protocol.Action {
	return protocol.Action{Name: p.name, Arch: "noarch", Version: p.version + "-1"}
}

// wantDnfVersion fails t unless the package of a is installed at want ("" for
// none), as Versions reads it.
func wantDnfVersion(t *testing.T, j *DnfJobs, a protocol.Action, want string) {
	t.Helper()
	got, err := j.Versions(context.Background(), []protocol.Action{a})
	if err != nil || len(got) != 1 || got[0].Version != want {
		t.Fatalf("Versions(%s) = %+v, %v; want %q", a.Name, got, err, want)
	}
}

// TestDnfJobsStory runs the deployment story through DnfJobs on real dnf
// and rpm, in throwaway installroots: two hosts at 1.0 fetch 1.1 (keeping
// 1.0); one installs 1.1 from the repository, with the dnf transaction's
// id in the output; the repository then drops 1.0 and 1.1, and the other
// host still installs 1.1, with its dependency, from the fetched files.
// The broken 1.2 installs but its %post fails: the install fails, and
// Versions and Broken tell the truth; rollbacks to 1.1 and to 1.0 come
// from the kept files although no repository holds them. A host whose
// installed version no copy exists of cannot fetch; a version that does
// not exist, an excluded (held) package and an upgrade of a package that
// is not installed fail clearly, changing nothing.
func TestDnfJobsStory(t *testing.T) {
	t.Parallel()
	f := newDnfFixture(t, dnfLib10, dnfLib11, dnfStory10, dnfStory11, dnfStory12, dnfOther10)
	ctx := context.Background()
	story10, story11, story12 := dnfAct(dnfStory10), dnfAct(dnfStory11), dnfAct(dnfStory12)
	to11 := []protocol.Action{story11}

	a, b, e := f.newRoot(t, "a"), f.newRoot(t, "b"), f.newRoot(t, "e")
	for _, j := range []*DnfJobs{a, b, e} {
		wantDnfVersion(t, j, story10, "")
		if out, err := j.Install(ctx, []protocol.Action{story10, dnfAct(dnfLib10)}); err != nil {
			t.Fatalf("install 1.0: %v\n%s", err, out)
		}
		wantDnfVersion(t, j, story10, "1.0-1")
		wantDnfVersion(t, j, dnfAct(dnfLib10), "1.0-1")
		before, err := j.Versions(ctx, to11)
		if err != nil {
			t.Fatal(err)
		}
		out, err := j.Fetch(ctx, to11, before)
		if err != nil {
			t.Fatalf("Fetch 1.1: %v\n%s", err, out)
		}
		if !strings.Contains(out, "kept story-pb-1.0-1.noarch (from the repository)") || !strings.Contains(out, "(2 files with their dependencies)") {
			t.Errorf("Fetch output does not say what it fetched and kept:\n%s", out)
		}
		wantDnfVersion(t, j, story10, "1.0-1") // a fetch changes nothing installed
	}

	out, err := a.Install(ctx, to11)
	if err != nil {
		t.Fatalf("Install 1.1: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dnf transaction 2\n") {
		t.Errorf("Install output does not name the dnf transaction (2):\n%s", out)
	}
	wantDnfVersion(t, a, story11, "1.1-1")
	wantDnfVersion(t, a, dnfAct(dnfLib11), "1.1-1")
	if out, err := a.Install(ctx, to11); err != nil || !strings.Contains(out, "nothing to do") {
		t.Errorf("Install 1.1 again = %v\n%s; want nothing to do", err, out)
	}

	f.publish(t, dnfLib10, dnfStory12, dnfOther10) // 1.0, 1.1 and storylib 1.1 are gone
	if err := b.Dnf.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = b.Install(ctx, to11)
	if err != nil {
		t.Fatalf("Install 1.1 from the fetched files: %v\n%s", err, out)
	}
	t.Logf("Install from the fetched files:\n%s", out)
	if !strings.Contains(out, "installing the files fetched ahead") {
		t.Errorf("Install output does not say it used the fetched files:\n%s", out)
	}
	wantDnfVersion(t, b, story11, "1.1-1")
	wantDnfVersion(t, b, dnfAct(dnfLib11), "1.1-1")
	// A host whose metadata still lists 1.1 finds its file gone from the
	// repository, and installs the fetched files instead.
	out, err = e.Install(ctx, to11)
	if err != nil || !strings.Contains(out, "the repositories failed; installing the files fetched ahead instead") {
		t.Fatalf("Install 1.1 with stale metadata = %v\n%s; want the fetched files installed", err, out)
	}
	wantDnfVersion(t, e, story11, "1.1-1")
	wantDnfVersion(t, e, dnfAct(dnfLib11), "1.1-1")

	// The broken update. Fetching it keeps 1.1, which no repository holds
	// any more: the file fetched for the previous job is that very build.
	to12 := []protocol.Action{story12}
	before, _ := a.Versions(ctx, to12)
	if out, err := a.Fetch(ctx, to12, before); err != nil || !strings.Contains(out, "kept story-pb-1.1-1.noarch (fetched by an earlier job)") {
		t.Fatalf("Fetch 1.2 = %v\n%s; want 1.1 kept from the earlier fetch", err, out)
	}
	out, err = a.Install(ctx, to12)
	t.Logf("Install of the broken 1.2: %v\n%s", err, out)
	if err == nil || !errors.Is(err, ReasonFailed) || !strings.Contains(err.Error(), "story-pb-1.2-1.noarch: failed (installed, but its %post scriptlet failed)") {
		t.Fatalf("Install of the broken 1.2 = %v; want the failed %%post", err)
	}
	if !strings.Contains(out, "dnf transaction 3\n") {
		t.Errorf("Install output does not name the dnf transaction (3):\n%s", out)
	}
	wantDnfVersion(t, a, story12, "1.2-1") // rpm installed it all the same
	broken, err := a.Broken(ctx)
	if err != nil || len(broken) != 1 || broken[0] != "story-pb-1.2-1.noarch: its %post scriptlet failed in dnf transaction 3" {
		t.Fatalf("Broken = %q, %v; want story-pb's failed %%post", broken, err)
	}
	captureDnf(t, a, f.tmp, "dnf/history-info-scriptlet.txt", "history", "info")
	if *update {
		out := run(t, "", dnfEnv(), f.rpm, "--root", a.Dnf.Root, "-qa", "--queryformat", rpmQueryFormat)
		capture(t, "dnf/rpm-query.txt", []byte(out), f.tmp, "/tmp/pbtest")
	}

	// Rollbacks, from the kept files only.
	if out, err := a.Restore(ctx, []protocol.Action{story11}); err != nil {
		t.Fatalf("Restore 1.1: %v\n%s", err, out)
	}
	wantDnfVersion(t, a, story11, "1.1-1")
	if broken, err := a.Broken(ctx); err != nil || len(broken) != 0 {
		t.Fatalf("after the rollback Broken = %q, %v; want nothing", broken, err)
	}
	if out, err := a.Restore(ctx, []protocol.Action{story10}); err != nil {
		t.Fatalf("Restore 1.0: %v\n%s", err, out)
	}
	wantDnfVersion(t, a, story10, "1.0-1")
	if _, err := a.Restore(ctx, []protocol.Action{{Name: "story-pb", Arch: "noarch", Version: "0.9-1"}}); err == nil || !strings.Contains(err.Error(), "no kept file for story-pb=0.9-1") {
		t.Errorf("Restore of a version never kept: %v", err)
	}

	// A host that got 1.0 from elsewhere: no repository, cache or file of
	// this agent holds it, so the fetch fails and the install never starts.
	c := f.newRoot(t, "c")
	run(t, "", nil, f.rpm, "--root", c.Dnf.Root, "-i", f.files[dnfLib10.nevra()], f.files[dnfStory10.nevra()])
	before, _ = c.Versions(ctx, to12)
	if _, err := c.Fetch(ctx, to12, before); err == nil || !strings.Contains(err.Error(), "cannot keep story-pb-1.0-1.noarch for a rollback: no repository or cache holds it") {
		t.Errorf("Fetch on a host whose version nobody holds: %v; want a failure", err)
	}
	// An install without a fetch keeps the installed version first, and so
	// fails the same way, changing nothing.
	if out, err := c.Install(ctx, to12); err == nil || !strings.Contains(err.Error(), "before installing: cannot keep story-pb-1.0-1.noarch") {
		t.Errorf("Install on a host whose version nobody holds = %v\n%s; want a failure", err, out)
	}
	wantDnfVersion(t, c, story10, "1.0-1")

	// Refusals change nothing.
	for _, tc := range []struct {
		name   string
		j      *DnfJobs
		action protocol.Action
		opts   InstallOptions
		reason Reason
		want   string
	}{
		{"no such version", c, protocol.Action{Name: "story-pb", Arch: "noarch", Version: "9.9-1"}, InstallOptions{AllowDowngrades: true},
			ReasonUnavailable, "story-pb-9.9-1.noarch: version not available (no repository holds it, and no fetch job downloaded it ahead)"},
		{"upgrade of nothing installed", c, dnfAct(dnfOther10), InstallOptions{OnlyUpgrade: true},
			ReasonNotInstalled, "other-pb-1.0-1.noarch: not installed (only upgrades were asked"},
		{"downgrade not allowed", a, protocol.Action{Name: "storylib-pb", Arch: "noarch", Version: "1.0-1"}, InstallOptions{},
			ReasonFailed, "a downgrade from 1.1-1, and downgrades were not allowed"},
	} {
		before, _ := tc.j.installed(ctx, tc.j.Dnf.Root)
		out, err := tc.j.InstallWith(ctx, []protocol.Action{tc.action}, tc.opts)
		if !errors.Is(err, tc.reason) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: InstallWith = %v\n%s; want %q (%s)", tc.name, err, out, tc.want, tc.reason)
		}
		if after, _ := tc.j.installed(ctx, tc.j.Dnf.Root); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: the installed packages changed:\n%v\nthen\n%v", tc.name, before, after)
		}
	}
	// Held: dnf.conf under the root excludes story-pb (as versionlock would).
	writeFile(t, filepath.Join(b.Dnf.Root, "etc/dnf/dnf.conf"), "[main]\nexcludepkgs=story-pb\n")
	if out, err := b.Install(ctx, to12); !errors.Is(err, ReasonHeld) || !strings.Contains(err.Error(), "story-pb-1.2-1.noarch: held (dnf excludes it") {
		t.Errorf("Install of an excluded package = %v\n%s; want held", err, out)
	}
	wantDnfVersion(t, b, story11, "1.1-1")
}

// TestDnfJobsLocks holds rpm's and dnf's locks as the tools do, with real
// runs whose %post sleeps: a plain rpm -U holds rpm's transaction lock, a
// dnf install holds dnf's rpmdb lock too. Install then fails with
// ErrLocked within its bounded wait, and WaitIdle returns once they are
// done. Killing the dnf in the middle of its %post is the crash Broken must
// see: the new and the old version both in the database.
func TestDnfJobsLocks(t *testing.T) {
	t.Parallel()
	slow := func(v string) dnfTestPkg {
		return dnfTestPkg{name: "slow-pb", version: v, post: `posix.sleep(tonumber(os.getenv("PB_SLOW") or "0"))`}
	}
	f := newDnfFixture(t, slow("1.0"), slow("2.0"), slow("3.0"), dnfOther10)
	ctx := context.Background()
	j := f.newRoot(t, "locks")
	if out, err := j.Install(ctx, []protocol.Action{dnfAct(slow("1.0"))}); err != nil {
		t.Fatalf("install 1.0: %v\n%s", err, out)
	}
	other := []protocol.Action{dnfAct(dnfOther10)}
	rpmLock, err := j.rpmLockPath(ctx, j.Dnf.Root)
	if err != nil {
		t.Fatal(err)
	}

	// rpm's own lock, held by rpm -U for its whole transaction.
	rpmRun := exec.Command(f.rpm, "--root", j.Dnf.Root, "-U", f.files[slow("2.0").nevra()])
	rpmRun.Env = append(os.Environ(), "PB_SLOW=3")
	if err := rpmRun.Start(); err != nil {
		t.Fatal(err)
	}
	dnfWaitFor(t, "rpm's lock", func() bool { held, _, _ := lockHolder(rpmLock); return held })
	j.LockTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = j.Install(ctx, other)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), rpmLock) || time.Since(start) > 10*time.Second {
		t.Errorf("Install while rpm runs = %v after %v; want ErrLocked naming %s", err, time.Since(start), rpmLock)
	}
	j.LockTimeout = time.Minute
	if err := j.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle while rpm runs: %v", err)
	}
	if err := rpmRun.Wait(); err != nil {
		t.Fatalf("rpm -U: %v", err)
	}
	wantDnfVersion(t, j, dnfAct(slow("2.0")), "2.0-1")

	// dnf's lock, held by a dnf install, killed in the middle of %post.
	argv, err := j.Dnf.base()
	if err != nil {
		t.Fatal(err)
	}
	dnfRun := exec.Command(argv[0], append(argv[1:], "install", slow("3.0").nevra())...)
	dnfRun.Env = append(os.Environ(), "PB_SLOW=60", "LC_ALL=C")
	if err := dnfRun.Start(); err != nil {
		t.Fatal(err)
	}
	defer dnfRun.Process.Kill()
	dnfLock := filepath.Join(j.Dnf.Root, dnfRPMDBLock)
	dnfWaitFor(t, "dnf's lock and 3.0 in the database", func() bool {
		pid, _ := dnfLockPID(dnfLock)
		db, _ := j.installed(ctx, j.Dnf.Root)
		_, in := db.has(slow("3.0").nevra())
		return pid == dnfRun.Process.Pid && in
	})
	j.LockTimeout = 300 * time.Millisecond
	start = time.Now()
	_, err = j.Install(ctx, other)
	wantHolder := fmt.Sprintf("process %d", dnfRun.Process.Pid)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), wantHolder) || time.Since(start) > 10*time.Second {
		t.Errorf("Install while dnf runs = %v after %v; want ErrLocked naming %s", err, time.Since(start), wantHolder)
	}
	if err := j.WaitIdle(ctx); !errors.Is(err, ErrLocked) {
		t.Errorf("WaitIdle while dnf runs: %v; want ErrLocked", err)
	}
	if err := dnfRun.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dnfRun.Wait()
	if err := j.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle after dnf was killed: %v", err)
	}
	broken, err := j.Broken(ctx)
	t.Logf("Broken after the crash: %q", broken)
	want := []string{
		"slow-pb-2.0-1.noarch is a duplicate with slow-pb-3.0-1.noarch",
		"slow-pb-3.0-1.noarch: dnf transaction 2 did not finish installing it (Return-Code: Failure: 1)",
	}
	if err != nil || fmt.Sprint(broken) != fmt.Sprint(want) {
		t.Errorf("Broken after the crash = %q, %v; want %q", broken, err, want)
	}
	wantDnfVersion(t, j, dnfAct(slow("3.0")), "3.0-1") // the newest of the two
	captureDnf(t, j, f.tmp, "dnf/history-info-killed.txt", "history", "info")
	captureDnf(t, j, f.tmp, "dnf/check-duplicate.txt", "check", "--disablerepo=*")
}

// dnfWaitFor polls cond for up to a minute.
func dnfWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// captureDnf saves what dnf prints for args under j's root as testdata
// name, when go test -update runs.
func captureDnf(t *testing.T, j *DnfJobs, tmp, name string, args ...string) {
	t.Helper()
	if !*update {
		return
	}
	r, err := j.newRun()
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.dnf(context.Background(), false, nil, []int{1}, args...)
	if err != nil {
		t.Fatal(err)
	}
	capture(t, name, out, tmp, "/tmp/pbtest")
}
