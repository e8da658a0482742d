package version

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rpmVerCmpTests are rpm's own cases for rpmvercmp (tests/rpmvercmp.at).
var rpmVerCmpTests = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0.1", "2.0", 1},
	{"2.0.1a", "2.0.1", 1}, {"5.5p1", "5.5p2", -1}, {"5.5p10", "5.5p1", 1},
	{"10xyz", "10.1xyz", -1}, {"xyz10", "xyz10.1", -1}, {"xyz.4", "8", -1},
	{"xyz.4", "2", -1}, {"5.5p2", "5.6p1", -1}, {"5.6p1", "6.5p1", -1},
	{"6.0.rc1", "6.0", 1}, {"10b2", "10a1", 1}, {"10a2", "10b2", -1},
	{"1.0aa", "1.0a", 1}, {"10.0001", "10.1", 0}, {"10.0001", "10.0039", -1},
	{"4.999.9", "5.0", -1}, {"20101121", "20101122", -1},
	{"2_0", "2.0", 0}, {"a+", "a_", 0}, {"+a", "_a", 0}, {"_+", "+_", 0}, {"+", "_", 0},
	{"1.0~rc1", "1.0", -1}, {"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc1~git123", "1.0~rc1", -1},
	{"1.0^", "1.0", 1}, {"1.0^git1", "1.0", 1}, {"1.0^git1", "1.0^git2", -1},
	{"1.0^git1", "1.01", -1}, {"1.0^20160101", "1.0.1", -1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0}, {"1.0^20160102", "1.0^20160101^git1", 1},
	{"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0^git1~pre", "1.0^git1", -1},
}

func TestRPMVerCmp(t *testing.T) {
	for _, tt := range rpmVerCmpTests {
		if got := RPMVerCmp(tt.a, tt.b); got != tt.want {
			t.Errorf("RPMVerCmp(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := RPMVerCmp(tt.b, tt.a); got != -tt.want {
			t.Errorf("RPMVerCmp(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCompareRPM(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"epoch wins", "1:1.0-1", "2.0-1", 1},
		{"missing epoch is zero", "0:1.0-1", "1.0-1", 0},
		{"epoch leading zeros", "01:1.0-1", "1:1.0-1", 0},
		{"epoch numeric", "10:1.0", "9:1.0", 1},
		{"release", "1.0-1.el9", "1.0-2.el9", -1},
		{"release after version", "1.1-1", "1.0-9", 1},
		{"missing release first", "1.0", "1.0-1", -1},
		{"missing release equal", "1.0", "1.0", 0},
		{"tilde pre-release", "1.0~rc1-1", "1.0-1", -1},
		{"caret snapshot", "1.0^git1-1", "1.0-1", 1},
		{"el9 update", "2.9.13-3.el9_2", "2.9.13-3.el9", 1},
		{"release with dots", "1.0-2.1", "1.0-2.10", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Compare(RPM, tt.a, tt.b); err != nil || got != tt.want {
				t.Errorf("Compare(rpm, %q, %q) = %d, %v, want %d", tt.a, tt.b, got, err, tt.want)
			}
			if got, err := Compare(RPM, tt.b, tt.a); err != nil || got != -tt.want {
				t.Errorf("Compare(rpm, %q, %q) = %d, %v, want %d", tt.b, tt.a, got, err, -tt.want)
			}
		})
	}
}

func TestParseRPM(t *testing.T) {
	v, err := ParseRPM("2:1.0~rc1-3.fc40")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != "2" || v.Version != "1.0~rc1" || v.Release != "3.fc40" || !v.HasRelease || v.String() != "2:1.0~rc1-3.fc40" {
		t.Errorf("ParseRPM(%q) = %+v", "2:1.0~rc1-3.fc40", v)
	}
	errs := []struct{ in, want string }{
		{"", `rpm version "": empty version`},
		{"1:", `rpm version "1:": empty version`},
		{":1.0", `rpm version ":1.0": empty epoch`},
		{"a:1.0", `rpm version "a:1.0": epoch is not a number`},
		{"1.0-", `rpm version "1.0-": empty release`},
		{"-1", `rpm version "-1": empty version`},
		{"1.0 1", `rpm version "1.0 1": invalid character ' ' in version`},
		{"1.0-1/2", `rpm version "1.0-1/2": invalid character '/' in release`},
		{"1:2:3", `rpm version "1:2:3": invalid character ':' in version`},
		{"1.0-rc1-2", `rpm version "1.0-rc1-2": invalid character '-' in version`},
	}
	for _, tt := range errs {
		if _, err := ParseRPM(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseRPM(%q) error = %v, want %s", tt.in, err, tt.want)
		}
	}
}

// genRPMField returns a string for rpmvercmp: runs of digits (with leading
// zeros) and letters (both cases) between separators, '~' and '^' among
// them. With anyChars, odd separators too, which rpmvercmp takes as it does
// '.'.
func genRPMField(r *rand.Rand, anyChars bool) string {
	seps := "..._+~^"
	if anyChars {
		seps += "-:/%#@ "
	}
	var b strings.Builder
	for n := 1 + r.IntN(5); n > 0; n-- {
		switch r.IntN(4) {
		case 0:
			for k := 1 + r.IntN(3); k > 0; k-- {
				b.WriteByte("aAbzZrcgitpre"[r.IntN(13)])
			}
		default:
			if r.IntN(4) == 0 {
				b.WriteString(strings.Repeat("0", 1+r.IntN(2)))
			}
			b.WriteString(strconv.Itoa([]int{0, 1, 2, 9, 10, 11, 99, 100, 20160101}[r.IntN(9)]))
		}
		if n > 1 || r.IntN(5) == 0 {
			for k := r.IntN(2); k >= 0; k-- {
				b.WriteByte(seps[r.IntN(len(seps))])
			}
		}
	}
	return b.String()
}

// genRPMPair returns two fields, most often one a small edit of the other.
func genRPMPair(r *rand.Rand, anyChars bool) (string, string) {
	a := genRPMField(r, anyChars)
	switch r.IntN(10) {
	case 0, 1:
		return a, genRPMField(r, anyChars)
	case 2:
		return a, a + "~" + genRPMField(r, false)
	case 3:
		return a, a + "^" + genRPMField(r, false)
	case 4:
		return a, a + string("._+~^a1"[r.IntN(7)])
	case 5:
		return a, strings.Replace(a, ".", string("_+~^"[r.IntN(4)]), 1)
	case 6:
		return a, strings.Replace(a, "1", "01", 1)
	case 7:
		return a, strings.ToUpper(a)
	case 8:
		return a, strings.TrimRight(a, "0123456789")
	}
	return a, a
}

func genRPMEVR(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(5) {
	case 0:
		fmt.Fprintf(&b, "%d:", r.IntN(3))
	case 1:
		b.WriteString("01:")
	}
	b.WriteString(genRPMField(r, false))
	if r.IntN(4) > 0 {
		b.WriteByte('-')
		b.WriteString(genRPMField(r, false))
	}
	return strings.Trim(b.String(), ".-:") // keep what ParseRPM takes
}

// runRPMLua runs a Lua chunk inside one rpm --eval over a file of
// tab-separated pairs and returns the lines it writes, one result a pair.
func runRPMLua(t *testing.T, rpm, compare string, pairs [][2]string) []string {
	t.Helper()
	dir := t.TempDir()
	var in strings.Builder
	for _, p := range pairs {
		in.WriteString(p[0] + "\t" + p[1] + "\n")
	}
	script := `local out = assert(io.open("out.txt", "w"))
local function compare(a, b)
` + compare + `
end
for line in io.lines("pairs.tsv") do
  local a, b = line:match("^([^\t]*)\t([^\t]*)$")
  out:write(tostring(compare(a, b)), "\n")
end
out:close()
`
	for name, data := range map[string]string{"pairs.tsv": in.String(), "compare.lua": script} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(rpm, "--eval", `%{lua: dofile("compare.lua")}`)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm --eval: %v: %s", err, out)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(pairs) {
		t.Fatalf("rpm answered %d pairs of %d", len(lines), len(pairs))
	}
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	if len(seen) != 3 || seen["-1"] == 0 || seen["0"] == 0 || seen["1"] == 0 {
		t.Fatalf("rpm answered %v, want a mix of -1, 0 and 1", seen)
	}
	t.Logf("rpm answered %v", seen)
	return lines
}

// TestRPMOracle asks rpm itself, through its Lua interpreter in a single
// rpm --eval each: rpmvercmp on thousands of generated field pairs (rpm.ver
// objects made of a version alone compare by rpmvercmp), and rpm.vercmp,
// which in rpm 4.18 compares whole [epoch:]version[-release] strings with
// rpmverCmp, on thousands of generated EVR pairs.
func TestRPMOracle(t *testing.T) {
	rpm, err := exec.LookPath("rpm")
	if err != nil {
		skipOrFail(t, "rpm is not installed; the rpm oracle test needs rpm's Lua (apt-get install rpm)")
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(3, 4))

	t.Run("vercmp", func(t *testing.T) {
		var pairs [][2]string
		for _, tt := range rpmVerCmpTests {
			pairs = append(pairs, [2]string{tt.a, tt.b})
		}
		for range n {
			a, b := genRPMPair(r, true)
			if a == "" || b == "" {
				continue // rpm.ver takes no empty version
			}
			pairs = append(pairs, [2]string{a, b})
		}
		start := time.Now()
		got := runRPMLua(t, rpm, `local x, y = rpm.ver(nil, a, nil), rpm.ver(nil, b, nil)
  if x < y then return -1 elseif x == y then return 0 else return 1 end`, pairs)
		t.Logf("%d pairs in one rpm --eval: %v", len(pairs), time.Since(start).Round(time.Millisecond))
		failures := 0
		for i, p := range pairs {
			if want := RPMVerCmp(p[0], p[1]); got[i] != strconv.Itoa(want) {
				t.Errorf("RPMVerCmp(%q, %q) = %d, rpm says %s", p[0], p[1], want, got[i])
				if failures++; failures == 30 {
					t.FailNow()
				}
			}
		}
	})

	t.Run("evr", func(t *testing.T) {
		var pairs [][2]string
		for range n {
			a := genRPMEVR(r)
			b := genRPMEVR(r)
			switch r.IntN(4) {
			case 0:
				b = a
			case 1:
				b = strings.SplitN(a, "-", 2)[0] // the same without a release
			case 2:
				b = "0:" + strings.TrimPrefix(a, "0:")
			}
			if _, err := ParseRPM(a); err != nil {
				t.Fatalf("ParseRPM(%q) error = %v", a, err)
			}
			if _, err := ParseRPM(b); err != nil {
				continue
			}
			pairs = append(pairs, [2]string{a, b})
		}
		got := runRPMLua(t, rpm, "return rpm.vercmp(a, b)", pairs)
		failures := 0
		for i, p := range pairs {
			want, err := Compare(RPM, p[0], p[1])
			if err != nil || got[i] != strconv.Itoa(want) {
				t.Errorf("Compare(rpm, %q, %q) = %d, %v, rpm.vercmp says %s", p[0], p[1], want, err, got[i])
				if failures++; failures == 30 {
					t.FailNow()
				}
			}
		}
		t.Logf("%d EVR pairs", len(pairs))
	})
}
