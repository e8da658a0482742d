package pkgmgr

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/patchbay/patchbay/internal/debtest"
)

// The package-changing tests run the real apt-get and dpkg on packages
// they build, from a local repository, in a throwaway root (see
// internal/debtest, which makes them; chroot needs root, so these tests
// do too).

// storyFixture is debtest's root and repository, with the Apt under test
// working on the root.
type storyFixture struct {
	*debtest.Fixture
	apt *Apt
}

// newStoryFixture builds pkgs and publishes all of them. Its Apt takes
// apt's and dpkg's locks as on a host (no Debug::NoLocking): they are
// files under the root.
func newStoryFixture(t *testing.T, pkgs ...debtest.Package) *storyFixture {
	t.Helper()
	f := &storyFixture{Fixture: debtest.New(t, pkgs...)}
	f.apt = &Apt{Root: f.Root, SandboxUser: "root"}
	if err := f.apt.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// publish makes the repository hold exactly pkgs (as an archive that
// dropped the others), and refreshes apt's lists.
func (f *storyFixture) publish(t *testing.T, pkgs ...debtest.Package) {
	t.Helper()
	f.Publish(t, pkgs...)
	if err := f.apt.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// state returns name's state in dpkg's database, as Apt reads it.
func (f *storyFixture) state(t *testing.T, name string) PackageState {
	t.Helper()
	pkgs, err := f.apt.packages(context.Background(), f.Root, dpkgEnv())
	if err != nil {
		t.Fatal(err)
	}
	return snapshot(pkgs).find(name, "")
}

// captureQuery saves the output of dpkg-query ARGS... on the root's
// database as testdata/file (go test -update), with the root written
// /tmp/pbtest/root.
func (f *storyFixture) captureQuery(t *testing.T, file string, args ...string) {
	t.Helper()
	if !*update {
		return
	}
	args = append([]string{"--admindir=" + f.AdminDir()}, args...)
	out := run(t, "", []string{"LC_ALL=C"}, lookTool(t, "dpkg-query"), args...)
	capture(t, file, []byte(out), filepath.Dir(f.Root), "/tmp/pbtest")
}
