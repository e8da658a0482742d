package pkgmgr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/debtest"
	"github.com/patchbay/patchbay/internal/protocol"
)

// debPkg is a tiny package the tests build: no maintainer scripts, no
// debconf, one file under usr/share/doc.
type debPkg struct {
	name, version, source, arch string
}

// buildDeb builds p into dir with dpkg-deb --build --root-owner-group.
func buildDeb(t *testing.T, dpkgDeb, dir string, p debPkg) {
	t.Helper()
	tree := filepath.Join(t.TempDir(), p.name)
	control := fmt.Sprintf("Package: %s\nVersion: %s\n", p.name, p.version)
	if p.source != "" {
		control += "Source: " + p.source + "\n"
	}
	control += fmt.Sprintf("Architecture: %s\nMaintainer: Patchbay Tests <tests@patchbay.invalid>\n"+
		"Description: patchbay test package %s\n a package the pkgmgr tests install in a throwaway root\n", p.arch, p.name)
	writeFile(t, filepath.Join(tree, "DEBIAN/control"), control)
	writeFile(t, filepath.Join(tree, "usr/share/doc", p.name, "README"), p.name+" "+p.version+"\n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.name, strings.ReplaceAll(p.version, ":", "%3a"), p.arch))
	run(t, "", nil, dpkgDeb, "--build", "--root-owner-group", tree, deb)
}

// writeRepo indexes the .deb files of dir as a flat repository ("deb
// file:DIR ./"): Packages by dpkg-scanpackages -m (every version), and a
// Release file with the given fields and the SHA256 of Packages, written by
// hand (apt-ftparchive, of apt-utils, is not needed), so apt knows the
// repository's origin, label, suite and codename.
func writeRepo(t *testing.T, scan, dir string, release map[string]string) {
	t.Helper()
	packages := run(t, dir, nil, scan, "-m", ".", "/dev/null")
	writeFile(t, filepath.Join(dir, "Packages"), packages)
	var b strings.Builder
	for _, k := range []string{"Origin", "Label", "Suite", "Codename"} {
		fmt.Fprintf(&b, "%s: %s\n", k, release[k])
	}
	sum := sha256.Sum256([]byte(packages))
	fmt.Fprintf(&b, "Date: Mon, 01 Jan 2024 00:00:00 UTC\nArchitectures: all %s\nDescription: patchbay test repository\nSHA256:\n %x %d Packages\n",
		release["Arch"], sum, len(packages))
	writeFile(t, filepath.Join(dir, "Release"), b.String())
}

// aptGet runs apt-get on a's root with the options and environment Apt
// itself uses, for what Apt cannot do yet (install).
func aptGet(t *testing.T, a *Apt, args ...string) string {
	t.Helper()
	_, opts, env, cleanup, err := a.setup()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	return run(t, "", env, lookTool(t, "apt-get"), append(opts, args...)...)
}

// aptFixture is a throwaway root with packages installed at their old
// versions, and two repositories: "main" (Origin and Label "Patchbay
// Test", Suite stable, Codename bookworm) and "security" (Origin Debian,
// Label Debian-Security, Suite and Codename bookworm-security).
type aptFixture struct {
	apt    *Apt
	root   string
	tmp    string // holds the root and the repositories
	native string // dpkg --print-architecture
}

func newAptFixture(t *testing.T) *aptFixture {
	t.Helper()
	lookTool(t, "apt-get")
	lookTool(t, "apt-cache")
	lookTool(t, "dpkg")
	dpkgDeb := lookTool(t, "dpkg-deb")
	scan := lookTool(t, "dpkg-scanpackages")
	native := strings.TrimSpace(run(t, "", nil, "dpkg", "--print-architecture"))

	tmp := t.TempDir()
	main, security := filepath.Join(tmp, "repo-main"), filepath.Join(tmp, "repo-security")
	for _, p := range []debPkg{
		{"hello-pb", "1.0", "", "all"},
		{"hello-pb", "1.1", "", "all"},
		// A binNMU: the binary's version is the source's plus +b1.
		{"libhello-pb1", "1.0-1", "hello-pb-src", "all"},
		{"libhello-pb1", "1.0-1+b1", "hello-pb-src (1.0-1)", "all"},
		{"sec-pb", "2.0", "", "all"},
		{"both-pb", "3.0", "", "all"},
		{"both-pb", "3.1", "", "all"},
		{"native-pb", "1:1.0-1", "", native},
		{"native-pb", "1:1.0-2", "", native},
		{"current-pb", "5.0", "", "all"}, // installed, no update
	} {
		buildDeb(t, dpkgDeb, main, p)
	}
	// The security repository: sec-pb's fix, and both-pb 3.1 again (a
	// security fix also published in the main suite, as Ubuntu does).
	for _, p := range []debPkg{{"sec-pb", "2.0+deb12u1", "", "all"}, {"both-pb", "3.1", "", "all"}} {
		buildDeb(t, dpkgDeb, security, p)
	}
	writeRepo(t, scan, main, map[string]string{"Origin": "Patchbay Test", "Label": "Patchbay Test", "Suite": "stable", "Codename": "bookworm", "Arch": native})
	writeRepo(t, scan, security, map[string]string{"Origin": "Debian", "Label": "Debian-Security", "Suite": "bookworm-security", "Codename": "bookworm-security", "Arch": native})

	root := filepath.Join(tmp, "root")
	if err := os.Rename(debtest.NewRoot(t, main, security), root); err != nil {
		t.Fatal(err)
	}
	a := &Apt{Root: root, NoLocking: true, SandboxUser: "root"}
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	aptGet(t, a, "install", "-y", "-q", "hello-pb=1.0", "libhello-pb1=1.0-1", "sec-pb=2.0",
		"both-pb=3.0", "native-pb=1:1.0-1", "current-pb")
	return &aptFixture{apt: a, root: root, tmp: tmp, native: native}
}

// TestAptUpdates installs old versions in a throwaway root with real apt,
// then asks Apt for the updates: the candidates, their sources and
// releases, and the security flag; nothing installed changes.
func TestAptUpdates(t *testing.T) {
	f := newAptFixture(t)
	ctx := context.Background()
	status := filepath.Join(f.root, "var/lib/dpkg/status")
	before, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(before, []byte("Package: hello-pb\nStatus: install ok installed")) {
		t.Fatalf("hello-pb not installed in %s:\n%s", status, before)
	}

	start := time.Now()
	details, err := f.apt.UpdateDetails(ctx)
	t.Logf("UpdateDetails: %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(status)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the dpkg status file changed while listing updates (%v)", err)
	}

	mainRel := AptRelease{Index: "file:" + f.tmp + "/repo-main ./ Packages", Origin: "Patchbay Test", Label: "Patchbay Test", Archive: "stable", Codename: "bookworm"}
	secRel := AptRelease{Index: "file:" + f.tmp + "/repo-security ./ Packages", Origin: "Debian", Label: "Debian-Security", Archive: "bookworm-security", Codename: "bookworm-security"}
	upd := func(name, arch, from, to, srcName, srcVer string, sec bool, rels ...AptRelease) AptUpdate {
		chosen := rels[0]
		for _, r := range rels {
			if r.Security() {
				chosen = r
				break
			}
		}
		return AptUpdate{Update: protocol.Update{Ecosystem: "deb", Name: name, Arch: arch, FromVersion: from, ToVersion: to,
			SourceName: srcName, SourceVersion: srcVer, Origin: chosen.Origin, Archive: chosen.Archive, Security: sec}, Releases: rels}
	}
	want := []AptUpdate{
		// apt lists the security index first here (same priority, and it
		// comes later in sources.list); the security release is chosen
		// whatever the order.
		upd("both-pb", "all", "3.0", "3.1", "both-pb", "3.1", true, secRel, mainRel),
		upd("hello-pb", "all", "1.0", "1.1", "hello-pb", "1.1", false, mainRel),
		upd("libhello-pb1", "all", "1.0-1", "1.0-1+b1", "hello-pb-src", "1.0-1", false, mainRel),
		upd("native-pb", f.native, "1:1.0-1", "1:1.0-2", "native-pb", "1:1.0-2", false, mainRel),
		upd("sec-pb", "all", "2.0", "2.0+deb12u1", "sec-pb", "2.0+deb12u1", true, secRel),
	}
	if len(details) != len(want) {
		t.Fatalf("UpdateDetails: %d updates, want %d:\n%+v", len(details), len(want), details)
	}
	for i := range want {
		got := details[i]
		// Both orders of a candidate's releases are fine: apt's order
		// among equal priorities is its own.
		if len(got.Releases) == 2 && got.Releases[0].Index != want[i].Releases[0].Index {
			want[i].Releases[0], want[i].Releases[1] = want[i].Releases[1], want[i].Releases[0]
		}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("update %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	ups, err := f.apt.Updates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range ups {
		if fmt.Sprint(u) != fmt.Sprint(want[i].Update) {
			t.Errorf("Updates()[%d] = %+v; want the Update of %+v", i, u, want[i].Update)
		}
	}
	if after, _ := os.ReadFile(status); !bytes.Equal(before, after) {
		t.Error("the dpkg status file changed while listing updates")
	}
	f.captureOutputs(t)
}

// captureOutputs saves the real output of the commands Apt runs into
// testdata/apt (with go test -update), with the fixture's directory
// written /tmp/pbtest.
func (f *aptFixture) captureOutputs(t *testing.T) {
	if !*update {
		return
	}
	_, opts, env, cleanup, err := f.apt.setup()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	aptCache := lookTool(t, "apt-cache")
	names := []string{"both-pb", "hello-pb", "libhello-pb1", "native-pb", "sec-pb"}
	for file, argv := range map[string][]string{
		"simulate.txt":     append(append([]string{lookTool(t, "apt-get")}, opts...), "-q", "-s", "dist-upgrade"),
		"policy-files.txt": append(append([]string{aptCache}, opts...), "policy"),
		"policy-pkgs.txt":  append(append(append([]string{aptCache}, opts...), "policy", "--"), names...),
		"show.txt":         append(append([]string{aptCache}, opts...), "show", "--no-all-versions", "--", "both-pb=3.1", "hello-pb=1.1", "libhello-pb1=1.0-1+b1", "native-pb=1:1.0-2", "sec-pb=2.0+deb12u1"),
	} {
		out := run(t, "", env, argv[0], argv[1:]...)
		capture(t, "apt/"+file, []byte(out), f.tmp, "/tmp/pbtest")
	}
}

func TestAptRefreshErrors(t *testing.T) {
	lookTool(t, "apt-get")
	ctx := context.Background()

	t.Run("missing repository", func(t *testing.T) {
		root := debtest.NewRoot(t, filepath.Join(t.TempDir(), "no-such-repo"))
		err := (&Apt{Root: root, NoLocking: true, SandboxUser: "root"}).Refresh(ctx)
		if err == nil || !strings.Contains(err.Error(), "apt-get update: exit status 100") || !strings.Contains(err.Error(), "E: ") {
			t.Fatalf("Refresh with a missing repository: %v; want apt-get's exit status and E: lines", err)
		}
		t.Logf("missing repository: %v", err)
	})

	t.Run("lock held", func(t *testing.T) {
		root := debtest.NewRoot(t)
		lock, err := os.OpenFile(filepath.Join(root, "var/lib/apt/lists/lock"), os.O_CREATE|os.O_RDWR, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		// apt locks with fcntl: a write lock held here is another process's
		// lock to the apt-get this test starts.
		if err := syscall.FcntlFlock(lock.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
			t.Fatal(err)
		}
		err = (&Apt{Root: root, SandboxUser: "root"}).Refresh(ctx)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "lock") {
			t.Fatalf("Refresh with the lists lock held: %v; want an error wrapping ErrLocked", err)
		}
		t.Logf("lock held: %v", err)
	})

	t.Run("no apt-get", func(t *testing.T) {
		root := debtest.NewRoot(t)
		err := (&Apt{Root: root, AptGet: filepath.Join(t.TempDir(), "apt-get")}).Refresh(ctx)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Refresh with a missing apt-get: %v; want fs.ErrNotExist", err)
		}
		t.Setenv("PATH", t.TempDir())
		_, err = (&Apt{Root: root}).Updates(ctx)
		if !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("Updates without apt-get on PATH: %v; want exec.ErrNotFound", err)
		}
	})

	t.Run("no root", func(t *testing.T) {
		_, err := (&Apt{Root: filepath.Join(t.TempDir(), "absent")}).Updates(ctx)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Updates on a missing root: %v; want fs.ErrNotExist", err)
		}
	})
}

// With nothing to upgrade, Updates is an empty list, not an error, and
// runs only the simulation.
func TestAptNoUpdates(t *testing.T) {
	lookTool(t, "apt-get")
	root := debtest.NewRoot(t)
	a := &Apt{Root: root, NoLocking: true, SandboxUser: "root"}
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups, err := a.Updates(context.Background())
	if err != nil || ups == nil || len(ups) != 0 {
		t.Errorf("Updates(empty root) = %v, %v; want an empty list", ups, err)
	}
}

// The root's apt configuration is read, the machine's is not: a setting
// in the root's apt.conf.d reaches apt, and the APT_CONFIG file is removed
// afterwards.
func TestAptConfigIsolation(t *testing.T) {
	aptConfig := lookTool(t, "apt-config")
	root := debtest.NewRoot(t)
	writeFile(t, filepath.Join(root, "etc/apt/apt.conf.d/50patchbay-test"), "Patchbay::Test \"from-the-root\";\n")
	a := &Apt{Root: root}
	_, opts, env, cleanup, err := a.setup()
	if err != nil {
		t.Fatal(err)
	}
	var conf string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "APT_CONFIG="); ok {
			conf = v
		}
	}
	dump := run(t, "", env, aptConfig, append(opts, "dump")...)
	cleanup()
	if !strings.Contains(dump, `Patchbay::Test "from-the-root";`) {
		t.Errorf("apt-config dump does not show the root's apt.conf.d setting:\n%s", dump)
	}
	// The machine's hooks (this one's docker-clean, packagekit, appstream)
	// are not in the root's configuration.
	host := run(t, "", []string{"LC_ALL=C"}, aptConfig, "dump")
	for line := range strings.SplitSeq(host, "\n") {
		if strings.Contains(line, "Post-Invoke") || strings.Contains(line, "Pre-Install-Pkgs") {
			if strings.Contains(dump, line+"\n") {
				t.Errorf("the machine's %s reaches apt under the root", line)
			}
		}
	}
	if _, err := os.Stat(conf); conf == "" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("APT_CONFIG file %q still there after cleanup (%v)", conf, err)
	}
	if slices.Contains(opts, "Debug::NoLocking=1") {
		t.Error("NoLocking set without asking")
	}
}
