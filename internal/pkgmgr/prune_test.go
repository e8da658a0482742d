package pkgmgr

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
)

// TestPrune: a fetch's files shared by two targets stay while either is
// held; a kept file goes with its entry; a file outside the directory that
// a hand-edited index names is never deleted.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	j := &AptJobs{Dir: dir}
	fetchDir := filepath.Join(dir, "fetched", "abc")
	shared := []string{filepath.Join(fetchDir, "hello_1.1_all.deb"), filepath.Join(fetchDir, "libhello_1.1_all.deb")}
	kept := filepath.Join(dir, "kept", "hello_1.0_all.deb")
	outside := filepath.Join(t.TempDir(), "precious.deb")
	for _, p := range append(shared, kept, outside) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("deb"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := addIndex(j.dir("fetched"), map[string][]string{"hello=1.1": shared, "libhello=1.1": shared}); err != nil {
		t.Fatal(err)
	}
	if err := addIndex(j.dir("kept"), map[string][]string{"hello=1.0": {kept}, "evil=1": {outside}}); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	ctx := context.Background()

	if err := j.Prune(ctx, []protocol.PackageVersion{{Name: "hello", Version: "1.1"}}, []protocol.PackageVersion{{Name: "hello", Version: "1.0"}}); err != nil {
		t.Fatal(err)
	}
	if !exists(shared[0]) || !exists(shared[1]) {
		t.Error("files libhello=1.1 still needs were deleted")
	}
	if exists(kept) {
		t.Error("the kept hello 1.0 was not deleted")
	}
	if _, missing := lookup(j.dir("fetched"), []protocol.Action{{Name: "libhello", Version: "1.1"}}); len(missing) > 0 {
		t.Errorf("libhello=1.1 lost from the index: %v", missing)
	}
	if err := j.Prune(ctx, []protocol.PackageVersion{{Name: "libhello", Version: "1.1"}}, []protocol.PackageVersion{{Name: "evil", Version: "1"}}); err != nil {
		t.Fatal(err)
	}
	if exists(shared[0]) || exists(fetchDir) {
		t.Error("the fetch's files and directory stayed after its last target was released")
	}
	if !exists(outside) {
		t.Error("a file outside the package directory was deleted")
	}
	if idx := readIndex(j.dir("kept")); len(idx) != 0 {
		t.Errorf("kept index after pruning everything: %v", idx)
	}
	// Again: nothing left, nothing fails.
	if err := j.Prune(ctx, []protocol.PackageVersion{{Name: "hello", Version: "1.1"}}, nil); err != nil {
		t.Fatal(err)
	}
}
