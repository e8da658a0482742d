package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestApkGolden(t *testing.T) {
	runGolden(t, "testdata/apk/*.installed", parseApkInstalled)
}

func TestApkRead(t *testing.T) {
	root := makeRoot(t, map[string][]byte{apkInstalledPath: readTestdata(t, "apk/alpine-3.20.installed")})
	pkgs, err := ApkReader{}.Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, Apk, pkgs)
	if len(pkgs) != 14 {
		t.Errorf("Read: %d packages, want 14", len(pkgs))
	}
	for _, want := range []Package{
		{Apk, "libcrypto3", "3.3.0-r2", "x86_64", "openssl", "3.3.0-r2", ""},
		{Apk, "busybox-binsh", "1.36.1-r29", "x86_64", "busybox", "1.36.1-r29", ""},
		{Apk, "musl", "1.2.5-r0", "x86_64", "musl", "1.2.5-r0", ""},
	} {
		i := slices.IndexFunc(pkgs, func(p Package) bool { return p.Name == want.Name })
		if i < 0 || pkgs[i] != want {
			t.Errorf("Read: package %s: got %+v, want %+v", want.Name, pkgs, want)
		}
	}

	if _, err := (ApkReader{}).Read(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(empty root): error %v, want one wrapping fs.ErrNotExist", err)
	}
	// apk add --initdb leaves an empty database.
	pkgs, err = ApkReader{}.Read(context.Background(), makeRoot(t, map[string][]byte{apkInstalledPath: nil}))
	if err != nil || len(pkgs) != 0 {
		t.Errorf("Read(empty database) = %d packages, %v; want none, no error", len(pkgs), err)
	}
}

func TestApkCorrupt(t *testing.T) {
	real := string(readTestdata(t, "apk/alpine-3.20.installed"))
	first := real[:strings.Index(real, "\n\n")+2] // alpine-baselayout: 38 lines and a blank one
	tests := []struct {
		name, db, want string
	}{
		{"cut mid-line", real[:len(real)/2], "no newline at end of file"},
		{"cut at a line inside a block", first[:strings.Index(first, "F:dev\n")], "line 15: file ends inside a package block"},
		{"no name", strings.Replace(first, "P:alpine-baselayout\n", "", 1), "line 1: package block without P: line"},
		{"no version", strings.Replace(first, "V:3.6.5-r0\n", "", 1), "line 1: package block without V: line"},
		{"no arch", strings.Replace(first, "A:x86_64\n", "", 1), "line 1: package block without A: line"},
		{"two names", strings.Replace(first, "V:3.6.5-r0\n", "V:3.6.5-r0\nP:other\n", 1), "line 4: duplicate P: line (first on line 2)"},
		{"bad version", strings.Replace(first, "V:3.6.5-r0", "V:latest", 1), "line 1: package alpine-baselayout: version \"latest\""},
		{"bad name", strings.Replace(first, "P:alpine-baselayout", "P:alpine baselayout", 1), "line 1: package name \"alpine baselayout\""},
		{"not K:value", strings.Replace(first, "S:8515", "S=8515", 1), "line 5: not a \"K:value\" line"},
		{"one letter", strings.Replace(first, "S:8515", "S", 1), "line 5: not a \"K:value\" line"},
		{"NUL", strings.Replace(first, "T:Alpine", "T:Al\x00pine", 1), "line 7: control character"},
		{"invalid UTF-8", strings.Replace(first, "T:Alpine", "T:Al\xc3pine", 1), "line 7: invalid UTF-8"},
		{"duplicate package", first + first, "line 40: package alpine-baselayout listed twice (first on line 1)"},
		{"garbage appended", first + "\x89PNG\r\n\x1a\n", "line 40: invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{apkInstalledPath: []byte(tc.db)})
			pkgs, err := ApkReader{}.Read(context.Background(), root)
			if err == nil {
				t.Fatalf("Read: %d packages, no error; want an error containing %q", len(pkgs), tc.want)
			}
			msg := err.Error()
			if pkgs != nil || !strings.Contains(msg, tc.want) || !strings.Contains(msg, filepath.Join(root, apkInstalledPath)) {
				t.Errorf("Read: %d packages, error %q; want none, and an error naming the file and containing %q", len(pkgs), msg, tc.want)
			}
		})
	}
}

// As for dpkg: a cut between two blocks looks like a complete shorter file;
// any other cut is an error.
func TestApkTruncatedAnywhere(t *testing.T) {
	sample := readTestdata(t, "apk/alpine-3.20.installed")
	full, err := parseApkInstalled(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(sample) {
		pkgs, err := parseApkInstalled(context.Background(), sample[:n])
		atBoundary := n == 0 || bytes.HasSuffix(sample[:n], []byte("\n\n"))
		switch {
		case atBoundary && err != nil:
			t.Fatalf("cut at %d, between blocks: %v", n, err)
		case atBoundary:
			for _, p := range pkgs {
				if !slices.Contains(full, p) {
					t.Fatalf("cut at %d: package %+v not in the whole file", n, p)
				}
			}
		case err == nil:
			t.Fatalf("cut at %d (%q): %d packages, no error", n, sample[max(0, n-20):n], len(pkgs))
		}
	}
}

// TestApkVirtualPackage: a virtual package (apk add --virtual .build-deps)
// made the whole database unreadable, its dotted name refused as a package
// name: every Alpine host with one reported no packages. It is skipped.
func TestApkVirtualPackage(t *testing.T) {
	db := string(readTestdata(t, "apk/alpine-3.20.installed"))
	virtual := "C:Q1mbt5dyq4wKpmmXyBBKZq3ADvoJc=\nP:.build-deps\nV:20260101.120000\nA:noarch\nS:0\nI:0\nT:virtual meta package\nU:\nL:\nD:gcc musl-dev\n\n"
	pkgs, err := parseApkInstalled(context.Background(), []byte(virtual+db))
	if err != nil {
		t.Fatalf("a database with a virtual package: %v", err)
	}
	if len(pkgs) != 14 || slices.ContainsFunc(pkgs, func(p Package) bool { return strings.HasPrefix(p.Name, ".") }) {
		t.Errorf("%d packages (virtual ones among them?), want the 14 real ones", len(pkgs))
	}
}
