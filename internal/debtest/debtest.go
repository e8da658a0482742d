// Package debtest lets tests run the real apt-get and dpkg: it builds
// small Debian packages with dpkg-deb, publishes them in a local
// repository, and makes throwaway roots that apt and dpkg work on, with a
// shell for the maintainer scripts. The package manager drivers' tests
// (internal/pkgmgr) and the agent's kill tests (cmd/patchbay) share it.
//
// dpkg runs maintainer scripts chrooted into the root it installs into
// (--instdir, unless --force-script-chrootless), so the root gets a shell
// (the machine's /bin/sh and the libraries ldd names), and the scripts
// only ever see the root: they write their log to /patchbay-test, a
// directory that exists only there, and stop before writing anything if
// it is missing (as it would be were they ever run outside the root).
// chroot needs root, so the tests that install packages do too.
//
// It builds nothing into patchbay: only tests import it.
package debtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/testtool"
)

// Where the maintainer scripts of the packages built here leave their
// marks, relative to the root (they run chrooted into it).
const (
	// ScriptLog is the postinsts' log: one line per run, "NAME VERSION
	// postinst ARGS", and for a gated package a second line, the same
	// with ": released", once the test let it go on.
	ScriptLog = "patchbay-test/postinst.log"
	// Gate is the fifo a gated package's postinst reads one line from:
	// it blocks there until the test writes one (Fixture.Release).
	Gate = "patchbay-test/gate"
)

// Package is a package the tests build: a conffile /etc/NAME.conf, a data
// file, a run script, and a postinst that logs its arguments to ScriptLog
// (or fails, or waits for the test).
type Package struct {
	Name, Version string
	Depends       string // the Depends field, if any
	FailPostinst  bool   // the postinst exits 1, as a broken update's does
	NoScripts     bool   // no postinst at all
	// Gated makes the postinst, once it logged, wait on the Gate fifo
	// until the test releases it, then log again and print a line on its
	// standard output (as real postinsts do) before it exits 0: a test
	// knows when dpkg is in the middle of configuring the package.
	Gated bool
}

// File is the package's file name, as dpkg-scanpackages and apt name it.
func (p Package) File() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_all.deb"
}

// postinst is the package's maintainer script.
func (p Package) postinst() string {
	script := "#!/bin/sh\n[ -d /patchbay-test ] || exit 1\n"
	logLine := fmt.Sprintf("%s %s postinst $*", p.Name, p.Version)
	switch {
	case p.FailPostinst:
		script += fmt.Sprintf("echo \"%s: failing\" >> /%s\necho '%s %s: postinst fails on purpose' >&2\nexit 1\n",
			logLine, ScriptLog, p.Name, p.Version)
	case p.Gated:
		// read is the shell's own: the root has no other program. Opening
		// the fifo blocks until the test opens it for writing.
		script += fmt.Sprintf("echo \"%s\" >> /%s\nread go < /%s\necho \"%s: released\" >> /%s\necho '%s %s configured'\n",
			logLine, ScriptLog, Gate, logLine, ScriptLog, p.Name, p.Version)
	default:
		script += fmt.Sprintf("echo \"%s\" >> /%s\n", logLine, ScriptLog)
	}
	return script
}

// Build builds p into dir with dpkg-deb --build --root-owner-group and
// returns the file's path.
func Build(t testing.TB, dir string, p Package) string {
	t.Helper()
	dpkgDeb := testtool.Look(t, "dpkg-deb")
	tree := filepath.Join(t.TempDir(), p.Name)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Patchbay Tests <tests@patchbay.invalid>\n", p.Name, p.Version)
	if p.Depends != "" {
		control += "Depends: " + p.Depends + "\n"
	}
	control += "Description: patchbay deployment test package\n a package the pkgmgr tests install,\n .\n upgrade and roll back in a throwaway root\n"
	WriteFile(t, filepath.Join(tree, "DEBIAN/control"), control)
	WriteFile(t, filepath.Join(tree, "DEBIAN/conffiles"), "/etc/"+p.Name+".conf\n")
	WriteFile(t, filepath.Join(tree, "etc", p.Name+".conf"), "# "+p.Name+" "+p.Version+"\nsetting = default\n")
	WriteFile(t, filepath.Join(tree, "usr/share", p.Name, "data"), p.Name+" data "+p.Version+"\n")
	writeExecutable(t, filepath.Join(tree, "usr/lib", p.Name, "run"), "#!/bin/sh\necho "+p.Version+"\n")
	if !p.NoScripts {
		writeExecutable(t, filepath.Join(tree, "DEBIAN/postinst"), p.postinst())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(dir, p.File())
	Run(t, "", nil, dpkgDeb, "--build", "--root-owner-group", tree, deb)
	return deb
}

// Fixture is a throwaway root with a shell for maintainer scripts, a
// repository apt copies packages from (a copy: source, so that they land
// in apt's archive cache as from a real mirror), and the built packages,
// kept outside the repository so that the test chooses what it holds.
type Fixture struct {
	Root string // the root apt and dpkg work on
	Repo string // the repository, a flat one ("deb copy:REPO ./")
	// built maps a package's file name to the file built.
	built map[string]string
	scan  string // dpkg-scanpackages
}

// New checks for the tools and for root (which dpkg's chroot needs),
// builds pkgs and publishes all of them. Nothing is installed, and apt's
// lists are not read yet: the caller refreshes them (apt-get update)
// through the driver it tests. The root takes apt's and dpkg's locks as a
// host does: they are files under it.
func New(t testing.TB, pkgs ...Package) *Fixture {
	t.Helper()
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg", "dpkg-query", "dpkg-deb", "ldd"} {
		testtool.Look(t, tool)
	}
	scan := testtool.Look(t, "dpkg-scanpackages")
	if os.Geteuid() != 0 {
		testtool.SkipOrFail(t, "dpkg chroots into the test's root to run maintainer scripts, which needs root")
	}
	tmp := t.TempDir()
	f := &Fixture{Root: filepath.Join(tmp, "root"), Repo: filepath.Join(tmp, "repo"), built: map[string]string{}, scan: scan}
	built := filepath.Join(tmp, "built")
	for _, p := range pkgs {
		f.built[p.File()] = Build(t, built, p)
	}
	if err := os.Rename(NewRoot(t), f.Root); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(f.Root, "etc/apt/sources.list"), "deb [trusted=yes] copy:"+f.Repo+" ./\n")
	if err := os.MkdirAll(filepath.Join(f.Root, "patchbay-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(f.Root, Gate)); err != nil {
		t.Fatalf("gate for the maintainer scripts: %v", err)
	}
	InstallShell(t, f.Root)
	f.Publish(t, pkgs...)
	return f
}

// Deb returns the file built for p, which New was given.
func (f *Fixture) Deb(t testing.TB, p Package) string {
	t.Helper()
	path, ok := f.built[p.File()]
	if !ok {
		t.Fatalf("debtest: %s was not built (not given to New)", p.File())
	}
	return path
}

// Publish makes the repository hold exactly pkgs (as an archive that
// dropped the others). apt sees the change once its lists are refreshed.
func (f *Fixture) Publish(t testing.TB, pkgs ...Package) {
	t.Helper()
	if err := os.RemoveAll(f.Repo); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.Repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		data, err := os.ReadFile(f.Deb(t, p))
		if err != nil {
			t.Fatal(err)
		}
		WriteFile(t, filepath.Join(f.Repo, p.File()), string(data))
	}
	WriteFile(t, filepath.Join(f.Repo, "Packages"), Run(t, f.Repo, nil, f.scan, "-m", ".", "/dev/null"))
}

// State is a package's entry in dpkg's database.
type State struct {
	Version string // "" when dpkg holds none
	Status  string // installed, half-configured, not-installed, …
}

func (s State) String() string { return strings.TrimSpace(s.Version + " " + s.Status) }

// State reads name's state from the root's dpkg database with dpkg-query
// (not-installed when dpkg knows no such package).
func (f *Fixture) State(t testing.TB, name string) State {
	t.Helper()
	cmd := exec.Command(testtool.Look(t, "dpkg-query"), "--admindir="+f.AdminDir(), "-W", "-f", "${Version}\t${db:Status-Status}", "--", name)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 && strings.Contains(stderr.String(), "no packages found matching") {
		return State{Status: "not-installed"}
	}
	if err != nil {
		t.Fatalf("dpkg-query -W %s: %v\n%s", name, err, stderr.String())
	}
	ver, status, ok := strings.Cut(stdout.String(), "\t")
	if !ok {
		t.Fatalf("dpkg-query -W %s printed %q", name, stdout.String())
	}
	return State{Version: ver, Status: status}
}

// AdminDir is the root's dpkg database directory.
func (f *Fixture) AdminDir() string { return filepath.Join(f.Root, "var/lib/dpkg") }

// ScriptLog returns the maintainer scripts' log ("" before any ran).
func (f *Fixture) ScriptLog(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.Root, ScriptLog))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

// Release lets a gated postinst waiting on the Gate go on: it writes one
// line to the fifo as soon as the script has it open, waiting up to
// timeout for that.
func (f *Fixture) Release(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// Non-blocking: the open fails (ENXIO) while no script reads.
		w, err := openFifoWriter(filepath.Join(f.Root, Gate))
		if err == nil {
			_, err = w.WriteString("go\n")
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("release the postinst: %v", err)
			}
			return
		}
		if !errors.Is(err, errNoReader) {
			t.Fatalf("release the postinst: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no postinst waited on %s within %s", Gate, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CleanCache empties apt's archive cache under the root, as apt-get clean
// (or autoclean, once the archive dropped the versions) would.
func (f *Fixture) CleanCache(t testing.TB) {
	t.Helper()
	debs, err := filepath.Glob(filepath.Join(f.Root, "var/cache/apt/archives/*.deb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
}

// NewRoot makes a throwaway root apt and dpkg can work on: dpkg's
// database empty, apt's directories, and [trusted=yes] sources for the
// flat repositories repos ("deb file:DIR ./").
func NewRoot(t testing.TB, repos ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt/lists/partial",
		"var/cache/apt/archives/partial", "var/log/apt", "etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	WriteFile(t, filepath.Join(root, "var/lib/dpkg/status"), "")
	var sources strings.Builder
	for _, r := range repos {
		fmt.Fprintf(&sources, "deb [trusted=yes] file:%s ./\n", r)
	}
	WriteFile(t, filepath.Join(root, "etc/apt/sources.list"), sources.String())
	return root
}

// InstallShell copies the machine's /bin/sh into root, with the shared
// libraries ldd names, for the maintainer scripts dpkg runs chrooted
// there.
func InstallShell(t testing.TB, root string) {
	t.Helper()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"/bin/sh": sh}
	out, err := exec.Command(testtool.Look(t, "ldd"), sh).Output()
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

// Run runs a program in dir ("" for the current one), with env
// (KEY=value) added to the test's environment, and returns its stdout; a
// failure ends the test with the program's output.
func Run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// exec uses the last value of a variable set twice: env wins.
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// WriteFile writes data to path (mode 0644), making its directories.
func WriteFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeExecutable(t testing.TB, path, data string) {
	t.Helper()
	WriteFile(t, path, data)
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}
