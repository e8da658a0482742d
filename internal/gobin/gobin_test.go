//go:build unix

package gobin_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/gobin"
)

// fixtures are Go binaries built once by TestMain with the go command in
// PATH, offline: their dependencies come from a module proxy in a
// directory.
var fixtures struct {
	dir string
	// tool is built in its module with replacements: example.com/dep
	// v1.2.3, example.com/other replaced by example.com/fork v1.0.1 and
	// example.com/local replaced by a directory. Its main module is
	// "(devel)".
	tool string
	// released is `go install example.com/released@v1.4.0`: its main
	// module has a version, and it requires example.com/dep v1.2.3.
	released string
	stdlib   string // the toolchain's version in OSV form
	err      error  // why the fixtures could not be built
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childScan())
	}
	dir, err := os.MkdirTemp("", "gobin-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtures.dir = dir
	fixtures.err = buildFixtures(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needFixtures(t *testing.T) {
	t.Helper()
	if fixtures.err != nil {
		t.Fatalf("building the Go binaries to scan: %v", fixtures.err)
	}
}

// proxyModule writes one module version into a file-based module proxy.
func proxyModule(proxy, path, version string, files map[string]string) error {
	dir := filepath.Join(proxy, path, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for name, content := range files {
		w, err := zw.Create(path + "@" + version + "/" + name)
		if err != nil {
			return err
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		return err
	}
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	for name, data := range map[string][]byte{
		version + ".info": fmt.Appendf(nil, `{"Version":%q,"Time":"2024-01-02T03:04:05Z"}`, version),
		version + ".mod":  []byte(files["go.mod"]),
		version + ".zip":  zb.Bytes(),
		"list":            append(list, version+"\n"...),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func buildFixtures(dir string) error {
	proxy := filepath.Join(dir, "proxy")
	for _, m := range []struct{ path, version, pkg string }{
		{"example.com/dep", "v1.2.3", "dep"},
		{"example.com/other", "v0.5.0", "other"},
		{"example.com/fork", "v1.0.1", "other"},
	} {
		err := proxyModule(proxy, m.path, m.version, map[string]string{
			"go.mod": "module " + m.path + "\n\ngo 1.22\n",
			"x.go":   "package " + m.pkg + "\n\nfunc Name() string { return \"" + m.path + "\" }\n",
		})
		if err != nil {
			return err
		}
	}
	err := proxyModule(proxy, "example.com/released", "v1.4.0", map[string]string{
		"go.mod":  "module example.com/released\n\ngo 1.22\n\nrequire example.com/dep v1.2.3\n",
		"main.go": "package main\n\nimport \"example.com/dep\"\n\nfunc main() { println(dep.Name()) }\n",
	})
	if err != nil {
		return err
	}
	src := filepath.Join(dir, "src")
	err = writeFiles(src, map[string]string{
		"go.mod": `module example.com/tool

go 1.22

require (
	example.com/dep v1.2.3
	example.com/local v0.0.0
	example.com/other v0.5.0
)

replace example.com/other => example.com/fork v1.0.1

replace example.com/local => ./local
`,
		"main.go": `package main

import (
	"example.com/dep"
	"example.com/local"
	"example.com/other"
)

func main() { println(dep.Name(), other.Name(), local.Name()) }
`,
		"local/go.mod": "module example.com/local\n\ngo 1.22\n",
		"local/x.go":   "package local\n\nfunc Name() string { return \"local\" }\n",
	})
	if err != nil {
		return err
	}
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy), "GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS=-mod=mod -modcacherw -buildvcs=false",
		"GOTOOLCHAIN=local", "GOWORK=off", "GO111MODULE=on", "CGO_ENABLED=0",
		"GOMODCACHE="+filepath.Join(dir, "modcache"), "GOBIN="+filepath.Join(dir, "bin"))
	run := func(wd string, args ...string) (string, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = wd, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	fixtures.tool = filepath.Join(dir, "bin", "tool")
	if _, err := run(src, "build", "-o", fixtures.tool, "."); err != nil {
		return err
	}
	if _, err := run(src, "install", "example.com/released@v1.4.0"); err != nil {
		return err
	}
	fixtures.released = filepath.Join(dir, "bin", "released")
	goversion, err := run(src, "env", "GOVERSION")
	if err != nil {
		return err
	}
	v, ok := gobin.StdlibVersion(goversion)
	if !ok {
		return fmt.Errorf("the toolchain %q is not a release: the tests need one", goversion)
	}
	fixtures.stdlib = v
	return nil
}

// modules returns what Scan should report for a binary built like tool or
// released, found at path.
func modules(fixture, path string) []patchbay.Package {
	p := func(name, version string) patchbay.Package {
		return patchbay.Package{Ecosystem: "go", Name: name, Version: version, SourceName: path}
	}
	if fixture == fixtures.released {
		return []patchbay.Package{p("stdlib", fixtures.stdlib), p("example.com/released", "1.4.0"), p("example.com/dep", "1.2.3")}
	}
	// No main module ("(devel)"), no example.com/local (a directory),
	// example.com/other as its replacement.
	return []patchbay.Package{p("stdlib", fixtures.stdlib), p("example.com/dep", "1.2.3"), p("example.com/fork", "1.0.1")}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

func scan(t *testing.T, paths []string, opts gobin.Options) ([]patchbay.Package, []gobin.Problem) {
	t.Helper()
	return gobin.Scan(context.Background(), paths, opts)
}

func wantPackages(t *testing.T, call string, got, want []patchbay.Package) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s packages:\n got %+v\nwant %+v", call, got, want)
	}
}

func wantProblems(t *testing.T, call string, got []gobin.Problem, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d problems %v, want %d: %q", call, len(got), got, len(want), want)
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("%s: problem %d = %q, want it to hold %q", call, i, got[i].Error(), w)
		}
	}
}

func TestScanModules(t *testing.T) {
	needFixtures(t)
	dir := t.TempDir()
	a, b, rel := filepath.Join(dir, "a", "tool"), filepath.Join(dir, "b", "tool"), filepath.Join(dir, "b", "released")
	copyFile(t, fixtures.tool, a, 0o755)
	copyFile(t, fixtures.tool, b, 0o755)
	copyFile(t, fixtures.released, rel, 0o755)

	got, problems := scan(t, []string{dir}, gobin.Options{})
	wantProblems(t, "Scan(dir)", problems)
	// Walk order is lexical; the same modules in two binaries are two
	// packages, told apart by the binary's path.
	wantPackages(t, "Scan(dir)", got, append(append(modules(fixtures.tool, a), modules(fixtures.released, rel)...), modules(fixtures.tool, b)...))

	// A binary reached through two configured paths is reported once; a
	// configured file is scanned as such.
	got, problems = scan(t, []string{a, filepath.Join(dir, "a"), dir + "/a/../a/tool"}, gobin.Options{})
	wantProblems(t, "Scan(a twice)", problems)
	wantPackages(t, "Scan(a twice)", got, modules(fixtures.tool, a))

	for _, p := range got {
		if err := patchbay.ValidatePackage("p", p); err != nil {
			t.Errorf("ValidatePackage(%+v) = %v: the server would refuse the upload", p, err)
		}
	}
}

func TestScanSkipsWhatIsNotAGoBinary(t *testing.T) {
	needFixtures(t)
	dir := t.TempDir()
	tool := filepath.Join(dir, "bin", "tool")
	copyFile(t, fixtures.tool, tool, 0o755)
	err := writeFiles(dir, map[string]string{
		"bin/script.sh":     "#!/bin/sh\necho hello\n",
		"bin/notes.txt":     "not executable\n",
		"bin/bad-elf":       "\x7fELF\x02\x01\x01\x00 and then nothing an ELF reader wants",
		"bin/empty":         "",
		"share/go-not-exec": "", // filled below
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bin/script.sh", "bin/bad-elf", "bin/empty"} {
		os.Chmod(filepath.Join(dir, name), 0o755)
	}
	// A Go binary without an execute bit is not a candidate.
	copyFile(t, fixtures.tool, filepath.Join(dir, "share", "go-not-exec"), 0o644)
	// A real ELF executable that is not Go, if the system has one.
	for _, sys := range []string{"/bin/true", "/usr/bin/true"} {
		if data, err := os.ReadFile(sys); err == nil && bytes.HasPrefix(data, []byte("\x7fELF")) {
			copyFile(t, sys, filepath.Join(dir, "bin", "true"), 0o755)
			break
		}
	}
	// Links: a loop to the parent, a link to itself, a link to the binary
	// (not followed: the binary is reported where it lives).
	for link, target := range map[string]string{"bin/loop": "..", "bin/self": "self", "bin/tool-link": "tool", "bin/dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "bin", "fifo"), 0o755); err != nil {
		t.Fatal(err)
	}

	got, problems := scan(t, []string{dir}, gobin.Options{})
	wantProblems(t, "Scan(mixed dir)", problems)
	wantPackages(t, "Scan(mixed dir)", got, modules(fixtures.tool, tool))

	// A configured path that is a link is followed on "/" and reported by
	// the name configured.
	linkDir := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(filepath.Join(dir, "bin"), linkDir); err != nil {
		t.Fatal(err)
	}
	got, problems = scan(t, []string{linkDir}, gobin.Options{})
	wantProblems(t, "Scan(link to dir)", problems)
	wantPackages(t, "Scan(link to dir)", got, modules(fixtures.tool, filepath.Join(linkDir, "tool")))

	// A FIFO named directly is refused by its type, never opened.
	_, problems = scan(t, []string{filepath.Join(dir, "bin", "fifo")}, gobin.Options{})
	wantProblems(t, "Scan(fifo)", problems, "neither a regular file nor a directory")
}

func TestScanDamagedBinaries(t *testing.T) {
	needFixtures(t)
	data, err := os.ReadFile(fixtures.tool)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Truncated copies: whatever is left must be skipped or reported, and
	// what is reported must be right.
	sizes := []int{16, 64, 4096, len(data) / 3, len(data) / 2, len(data) - 4096, len(data) - 1}
	for _, n := range sizes {
		p := filepath.Join(dir, fmt.Sprintf("truncated-%d", n))
		if err := os.WriteFile(p, data[:n], 0o755); err != nil {
			t.Fatal(err)
		}
		got, problems := scan(t, []string{p}, gobin.Options{})
		if len(got) > 0 && !reflect.DeepEqual(got, modules(fixtures.tool, p)) {
			t.Errorf("Scan(first %d bytes) = %+v, want nothing or the binary's modules", n, got)
		}
		t.Logf("first %d of %d bytes: %d packages, problems %v", n, len(data), len(got), problems)
	}

	// Build information that does not parse is a problem: a Go binary
	// whose modules cannot be known. The replacement line loses a column.
	bad := bytes.ReplaceAll(data, []byte("=>\texample.com/fork\tv1.0.1\t"), []byte("=>\texample.com/fork v1.0.1\t"))
	if bytes.Equal(bad, data) {
		t.Fatal("the binary holds no replacement line to damage")
	}
	p := filepath.Join(dir, "damaged")
	if err := os.WriteFile(p, bad, 0o755); err != nil {
		t.Fatal(err)
	}
	got, problems := scan(t, []string{p}, gobin.Options{})
	wantPackages(t, "Scan(damaged build info)", got, nil)
	wantProblems(t, "Scan(damaged build info)", problems, "damaged: a Go binary whose build information cannot be read")
}

func TestScanProblemsAndLimits(t *testing.T) {
	needFixtures(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	copyFile(t, fixtures.tool, a, 0o755)
	copyFile(t, fixtures.tool, b, 0o755)

	got, problems := scan(t, []string{"relative/bin", filepath.Join(dir, "missing"), a}, gobin.Options{})
	wantProblems(t, "Scan(bad paths)", problems, "relative/bin: not an absolute path", "missing: no such file or directory")
	wantPackages(t, "Scan(bad paths)", got, modules(fixtures.tool, a))

	got, problems = scan(t, []string{dir}, gobin.Options{MaxFiles: 1})
	wantProblems(t, "Scan(MaxFiles 1)", problems, "/b: stopped after 1 files")
	wantPackages(t, "Scan(MaxFiles 1)", got, modules(fixtures.tool, a))

	got, problems = scan(t, []string{dir}, gobin.Options{MaxPackages: 4})
	wantProblems(t, "Scan(MaxPackages 4)", problems, "/b: stopped at 3 packages")
	wantPackages(t, "Scan(MaxPackages 4)", got, modules(fixtures.tool, a))

	got, problems = scan(t, []string{a}, gobin.Options{MaxFileSize: 4096})
	wantProblems(t, "Scan(MaxFileSize)", problems, "over the limit of 4096: not read")
	wantPackages(t, "Scan(MaxFileSize)", got, nil)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, problems = gobin.Scan(ctx, []string{dir}, gobin.Options{})
	wantProblems(t, "Scan(canceled)", problems, "context canceled")
	wantPackages(t, "Scan(canceled)", got, nil)

	// A path with a space cannot travel in a package; the binary is a
	// problem, not a refused upload.
	spaced := filepath.Join(t.TempDir(), "My Tools", "tool")
	copyFile(t, fixtures.tool, spaced, 0o755)
	got, problems = scan(t, []string{spaced}, gobin.Options{})
	wantProblems(t, "Scan(path with a space)", problems, "cannot be reported")
	wantPackages(t, "Scan(path with a space)", got, nil)
}

func TestScanUnderRoot(t *testing.T) {
	needFixtures(t)
	root := t.TempDir()
	copyFile(t, fixtures.tool, filepath.Join(root, "usr", "local", "bin", "tool"), 0o755)
	if err := os.Symlink("/usr/local/bin", filepath.Join(root, "opt-current")); err != nil {
		t.Fatal(err)
	}
	got, problems := scan(t, []string{"/usr/local/bin", "/opt-current"}, gobin.Options{Root: root})
	wantProblems(t, "Scan(under root)", problems, "/opt-current: a symbolic link: not followed")
	wantPackages(t, "Scan(under root)", got, modules(fixtures.tool, "/usr/local/bin/tool"))
}

// The unreadable-file test runs the scan as an unprivileged user when the
// tests run as root, who reads everything: in a child process of this test
// binary, named by childEnv.
const childEnv = "GOBIN_TEST_CHILD_SCAN"

type childResult struct {
	Packages []patchbay.Package
	Problems []string
}

func childScan() int {
	pkgs, probs := gobin.Scan(context.Background(), strings.Split(os.Getenv(childEnv), "\n"), gobin.Options{})
	res := childResult{Packages: pkgs}
	for _, p := range probs {
		res.Problems = append(res.Problems, p.Error())
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

func TestScanUnreadable(t *testing.T) {
	needFixtures(t)
	dir := t.TempDir()
	readable, locked, inClosed := filepath.Join(dir, "readable"), filepath.Join(dir, "locked"), filepath.Join(dir, "closed", "tool")
	copyFile(t, fixtures.tool, readable, 0o755)
	copyFile(t, fixtures.tool, locked, 0o111) // executable, not readable
	copyFile(t, fixtures.tool, inClosed, 0o755)
	if err := os.Chmod(filepath.Dir(inClosed), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Dir(inClosed), 0o755) })

	var res childResult
	if os.Geteuid() != 0 {
		pkgs, probs := scan(t, []string{dir}, gobin.Options{})
		res.Packages = pkgs
		for _, p := range probs {
			res.Problems = append(res.Problems, p.Error())
		}
	} else {
		// Run as nobody: the test's directories (t.TempDir makes them
		// 0700) and a copy of the test binary must be reachable by that
		// user.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "gobin.test")
		copyFile(t, self, bin, 0o755)
		for _, d := range []string{dir, filepath.Dir(bin), filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("cannot run the scan as an unprivileged user (uid 65534): %v", err)
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("child scan answered %q: %v", out, err)
		}
		t.Logf("scanned as uid 65534: %+v", res)
	}
	wantPackages(t, "Scan(unreadable)", res.Packages, modules(fixtures.tool, readable))
	want := []string{inClosed[:len(inClosed)-len("/tool")] + ": permission denied", locked + ": permission denied"}
	if !reflect.DeepEqual(res.Problems, want) {
		t.Errorf("Scan(unreadable) problems = %q, want %q", res.Problems, want)
	}
}

func TestStdlibVersion(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"go1.22.5", "1.22.5", true},
		{"go1.21.0", "1.21.0", true},
		{"go1.20", "1.20.0", true},
		{"go1.26.8", "1.26.8", true},
		{"go1.23rc1", "1.23.0-rc.1", true},
		{"go1.21rc4", "1.21.0-rc.4", true},
		{"go1.9beta2", "1.9.0-beta.2", true},
		{"go1.9.2rc2", "1.9.2-rc.2", true},
		{"go1", "1.0.0", true},
		{"go1.22.5 X:boringcrypto", "1.22.5", true},
		{"go1.21.13 (Red Hat 1.21.13-4.el9_4)", "1.21.13", true},
		{" go1.19.8\n", "1.19.8", true},
		{"devel go1.24-abcdef0123 Mon Jan 1 00:00:00 2024 +0000", "", false},
		{"go1.22-20231128-RC02", "", false}, // a vendor's branch build, seen in the wild
		{"go1.25-20250209-RC00", "", false},
		{"", "", false},
		{"go", "", false},
		{"1.22.5", "", false},
		{"go1..2", "", false},
		{"go01.2", "", false},
		{"go1.2.3.4", "", false},
		{"go1.22rc", "", false},
		{"go1.22alpha1", "", false},
		{"go1.22.5-1", "", false},
	} {
		got, ok := gobin.StdlibVersion(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("StdlibVersion(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
