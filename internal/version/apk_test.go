package version

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// apkOracles are the labelled pairs of testdata/README.md, by generation.
var apkOracles = []struct {
	eco     Ecosystem
	tsv     string
	vectors string
}{
	{APK2, "testdata/apk-v2.14.10-20000.tsv", "testdata/version-vectors-v2.14.10.data"},
	{APK3, "testdata/apk-v3-90b974fd-20000.tsv", "testdata/version-vectors-v3-90b974fd.data"},
}

func compareAPKRaw(eco Ecosystem, a, b string, fuzzy bool) int {
	if eco == APK3 {
		return compareAPK3(a, b, fuzzy)
	}
	return compareAPK2(a, b, fuzzy)
}

// TestAPKOracle checks every pair apk-tools labelled: the order of the two
// strings (valid or not, as apk-tools orders any two) and the validity of
// each, and that Compare agrees where both are valid.
func TestAPKOracle(t *testing.T) {
	for _, o := range apkOracles {
		t.Run(string(o.eco), func(t *testing.T) {
			f, err := os.Open(o.tsv)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, failures := 0, 0
			sc := bufio.NewScanner(f)
			for line := 1; sc.Scan(); line++ {
				fields := strings.Split(sc.Text(), "\t")
				if len(fields) != 5 {
					t.Fatalf("%s:%d: want 5 fields, got %d", o.tsv, line, len(fields))
				}
				a, b := fields[0], fields[1]
				want, err := strconv.Atoi(fields[2])
				if err != nil {
					t.Fatalf("%s:%d: %v", o.tsv, line, err)
				}
				wantValid := [2]bool{fields[3] == "1", fields[4] == "1"}
				rows++
				bad := false
				if got := compareAPKRaw(o.eco, a, b, false); got != want {
					t.Errorf("%s:%d: apk order of %q and %q = %d, want %d", o.tsv, line, a, b, got, want)
					bad = true
				}
				for i, v := range [2]string{a, b} {
					_, err := ParseAPK(o.eco, v)
					if (err == nil) != wantValid[i] {
						t.Errorf("%s:%d: ParseAPK(%s, %q) error = %v, want valid %v", o.tsv, line, o.eco, v, err, wantValid[i])
						bad = true
					}
				}
				if wantValid[0] && wantValid[1] {
					if got, err := Compare(o.eco, a, b); err != nil || got != want {
						t.Errorf("%s:%d: Compare(%s, %q, %q) = %d, %v, want %d", o.tsv, line, o.eco, a, b, got, err, want)
						bad = true
					}
				}
				if bad {
					if failures++; failures >= 30 {
						t.Fatalf("stopping after %d failing rows", failures)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if rows != 20000 {
				t.Errorf("%s: %d rows, want 20000", o.tsv, rows)
			}
		})
	}
}

// TestAPKVectors runs apk-tools' own unit-test vectors: "v1 op v2" holds
// when the comparison's result is among op's (< > = and ~ for the fuzzy
// match), "!op" when it is not; a lone version is valid, "!version" invalid.
func TestAPKVectors(t *testing.T) {
	for _, o := range apkOracles {
		t.Run(string(o.eco), func(t *testing.T) {
			data, err := os.ReadFile(o.vectors)
			if err != nil {
				t.Fatal(err)
			}
			cases := 0
			for i, line := range strings.Split(string(data), "\n") {
				line, _, _ = strings.Cut(line, "#")
				fields := strings.Fields(line)
				switch len(fields) {
				case 0:
					continue
				case 1:
					v, invert := strings.CutPrefix(fields[0], "!")
					_, err := ParseAPK(o.eco, v)
					if (err == nil) == invert {
						t.Errorf("%s:%d: ParseAPK(%s, %q) error = %v, want valid %v", o.vectors, i+1, o.eco, v, err, !invert)
					}
				case 3:
					a, op, b := fields[0], fields[1], fields[2]
					op, invert := strings.CutPrefix(op, "!")
					got := compareAPKRaw(o.eco, a, b, strings.Contains(op, "~"))
					ok := got < 0 && strings.Contains(op, "<") ||
						got == 0 && strings.ContainsAny(op, "=~") ||
						got > 0 && strings.Contains(op, ">")
					if ok == invert {
						t.Errorf("%s:%d: %q: apk order = %d", o.vectors, i+1, line, got)
					}
				default:
					t.Fatalf("%s:%d: cannot read %q", o.vectors, i+1, line)
				}
				cases++
			}
			t.Logf("%d vectors", cases)
		})
	}
}

func TestAPKForRelease(t *testing.T) {
	tests := []struct {
		release string
		want    Ecosystem
	}{
		{"3.20", APK2},
		{"v3.21", APK2},
		{"3.22.2", APK2},
		{"v3.22", APK2},
		{"3.23", APK3},
		{"v3.23.0", APK3},
		{"3.24", APK3},
		{"edge", APK3},
		{"Alpine:v3.18", APK2},
		{"Alpine:v3.23", APK3},
		{"alpine:edge", APK3},
		{"2.7", APK2},
		{"4.0", APK3},
	}
	for _, tt := range tests {
		got, err := APKForRelease(tt.release)
		if err != nil || got != tt.want {
			t.Errorf("APKForRelease(%q) = %q, %v, want %q", tt.release, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "3", "v", "3.", "3.x", "3.20.1.1", "latest", "3.-1", "3.+2", "Alpine:"} {
		if got, err := APKForRelease(bad); err == nil {
			t.Errorf("APKForRelease(%q) = %q, want error", bad, got)
		}
	}
}

func TestCompareAPK(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		apk2 int
		apk3 int
	}{
		{"revision", "1.2.3-r1", "1.2.3-r0", 1, 1},
		{"revision missing", "1.2.3", "1.2.3-r0", -1, -1},
		{"pre-release suffix", "1.0_rc1", "1.0", -1, -1},
		{"post-release suffix", "1.0_p1", "1.0", 1, 1},
		{"suffix order", "1.0_alpha", "1.0_beta", -1, -1},
		{"letter", "1.0a", "1.0", 1, 1},
		{"more components", "1.0.1", "1.0", 1, 1},
		{"numeric", "1.10", "1.9", 1, 1},
		// The two generations part ways on leading zeros after a dot.
		{"leading zeros", "10.00", "10.0", -1, 1},
		{"leading zero and digits", "8.2.001", "8.2.0", -1, 1},
		{"equal", "2.34-r0", "2.34-r0", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for eco, want := range map[Ecosystem]int{APK2: tt.apk2, APK3: tt.apk3} {
				if got, err := Compare(eco, tt.a, tt.b); err != nil || got != want {
					t.Errorf("Compare(%s, %q, %q) = %d, %v, want %d", eco, tt.a, tt.b, got, err, want)
				}
			}
		})
	}
}

func TestParseAPKErrors(t *testing.T) {
	tests := []struct {
		eco     Ecosystem
		v       string
		wantErr string
	}{
		{APK3, "", `apk3 version "": empty version`},
		{APK2, "", `apk2 version "": empty version`},
		{APK3, "1.0bc", `apk3 version "1.0bc": invalid at "c"`},
		{APK3, "1.0-r", `apk3 version "1.0-r": invalid at ""`},
		{APK2, "1.0~abc", `apk2 version "1.0~abc": invalid at "~abc"`},
		{APK3, "1\x00", `apk3 version "1\x00": NUL byte`},
		{Deb, "1.0", `parse apk version "1.0": ecosystem "deb" is not apk2 or apk3`},
	}
	for _, tt := range tests {
		_, err := ParseAPK(tt.eco, tt.v)
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("ParseAPK(%s, %q) error = %v, want %s", tt.eco, tt.v, err, tt.wantErr)
		}
	}
	if _, err := ParseAPK(APK3, "1.0_pre2~1234abcd-r1"); err != nil {
		t.Errorf("ParseAPK(apk3, commit hash) error = %v", err)
	}
}
