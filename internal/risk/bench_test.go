package risk

import (
	"math/rand/v2"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/severity"
	"github.com/patchbay/patchbay/internal/version"
)

// BenchmarkScoreFinding measures one finding's score: "value" is the
// allocation-free path a policy cycle runs 200,000 times, "explain" the one
// building the parts for `patchbay updates explain`.
func BenchmarkScoreFinding(b *testing.B) {
	in := finding{severity.High, 7.5, true, 0.42, patchbay.CriticalityHigh, []string{"prod", "web", "internet-facing"}, 30}.input()
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			FindingValue(in)
		}
	})
	b.Run("explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ScoreFinding(in)
		}
	})
}

// BenchmarkScoreFindings scores 200,000 varied findings per operation: a
// policy cycle on 10,000 hosts.
func BenchmarkScoreFindings(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	ins := make([]FindingInput, 200_000)
	for i := range ins {
		ins[i] = randomFinding(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range ins {
			FindingValue(ins[i])
		}
	}
}

func BenchmarkScoreUpdate(b *testing.B) {
	in := UpdateInput{Security, scores(569, 300, 212, 180, 40)}
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			UpdateValue(in)
		}
	})
	b.Run("explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ScoreUpdate(in)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	b.Run("point release", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Classify(aptLibc6, nil)
		}
	})
	fixes := []FixedFinding{{Advisory: "DSA-5532-1", Severity: severity.High, CVSS: ptr(7.5)}}
	b.Run("fixes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Classify(aptOpenSSL, fixes)
		}
	})
}

func BenchmarkFixes(b *testing.B) {
	fixed := []string{"3.0.11-1~deb12u2"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fixes(aptOpenSSL, fixed, version.Deb); err != nil {
			b.Fatal(err)
		}
	}
}
