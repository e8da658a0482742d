package pkgmgr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/debtest"
)

// The packages of the deployment story: an application and its library,
// in versions 1.0 and 1.1, and a broken 1.2 of the application whose
// postinst fails.
var (
	lib10   = debtest.Package{Name: "storylib-pb", Version: "1.0"}
	lib11   = debtest.Package{Name: "storylib-pb", Version: "1.1"}
	app10   = debtest.Package{Name: "story-pb", Version: "1.0", Depends: "storylib-pb (>= 1.0)"}
	app11   = debtest.Package{Name: "story-pb", Version: "1.1", Depends: "storylib-pb (>= 1.1)"}
	app12   = debtest.Package{Name: "story-pb", Version: "1.2", Depends: "storylib-pb (>= 1.1)", FailPostinst: true}
	extra10 = debtest.Package{Name: "extra-pb", Version: "1.0", NoScripts: true}
)

// act returns the action installing name=ver.
func act(name, ver string) Action { return Action{Name: name, Version: ver} }

// wantState fails t unless p is at ver, with dpkg status st.
func wantState(t *testing.T, what string, p PackageState, ver, st string) {
	t.Helper()
	if p.Version != ver || p.Status != st {
		t.Errorf("%s: %s; want %s %s", what, p, ver, st)
	}
}

// timed runs fn and logs how long it took.
func timed(t *testing.T, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
}

// TestAptDeploymentStory tells the story on real apt and dpkg: a
// host at 1.0 takes the pilot's update to 1.1, keeps 1.1's files, takes a
// broken 1.2 whose postinst fails (the package is left half-configured
// and the database inconsistent), the archive drops 1.1 and 1.2, and the
// host rolls back to exactly 1.1 from the kept file.
func TestAptDeploymentStory(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, lib11, app10, app11, app12)
	ctx := context.Background()
	conf := filepath.Join(f.Root, "etc/story-pb.conf")

	var res *InstallResult
	var err error
	timed(t, "install 1.0", func() {
		res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{})
	})
	if err != nil {
		t.Fatalf("Install 1.0: %v\n%s", err, res.Output)
	}
	wantState(t, "story-pb before 1.0", res.Packages[0].Before, "", "not-installed")
	wantState(t, "story-pb after 1.0", res.Packages[0].After, "1.0", "installed")
	// The administrator changes the conffile: no update may undo that.
	writeFile(t, conf, "# story-pb, changed here\nsetting = local\n")

	timed(t, "upgrade to 1.1", func() {
		res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true})
	})
	if err != nil {
		t.Fatalf("Install 1.1: %v\n%s", err, res.Output)
	}
	p := res.Packages[0]
	wantState(t, "story-pb before 1.1", p.Before, "1.0", "installed")
	wantState(t, "story-pb after 1.1", p.After, "1.1", "installed")
	if p.Reason != "" || len(res.Failed()) != 0 {
		t.Errorf("upgrade to 1.1 failed for %+v", res.Failed())
	}
	// apt upgraded the library the new version depends on: recorded too.
	if len(res.Others) != 1 || res.Others[0].Name != "storylib-pb" || res.Others[0].Before.Version != "1.0" || res.Others[0].After.Version != "1.1" {
		t.Errorf("Others = %+v; want storylib-pb 1.0 -> 1.1", res.Others)
	}
	if !strings.Contains(res.Output, "Unpacking story-pb (1.1) over (1.0)") {
		t.Errorf("Output does not show the upgrade:\n%s", res.Output)
	}
	if data, _ := os.ReadFile(conf); !strings.Contains(string(data), "setting = local") {
		t.Errorf("the local conffile change was lost:\n%s", data)
	}
	if log := f.ScriptLog(t); !strings.Contains(log, "story-pb 1.1 postinst configure 1.0\n") {
		t.Errorf("postinst log:\n%s", log)
	}

	// Before the next update, the agent keeps what is installed. apt's
	// cache was cleaned meanwhile, so the files are rebuilt.
	f.CleanCache(t)
	keepDir := filepath.Join(t.TempDir(), "kept")
	var kept []DebFile
	timed(t, "keep 1.1 (rebuilt)", func() {
		kept, err = f.apt.Keep(ctx, []string{"story-pb", "storylib-pb"}, keepDir)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []Action{{"story-pb", "all", "1.1"}, {"storylib-pb", "all", "1.1"}} {
		k := kept[i]
		if k.Action != want || !k.Rebuilt || len(k.Modified) != 0 || len(k.Missing) != 0 || filepath.Dir(k.Path) != keepDir {
			t.Errorf("Keep: file %d = %+v; want %v rebuilt in %s, nothing modified or missing", i, k, want, keepDir)
		}
	}

	timed(t, "upgrade to broken 1.2", func() {
		res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.2")}, InstallOptions{OnlyUpgrade: true})
	})
	if err == nil || !errors.Is(err, ReasonFailed) {
		t.Fatalf("Install 1.2 = %v; want an error wrapping ReasonFailed", err)
	}
	t.Logf("broken update: %v", err)
	p = res.Packages[0]
	wantState(t, "story-pb before 1.2", p.Before, "1.1", "installed")
	wantState(t, "story-pb after 1.2", p.After, "1.2", "half-configured")
	if p.Reason != ReasonFailed || !strings.Contains(p.Detail, "half-configured") {
		t.Errorf("story-pb: reason %q (%s); want %q, half-configured", p.Reason, p.Detail, ReasonFailed)
	}
	capture(t, "apt/install-broken.txt", []byte(res.Output), filepath.Dir(f.Root), "/tmp/pbtest")
	if !strings.Contains(res.Output, "story-pb 1.2: postinst fails on purpose") {
		t.Errorf("Output does not have the postinst's message:\n%s", res.Output)
	}
	f.captureQuery(t, "dpkg/query-broken.txt", "-W", "-f", dpkgQueryFormat)
	broken, err := f.apt.Consistent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(broken) != 1 || broken[0].Name != "story-pb" || broken[0].Status != "half-configured" || broken[0].Version != "1.2" {
		t.Errorf("Consistent after the broken update = %v; want story-pb 1.2 half-configured", broken)
	}

	// A half-configured package's files are no version's: not kept.
	if _, err := f.apt.Keep(ctx, []string{"story-pb"}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "1.2 half-configured") {
		t.Errorf("Keep of a half-configured package = %v; want an error saying so", err)
	}

	// The archive moves on: 1.1 and 1.2 are gone from it.
	f.publish(t, lib10, lib11, app10)
	res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{AllowDowngrades: true})
	if !errors.Is(err, ReasonUnavailable) || res.Packages[0].Detail != "the package indexes have 1.0" {
		t.Fatalf("Install 1.1 from an archive without it = %v (%+v); want ReasonUnavailable, 1.0 listed", err, res)
	}
	t.Logf("archive without 1.1: %v", err)

	var paths []string
	for _, k := range kept {
		paths = append(paths, k.Path)
	}
	timed(t, "roll back to kept 1.1", func() {
		res, err = f.apt.InstallFiles(ctx, paths)
	})
	if err != nil {
		t.Fatalf("InstallFiles(kept 1.1): %v\n%s", err, res.Output)
	}
	p = res.Packages[0]
	wantState(t, "story-pb before the rollback", p.Before, "1.2", "half-configured")
	wantState(t, "story-pb after the rollback", p.After, "1.1", "installed")
	wantState(t, "storylib-pb after the rollback", res.Packages[1].After, "1.1", "installed")
	wantState(t, "story-pb in dpkg's database", f.state(t, "story-pb"), "1.1", "installed")
	if broken, err := f.apt.Consistent(ctx); err != nil || len(broken) != 0 {
		t.Errorf("Consistent after the rollback = %v, %v; want none", broken, err)
	}
	if data, _ := os.ReadFile(filepath.Join(f.Root, "usr/share/story-pb/data")); string(data) != "story-pb data 1.1\n" {
		t.Errorf("data file after the rollback: %q", data)
	}
	if data, _ := os.ReadFile(conf); !strings.Contains(string(data), "setting = local") {
		t.Errorf("the local conffile change was lost in the rollback:\n%s", data)
	}
	if fi, err := os.Stat(filepath.Join(f.Root, "usr/lib/story-pb/run")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("usr/lib/story-pb/run after the rollback: %v, %v; want mode 0755", fi, err)
	}
	// dpkg configured the rolled-back package from the version last
	// configured, 1.1.
	if log := f.ScriptLog(t); !strings.HasSuffix(log, "story-pb 1.1 postinst configure 1.1\n") {
		t.Errorf("postinst log:\n%s", log)
	}
	f.captureQuery(t, "dpkg/query.txt", "-W", "-f", dpkgQueryFormat)
}

// TestAptInstallRefusals: each reason a job fails for before anything
// changes, per package, and the options that change what apt may do.
func TestAptInstallRefusals(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, lib11, app10, app11, extra10)
	ctx := context.Background()
	if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{}); err != nil {
		t.Fatalf("Install 1.0: %v\n%s", err, res.Output)
	}

	t.Run("held", func(t *testing.T) {
		setSelection(t, f.Root, "story-pb", "hold")
		defer setSelection(t, f.Root, "story-pb", "install")
		res, err := f.apt.Install(ctx, []Action{act("storylib-pb", "1.1"), act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true})
		if !errors.Is(err, ReasonHeld) {
			t.Fatalf("Install of a held package = %v; want ReasonHeld", err)
		}
		t.Logf("held: %v", err)
		if got := res.Packages[1]; got.Reason != ReasonHeld || got.Detail != "dpkg selection hold, at 1.0 installed" {
			t.Errorf("story-pb: %q (%s); want held", got.Reason, got.Detail)
		}
		if got := res.Packages[0]; got.Reason != ReasonNotAttempted {
			t.Errorf("storylib-pb: %q; want %q: a job changes all its packages or none", got.Reason, ReasonNotAttempted)
		}
		wantState(t, "story-pb", f.state(t, "story-pb"), "1.0", "installed")
		wantState(t, "storylib-pb", f.state(t, "storylib-pb"), "1.0", "installed")
		f.captureQuery(t, "dpkg/query-held.txt", "-W", "-f", dpkgQueryFormat)
		if _, err := f.apt.Download(ctx, []Action{act("story-pb", "1.1")}, t.TempDir()); !errors.Is(err, ReasonHeld) {
			t.Errorf("Download of a held package = %v; want ReasonHeld", err)
		}
		// A held dependency stops the upgrade of a package that is not
		// held itself: apt says so, and so does the reason. (Within the
		// second, and with the status file's size unchanged: apt would
		// take story-pb for held still, were its cache of the status file
		// not off; see noStatusCache.)
		setSelection(t, f.Root, "story-pb", "install")
		setSelection(t, f.Root, "storylib-pb", "hold")
		res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true})
		setSelection(t, f.Root, "storylib-pb", "install")
		capture(t, "apt/install-held-dependency.txt", []byte(res.Output), filepath.Dir(f.Root), "/tmp/pbtest")
		if !errors.Is(err, ReasonHeld) || !strings.HasPrefix(res.Packages[0].Detail, "storylib-pb held; left 1.0 installed: story-pb : Depends: storylib-pb (>= 1.1) but 1.0 is to be installed") {
			t.Errorf("Install with a held dependency = %v (%q); want ReasonHeld naming storylib-pb", err, res.Packages[0].Detail)
		}
		t.Logf("held dependency: %v", err)
		setSelection(t, f.Root, "story-pb", "hold")
		// Installed at the version asked already: nothing to do, held or not.
		if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.0")}, InstallOptions{}); err != nil {
			t.Errorf("Install of the held package's own version: %v\n%s", err, res.Output)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		res, err := f.apt.Install(ctx, []Action{act("story-pb", "9.9"), act("nosuch-pb", "1.0")}, InstallOptions{})
		if !errors.Is(err, ReasonUnavailable) {
			t.Fatalf("Install of versions no index has = %v; want ReasonUnavailable", err)
		}
		t.Logf("unavailable: %v", err)
		if got := res.Packages[0].Detail; got != "the package indexes have 1.0, 1.1" {
			t.Errorf("story-pb 9.9: %q", got)
		}
		if got := res.Packages[1].Detail; got != "no package index has the package" {
			t.Errorf("nosuch-pb: %q", got)
		}
	})

	t.Run("not installed", func(t *testing.T) {
		res, err := f.apt.Install(ctx, []Action{act("extra-pb", "1.0")}, InstallOptions{OnlyUpgrade: true})
		if !errors.Is(err, ReasonNotInstalled) || res.Packages[0].Reason != ReasonNotInstalled {
			t.Fatalf("upgrade of a package not installed = %v; want ReasonNotInstalled", err)
		}
		t.Logf("not installed: %v", err)
		res, err = f.apt.Install(ctx, []Action{act("extra-pb", "1.0")}, InstallOptions{})
		if err != nil {
			t.Fatalf("Install of a new package: %v\n%s", err, res.Output)
		}
		wantState(t, "extra-pb", res.Packages[0].After, "1.0", "installed")
		// Removed since: no longer installed.
		run(t, "", nil, "dpkg", "--admindir="+filepath.Join(f.Root, "var/lib/dpkg"), "--instdir="+f.Root, "--purge", "extra-pb")
		if _, err := f.apt.Install(ctx, []Action{act("extra-pb", "1.0")}, InstallOptions{OnlyUpgrade: true}); !errors.Is(err, ReasonNotInstalled) {
			t.Errorf("upgrade of a package removed since = %v; want ReasonNotInstalled", err)
		}
	})

	t.Run("downgrade", func(t *testing.T) {
		if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true}); err != nil {
			t.Fatalf("Install 1.1: %v\n%s", err, res.Output)
		}
		res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.0")}, InstallOptions{})
		if !errors.Is(err, ReasonFailed) || !strings.Contains(err.Error(), "--allow-downgrades") {
			t.Fatalf("downgrade without AllowDowngrades = %v; want apt's refusal", err)
		}
		wantState(t, "story-pb after a refused downgrade", res.Packages[0].After, "1.1", "installed")
		res, err = f.apt.Install(ctx, []Action{act("story-pb", "1.0")}, InstallOptions{AllowDowngrades: true})
		if err != nil {
			t.Fatalf("downgrade with AllowDowngrades: %v\n%s", err, res.Output)
		}
		wantState(t, "story-pb downgraded", res.Packages[0].After, "1.0", "installed")
	})
}

// setSelection sets name's dpkg selection under root (dpkg
// --set-selections, as apt-mark hold does).
func setSelection(t *testing.T, root, name, sel string) {
	t.Helper()
	cmd := exec.Command(lookTool(t, "dpkg"), "--admindir="+filepath.Join(root, "var/lib/dpkg"), "--set-selections")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(name + " " + sel + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg --set-selections: %v\n%s", err, out)
	}
}

// TestAptDownload: the target downloaded while the archive has it
// installs from the file after the archive dropped it.
func TestAptDownload(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, lib11, app10, app11)
	ctx := context.Background()
	if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{}); err != nil {
		t.Fatalf("Install 1.0: %v\n%s", err, res.Output)
	}
	dir := filepath.Join(t.TempDir(), "deployment-7")
	var files []DebFile
	var err error
	timed(t, "download 1.1", func() {
		files, err = f.apt.Download(ctx, []Action{act("story-pb", "1.1")}, dir)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Action != (Action{"story-pb", "all", "1.1"}) || files[0].Path != filepath.Join(dir, "story-pb_1.1_all.deb") {
		t.Fatalf("Download = %+v", files)
	}
	// The dependency the target needs came along.
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 2 {
		t.Fatalf("download directory holds %v; want story-pb and storylib-pb 1.1", debs)
	}
	wantState(t, "story-pb after the download", f.state(t, "story-pb"), "1.0", "installed")
	// The installed version downloads too, and into apt's cache by default.
	cached, err := f.apt.Download(ctx, []Action{{Name: "story-pb", Arch: "all", Version: "1.0"}}, "")
	if err != nil || len(cached) != 1 || cached[0].Path != filepath.Join(f.Root, "var/cache/apt/archives/story-pb_1.0_all.deb") {
		t.Fatalf("Download(installed version, apt's cache) = %+v, %v", cached, err)
	}
	if _, err := f.apt.Download(ctx, []Action{act("story-pb", "2.0")}, dir); !errors.Is(err, ReasonUnavailable) {
		t.Errorf("Download of a version no index has = %v; want ReasonUnavailable", err)
	}

	f.publish(t, lib10, app10)
	if _, err := f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true}); !errors.Is(err, ReasonUnavailable) {
		t.Fatalf("Install 1.1 from an archive without it = %v; want ReasonUnavailable", err)
	}
	res, err := f.apt.InstallFiles(ctx, debs)
	if err != nil {
		t.Fatalf("InstallFiles(downloaded): %v\n%s", err, res.Output)
	}
	wantState(t, "story-pb", f.state(t, "story-pb"), "1.1", "installed")
	wantState(t, "storylib-pb", f.state(t, "storylib-pb"), "1.1", "installed")
}
