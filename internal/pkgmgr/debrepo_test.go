package pkgmgr

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/testtool"
)

// The package-changing tests run the real apt-get and dpkg on packages
// they build, from a local repository, in a throwaway root.
//
// dpkg runs maintainer scripts chrooted into the root it installs into
// (--instdir, unless --force-script-chrootless), so the root gets a shell
// (the machine's /bin/sh and the libraries ldd names), and the scripts
// only ever see the root: they write their log to /patchbay-test, a
// directory that exists only there, and stop before writing anything if
// it is missing (as it would be were they ever run outside the root).
// chroot needs root, so these tests do too.

// storyPkg is a package the tests build: a conffile, a data file, and a
// postinst that logs its arguments, or fails.
type storyPkg struct {
	name, version string
	depends       string // the Depends field, if any
	failPostinst  bool   // postinst exits 1, as a broken update's does
	noScripts     bool   // no postinst at all
}

func (p storyPkg) file() string { return debFileName(p.name, p.version, "all") }

// storyLog is the maintainer scripts' log, inside the root.
const storyLog = "patchbay-test/postinst.log"

// buildStoryDeb builds p into dir with dpkg-deb --build --root-owner-group.
func buildStoryDeb(t *testing.T, dpkgDeb, dir string, p storyPkg) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), p.name)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Patchbay Tests <tests@patchbay.invalid>\n", p.name, p.version)
	if p.depends != "" {
		control += "Depends: " + p.depends + "\n"
	}
	control += "Description: patchbay deployment test package\n a package the pkgmgr tests install,\n .\n upgrade and roll back in a throwaway root\n"
	writeFile(t, filepath.Join(tree, "DEBIAN/control"), control)
	writeFile(t, filepath.Join(tree, "DEBIAN/conffiles"), "/etc/"+p.name+".conf\n")
	writeFile(t, filepath.Join(tree, "etc", p.name+".conf"), "# "+p.name+" "+p.version+"\nsetting = default\n")
	writeFile(t, filepath.Join(tree, "usr/share", p.name, "data"), p.name+" data "+p.version+"\n")
	writeFile(t, filepath.Join(tree, "usr/lib", p.name, "run"), "#!/bin/sh\necho "+p.version+"\n")
	if err := os.Chmod(filepath.Join(tree, "usr/lib", p.name, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !p.noScripts {
		script := "#!/bin/sh\n[ -d /patchbay-test ] || exit 1\n"
		if p.failPostinst {
			script += fmt.Sprintf("echo \"%s %s postinst $*: failing\" >> /%s\necho '%s %s: postinst fails on purpose' >&2\nexit 1\n",
				p.name, p.version, storyLog, p.name, p.version)
		} else {
			script += fmt.Sprintf("echo \"%s %s postinst $*\" >> /%s\n", p.name, p.version, storyLog)
		}
		writeFile(t, filepath.Join(tree, "DEBIAN/postinst"), script)
		if err := os.Chmod(filepath.Join(tree, "DEBIAN/postinst"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(dir, p.file())
	run(t, "", nil, dpkgDeb, "--build", "--root-owner-group", tree, deb)
	return deb
}

// storyFixture is a throwaway root with a shell for maintainer scripts, a
// repository apt copies packages from (a copy: source, so that they land
// in apt's archive cache as from a real mirror), and the built packages,
// kept outside the repository so that the tests choose what it holds.
type storyFixture struct {
	apt   *Apt
	root  string
	repo  string
	built map[string]string // file name → built file
	scan  string
}

// newStoryFixture builds pkgs and publishes all of them. Its Apt takes
// apt's and dpkg's locks as on a host (no Debug::NoLocking): they are
// files under the root.
func newStoryFixture(t *testing.T, pkgs ...storyPkg) *storyFixture {
	t.Helper()
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg", "dpkg-query", "ldd"} {
		lookTool(t, tool)
	}
	dpkgDeb := lookTool(t, "dpkg-deb")
	scan := lookTool(t, "dpkg-scanpackages")
	if os.Geteuid() != 0 {
		testtool.SkipOrFail(t, "dpkg chroots into the test's root to run maintainer scripts, which needs root")
	}
	tmp := t.TempDir()
	f := &storyFixture{root: filepath.Join(tmp, "root"), repo: filepath.Join(tmp, "repo"), built: map[string]string{}, scan: scan}
	built := filepath.Join(tmp, "built")
	for _, p := range pkgs {
		f.built[p.file()] = buildStoryDeb(t, dpkgDeb, built, p)
	}
	if err := os.Rename(newAptRoot(t), f.root); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.root, "etc/apt/sources.list"), "deb [trusted=yes] copy:"+f.repo+" ./\n")
	if err := os.MkdirAll(filepath.Join(f.root, "patchbay-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	installShell(t, f.root)
	f.apt = &Apt{Root: f.root, SandboxUser: "root"}
	var all []storyPkg
	all = append(all, pkgs...)
	f.publish(t, all...)
	return f
}

// publish makes the repository hold exactly pkgs (as an archive that
// dropped the others), and refreshes apt's lists.
func (f *storyFixture) publish(t *testing.T, pkgs ...storyPkg) {
	t.Helper()
	if err := os.RemoveAll(f.repo); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		data, err := os.ReadFile(f.built[p.file()])
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(f.repo, p.file()), string(data))
	}
	writeFile(t, filepath.Join(f.repo, "Packages"), run(t, f.repo, nil, f.scan, "-m", ".", "/dev/null"))
	if err := f.apt.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// state returns name's state in dpkg's database.
func (f *storyFixture) state(t *testing.T, name string) PackageState {
	t.Helper()
	pkgs, err := f.apt.packages(context.Background(), f.root, dpkgEnv())
	if err != nil {
		t.Fatal(err)
	}
	return snapshot(pkgs).find(name, "")
}

// scriptLog returns the maintainer scripts' log.
func (f *storyFixture) scriptLog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.root, storyLog))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// cleanCache empties apt's archive cache under the root, as apt-get clean
// (or autoclean, once the archive dropped the versions) would.
func (f *storyFixture) cleanCache(t *testing.T) {
	t.Helper()
	debs, err := filepath.Glob(filepath.Join(f.root, "var/cache/apt/archives/*.deb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
}

// installShell copies the machine's /bin/sh into root, with the shared
// libraries ldd names, for the maintainer scripts dpkg runs chrooted
// there.
func installShell(t *testing.T, root string) {
	t.Helper()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"/bin/sh": sh}
	out, err := exec.Command("ldd", sh).Output()
	if err == nil { // a static shell has no libraries (ldd exits 1)
		for _, word := range strings.Fields(string(out)) {
			if strings.HasPrefix(word, "/") {
				files[word] = word
			}
		}
	}
	for dst, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// execCommand returns the command running a tool the test needs, in the C
// locale.
func execCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(lookTool(t, name), args...)
	cmd.Env = mergeEnv(os.Environ(), []string{"LC_ALL=C"})
	return cmd
}

// captureQuery saves the output of dpkg-query ARGS... on the root's
// database as testdata/file (go test -update), with the root written
// /tmp/pbtest/root.
func (f *storyFixture) captureQuery(t *testing.T, file string, args ...string) {
	t.Helper()
	if !*update {
		return
	}
	args = append([]string{"--admindir=" + filepath.Join(f.root, "var/lib/dpkg")}, args...)
	out := run(t, "", []string{"LC_ALL=C"}, lookTool(t, "dpkg-query"), args...)
	capture(t, file, []byte(out), filepath.Dir(f.root), "/tmp/pbtest")
}
