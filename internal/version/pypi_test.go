package version

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPyPIOrder(t *testing.T) {
	// PEP 440, "Summary of permitted suffixes and relative ordering", with
	// local versions placed as the spec orders them.
	checkAscending(t, PyPI, []string{
		"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
		"1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
		"1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
	})
	checkAscending(t, PyPI, []string{"0.9", "1!0.1", "1!1.0", "2!0.0.1"})
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"trailing zeros", "1.0.0", "1", 0},
		{"spelling", "1.0RC1", "1.0rc1", 0},
		{"implicit post", "1.0-1", "1.0.post1", 0},
		{"implicit numbers", "1.0a", "1.0a0", 0},
		{"local case and separators", "1.0+Ubuntu-1", "1.0+ubuntu.1", 0},
		{"local leading zeros", "1.0+01", "1.0+1", 0},
		{"local words before numbers", "1.0+abc", "1.0+1", -1},
		{"local longer", "1.0+abc", "1.0+abc.1", -1},
		{"epoch zero", "0!1.0", "1.0", 0},
		{"dev before pre", "1.0.dev1", "1.0a1", -1},
		{"post of pre before release", "1.0rc1.post1", "1.0", -1},
		{"numbers beyond 64 bits", "1.99999999999999999999999", "1.99999999999999999999998", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Compare(PyPI, tt.a, tt.b); err != nil || got != tt.want {
				t.Errorf("Compare(pypi, %q, %q) = %d, %v, want %d", tt.a, tt.b, got, err, tt.want)
			}
			if got, err := Compare(PyPI, tt.b, tt.a); err != nil || got != -tt.want {
				t.Errorf("Compare(pypi, %q, %q) = %d, %v, want %d", tt.b, tt.a, got, err, -tt.want)
			}
		})
	}
}

func TestPyPINormalized(t *testing.T) {
	// PEP 440, "Normalization".
	tests := map[string]string{
		"1.0RC1": "1.0rc1", "1.1.a1": "1.1a1", "1.1-a1": "1.1a1", "1.1_a1": "1.1a1",
		"1.0alpha1": "1.0a1", "1.0beta2": "1.0b2", "1.0c1": "1.0rc1", "1.0pre1": "1.0rc1",
		"1.0preview1": "1.0rc1", "1.2a": "1.2a0", "1.2-post2": "1.2.post2", "1.2post2": "1.2.post2",
		"1.2.rev2": "1.2.post2", "1.2.r2": "1.2.post2", "1.2-r2": "1.2.post2", "1.0-1": "1.0.post1",
		"1.2.post": "1.2.post0", "1.2.dev": "1.2.dev0", "1.2-dev2": "1.2.dev2", "1.2dev2": "1.2.dev2",
		"1.0+ubuntu-1": "1.0+ubuntu.1", "1.0+Ubuntu_1": "1.0+ubuntu.1", "v1.0": "1.0", "V1.0": "1.0",
		" 1.0\n": "1.0", "1!1.0": "1!1.0", "0!1.0": "1.0", "01.02": "1.2", "1.0+001": "1.0+1",
		"1.0a-1": "1.0a1", "1.0a.post1": "1.0a0.post1", "1.0.dev-": "1.0.dev0",
		"1.2.3.4.5rc6.post7.dev8+local.9": "1.2.3.4.5rc6.post7.dev8+local.9",
	}
	for in, want := range tests {
		v, err := ParsePyPI(in)
		if err != nil {
			t.Errorf("ParsePyPI(%q) error = %v", in, err)
			continue
		}
		if got := v.Normalized(); got != want {
			t.Errorf("ParsePyPI(%q).Normalized() = %q, want %q", in, got, want)
		}
		if v.String() != in {
			t.Errorf("ParsePyPI(%q).String() = %q", in, v.String())
		}
	}
	for in, want := range map[string]string{
		"":             `pypi version "": empty version`,
		"1.0-":         `pypi version "1.0-": invalid at "-"`,
		"1.0+":         `pypi version "1.0+": empty local version`,
		"french toast": `pypi version "french toast": no release number`,
		"1.0.":         `pypi version "1.0.": invalid at "."`,
		"1.0+a..b":     `pypi version "1.0+a..b": invalid at "..b"`,
		"1.0a1a2":      `pypi version "1.0a1a2": invalid at "a2"`,
		"1.0 1":        `pypi version "1.0 1": invalid at " 1"`,
	} {
		if _, err := ParsePyPI(in); err == nil || err.Error() != want {
			t.Errorf("ParsePyPI(%q) error = %v, want %s", in, err, want)
		}
	}
}

// genPyPIVersion returns a string near PEP 440's syntax: every spelling of
// every part, optional separators, case changes, and now and then a stray
// character that makes it invalid.
func genPyPIVersion(r *rand.Rand) string {
	var b strings.Builder
	pick := func(options ...string) string { return options[r.IntN(len(options))] }
	num := func() string {
		return pick("", "0", "1", "2", "01", "10", "99999999999999999999")
	}
	sep := func() string { return pick("", "", ".", "-", "_") }
	if r.IntN(8) == 0 {
		b.WriteString(pick(" ", "v", "V", "\t"))
	}
	if r.IntN(8) == 0 {
		b.WriteString(pick("0", "1", "2", "01") + "!")
	}
	b.WriteString(pick("0", "1", "2", "01", "10"))
	for n := r.IntN(4); n > 0; n-- {
		b.WriteString("." + pick("0", "1", "2", "00", "10"))
	}
	if r.IntN(3) == 0 {
		b.WriteString(sep() + pick("a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "A", "RC", "Pre") + sep() + num())
	}
	if r.IntN(3) == 0 {
		if r.IntN(3) == 0 {
			b.WriteString("-" + pick("0", "1", "12"))
		} else {
			b.WriteString(sep() + pick("post", "rev", "r", "POST", "Rev") + sep() + num())
		}
	}
	if r.IntN(3) == 0 {
		b.WriteString(sep() + pick("dev", "DEV") + sep() + num())
	}
	if r.IntN(4) == 0 {
		b.WriteString("+" + pick("abc", "ABC", "1", "01", "ubuntu", "0"))
		for n := r.IntN(3); n > 0; n-- {
			b.WriteString(pick(".", "-", "_") + pick("abc", "2", "00", "z9", "A"))
		}
	}
	if r.IntN(15) == 0 {
		b.WriteString(pick(".", "-", "+", "x", " ", "..1", "a1"))
	}
	if r.IntN(10) == 0 {
		b.WriteString(pick(" ", "\n", "\x1f"))
	}
	return b.String()
}

// packagingPython returns a Python that can import the packaging library
// (Debian's python3-packaging), or "".
func packagingPython() string {
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import packaging.version").Run() == nil {
			return p
		}
	}
	return ""
}

const packagingScript = `
import sys
from packaging.version import Version, InvalidVersion
versions = open(sys.argv[1], newline="\n").read().split("\0")[:-1]
parsed = []
out = open(sys.argv[3], "w")
for v in versions:
    try:
        p = Version(v)
        out.write(str(p) + "\n")
    except InvalidVersion:
        p = None
        out.write("!\n")
    parsed.append(p)
for line in open(sys.argv[2]):
    i, j = map(int, line.split())
    a, b = parsed[i], parsed[j]
    out.write("%d\n" % ((a > b) - (a < b)))
`

// TestPyPIOracle asks the packaging library, which pip uses, about thousands
// of generated versions: the same validity, the same normal form, the same
// order. It runs where a python3 with packaging is installed.
func TestPyPIOracle(t *testing.T) {
	python := packagingPython()
	if python == "" {
		skipOrFail(t, "no python3 with the packaging library (apt-get install python3-packaging)")
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(5, 6))
	var versions []string
	seen := map[string]bool{}
	for len(versions) < n {
		if v := genPyPIVersion(r); !seen[v] {
			seen[v] = true
			versions = append(versions, v)
		}
	}
	parsed := make([]*PyPIVersion, n)
	var valid []int
	for i, s := range versions {
		if v, err := ParsePyPI(s); err == nil {
			parsed[i] = &v
			valid = append(valid, i)
		}
	}
	var pairs [][2]int
	for range n {
		pairs = append(pairs, [2]int{valid[r.IntN(len(valid))], valid[r.IntN(len(valid))]})
	}

	dir := t.TempDir()
	var vin, pin strings.Builder
	for _, v := range versions {
		vin.WriteString(v + "\x00")
	}
	for _, p := range pairs {
		fmt.Fprintf(&pin, "%d %d\n", p[0], p[1])
	}
	files := map[string]string{"versions": vin.String(), "pairs": pin.String(), "oracle.py": packagingScript}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(python, "oracle.py", "versions", "pairs", "out")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", python, err, out)
	}
	f, err := os.Open(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("packaging's answers end early: %v", sc.Err())
		}
		return sc.Text()
	}
	failures := 0
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		if failures++; failures == 30 {
			t.FailNow()
		}
	}
	for i, s := range versions {
		want := next()
		switch {
		case want == "!" && parsed[i] != nil:
			fail("ParsePyPI(%q) = %q, packaging says invalid", s, parsed[i].Normalized())
		case want != "!" && parsed[i] == nil:
			_, err := ParsePyPI(s)
			fail("ParsePyPI(%q) error = %v, packaging says %q", s, err, want)
		case want != "!" && parsed[i].Normalized() != want:
			fail("ParsePyPI(%q).Normalized() = %q, packaging says %q", s, parsed[i].Normalized(), want)
		}
	}
	for _, p := range pairs {
		want, _ := strconv.Atoi(next())
		if got := parsed[p[0]].Compare(*parsed[p[1]]); got != want {
			fail("ParsePyPI(%q).Compare(%q) = %d, packaging says %d", versions[p[0]], versions[p[1]], got, want)
		}
	}
	t.Logf("%d versions (%d valid), %d pairs", n, len(valid), len(pairs))
}
