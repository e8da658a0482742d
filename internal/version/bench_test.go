package version

import "testing"

// benchPairs are typical pairs that agree until late: an installed version
// and the first fixed version of an advisory.
var benchPairs = map[Ecosystem][2]string{
	Deb:    {"1:2.38.1-5+deb12u3", "1:2.38.1-5+deb12u2"},
	RPM:    {"2.9.13-3.el9_2", "2.9.13-3.el9"},
	APK2:   {"1.2.13_git20230101-r1", "1.2.13_git20230101-r0"},
	APK3:   {"1.2.13_git20230101-r1", "1.2.13_git20230101-r0"},
	SemVer: {"1.0.0-beta.11", "1.0.0-beta.2"},
	Go:     {"v0.0.0-20220412211240-33da011f77ad", "v0.0.0-20220314234659-1baeb1ce4c0b"},
	PyPI:   {"1.0b2.post345", "1.0b2.post345.dev456"},
}

// benchCompare measures Compare on strings (parsing both each time) and
// Version.Compare on versions parsed once.
func benchCompare(b *testing.B, eco Ecosystem) {
	p := benchPairs[eco]
	b.Run("unparsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Compare(eco, p[0], p[1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	va, err := Parse(eco, p[0])
	if err != nil {
		b.Fatal(err)
	}
	vb, err := Parse(eco, p[1])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, err := va.Compare(vb); err != nil || c != 1 {
				b.Fatalf("%q vs %q = %d, %v", va, vb, c, err)
			}
		}
	})
}

func BenchmarkCompareDeb(b *testing.B)    { benchCompare(b, Deb) }
func BenchmarkCompareRPM(b *testing.B)    { benchCompare(b, RPM) }
func BenchmarkCompareAPK2(b *testing.B)   { benchCompare(b, APK2) }
func BenchmarkCompareAPK3(b *testing.B)   { benchCompare(b, APK3) }
func BenchmarkCompareSemVer(b *testing.B) { benchCompare(b, SemVer) }
func BenchmarkCompareGo(b *testing.B)     { benchCompare(b, Go) }
func BenchmarkComparePyPI(b *testing.B)   { benchCompare(b, PyPI) }

func BenchmarkParse(b *testing.B) {
	for _, eco := range Ecosystems() {
		b.Run(string(eco), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(eco, benchPairs[eco][0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
