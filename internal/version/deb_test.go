package version

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCompareDeb(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal", "1.0-1", "1.0-1", 0},
		{"numeric not lexical", "2.30-1", "2.4-1", 1},
		{"leading zeros", "1.00", "1.0", 0},
		{"epoch wins", "1:0.1", "2.0", 1},
		{"epoch zero is no epoch", "0:1.0", "1.0", 0},
		{"epoch leading zeros", "01:1.0", "1:1.0", 0},
		{"missing revision is zero", "1.0", "1.0-0", 0},
		{"revision", "1.0-1", "1.0-2", -1},
		{"revision numeric", "1.0-10", "1.0-9", 1},
		{"hyphen in upstream", "1.0-beta-1", "1.0-1", 1},
		{"tilde before end", "1.0~rc1", "1.0", -1},
		{"tilde before tilde", "1.0~~", "1.0~", -1},
		{"double tilde then letter", "1.0~~", "1.0~~a", -1},
		{"tilde then letter", "1.0~~a", "1.0~", -1},
		{"end before letter", "1.0", "1.0a", -1},
		{"letter before plus", "1.0a", "1.0+", -1},
		{"letter before dot", "1.0a", "1.0.", -1},
		{"plus before dot", "1.0+dfsg", "1.0.1", -1},
		{"plus after end", "1.0+dfsg-1", "1.0-1", 1},
		{"uppercase before lowercase", "1.0A", "1.0a", -1},
		{"backport", "1.2.3-1~bpo12+1", "1.2.3-1", -1},
		{"security update", "2.38.1-5+deb12u3", "2.38.1-5+deb12u2", 1},
		{"debian security tracker", "2.2.1-1+deb9u1", "2.2.1-1", 1},
		{"colon in upstream", "1:2.0:1-1", "1:2.0-1", 1},
		{"dpkg warns but compares", "a1.0", "1.0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(Deb, tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Errorf("Compare(deb, %q, %q) = %d, %v, want %d", tt.a, tt.b, got, err, tt.want)
			}
			if got, err := Compare(Deb, tt.b, tt.a); err != nil || got != -tt.want {
				t.Errorf("Compare(deb, %q, %q) = %d, %v, want %d", tt.b, tt.a, got, err, -tt.want)
			}
		})
	}
}

func TestParseDeb(t *testing.T) {
	tests := []struct {
		in                         string
		epoch                      uint32
		upstream, revision, string string
	}{
		{"1.0", 0, "1.0", "", "1.0"},
		{"1:2.38.1-5+deb12u3", 1, "2.38.1", "5+deb12u3", "1:2.38.1-5+deb12u3"},
		{"0.0.26-3", 0, "0.0.26", "3", "0.0.26-3"},
		{"2147483647:1", 2147483647, "1", "", "2147483647:1"},
		{"1:1.0-beta-1", 1, "1.0-beta", "1", "1:1.0-beta-1"},
		{" 1.0-1\t", 0, "1.0", "1", "1.0-1"},
	}
	for _, tt := range tests {
		v, err := ParseDeb(tt.in)
		if err != nil {
			t.Errorf("ParseDeb(%q) error = %v", tt.in, err)
			continue
		}
		if v.Epoch != tt.epoch || v.Upstream != tt.upstream || v.Revision != tt.revision || v.String() != tt.string {
			t.Errorf("ParseDeb(%q) = %d %q %q %q, want %d %q %q %q", tt.in,
				v.Epoch, v.Upstream, v.Revision, v.String(), tt.epoch, tt.upstream, tt.revision, tt.string)
		}
	}
}

func TestParseDebErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `deb version "": empty version`},
		{"  ", `deb version "  ": empty version`},
		{"1:", `deb version "1:": nothing after the epoch colon`},
		{":1.0", `deb version ":1.0": empty epoch`},
		{"a:1.0", `deb version "a:1.0": epoch is not a number`},
		{"-1:1.0", `deb version "-1:1.0": negative epoch`},
		{"+:1.0", `deb version "+:1.0": empty epoch`},
		{"1a:1.0", `deb version "1a:1.0": epoch is not a number`},
		{"2147483648:1.0", `deb version "2147483648:1.0": epoch is too big`},
		{"1.0-", `deb version "1.0-": empty revision`},
		{"1:-1", `deb version "1:-1": empty upstream version`},
		{"1.0 1", `deb version "1.0 1": embedded space`},
		{"1.0\x00", `deb version "1.0\x00": NUL byte`},
	}
	for _, tt := range tests {
		_, err := ParseDeb(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != tt.want {
			t.Errorf("ParseDeb(%q) error = %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestParseDebStrict(t *testing.T) {
	for _, ok := range []string{"1.0", "1:2.0~rc1+dfsg-1~bpo12+1", "1:1.0:2-1"} {
		if _, err := ParseDebStrict(ok); err != nil {
			t.Errorf("ParseDebStrict(%q) error = %v", ok, err)
		}
	}
	tests := []struct {
		in, want string
	}{
		{"a1.0", `deb version "a1.0": upstream version does not start with a digit`},
		{"1.0_1", `deb version "1.0_1": invalid character in upstream version`},
		{"1.0-1:1", `deb version "1.0-1:1": epoch is not a number`},
		{"1.0-1_1", `deb version "1.0-1_1": invalid character in revision`},
		{"1:", `deb version "1:": nothing after the epoch colon`},
		{"+1:1.0", `deb version "+1:1.0": epoch is not plain digits`},
		{"-0:1.0", `deb version "-0:1.0": epoch is not plain digits`},
	}
	for _, tt := range tests {
		if _, err := ParseDebStrict(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseDebStrict(%q) error = %v, want %s", tt.in, err, tt.want)
		}
		if tt.in != "1:" && tt.in != "1.0-1:1" {
			if _, err := ParseDeb(tt.in); err != nil {
				t.Errorf("ParseDeb(%q) error = %v, want nil (dpkg only warns)", tt.in, err)
			}
		}
	}
}

// genDebVersion returns a version made to land near the corners of dpkg's
// order: epochs, '~', '+', '.', letters of both cases, leading zeros,
// hyphens in the upstream version and in front of revisions, now and then a
// version dpkg warns about or refuses.
func genDebVersion(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(10) {
	case 0:
		b.WriteString("1:")
	case 1:
		b.WriteString("0:")
	case 2:
		fmt.Fprintf(&b, "%d:", r.IntN(3))
	case 3:
		if r.IntN(20) == 0 {
			b.WriteString([]string{"2147483647:", "2147483648:", "99999999999:", ":", "a:", "-1:", "00:"}[r.IntN(7)])
		}
	}
	hasRevision := r.IntN(3) > 0
	if r.IntN(30) == 0 {
		b.WriteString([]string{"a", "~", "+", "."}[r.IntN(4)]) // dpkg warns: not a digit
	}
	genDebPart(r, &b, hasRevision, true)
	if hasRevision {
		b.WriteByte('-')
		genDebPart(r, &b, false, false)
	}
	s := b.String()
	switch r.IntN(60) {
	case 0:
		s += "-" // empty revision
	case 1:
		s = " " + s + "\t"
	case 2:
		s += " 1"
	case 3:
		s += "_x" // dpkg warns: invalid character
	}
	return s
}

func genDebPart(r *rand.Rand, b *strings.Builder, hyphens, upstream bool) {
	n := 1 + r.IntN(4)
	for i := 0; i < n; i++ {
		if i > 0 || !upstream {
			seps := ".+~"
			if hyphens {
				seps = ".+~-"
			}
			if upstream && r.IntN(12) == 0 {
				seps = ":"
			}
			for k := r.IntN(3); k >= 0; k-- {
				if k == 0 || r.IntN(3) == 0 {
					b.WriteByte(seps[r.IntN(len(seps))])
				}
			}
		}
		if r.IntN(4) == 0 && (i > 0 || !upstream) {
			for k := 1 + r.IntN(3); k > 0; k-- {
				b.WriteByte("abzAZrcdfsgpbo"[r.IntN(14)])
			}
			if r.IntN(2) == 0 {
				continue
			}
		}
		if r.IntN(4) == 0 {
			b.WriteString(strings.Repeat("0", 1+r.IntN(3)))
		}
		fmt.Fprintf(b, "%d", []int{0, 1, 2, 9, 10, 11, 99, 100, 20240101}[r.IntN(9)])
	}
}

// genDebPair returns two versions, the second most often a small edit of
// the first, so that the pair disagrees late or not at all.
func genDebPair(r *rand.Rand) (string, string) {
	a := genDebVersion(r)
	if r.IntN(4) == 0 {
		return a, genDebVersion(r)
	}
	edits := []func(string) string{
		func(s string) string { return s },
		func(s string) string { return s + "~" },
		func(s string) string { return s + "~rc1" },
		func(s string) string { return s + "+b1" },
		func(s string) string { return s + ".0" },
		func(s string) string { return s + "0" },
		func(s string) string { return s + "a" },
		func(s string) string { return s + "-0" },
		func(s string) string { return "0:" + s },
		func(s string) string { return "1:" + s },
		func(s string) string { return strings.Replace(s, ".", "+", 1) },
		func(s string) string { return strings.Replace(s, ".", "~", 1) },
		func(s string) string { return strings.Replace(s, "1", "01", 1) },
		func(s string) string { return strings.Replace(s, "0", "", 1) },
		func(s string) string { return strings.Replace(s, "-", ".", 1) },
		func(s string) string { return strings.ToUpper(s) },
		func(s string) string { return strings.Replace(s, "~", "", 1) },
	}
	return a, edits[r.IntN(len(edits))](a)
}

// TestDebOracle asks the real dpkg --compare-versions about thousands of
// generated pairs: the same order, and an error from ParseDeb exactly where
// dpkg refuses a version.
func TestDebOracle(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		skipOrFail(t, "dpkg is not installed; the deb oracle test needs dpkg --compare-versions")
	}
	pairs := 4000
	if testing.Short() {
		pairs = 400
	}
	r := rand.New(rand.NewPCG(1, 2))
	type pair struct{ a, b string }
	work := make(chan pair)
	var (
		mu       sync.Mutex
		failures int
		calls    int
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if failures++; failures <= 30 {
			t.Errorf(format, args...)
		}
	}
	// ask runs dpkg --compare-versions a op b: true or false, or an error
	// when dpkg refuses a version (exit status 2).
	ask := func(a, op, b string) (bool, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		out, err := exec.Command(dpkg, "--compare-versions", a, op, b).CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			return false, nil
		}
		return false, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	// dpkgOrder finds dpkg's answer in up to two calls, for messages.
	dpkgOrder := func(a, b string) string {
		if lt, err := ask(a, "lt", b); err != nil {
			return err.Error()
		} else if lt {
			return "-1"
		}
		if eq, _ := ask(a, "eq", b); eq {
			return "0"
		}
		return "1"
	}
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				got, err := Compare(Deb, p.a, p.b)
				if err != nil {
					// dpkg must refuse the same versions.
					for _, v := range []string{p.a, p.b} {
						_, perr := ParseDeb(v)
						if _, derr := ask(v, "eq", v); (perr == nil) != (derr == nil) {
							fail("ParseDeb(%q) error = %v, dpkg --compare-versions error = %v", v, perr, derr)
						}
					}
					continue
				}
				// One call settles it: dpkg says yes to the relation we found.
				op := map[int]string{-1: "lt", 0: "eq", 1: "gt"}[got]
				if ok, derr := ask(p.a, op, p.b); derr != nil || !ok {
					fail("Compare(deb, %q, %q) = %d, dpkg says %s", p.a, p.b, got, dpkgOrder(p.a, p.b))
				}
			}
		}()
	}
	start := time.Now()
	var invalid int
	for range pairs {
		a, b := genDebPair(r)
		if a == "" || b == "" {
			continue // dpkg reads "" as no version at all; ParseDeb refuses it
		}
		if _, err := Compare(Deb, a, b); err != nil {
			invalid++
		}
		work <- pair{a, b}
	}
	close(work)
	wg.Wait()
	t.Logf("%d pairs (%d with a version dpkg refuses), %d dpkg calls in %v", pairs, invalid, calls, time.Since(start).Round(time.Millisecond))
}
