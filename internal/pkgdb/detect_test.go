package pkgdb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []Ecosystem
	}{
		{"empty", nil, nil},
		{"debian", []string{dpkgStatusPath}, []Ecosystem{Deb}},
		{"alpine", []string{apkInstalledPath}, []Ecosystem{Apk}},
		{"rhel 9", []string{"var/lib/rpm/rpmdb.sqlite"}, []Ecosystem{RPM}},
		{"centos 7", []string{"var/lib/rpm/Packages"}, []Ecosystem{RPM}},
		{"opensuse", []string{"usr/lib/sysimage/rpm/Packages.db"}, []Ecosystem{RPM}},
		{"debian with rpm", []string{"var/lib/rpm/rpmdb.sqlite", dpkgStatusPath}, []Ecosystem{Deb, RPM}},
		{"all three", []string{apkInstalledPath, "var/lib/rpm/rpmdb.sqlite", dpkgStatusPath}, []Ecosystem{Deb, RPM, Apk}},
		{"directory, not a file", []string{dpkgStatusPath + "/x"}, nil},
		{"dpkg directory without status", []string{"var/lib/dpkg/available"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for _, f := range tc.files {
				files[f] = nil
			}
			root := makeRoot(t, files)
			dbs, err := Detect(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []Ecosystem
			for _, db := range dbs {
				got = append(got, db.Ecosystem)
				if _, err := os.Stat(db.Path); err != nil {
					t.Errorf("Detect: database %+v: %v", db, err)
				}
				if _, err := ReaderFor(db.Ecosystem); err != nil {
					t.Errorf("ReaderFor(%s): %v", db.Ecosystem, err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Detect(%v) = %v, want %v", tc.files, got, tc.want)
			}
		})
	}

	// A Fedora 36+ root: /var/lib/rpm is a relative link to the sysimage.
	root := makeRoot(t, map[string][]byte{"usr/lib/sysimage/rpm/rpmdb.sqlite": nil})
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../usr/lib/sysimage/rpm", filepath.Join(root, "var/lib/rpm")); err != nil {
		t.Fatal(err)
	}
	dbs, err := Detect(root)
	want := []Database{{RPM, filepath.Join(root, "usr/lib/sysimage/rpm/rpmdb.sqlite")}}
	if err != nil || !slices.Equal(dbs, want) {
		t.Errorf("Detect(fedora root) = %+v, %v; want %+v", dbs, err, want)
	}

	if _, err := Detect(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Detect(missing root): no error")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(file); err == nil {
		t.Error("Detect(a file): no error")
	}
	if _, err := ReaderFor("pacman"); err == nil {
		t.Error(`ReaderFor("pacman"): no error`)
	}
}

// This machine's databases, for the record: a Debian machine has dpkg's.
func TestDetectThisMachine(t *testing.T) {
	dbs, err := Detect("/")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Detect(/) = %+v", dbs)
	if _, err := os.Stat("/" + dpkgStatusPath); err == nil && (len(dbs) == 0 || dbs[0].Ecosystem != Deb) {
		t.Errorf("Detect(/) = %+v; want dpkg's database first", dbs)
	}
}
