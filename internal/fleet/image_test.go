package fleet

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/images.golden")

func mustImages(t testing.TB) []*Image {
	t.Helper()
	ims, err := Images()
	if err != nil {
		t.Fatalf("Images() = %v", err)
	}
	return ims
}

func mustImage(t testing.TB, name string) *Image {
	t.Helper()
	im, err := ImageByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestImages checks every package and update of the five images, and that
// each has the shape its release has.
func TestImages(t *testing.T) {
	ims := mustImages(t)
	want := []struct {
		name, eco       string
		minPkgs, maxPkg int
		synthetic       bool
	}{
		{"debian-12", "deb", 717, 717, false},
		{"debian-11", "deb", 717, 717, false},
		{"ubuntu-22.04", "deb", 550, 700, true},
		{"rocky-9", "rpm", 400, 520, true},
		{"alpine-3.20", "apk", 80, 150, true},
	}
	if len(ims) != len(want) {
		t.Fatalf("Images() returned %d images, want %d", len(ims), len(want))
	}
	for i, w := range want {
		im := ims[i]
		t.Run(w.name, func(t *testing.T) {
			if im.Name != w.name || im.Ecosystem != w.eco || im.Synthetic != w.synthetic {
				t.Errorf("image %d = %s %s synthetic=%v, want %s %s synthetic=%v", i, im.Name, im.Ecosystem, im.Synthetic, w.name, w.eco, w.synthetic)
			}
			if n := len(im.Packages); n < w.minPkgs || n > w.maxPkg {
				t.Errorf("%s: %d packages, want %d to %d", im.Name, n, w.minPkgs, w.maxPkg)
			}
			if len(im.Updates) < 5 {
				t.Errorf("%s: %d updates, want at least 5", im.Name, len(im.Updates))
			}
			if err := im.check(); err != nil {
				t.Error(err)
			}
			for _, p := range im.Packages {
				if p.Ecosystem != im.Ecosystem {
					t.Errorf("%s: package %s has ecosystem %s", im.Name, p.Name, p.Ecosystem)
				}
				if err := validatePackage(p, im.VersionOrder); err != nil {
					t.Errorf("%s: %v", im.Name, err)
				}
				if p.SourceName == p.Name || p.SourceVersion == p.Version && p.Version != "" {
					t.Errorf("%s: package %s repeats its name or version as its source's (want them empty)", im.Name, p.Name)
				}
			}
			for _, u := range im.Updates {
				if err := validateUpdate(u, im.VersionOrder); err != nil {
					t.Errorf("%s: %v", im.Name, err)
				}
			}
			rel := im.OSRelease()
			if rel["ID"] != im.OSID || rel["VERSION_ID"] != im.VersionID || rel["PRETTY_NAME"] != im.PrettyName {
				t.Errorf("%s: os-release %v does not match the image", im.Name, rel)
			}
			if im.Codename != "" && rel["VERSION_CODENAME"] != im.Codename {
				t.Errorf("%s: VERSION_CODENAME %q, want %q", im.Name, rel["VERSION_CODENAME"], im.Codename)
			}
		})
	}
}

// TestImagesGolden holds a summary of every image (counts and every update)
// to testdata/images.golden, so a change of the data or the heuristics
// shows in review. go test -update rewrites it.
func TestImagesGolden(t *testing.T) {
	var b strings.Builder
	for _, im := range mustImages(t) {
		fmt.Fprintf(&b, "# %s: %d packages, %d updates, %d derived, pool %d, synthetic=%v, kernel %s\n",
			im.Name, len(im.Packages), len(im.Updates), len(im.Derived), im.PoolSize(), im.Synthetic, im.Kernel)
		for _, u := range im.Updates {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\tsecurity=%v\t%s\t%s\t%s\n", im.Name, u.Name, u.Arch, u.FromVersion,
				u.ToVersion, u.SourceName, u.SourceVersion, u.Security, u.Archive, u.AdvisoryType+" "+u.Severity, strings.Join(u.AdvisoryIDs, ","))
		}
	}
	path := filepath.Join("testdata", "images.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("image summary differs from %s; run go test ./internal/fleet/ -update and review the diff", path)
	}
}

// TestDebian12MatchesStatusFile proves that data/debian12.tsv is what
// pkgdb's dpkg reader reads from the real status file (kept in pkgdb's test
// data), and that the image has exactly those packages.
func TestDebian12MatchesStatusFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "pkgdb", "testdata", "dpkg", "bookworm-host.status"))
	if err != nil {
		t.Skipf("the real status file is not there: %v", err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var", "lib", "dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var", "lib", "dpkg", "status"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	real, err := pkgdb.DpkgReader{}.Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	im := mustImage(t, "debian-12")
	if len(real) != len(im.Packages) {
		t.Fatalf("status file has %d packages, image %d", len(real), len(im.Packages))
	}
	for i, r := range real {
		want := newPackage("deb", r.Name, r.Version, r.Arch, r.SourceName, r.SourceVersion)
		if got := im.Packages[i]; got != want {
			t.Errorf("package %d = %+v, want %+v", i, got, want)
		}
	}
}

func findUpdate(im *Image, name string) (protocol.Update, bool) {
	for _, u := range im.Updates {
		if u.Name == name {
			return u, true
		}
	}
	return protocol.Update{}, false
}

func findImagePackage(im *Image, name string) (protocol.Package, bool) {
	for _, p := range im.Packages {
		if p.Name == name {
			return p, true
		}
	}
	return protocol.Package{}, false
}

// TestDebian12Updates checks updates derived from Debian 12's source list,
// among them binaries whose version is not their source's.
func TestDebian12Updates(t *testing.T) {
	im := mustImage(t, "debian-12")
	for _, tc := range []struct{ name, from, to, srcVer, archive string }{
		{"openssl", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2", "", "bookworm-security"},
		{"libcap2", "1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u3", "", "bookworm-security"},        // binNMU dropped
		{"libbrotli1", "1.0.9-2+b6", "1.0.9-2+deb12u1", "", "bookworm-security"},               // binNMU dropped
		{"postgresql", "15+248+deb12u1", "15+248+deb12u2", "248+deb12u2", "bookworm-security"}, // own version
		{"zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1", "", "bookworm-security"},
		{"linux-libc-dev", "6.1.187-1", "6.1.192-3", "", "bookworm"},
		{"apt", "2.6.1", "2.6.2", "", "bookworm"},
	} {
		u, ok := findUpdate(im, tc.name)
		if !ok {
			t.Errorf("no update of %s", tc.name)
			continue
		}
		if u.FromVersion != tc.from || u.ToVersion != tc.to || u.SourceVersion != tc.srcVer || u.Archive != tc.archive ||
			u.Security != (tc.archive == "bookworm-security") || u.Origin != "Debian" {
			t.Errorf("update of %s = %+v, want %s -> %s (source version %q) from %s", tc.name, u, tc.from, tc.to, tc.srcVer, tc.archive)
		}
	}
	if _, ok := findUpdate(im, "bash"); ok {
		t.Error("bash has an update; Debian 12's source list has none newer than 5.2.15-2")
	}
}

// TestGrown grows every image to 2,000 packages.
func TestGrown(t *testing.T) {
	for _, im := range mustImages(t) {
		g, err := im.Grown(2000)
		if err != nil {
			t.Errorf("%s.Grown(2000) = %v", im.Name, err)
			continue
		}
		if len(g.Packages) != 2000 || len(im.Packages) >= 2000 {
			t.Errorf("%s.Grown(2000) has %d packages (base %d)", im.Name, len(g.Packages), len(im.Packages))
		}
		if err := g.check(); err != nil {
			t.Errorf("%s.Grown(2000): %v", im.Name, err)
		}
		if _, err := im.Grown(len(im.Packages) + im.PoolSize() + 1); err == nil {
			t.Errorf("%s.Grown(beyond the pool) succeeded", im.Name)
		}
		if _, err := im.Grown(len(im.Packages) - 1); err == nil {
			t.Errorf("%s.Grown(smaller) succeeded", im.Name)
		}
	}
	d12 := mustImage(t, "debian-12")
	g, _ := d12.Grown(2000)
	newest, _, err := bookwormSources(d12.Packages)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Packages {
		if _, ok := findImagePackage(d12, p.Name); !ok && newest[p.Name] != p.Version {
			t.Errorf("grown Debian 12 package %s %s is not a real bookworm source (%q)", p.Name, p.Version, newest[p.Name])
		}
	}
}
