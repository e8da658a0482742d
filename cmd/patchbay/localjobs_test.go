package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/pkgmgr"
)

// localJobs picks DnfJobs for a root with an rpm database when dnf is on
// PATH, and says why not when it is not.
func TestLocalJobsRPM(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	db := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "dnf"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	pm, err := localJobs(root, state)
	j, ok := pm.(*pkgmgr.DnfJobs)
	if err != nil || !ok || j.Dnf.Root != root || j.Dir != filepath.Join(state, "packages") {
		t.Fatalf("localJobs = %#v, %v; want DnfJobs on %s", pm, err, root)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := localJobs(root, state); err == nil || !strings.Contains(err.Error(), "an rpm database but no dnf") {
		t.Errorf("localJobs without dnf: %v", err)
	}
}

// localJobs picks ApkJobs for a root with apk's database when apk is on
// PATH, and says why not when it is not.
func TestLocalJobsApk(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	db := filepath.Join(root, "lib/apk/db/installed")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "apk"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	pm, err := localJobs(root, state)
	j, ok := pm.(*pkgmgr.ApkJobs)
	if err != nil || !ok || j.Root != root || j.Dir != filepath.Join(state, "packages") {
		t.Fatalf("localJobs = %#v, %v; want ApkJobs on %s", pm, err, root)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := localJobs(root, state); err == nil || !strings.Contains(err.Error(), "an apk database but no apk") {
		t.Errorf("localJobs without apk: %v", err)
	}
}
