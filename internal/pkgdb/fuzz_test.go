package pkgdb

import (
	"bytes"
	"context"
	"testing"
)

// The fuzz targets check the parsers' promise on any input: no panic, and
// either an error with no packages, or packages that all pass Validate,
// sorted. They are seeded with the files in testdata (see its README).

// firstRecords returns the first n blank-line-separated records of data, a
// small real seed that mutations explore faster than a whole file.
func firstRecords(data []byte, n int) []byte {
	end := 0
	for range n {
		i := bytes.Index(data[end:], []byte("\n\n"))
		if i < 0 {
			return data
		}
		end += i + 2
	}
	return data[:end]
}

func FuzzDpkgStatus(f *testing.F) {
	real := readTestdata(f, "dpkg/bookworm-host.status")
	f.Add(real)
	f.Add(firstRecords(real, 3))
	f.Add(readTestdata(f, "dpkg/multiarch.status"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseDpkgStatus(context.Background(), data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		checkResult(t, Deb, pkgs)
	})
}

func FuzzApkInstalled(f *testing.F) {
	real := readTestdata(f, "apk/alpine-3.20.installed")
	f.Add(real)
	f.Add(firstRecords(real, 2))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseApkInstalled(context.Background(), data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		checkResult(t, Apk, pkgs)
	})
}

func FuzzRPMQuery(f *testing.F) {
	f.Add(readTestdata(f, "rpm/rpmbuild-db.txt"))
	f.Add(readTestdata(f, "rpm/rocky-9.txt"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseRPMQuery(context.Background(), data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		checkResult(t, RPM, pkgs)
	})
}
