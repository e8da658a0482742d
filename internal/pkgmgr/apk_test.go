//go:build linux

package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// ApkJobs against the fake apk of apkfake_test.go, which answers with the
// captured output of apk-tools 2.14 (testdata/apk/README.md). The
// database reads (Versions, Broken, the checks before a change) and the
// lock are real: the fake leaves apk's database as apk would, and the
// lock is held by flock(1) the way apk holds it.

var (
	storyTargets = []protocol.Action{{Name: "story-pb", Version: "1.1-r0"}, {Name: "storylib-pb", Version: "1.1-r0"}}
	storyBefore  = []protocol.PackageVersion{{Name: "story-pb", Arch: "x86_64", Version: "1.0-r0"}, {Name: "storylib-pb", Arch: "x86_64", Version: "1.0-r0"}}
	storyBack    = []protocol.Action{{Name: "story-pb", Version: "1.0-r0"}, {Name: "storylib-pb", Version: "1.0-r0"}}
)

// The cache files of the installed builds (the checksum's first bytes of
// installed-before's C: fields), and one of another build of the same
// version, which a rollback must not take.
const (
	cachedStory    = "story-pb-1.0-r0.bdfb2b5c.apk"
	cachedStorylib = "storylib-pb-1.0-r0.e6bb5857.apk"
	cachedOther    = "story-pb-1.0-r0.0badc0de.apk"
)

// withApkCache sets up apk's cache under root as setup-apkcache does, a
// link etc/apk/cache -> /var/cache/apk, holding the installed builds'
// files.
func withApkCache(t *testing.T, root string) {
	t.Helper()
	cache := filepath.Join(root, "var/cache/apk")
	for _, name := range []string{cachedStory, cachedStorylib, cachedOther} {
		writeFile(t, filepath.Join(cache, name), "cached "+name+"\n")
	}
	if err := os.Symlink("/var/cache/apk", filepath.Join(root, apkCacheLink)); err != nil {
		t.Fatal(err)
	}
}

func versionsOf(t *testing.T, j *ApkJobs, actions []protocol.Action) []string {
	t.Helper()
	vs, err := j.Versions(context.Background(), actions)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Name+"="+v.Version)
	}
	return out
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

// TestApkDeploymentStory is a deployment on an Alpine host whose apk keeps
// a cache: fetch (the targets downloaded, the installed builds kept from
// the cache), an install whose post-upgrade script fails (the package
// stays at the new version, marked broken), and the rollback from the
// kept files, which leaves the host as it was, world file included.
func TestApkDeploymentStory(t *testing.T) {
	t.Parallel()
	root := newApkRoot(t, "installed-before", "world-before")
	withApkCache(t, root)
	dir := t.TempDir()
	sub := filepath.Join(dir, "fetched", fetchKey(storyTargets))
	kept := filepath.Join(dir, "kept")
	state := func(installed, world string) map[string]string {
		return map[string]string{apkInstalledFile: installed, apkWorldFile: world}
	}
	prog := newFakeApk(t,
		fakeApkStep{Args: apkArgs(root, false, "fetch", "--recursive", "--output="+sub, "story-pb", "storylib-pb"),
			Stdout: "fetch-targets.stdout", Output: []string{"story-pb-1.1-r0.apk", "storylib-pb-1.1-r0.apk", "musl-1.2.5-r0.apk"}},
		fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: "policy.stdout"},
		fakeApkStep{Args: apkArgs(root, true, "add", "--virtual=.patchbay-deploy", "story-pb=1.1-r0", "storylib-pb=1.1-r0"),
			Stdout: "add-script-fail.stdout", Stderr: "add-script-fail.stderr", Exit: 1, Lock: true,
			Files: state("installed-broken-virtual", "world-virtual")},
		fakeApkStep{Args: apkArgs(root, true, "del", ".patchbay-deploy"), Stdout: "del.stdout", Lock: true,
			Files: state("installed-broken", "world-before")},
		fakeApkStep{Args: apkArgs(root, true, "add", "--virtual=.patchbay-deploy", filepath.Join(kept, "story-pb-1.0-r0.apk"), filepath.Join(kept, "storylib-pb-1.0-r0.apk")),
			Stdout: "restore.stdout", Lock: true, Files: state("installed-restored-virtual", "world-virtual")},
		fakeApkStep{Args: apkArgs(root, true, "del", ".patchbay-deploy"), Stdout: "restore-del.stdout", Lock: true,
			Files: state("installed-before", "world-before")},
	)
	j := &ApkJobs{Root: root, Command: prog, Dir: dir}
	ctx := context.Background()

	out, err := j.Fetch(ctx, storyTargets, storyBefore)
	if err != nil {
		t.Fatalf("Fetch: %v\n%s", err, out)
	}
	t.Logf("Fetch:\n%s", out)
	wantFile(t, filepath.Join(kept, "story-pb-1.0-r0.apk"), "cached "+cachedStory+"\n")
	wantFile(t, filepath.Join(kept, "storylib-pb-1.0-r0.apk"), "cached "+cachedStorylib+"\n")
	if paths, missing := lookup(filepath.Join(dir, "fetched"), storyTargets); len(missing) > 0 || len(paths) != 3 {
		t.Errorf("fetched index: %q, missing %q; want the 3 files apk fetch wrote", paths, missing)
	}
	if _, missing := lookup(kept, storyBack); len(missing) > 0 {
		t.Errorf("kept index misses %q", missing)
	}

	out, err = j.Install(ctx, storyTargets)
	t.Logf("Install: %v\n%s", err, out)
	if !errors.Is(err, ReasonFailed) {
		t.Fatalf("Install with a failing post-upgrade script = %v; want ReasonFailed", err)
	}
	for _, want := range []string{
		"story-pb=1.1-r0: failed (installed at 1.1-r0, but apk marks it unfinished (a maintainer script failed); its post-upgrade script (1.1-r0) exited with error 1; apk fix story-pb reinstalls it)",
		"exit status 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Install error lacks %q", want)
		}
	}
	if strings.Contains(err.Error(), "storylib-pb=1.1-r0") {
		t.Errorf("Install error names storylib-pb, which ended at its version: %v", err)
	}
	for _, want := range []string{"add --virtual=.patchbay-deploy story-pb=1.1-r0 storylib-pb=1.1-r0", "script exited with error 1", "del .patchbay-deploy", "Purging .patchbay-deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("Install output lacks %q", want)
		}
	}
	if got, want := versionsOf(t, j, storyTargets), []string{"story-pb=1.1-r0", "storylib-pb=1.1-r0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Versions after the install = %q, want %q", got, want)
	}
	broken, err := j.Broken(ctx)
	if want := []string{"story-pb 1.1-r0 (a maintainer script failed; apk fix reinstalls it)"}; err != nil || !reflect.DeepEqual(broken, want) {
		t.Errorf("Broken = %q, %v; want %q", broken, err, want)
	}
	wantFile(t, filepath.Join(root, apkWorldFile), string(readTestdata(t, "apk/world-before")))

	out, err = j.Restore(ctx, storyBack)
	if err != nil {
		t.Fatalf("Restore: %v\n%s", err, out)
	}
	if got, want := versionsOf(t, j, storyTargets), []string{"story-pb=1.0-r0", "storylib-pb=1.0-r0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Versions after the rollback = %q, want %q", got, want)
	}
	if broken, err := j.Broken(ctx); err != nil || len(broken) > 0 {
		t.Errorf("Broken after the rollback = %q, %v; want none", broken, err)
	}
	wantFile(t, filepath.Join(root, apkWorldFile), string(readTestdata(t, "apk/world-before")))
}

// TestApkInstall installs from the repositories, pinned through the
// virtual package, and from the files Fetch downloaded when the
// repositories have moved past the target (a version only a tagged
// repository has does not count: apk would not take it).
func TestApkInstall(t *testing.T) {
	t.Parallel()
	t.Run("from the repositories", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		prog := newFakeApk(t,
			fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: "policy.stdout"},
			fakeApkStep{Args: apkArgs(root, true, "add", "--virtual=.patchbay-deploy", "story-pb=1.1-r0", "storylib-pb=1.1-r0"),
				Stdout: "add.stdout", Lock: true, Files: map[string]string{apkInstalledFile: "installed-virtual", apkWorldFile: "world-virtual"}},
			fakeApkStep{Args: apkArgs(root, true, "del", ".patchbay-deploy"), Stdout: "del.stdout", Lock: true,
				Files: map[string]string{apkInstalledFile: "installed-after", apkWorldFile: "world-before"}},
		)
		j := &ApkJobs{Root: root, Command: prog, Dir: t.TempDir()}
		out, err := j.Install(context.Background(), storyTargets)
		if err != nil {
			t.Fatalf("Install: %v\n%s", err, out)
		}
		if got, want := versionsOf(t, j, storyTargets), []string{"story-pb=1.1-r0", "storylib-pb=1.1-r0"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Versions = %q, want %q", got, want)
		}
		if !strings.Contains(out, "(2/3) Upgrading story-pb (1.0-r0 -> 1.1-r0)") || !strings.Contains(out, "(1/1) Purging .patchbay-deploy") {
			t.Errorf("Install output lacks apk's:\n%s", out)
		}
	})
	t.Run("from the fetched files", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		dir := t.TempDir()
		sub := filepath.Join(dir, "fetched", fetchKey(storyTargets))
		var paths []string
		for _, name := range []string{"musl-1.2.5-r0.apk", "story-pb-1.1-r0.apk", "storylib-pb-1.1-r0.apk", "storynew-pb-1.1-r0.apk"} {
			paths = append(paths, filepath.Join(sub, name))
			writeFile(t, paths[len(paths)-1], "fetched "+name)
		}
		if err := addIndex(filepath.Join(dir, "fetched"), map[string][]string{"story-pb=1.1-r0": paths, "storylib-pb=1.1-r0": paths}); err != nil {
			t.Fatal(err)
		}
		// The targets' files and the new dependency's, never the file of
		// another installed package (musl).
		prog := newFakeApk(t,
			fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: "policy-moved.stdout"},
			fakeApkStep{Args: apkArgs(root, true, "add", "--virtual=.patchbay-deploy", paths[1], paths[3], paths[2]),
				Stdout: "add-files.stdout", Lock: true, Files: map[string]string{apkInstalledFile: "installed-virtual", apkWorldFile: "world-virtual"}},
			fakeApkStep{Args: apkArgs(root, true, "del", ".patchbay-deploy"), Stdout: "del.stdout", Lock: true,
				Files: map[string]string{apkInstalledFile: "installed-after", apkWorldFile: "world-before"}},
		)
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		if out, err := j.Install(context.Background(), storyTargets); err != nil {
			t.Fatalf("Install: %v\n%s", err, out)
		}
		if got, want := versionsOf(t, j, storyTargets), []string{"story-pb=1.1-r0", "storylib-pb=1.1-r0"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Versions = %q, want %q", got, want)
		}
	})
}

// TestApkInstallRefusals: what cannot succeed fails before apk changes
// anything, each package with its reason, the others not attempted.
func TestApkInstallRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		installed string
		world     string
		actions   []protocol.Action
		policy    string // apk policy's capture, when the checks get that far
		reason    error  // of the error
		want      []string
	}{
		{name: "not installed", installed: "installed-before", world: "world-before",
			actions: []protocol.Action{{Name: "story-pb", Version: "1.1-r0"}, {Name: "nosuch-pb", Version: "1.0-r0"}},
			reason:  ReasonNotInstalled,
			want:    []string{"nosuch-pb=1.0-r0: not installed (apk jobs upgrade installed packages only)", "story-pb=1.1-r0: not attempted"}},
		{name: "pinned in the world file", installed: "installed-before", world: "world-pinned",
			actions: storyTargets, reason: ReasonHeld,
			want: []string{"story-pb=1.1-r0: held (pinned in /etc/apk/world as story-pb=1.0-r0)", "storylib-pb=1.1-r0: not attempted"}},
		{name: "newer installed", installed: "installed-after", world: "world-before",
			actions: storyBack, reason: reasonNewerInstalled,
			want: []string{"story-pb=1.0-r0: newer version installed (1.1-r0 is installed; an install does not downgrade)"}},
		{name: "version gone and not fetched", installed: "installed-before", world: "world-before",
			actions: storyTargets, policy: "policy-moved.stdout", reason: ReasonUnavailable,
			want: []string{"story-pb=1.1-r0: version not available (the repositories have 1.2-r0, and it was not fetched ahead)"}},
		{name: "installed but broken", installed: "installed-broken", world: "world-before",
			actions: storyTargets[:1], reason: ReasonFailed,
			want: []string{"story-pb=1.1-r0: failed (installed at 1.1-r0, but apk marks it unfinished (a maintainer script failed): apk fix story-pb reinstalls it)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := newApkRoot(t, tc.installed, tc.world)
			var steps []fakeApkStep
			if tc.policy != "" {
				steps = append(steps, fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: tc.policy})
			}
			j := &ApkJobs{Root: root, Command: newFakeApk(t, steps...), Dir: t.TempDir()}
			out, err := j.Install(context.Background(), tc.actions)
			if !errors.Is(err, tc.reason) {
				t.Fatalf("Install = %v; want %v", err, tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Install error %q lacks %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("Install output %q; apk add must not have run", out)
			}
		})
	}
	t.Run("nothing to do", func(t *testing.T) {
		t.Parallel()
		j := &ApkJobs{Root: newApkRoot(t, "installed-after", "world-before"), Command: newFakeApk(t), Dir: t.TempDir()}
		out, err := j.Install(context.Background(), storyTargets)
		if err != nil || !strings.Contains(out, "apk was not run") {
			t.Errorf("Install of the installed versions = %q, %v; want nothing run", out, err)
		}
	})
	t.Run("invalid actions", func(t *testing.T) {
		t.Parallel()
		j := &ApkJobs{Root: newApkRoot(t, "installed-before", "world-before"), Command: newFakeApk(t), Dir: t.TempDir()}
		for _, a := range []protocol.Action{
			{Name: "-rf", Version: "1.0-r0"},
			{Name: "story.apk", Version: "1.0-r0"},
			{Name: "story-pb", Version: "1.0 -r0"},
			{Name: "story-pb", Version: "--force"},
			{Name: "story-pb", Version: "1.0-r0", Arch: "x86-64"},
			{Name: "story-pb=1.0", Version: "1.0-r0"},
		} {
			if _, err := j.Install(context.Background(), []protocol.Action{a}); err == nil || !strings.Contains(err.Error(), "action") {
				t.Errorf("Install(%+v) = %v; want a validation error", a, err)
			}
			if _, err := j.Fetch(context.Background(), []protocol.Action{a}, nil); err == nil {
				t.Errorf("Fetch(%+v) succeeded; want a validation error", a)
			}
		}
	})
}

// TestApkInstallSolverErrors: what apk's solver says when it refuses,
// mapped to each package: a world pin set after the checks is a hold, any
// other refusal a failure carrying apk's words. Nothing changed, so
// nothing is deleted afterwards.
func TestApkInstallSolverErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stderr string
		reason error
		want   string
	}{
		{"add-breaks.stderr", ReasonFailed, "story-pb=1.1-r0: failed (left at 1.0-r0; story-pb-1.0-r0: breaks: .patchbay-deploy-20240611.093015[story-pb=1.1-r0]; satisfies: storyapp-pb-2.0-r0[story-pb])"},
		{"add-held.stderr", ReasonHeld, "story-pb=1.1-r0: held (pinned in /etc/apk/world as story-pb=1.0-r0; left at 1.0-r0"},
	} {
		t.Run(tc.stderr, func(t *testing.T) {
			t.Parallel()
			root := newApkRoot(t, "installed-before", "world-before")
			prog := newFakeApk(t,
				fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: "policy.stdout"},
				fakeApkStep{Args: apkArgs(root, true, "add", "--virtual=.patchbay-deploy", "story-pb=1.1-r0", "storylib-pb=1.1-r0"),
					Stderr: tc.stderr, Exit: 1, Lock: true},
			)
			j := &ApkJobs{Root: root, Command: prog, Dir: t.TempDir()}
			out, err := j.Install(context.Background(), storyTargets)
			if !errors.Is(err, tc.reason) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Install = %v\nwant %v with %q", err, tc.reason, tc.want)
			}
			if !strings.Contains(out, "unable to select packages") {
				t.Errorf("Install output lacks apk's report:\n%s", out)
			}
		})
	}
}

// TestApkFetchKeep: without apk's cache, the installed versions are kept
// by apk fetch when the repositories still have them as their newest;
// when they do not, the fetch fails, naming them, since apk can neither
// fetch an older version nor rebuild one. A target the repositories have
// moved past fails the fetch before anything is kept.
func TestApkFetchKeep(t *testing.T) {
	t.Parallel()
	fetchTargets := func(root, sub string) fakeApkStep {
		return fakeApkStep{Args: apkArgs(root, false, "fetch", "--recursive", "--output="+sub, "story-pb", "storylib-pb"),
			Stdout: "fetch-targets.stdout", Output: []string{"story-pb-1.1-r0.apk", "storylib-pb-1.1-r0.apk"}}
	}
	t.Run("repositories still have them", func(t *testing.T) {
		t.Parallel()
		root, dir := newApkRoot(t, "installed-before", "world-before"), t.TempDir()
		sub := filepath.Join(dir, "fetched", fetchKey(storyTargets))
		prog := newFakeApk(t, fetchTargets(root, sub),
			fakeApkStep{Args: apkArgs(root, false, "fetch", "--output="+filepath.Join(dir, "kept", ".fetch"), "story-pb", "storylib-pb"),
				Stdout: "fetch-installed-same.stdout", Output: []string{"story-pb-1.0-r0.apk", "storylib-pb-1.0-r0.apk"}})
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		out, err := j.Fetch(context.Background(), storyTargets, storyBefore)
		if err != nil {
			t.Fatalf("Fetch: %v\n%s", err, out)
		}
		wantFile(t, filepath.Join(dir, "kept", "story-pb-1.0-r0.apk"), "fake apk package story-pb-1.0-r0.apk\n")
		if _, missing := lookup(filepath.Join(dir, "kept"), storyBack); len(missing) > 0 {
			t.Errorf("kept index misses %q", missing)
		}
		if _, err := os.Stat(filepath.Join(dir, "kept", ".fetch")); !os.IsNotExist(err) {
			t.Errorf("the download directory of kept files is left: %v", err)
		}
	})
	t.Run("repositories moved on", func(t *testing.T) {
		t.Parallel()
		root, dir := newApkRoot(t, "installed-before", "world-before"), t.TempDir()
		sub := filepath.Join(dir, "fetched", fetchKey(storyTargets))
		prog := newFakeApk(t, fetchTargets(root, sub),
			fakeApkStep{Args: apkArgs(root, false, "fetch", "--output="+filepath.Join(dir, "kept", ".fetch"), "story-pb", "storylib-pb"),
				Stdout: "fetch-installed-newer.stdout", Output: []string{"story-pb-1.1-r0.apk", "storylib-pb-1.1-r0.apk"}})
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		out, err := j.Fetch(context.Background(), storyTargets, storyBefore)
		want := "no copy of the installed version of story-pb 1.0-r0 (the repositories have 1.1-r0); storylib-pb 1.0-r0 (the repositories have 1.1-r0): apk's cache is not set up (etc/apk/cache under the root does not exist)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Fetch = %v\nwant an error with %q\n%s", err, want, out)
		}
	})
	t.Run("target gone", func(t *testing.T) {
		t.Parallel()
		root, dir := newApkRoot(t, "installed-before", "world-before"), t.TempDir()
		sub := filepath.Join(dir, "fetched", fetchKey(storyTargets))
		prog := newFakeApk(t, fakeApkStep{Args: apkArgs(root, false, "fetch", "--recursive", "--output="+sub, "story-pb", "storylib-pb"),
			Stdout: "fetch-moved.stdout", Output: []string{"story-pb-1.2-r0.apk", "storylib-pb-1.2-r0.apk"}})
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		_, err := j.Fetch(context.Background(), storyTargets, storyBefore)
		want := "the target version is not in the repositories: story-pb 1.1-r0 (the repositories have 1.2-r0); storylib-pb 1.1-r0 (the repositories have 1.2-r0)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Fetch = %v\nwant an error with %q", err, want)
		}
		if _, missing := lookup(filepath.Join(dir, "fetched"), storyTargets); len(missing) != 2 {
			t.Errorf("a failed fetch indexed its files")
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		t.Parallel()
		root, dir := newApkRoot(t, "installed-before", "world-before"), t.TempDir()
		actions := []protocol.Action{{Name: "nosuch-pb", Version: "1.0-r0"}}
		prog := newFakeApk(t, fakeApkStep{Args: apkArgs(root, false, "fetch", "--recursive", "--output="+filepath.Join(dir, "fetched", fetchKey(actions)), "nosuch-pb"),
			Stdout: "fetch-unknown.stdout", Exit: 2})
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		_, err := j.Fetch(context.Background(), actions, nil)
		if want := "exit status 2: nosuch-pb: unable to select package (or its dependencies)"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Fetch = %v\nwant an error with %q", err, want)
		}
	})
}

// TestApkRestoreFailures: a rollback needs the kept files, and apk checks
// their signatures.
func TestApkRestoreFailures(t *testing.T) {
	t.Parallel()
	t.Run("nothing kept", func(t *testing.T) {
		t.Parallel()
		j := &ApkJobs{Root: newApkRoot(t, "installed-after", "world-before"), Command: newFakeApk(t), Dir: t.TempDir()}
		_, err := j.Restore(context.Background(), storyBack)
		if err == nil || !strings.Contains(err.Error(), "no kept file for story-pb=1.0-r0, storylib-pb=1.0-r0") {
			t.Errorf("Restore without kept files = %v", err)
		}
	})
	t.Run("untrusted signature", func(t *testing.T) {
		t.Parallel()
		root, dir := newApkRoot(t, "installed-after", "world-before"), t.TempDir()
		var files []string
		for _, a := range storyBack {
			files = append(files, filepath.Join(dir, "kept", apkFileName(a.Name, a.Version)))
			writeFile(t, files[len(files)-1], "kept")
			if err := addIndex(filepath.Join(dir, "kept"), map[string][]string{indexKey(a.Name, a.Version): files[len(files)-1:]}); err != nil {
				t.Fatal(err)
			}
		}
		prog := newFakeApk(t, fakeApkStep{Args: apkArgs(root, true, append([]string{"add", "--virtual=.patchbay-deploy"}, files...)...),
			Stderr: "add-untrusted.stderr", Exit: 99, Lock: true})
		j := &ApkJobs{Root: root, Command: prog, Dir: dir}
		_, err := j.Restore(context.Background(), storyBack)
		if !errors.Is(err, ReasonFailed) || !strings.Contains(err.Error(), "story-pb=1.0-r0: failed (left at 1.1-r0; /tmp/pbtest/jobs/kept/story-pb-1.0-r0.apk: UNTRUSTED signature)") {
			t.Errorf("Restore of an untrusted file = %v", err)
		}
	})
}

// TestApkLock holds apk's database lock as apk does, from another process
// (flock(1)) and from another open file of this one: WaitIdle and the
// changes wait for it up to LockTimeout and fail with ErrLocked naming
// the holder; apk itself, not told to wait, fails as apk-tools 2.14 does.
func TestApkLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("WaitIdle", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		j := &ApkJobs{Root: root, LockTimeout: 300 * time.Millisecond}
		if err := j.WaitIdle(ctx); err != nil {
			t.Fatalf("WaitIdle, no lock file = %v", err)
		}
		release := holdApkLock(t, root)
		start := time.Now()
		err := j.WaitIdle(ctx)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), filepath.Join(root, apkLockFile)+" held by process ") {
			t.Fatalf("WaitIdle, lock held by flock(1) = %v; want ErrLocked naming the file and its holder", err)
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("WaitIdle gave up after %v; want LockTimeout (300ms)", took)
		}
		j.LockTimeout = 30 * time.Second
		go func() { time.Sleep(300 * time.Millisecond); release() }()
		start = time.Now()
		if err := j.WaitIdle(ctx); err != nil {
			t.Fatalf("WaitIdle, lock released after 300ms = %v", err)
		}
		if took := time.Since(start); took < 250*time.Millisecond || took > 10*time.Second {
			t.Errorf("WaitIdle returned after %v; want when the lock was released", took)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		holdApkLock(t, root)
		if err := j.WaitIdle(cctx); !errors.Is(err, context.Canceled) || errors.Is(err, ErrLocked) {
			t.Errorf("WaitIdle, context ended = %v; want context.Canceled", err)
		}
	})
	t.Run("same process", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		f, err := os.OpenFile(filepath.Join(root, apkLockFile), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		j := &ApkJobs{Root: root, LockTimeout: 100 * time.Millisecond}
		if err := j.WaitIdle(ctx); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("held by process %d", os.Getpid())) {
			t.Errorf("WaitIdle, lock held by another file of this process = %v; want ErrLocked naming process %d", err, os.Getpid())
		}
		f.Close()
		if err := j.WaitIdle(ctx); err != nil {
			t.Errorf("WaitIdle after the lock's file was closed = %v", err)
		}
	})
	t.Run("install waits, then gives up", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		prog := newFakeApk(t, fakeApkStep{Args: apkArgs(root, false, "policy", "story-pb", "storylib-pb"), Stdout: "policy.stdout"})
		holdApkLock(t, root)
		j := &ApkJobs{Root: root, Command: prog, Dir: t.TempDir(), LockTimeout: 300 * time.Millisecond}
		start := time.Now()
		_, err := j.Install(ctx, storyTargets)
		if !errors.Is(err, ErrLocked) || !errors.Is(err, ReasonLocked) || !strings.Contains(err.Error(), "story-pb=1.1-r0: package manager locked (still 1.0-r0)") {
			t.Errorf("Install, lock held = %v; want ErrLocked and ReasonLocked", err)
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("Install gave up after %v; want LockTimeout (300ms)", took)
		}
	})
	// Another apk can take the lock between ApkJobs' look and apk's own
	// open: apk then fails (at once, or after --wait), as the captures
	// show, and the command's error wraps ErrLocked.
	t.Run("apk finds the lock held", func(t *testing.T) {
		t.Parallel()
		root := newApkRoot(t, "installed-before", "world-before")
		add := []string{"add", "--virtual=.patchbay-deploy", "story-pb=1.1-r0"}
		noWait := apkArgs(root, false, add...)
		withWait := append(apkArgs(root, false, "--wait=1"), add...)
		prog := newFakeApk(t,
			fakeApkStep{Args: noWait, Stdout: "add.stdout", Lock: true, Files: map[string]string{apkInstalledFile: "installed-virtual"}},
			fakeApkStep{Args: withWait, Stdout: "add.stdout", Lock: true, Files: map[string]string{apkInstalledFile: "installed-virtual"}})
		holdApkLock(t, root)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{noWait, "ERROR: Unable to lock database: temporary error (try again later)"},
			{withWait, "ERROR: Unable to lock database: Interrupted system call"},
		} {
			log := newOutputLog()
			_, err := command{argv: append([]string{prog}, tc.args...), env: apkEnv(), isLocked: apkLocked, log: log}.run(ctx)
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "apk add story-pb=1.1-r0: package manager lock held by another process: exit status 99") {
				t.Errorf("apk %q, lock held = %v\nwant ErrLocked, naming the command and apk's exit status", tc.args, err)
			}
			if !strings.Contains(log.String(), tc.want) {
				t.Errorf("apk %q, lock held, printed %q; want %q", tc.args, log.String(), tc.want)
			}
			if got := versionsOf(t, &ApkJobs{Root: root}, storyTargets); got[0] != "story-pb=1.0-r0" {
				t.Errorf("Versions = %q; apk must not have changed anything", got)
			}
		}
	})
}

func TestWaitSeconds(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want int
	}{{-time.Second, 0}, {0, 0}, {time.Millisecond, 1}, {time.Second, 1}, {5*time.Minute - 10*time.Millisecond, 300}} {
		if got := waitSeconds(tc.left); got != tc.want {
			t.Errorf("waitSeconds(%v) = %d, want %d", tc.left, got, tc.want)
		}
	}
}

// TestApkArgv: apk gets --root only for a root other than "/", and a
// missing apk program is an error saying so.
func TestApkArgv(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		root string
		want []string
	}{
		{"", []string{"/bin/true", "--no-interactive", "--no-progress"}},
		{"/", []string{"/bin/true", "--no-interactive", "--no-progress"}},
		{root, []string{"/bin/true", "--root=" + root, "--no-interactive", "--no-progress"}},
	} {
		j := &ApkJobs{Root: tc.root, Command: "/bin/true"}
		_, argv, err := j.setup()
		if err != nil || !reflect.DeepEqual(argv, tc.want) {
			t.Errorf("setup() with Root %q = %q, %v; want %q", tc.root, argv, err, tc.want)
		}
	}
	j := &ApkJobs{Root: root, Command: filepath.Join(root, "no-apk")}
	if _, err := j.Install(context.Background(), storyTargets); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Install with no apk program = %v; want an error wrapping fs.ErrNotExist", err)
	}
	j = &ApkJobs{Root: root, Command: "/bin/true"}
	if _, err := j.Versions(context.Background(), storyTargets); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "read apk database") {
		t.Errorf("Versions on a root without apk's database = %v; want an error wrapping fs.ErrNotExist", err)
	}
}
