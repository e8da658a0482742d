package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/gobin"
	"github.com/patchbay/patchbay/internal/pkgmgr"
	"github.com/patchbay/patchbay/internal/protocol"
)

// TestInventoryGoBinaries checks that the modules of Go binaries under the
// root join the system's packages, named by their path on the host, and
// that the problems of the scan are one source error beside them. The Go
// binary is this test's own executable.
func TestInventoryGoBinaries(t *testing.T) {
	root := t.TempDir()
	status := filepath.Join(root, "var/lib/dpkg/status")
	os.MkdirAll(filepath.Dir(status), 0o755)
	os.WriteFile(status, []byte("Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n"), 0o644)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "opt/bin"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "opt/bin/agent.test"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "opt/bin/run.sh"), []byte("#!/bin/sh\n"), 0o755)

	lister := &countingLister{}
	l := &LocalInventory{Root: root, GoBinaries: []string{"/opt/bin", "/srv/missing"}, Updates: lister,
		Refresh: pkgmgr.RefreshPolicy{Interval: -1}}
	inv := l.Inventory(context.Background())

	stdlib, _ := gobin.StdlibVersion(runtime.Version())
	deb := 0
	for i, p := range inv.Packages {
		switch p.Ecosystem {
		case "deb":
			deb++
		case "go":
			if p.SourceName != "/opt/bin/agent.test" {
				t.Errorf("packages[%d] = %+v: want the binary's path on the host, /opt/bin/agent.test", i, p)
			}
		}
		if err := patchbay.ValidatePackage("p", p); err != nil {
			t.Errorf("packages[%d] = %+v: %v", i, p, err)
		}
	}
	want := protocol.Package{Ecosystem: "go", Name: "stdlib", Version: stdlib, SourceName: "/opt/bin/agent.test"}
	if deb != 1 || !contains(inv.Packages, want) {
		t.Errorf("Inventory() packages = %+v: want hello and %+v (the main module is \"(devel)\", so left out)", inv.Packages, want)
	}
	wantErrs := []protocol.SourceError{{Source: GoSource, Message: "/srv/missing: no such file or directory"}}
	if !reflect.DeepEqual(inv.Errors, wantErrs) {
		t.Errorf("Inventory() errors = %+v, want %+v", inv.Errors, wantErrs)
	}

	// The upload carries them unchanged, paths and all.
	inv.Hash = protocol.InventoryHash(inv)
	var buf bytes.Buffer
	if err := protocol.EncodeInventory(&buf, inv); err != nil {
		t.Fatal(err)
	}
	back, err := protocol.DecodeInventory(&buf, protocol.MaxInventoryBytes)
	if err != nil || !reflect.DeepEqual(back, inv) || protocol.InventoryHash(back) != inv.Hash {
		t.Errorf("upload round trip: err %v, same %v", err, reflect.DeepEqual(back, inv))
	}

	// Adding Go binaries does not list updates again: the listing depends
	// on the system's packages only.
	l.Inventory(context.Background())
	if lister.lists != 1 {
		t.Errorf("updates listed %d times over two unchanged inventories, want 1", lister.lists)
	}
}

func contains(pkgs []protocol.Package, p protocol.Package) bool {
	for _, q := range pkgs {
		if q == p {
			return true
		}
	}
	return false
}

func TestJoinBounded(t *testing.T) {
	if got := joinBounded([]string{"/a: permission denied", "/b: no such file or directory"}, 4096); got != "/a: permission denied; /b: no such file or directory" {
		t.Errorf("joinBounded(two) = %q", got)
	}
	var many []string
	for range 500 {
		many = append(many, "/home/usér/go/bin/tool: a Go binary whose build information cannot be read: \xff")
	}
	got := joinBounded(many, 4096)
	if len(got) > 4096 || !utf8.ValidString(got) || !strings.HasSuffix(got, " … (500 problems in all)") {
		t.Errorf("joinBounded(500 messages) = %d bytes, valid UTF-8 %v, ending %q", len(got), utf8.ValidString(got), got[max(0, len(got)-40):])
	}
}
