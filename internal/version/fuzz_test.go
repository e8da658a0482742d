package version

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// checkOrder checks, for the versions among vs that parse, that Compare is
// an order: -1, 0 or 1; reflexive; antisymmetric; transitive. It also checks
// that Compare(eco, ...) errs exactly when Parse does, and agrees with the
// parsed Versions.
func checkOrder(t *testing.T, eco Ecosystem, vs ...string) {
	var ok []Version
	for _, s := range vs {
		v, err := Parse(eco, s)
		if _, cerr := Compare(eco, s, s); (err == nil) != (cerr == nil) {
			t.Fatalf("Parse(%s, %q) error = %v, but Compare(%s, %q, %q) error = %v", eco, s, err, eco, s, s, cerr)
		}
		if err != nil {
			continue
		}
		if c, err := v.Compare(v); err != nil || c != 0 {
			t.Fatalf("%s %q compared with itself = %d, %v", eco, s, c, err)
		}
		ok = append(ok, v)
	}
	c := func(a, b Version) int {
		got, err := a.Compare(b)
		if err != nil {
			t.Fatal(err)
		}
		if got < -1 || got > 1 {
			t.Fatalf("%s %q vs %q = %d, want -1, 0 or 1", eco, a, b, got)
		}
		if unparsed, err := Compare(eco, a.String(), b.String()); err != nil || unparsed != got {
			t.Fatalf("Compare(%s, %q, %q) = %d, %v, parsed = %d", eco, a, b, unparsed, err, got)
		}
		return got
	}
	for _, a := range ok {
		for _, b := range ok {
			if ab, ba := c(a, b), c(b, a); ab != -ba {
				t.Fatalf("%s: %q vs %q = %d but %q vs %q = %d", eco, a, b, ab, b, a, ba)
			}
			for _, x := range ok {
				ab, bx, ax := c(a, b), c(b, x), c(a, x)
				if ab <= 0 && bx <= 0 && ax > 0 || ab == 0 && bx == 0 && ax != 0 {
					t.Fatalf("%s: not transitive: %q vs %q = %d, %q vs %q = %d, %q vs %q = %d", eco, a, b, ab, b, x, bx, a, x, ax)
				}
			}
		}
	}
}

// checkRawOrder checks a comparison that takes any strings for
// reflexivity and antisymmetry.
func checkRawOrder(t *testing.T, name string, compare func(a, b string) int, vs ...string) {
	for _, a := range vs {
		if c := compare(a, a); c != 0 {
			t.Fatalf("%s(%q, %q) = %d", name, a, a, c)
		}
		for _, b := range vs {
			if ab, ba := compare(a, b), compare(b, a); ab != -ba || ab < -1 || ab > 1 {
				t.Fatalf("%s(%q, %q) = %d, %s(%q, %q) = %d", name, a, b, ab, name, b, a, ba)
			}
		}
	}
}

// bookwormVersions reads the versions of testdata/bookworm-sources-sample.tsv.
func bookwormVersions(f *testing.F) []string {
	file, err := os.Open("testdata/bookworm-sources-sample.tsv")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var vs []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if _, v, ok := strings.Cut(sc.Text(), "\t"); ok && !strings.HasPrefix(sc.Text(), "#") {
			vs = append(vs, v)
		}
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
	return vs
}

// addTriples seeds f with consecutive triples of vs.
func addTriples(f *testing.F, vs []string) {
	for i := 0; i+2 < len(vs); i++ {
		f.Add(vs[i], vs[i+1], vs[i+2])
	}
}

func FuzzCompareDeb(f *testing.F) {
	addTriples(f, bookwormVersions(f))
	addTriples(f, []string{"1.0~rc1", "1.0", "1.0+b1", "1:0.1", "1.0-1~bpo12+1", "1.0-1", "a1", "1.0~~a", "+1:2", "1.0\xff"})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, Deb, a, b, c)
		checkRawOrder(t, "debVerRevCmp", debVerRevCmp, a, b, c)
		for _, s := range []string{a, b, c} {
			strict, serr := ParseDebStrict(s)
			lenient, err := ParseDeb(s)
			if serr == nil && (err != nil || strict != lenient) {
				t.Fatalf("ParseDebStrict(%q) = %+v, but ParseDeb = %+v, %v", s, strict, lenient, err)
			}
		}
	})
}

func FuzzCompareRPM(f *testing.F) {
	for _, tt := range rpmVerCmpTests {
		f.Add(tt.a, tt.b, "1:"+tt.a+"-"+tt.b)
	}
	addTriples(f, []string{"1.0-1.el9", "2:1.0~rc1-1", "1.0^git1", "1.0", "0:1.0-0", "01:1-1", "1.0-"})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, RPM, a, b, c)
		checkRawOrder(t, "RPMVerCmp", RPMVerCmp, a, b, c)
	})
}

func FuzzCompareAPK(f *testing.F) {
	file, err := os.Open(apkOracles[1].tsv)
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for i := 0; i < 300 && sc.Scan(); i++ {
		fields := strings.Split(sc.Text(), "\t")
		f.Add(fields[0], fields[1], "1.0_pre2~1234abcd-r1")
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, APK2, a, b, c)
		checkOrder(t, APK3, a, b, c)
		checkRawOrder(t, "compareAPK2", func(a, b string) int { return compareAPK2(a, b, false) }, a, b, c)
		checkRawOrder(t, "compareAPK3", func(a, b string) int { return compareAPK3(a, b, false) }, a, b, c)
	})
}

func FuzzCompareSemVer(f *testing.F) {
	addTriples(f, []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0+build.1", "2.1.1", "1.0.0--1", "01.0.0",
	})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, SemVer, a, b, c)
	})
}

func FuzzCompareGo(f *testing.F) {
	addTriples(f, []string{
		"v0.0.0-20191109021931-daa7c04131f5", "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5",
		"v1.2.4-pre", "v2.0.0+incompatible", "1.17.10", "v1.0.0+incompatible", "v1.2",
	})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, Go, a, b, c)
	})
}

func FuzzComparePyPI(f *testing.F) {
	addTriples(f, []string{
		"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
		"1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
		"1.0.15", "1.1.dev1", "1!1.0RC1", "v1.0-1", " 1.0+Ubuntu_1 ",
	})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, PyPI, a, b, c)
		for _, s := range []string{a, b, c} {
			v, err := ParsePyPI(s)
			if err != nil {
				continue
			}
			n := v.Normalized()
			w, err := ParsePyPI(n)
			if err != nil || w.Normalized() != n || v.Compare(w) != 0 {
				t.Fatalf("ParsePyPI(%q).Normalized() = %q, which parses to %q, %v", s, n, w.Normalized(), err)
			}
		}
	})
}
