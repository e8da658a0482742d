package feedload

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkLoadPathOSVDir loads a directory of 5,000 records made from the
// real Debian records, each copied under new ids, and reports records/s.
func BenchmarkLoadPathOSVDir(b *testing.B) {
	const n = 5000
	src := treeMembers(b, filepath.Join(osvReal, "Debian"))
	dir := b.TempDir()
	for i := range n {
		m := src[i%len(src)]
		id := fmt.Sprintf("BENCH-%05d", i)
		writeFile(b, filepath.Join(dir, fmt.Sprintf("%02d", i%50), id+".json"),
			withID(b, filepath.Join(osvReal, "Debian", m.name), id, ""))
	}
	for b.Loop() {
		batch, err := LoadPath(b.Context(), dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(batch.Records) != n || len(batch.Problems) != 0 {
			b.Fatalf("%d records, %d problems; want %d, 0", len(batch.Records), len(batch.Problems), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLoadBytesOSVZip loads a zip of the same 5,000 records from
// memory, as a server does with an upload, and reports records/s.
func BenchmarkLoadBytesOSVZip(b *testing.B) {
	const n = 5000
	src := treeMembers(b, filepath.Join(osvReal, "Debian"))
	members := make([]zipMember, n)
	for i := range n {
		m := src[i%len(src)]
		id := fmt.Sprintf("BENCH-%05d", i)
		members[i] = zipMember{id + ".json", withID(b, filepath.Join(osvReal, "Debian", m.name), id, "")}
	}
	data := buildZip(b, members)
	for b.Loop() {
		batch, err := LoadBytes(b.Context(), "all.zip", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(batch.Records) != n || len(batch.Problems) != 0 {
			b.Fatalf("%d records, %d problems; want %d, 0", len(batch.Records), len(batch.Problems), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
