package pkgmgr

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// installStory10 installs story-pb and storylib-pb 1.0 in f's root.
func installStory10(t *testing.T, f *storyFixture) {
	t.Helper()
	if res, err := f.apt.Install(context.Background(), []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{}); err != nil {
		t.Fatalf("Install 1.0: %v\n%s", err, res.Output)
	}
}

// TestAptKeepFromCache: the installed version's file in apt's cache is
// kept as it is.
func TestAptKeepFromCache(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, app10)
	installStory10(t, f)
	dir := t.TempDir()
	kept, err := f.apt.Keep(context.Background(), []string{"story-pb:all", "story-pb"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].Rebuilt || kept[0].Action != (Action{"story-pb", "all", "1.0"}) || kept[0].Path != filepath.Join(dir, "story-pb_1.0_all.deb") {
		t.Fatalf("Keep = %+v; want story-pb 1.0 from apt's cache, once", kept)
	}
	got, _ := os.ReadFile(kept[0].Path)
	want, _ := os.ReadFile(f.Deb(t, app10))
	if !bytes.Equal(got, want) {
		t.Error("the kept file differs from the one apt installed")
	}
}

// TestAptKeepRebuilt: without apt's cache, the installed package is
// rebuilt with the same control fields, control files and files (modes,
// owners, contents) as the one installed, and reinstalls exactly its
// version after the archive dropped it.
func TestAptKeepRebuilt(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, lib11, app10, app11)
	installStory10(t, f)
	ctx := context.Background()
	f.CleanCache(t)
	kept, err := f.apt.Keep(ctx, []string{"story-pb"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := kept[0]
	if !k.Rebuilt || k.Action != (Action{"story-pb", "all", "1.0"}) || len(k.Modified)+len(k.Missing) != 0 {
		t.Fatalf("Keep = %+v; want story-pb 1.0 rebuilt, nothing modified or missing", k)
	}
	orig := f.Deb(t, app10)
	sameDebs(t, orig, k.Path)
	fields := []string{"Package", "Version", "Architecture", "Maintainer", "Depends", "Description"}
	if a, b := debField(t, orig, fields...), debField(t, k.Path, fields...); a != b {
		t.Errorf("control fields differ:\n%s\nrebuilt:\n%s", a, b)
	}

	if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{OnlyUpgrade: true}); err != nil {
		t.Fatalf("Install 1.1: %v\n%s", err, res.Output)
	}
	f.publish(t, lib11, app11)
	res, err := f.apt.InstallFiles(ctx, []string{k.Path})
	if err != nil {
		t.Fatalf("InstallFiles(rebuilt 1.0): %v\n%s", err, res.Output)
	}
	wantState(t, "story-pb", f.state(t, "story-pb"), "1.0", "installed")
	if data, _ := os.ReadFile(filepath.Join(f.Root, "usr/share/story-pb/data")); string(data) != "story-pb data 1.0\n" {
		t.Errorf("data after reinstalling the rebuilt 1.0: %q", data)
	}
}

// TestAptKeepLocalChanges: a rebuilt package holds the files as they are
// on disk, says which differ from what was installed and which are gone,
// and takes a diverted file's contents from where the diversion put them.
func TestAptKeepLocalChanges(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, app10, extra10)
	installStory10(t, f)
	ctx := context.Background()
	f.CleanCache(t)
	admin := filepath.Join(f.Root, "var/lib/dpkg")
	divert := func(args ...string) {
		run(t, "", []string{"LC_ALL=C"}, lookTool(t, "dpkg-divert"), append([]string{"--admindir=" + admin, "--instdir=" + f.Root, "--rename"}, args...)...)
	}
	// story-pb: its run script changed by hand, its conffile edited, its
	// data file diverted by another package.
	// And its mode and owner changed: set-user-ID, daemon:tty.
	script := filepath.Join(f.Root, "usr/lib/story-pb/run")
	writeFile(t, script, "#!/bin/sh\necho patched\n")
	if err := os.Chown(script, 1, 5); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(script, 0o750|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.Root, "etc/story-pb.conf"), "setting = local\n")
	divert("--package", "extra-pb", "--divert", "/usr/share/story-pb/data.real", "--add", "/usr/share/story-pb/data")
	// And its directory usr/lib/story-pb moved elsewhere, a link left in
	// its place, as merged /usr did to /lib: the rebuilt package has the
	// directory, as the original had.
	if err := os.MkdirAll(filepath.Join(f.Root, "opt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(f.Root, "usr/lib/story-pb"), filepath.Join(f.Root, "opt/story-pb")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../opt/story-pb", filepath.Join(f.Root, "usr/lib/story-pb")); err != nil {
		t.Fatal(err)
	}
	// storylib-pb: its run script deleted, its data file diverted locally
	// and replaced by the administrator's own.
	if err := os.Remove(filepath.Join(f.Root, "usr/lib/storylib-pb/run")); err != nil {
		t.Fatal(err)
	}
	divert("--local", "--divert", "/usr/share/storylib-pb/data.distrib", "--add", "/usr/share/storylib-pb/data")
	writeFile(t, filepath.Join(f.Root, "usr/share/storylib-pb/data"), "the administrator's own\n")
	f.captureQuery(t, "dpkg/list-diverted-by.txt", "--listfiles", "story-pb")
	f.captureQuery(t, "dpkg/list-local-diversion.txt", "--listfiles", "storylib-pb")
	f.captureQuery(t, "dpkg/status-story-pb.txt", "--status", "story-pb")
	f.captureQuery(t, "dpkg/md5sums-story-pb.txt", "--control-show", "story-pb", "md5sums")

	kept, err := f.apt.Keep(ctx, []string{"story-pb", "storylib-pb"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := kept[0]; !slices.Equal(got.Modified, []string{"/usr/lib/story-pb/run"}) || len(got.Missing) != 0 {
		t.Errorf("story-pb: Modified %v, Missing %v; want the run script modified (the conffile is expected to change)", got.Modified, got.Missing)
	}
	if got := kept[1]; len(got.Modified) != 0 || !slices.Equal(got.Missing, []string{"/usr/lib/storylib-pb/run"}) {
		t.Errorf("storylib-pb: Modified %v, Missing %v; want the run script missing", got.Modified, got.Missing)
	}
	x := extractDeb(t, kept[0].Path)
	for path, want := range map[string]string{
		"usr/lib/story-pb/run":    "#!/bin/sh\necho patched\n",
		"usr/share/story-pb/data": "story-pb data 1.0\n",
		"etc/story-pb.conf":       "setting = local\n",
	} {
		if got, err := os.ReadFile(filepath.Join(x, path)); err != nil || string(got) != want {
			t.Errorf("rebuilt story-pb: %s = %q, %v; want %q", path, got, err, want)
		}
	}
	if h := tarHeader(t, kept[0].Path, "./usr/lib/story-pb/run"); h.Mode != 0o4750 || h.Uid != 1 || h.Gid != 5 {
		t.Errorf("rebuilt story-pb: run has mode %o, owner %d:%d; want 4750, 1:5", h.Mode, h.Uid, h.Gid)
	}
	if h := tarHeader(t, kept[0].Path, "./usr/lib/story-pb/"); h.Typeflag != tar.TypeDir {
		t.Errorf("rebuilt story-pb: usr/lib/story-pb is of type %q; want a directory", h.Typeflag)
	}
	x = extractDeb(t, kept[1].Path)
	if got, _ := os.ReadFile(filepath.Join(x, "usr/share/storylib-pb/data")); string(got) != "storylib-pb data 1.0\n" {
		t.Errorf("rebuilt storylib-pb: data = %q; want the package's, from the diversion", got)
	}
	if _, err := os.Lstat(filepath.Join(x, "usr/lib/storylib-pb/run")); !os.IsNotExist(err) {
		t.Errorf("rebuilt storylib-pb has the missing run script (%v)", err)
	}
	if conf := readControlFile(t, kept[0].Path, "conffiles"); conf != "/etc/story-pb.conf\n" {
		t.Errorf("rebuilt story-pb: conffiles %q", conf)
	}
}

// TestAptKeepMatchesDpkgRepack compares a rebuilt package with what
// Debian's dpkg-repack makes of the same installed package: the same
// files with the same modes, owners and sizes, the same control files,
// the same control fields (but the note dpkg-repack adds to the
// description).
func TestAptKeepMatchesDpkgRepack(t *testing.T) {
	t.Parallel()
	repack, err := exec.LookPath("dpkg-repack")
	if err != nil {
		// Not a tool Keep needs: only a second opinion.
		t.Skip("dpkg-repack is not installed (apt-get install dpkg-repack): nothing to compare Keep's rebuild with")
	}
	f := newStoryFixture(t, lib10, app10)
	installStory10(t, f)
	f.CleanCache(t)
	kept, err := f.apt.Keep(context.Background(), []string{"story-pb"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run(t, dir, []string{"LC_ALL=C"}, repack, "--root="+f.Root, "story-pb")
	theirs := filepath.Join(dir, "story-pb_1.0_all.deb")
	a, b := contents(t, kept[0].Path), contents(t, theirs)
	if a != b {
		t.Errorf("files differ from dpkg-repack's:\n%s\ndpkg-repack:\n%s", a, b)
	}
	t.Logf("files of both:\n%s", a)
	if a, b := controlMembers(t, kept[0].Path), controlMembers(t, theirs); a != b || !strings.Contains(a, "postinst") {
		t.Errorf("control files differ from dpkg-repack's:\n%s\ndpkg-repack:\n%s", a, b)
	}
	fields := []string{"Package", "Version", "Architecture", "Maintainer", "Depends"}
	if a, b := debField(t, kept[0].Path, fields...), debField(t, theirs, fields...); a != b {
		t.Errorf("control fields differ from dpkg-repack's:\n%s\ndpkg-repack:\n%s", a, b)
	}
}

// sameDebs fails t unless the two package files hold the same files and
// control files.
func sameDebs(t *testing.T, a, b string) {
	t.Helper()
	if ca, cb := contents(t, a), contents(t, b); ca != cb {
		t.Errorf("files differ:\n%s\nrebuilt:\n%s", ca, cb)
	}
	xa, xb := extractDeb(t, a), extractDeb(t, b)
	filepath.WalkDir(xa, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(xa, p)
		da, _ := os.ReadFile(p)
		db, err := os.ReadFile(filepath.Join(xb, rel))
		if err != nil || !bytes.Equal(da, db) {
			t.Errorf("%s differs (%v)", rel, err)
		}
		return nil
	})
	for _, m := range []string{"postinst", "conffiles"} {
		if ma, mb := readControlFile(t, a, m), readControlFile(t, b, m); ma != mb {
			t.Errorf("control file %s differs: %q, rebuilt %q", m, ma, mb)
		}
	}
}

// contents lists a package's files with their modes, owners and sizes
// (dpkg-deb --contents, without the dates).
func contents(t *testing.T, deb string) string {
	t.Helper()
	var lines []string
	for line := range strings.SplitSeq(run(t, "", []string{"LC_ALL=C"}, lookTool(t, "dpkg-deb"), "--contents", deb), "\n") {
		if f := strings.Fields(line); len(f) == 6 {
			lines = append(lines, strings.Join([]string{f[0], f[1], f[2], f[5]}, " "))
		}
	}
	return strings.Join(lines, "\n")
}

// controlMembers lists a package's control files with their modes.
// tarHeader returns the header of path in a package's data archive.
func tarHeader(t *testing.T, deb, path string) *tar.Header {
	t.Helper()
	data := run(t, "", nil, lookTool(t, "dpkg-deb"), "--fsys-tarfile", deb)
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s in its data (%v)", deb, path, err)
		}
		if h.Name == path {
			return h
		}
	}
}

func controlMembers(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "", nil, lookTool(t, "dpkg-deb"), "--control", deb, filepath.Join(dir, "DEBIAN"))
	entries, err := os.ReadDir(filepath.Join(dir, "DEBIAN"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fi, _ := e.Info()
		out = append(out, fi.Mode().String()+" "+e.Name())
	}
	return strings.Join(out, "\n")
}

func readControlFile(t *testing.T, deb, name string) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "", nil, lookTool(t, "dpkg-deb"), "--control", deb, filepath.Join(dir, "DEBIAN"))
	data, _ := os.ReadFile(filepath.Join(dir, "DEBIAN", name))
	return string(data)
}

func extractDeb(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "", nil, lookTool(t, "dpkg-deb"), "--extract", deb, dir)
	return dir
}

func debField(t *testing.T, deb string, fields ...string) string {
	t.Helper()
	return run(t, "", []string{"LC_ALL=C"}, lookTool(t, "dpkg-deb"), append([]string{"--field", deb}, fields...)...)
}
