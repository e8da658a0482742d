package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRPMQueryGolden(t *testing.T) {
	runGolden(t, "testdata/rpm/*.txt", parseRPMQuery)
}

func TestParseSourceRPM(t *testing.T) {
	tests := []struct {
		srpm, name, vr string
		ok             bool
	}{
		{"bash-5.1.8-9.el9.src.rpm", "bash", "5.1.8-9.el9", true},
		{"gcc-11.4.1-3.el9.src.rpm", "gcc", "11.4.1-3.el9", true},
		{"python3.9-3.9.18-3.el9_4.1.src.rpm", "python3.9", "3.9.18-3.el9_4.1", true},
		{"kernel-rt-5.14.0-427.el9.nosrc.rpm", "kernel-rt", "5.14.0-427.el9", true},
		{"bash-5.1.8.src.rpm", "", "", false},
		{"bash.src.rpm", "", "", false},
		{"bash-5.1.8-9.el9.x86_64.rpm", "", "", false},
		{"-1-2.src.rpm", "", "", false},
	}
	for _, tc := range tests {
		name, vr, err := ParseSourceRPM(tc.srpm)
		if (err == nil) != tc.ok || name != tc.name || vr != tc.vr {
			t.Errorf("ParseSourceRPM(%q) = %q, %q, %v; want %q, %q, ok %v", tc.srpm, name, vr, err, tc.name, tc.vr, tc.ok)
		}
	}
}

func TestParseRPMQueryErrors(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"truncated", "bash\t(none)\t5.1.8\t9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm", "line 1: no newline at end of output"},
		{"five fields", "bash\t(none)\t5.1.8\t9.el9\tx86_64\n", "line 1: 5 fields, want 6"},
		{"tab in a field", "bash\t(none)\t5.1.8\t9\tel9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n", "line 1: 7 fields, want 6"},
		{"bad epoch", "bash\tone\t5.1.8\t9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n", "epoch"},
		{"no arch", "bash\t(none)\t5.1.8\t9.el9\t(none)\tbash-5.1.8-9.el9.src.rpm\n", "no architecture"},
		{"bad source rpm", "bash\t(none)\t5.1.8\t9.el9\tx86_64\tbash.rpm\n", "source rpm"},
		{"hyphen in release", "bash\t(none)\t5.1.8\t9-el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n", "hyphen"},
		{"empty version", "bash\t(none)\t\t9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n", "version"},
		{"garbage", "bash\t\x00\x01\n", "line 1: control character"},
		{"space in name", "ba sh\t(none)\t5.1.8\t9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\n", "package name"},
	}
	for _, tc := range tests {
		pkgs, err := parseRPMQuery(context.Background(), []byte(tc.out))
		if err == nil || !strings.Contains(err.Error(), tc.want) || pkgs != nil {
			t.Errorf("%s: parseRPMQuery(%q) = %d packages, %v; want an error containing %q", tc.name, tc.out, len(pkgs), err, tc.want)
		}
	}
}

// testSpecs are tiny noarch packages: epochs set, absent and zero, and a
// subpackage with its own epoch, whose source rpm is its parent's.
var testSpecs = map[string]string{
	"tiny.spec": `Name: tiny
Version: 1.2.3
Release: 4.el9
Epoch: 2
Summary: tiny test package
License: MIT
BuildArch: noarch
%description
tiny
%package libs
Summary: tiny libs
Epoch: 5
%description libs
libs
%files
%files libs
`,
	"plain.spec": `Name: plain
Version: 0.9~beta1
Release: 1
Summary: no epoch
License: MIT
BuildArch: noarch
%description
plain
%files
`,
	"zeroepoch.spec": `Name: zeroepoch
Version: 1.0
Release: 1
Epoch: 0
Summary: epoch 0
License: MIT
BuildArch: noarch
%description
zeroepoch
%files
`,
}

var testRPMPackages = []Package{
	{RPM, "plain", "0.9~beta1-1", "noarch", "plain", "0.9~beta1-1", "plain-0.9~beta1-1.src.rpm"},
	{RPM, "tiny", "2:1.2.3-4.el9", "noarch", "tiny", "1.2.3-4.el9", "tiny-1.2.3-4.el9.src.rpm"},
	{RPM, "tiny-libs", "5:1.2.3-4.el9", "noarch", "tiny", "1.2.3-4.el9", "tiny-1.2.3-4.el9.src.rpm"},
	{RPM, "zeroepoch", "0:1.0-1", "noarch", "zeroepoch", "1.0-1", "zeroepoch-1.0-1.src.rpm"},
}

// rpmDBRoot builds real rpms with rpmbuild and records them in a new rpm
// database under a temporary root, with rpm --initdb and rpm --install
// --justdb (the database only: no files, no scripts). It returns the root
// and the rpm program.
func rpmDBRoot(t *testing.T) (root, rpm string) {
	t.Helper()
	rpm = lookTool(t, "rpm")
	rpmbuild := lookTool(t, "rpmbuild")
	top := t.TempDir()
	for name, spec := range testSpecs {
		p := filepath.Join(top, name)
		if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, rpmbuild, "--define", "_topdir "+top, "--quiet", "-bb", p)
	}
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if err != nil || len(rpms) != 4 {
		t.Fatalf("rpmbuild made %v (%v), want 4 rpms", rpms, err)
	}
	root = t.TempDir()
	db := []string{"--root", root, "--dbpath", "/var/lib/rpm"}
	run(t, rpm, append(db, "--initdb")...)
	run(t, rpm, append(append(db, "--install", "--justdb", "--nodeps", "--noscripts"), rpms...)...)
	return root, rpm
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func TestRPMReader(t *testing.T) {
	root, rpm := rpmDBRoot(t)
	ctx := context.Background()
	pkgs, err := RPMReader{}.Read(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, RPM, pkgs)
	if !slices.Equal(pkgs, testRPMPackages) {
		t.Errorf("Read:\n%s\nwant:\n%s", render(pkgs, nil), render(testRPMPackages, nil))
	}

	// rpm itself is the oracle for the EVR.
	out := run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-qa", "--queryformat", `%{NAME}\t%{ARCH}\t%{EVR}\n`)
	want := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(want)
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"\t"+p.Arch+"\t"+p.Version)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Read and rpm's %%{EVR} differ:\n%s", lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
	}

	if dbs, err := Detect(root); err != nil || len(dbs) != 1 || dbs[0].Ecosystem != RPM ||
		dbs[0].Path != filepath.Join(root, "var/lib/rpm/rpmdb.sqlite") {
		t.Errorf("Detect(%s) = %+v, %v; want the rpm database", root, dbs, err)
	}

	// The reader's output is what testdata/rpm/rpmbuild-db.txt holds,
	// captured from this database.
	captured := run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-qa", "--queryformat", rpmQueryFormat)
	fromFile, err := parseRPMQuery(ctx, readTestdata(t, "rpm/rpmbuild-db.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fromRun, err := parseRPMQuery(ctx, []byte(captured))
	if err != nil || !slices.Equal(fromRun, fromFile) {
		t.Errorf("rpm output now:\n%s\nparses unlike testdata/rpm/rpmbuild-db.txt (%v)", captured, err)
	}

	// rpm wants an absolute --root; the reader makes it one.
	t.Chdir(filepath.Dir(root))
	if rel, err := (RPMReader{}).Read(ctx, filepath.Base(root)); err != nil || !slices.Equal(rel, pkgs) {
		t.Errorf("Read(relative root %s) = %d packages, %v; want the same as with the absolute root", filepath.Base(root), len(rel), err)
	}
}

// A damaged database is an error, even when rpm exits 0 and prints the
// packages it could still read.
func TestRPMReaderCorrupt(t *testing.T) {
	ctx := context.Background()
	t.Run("garbage database", func(t *testing.T) {
		root, _ := rpmDBRoot(t)
		db := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
		garbage := bytes.Repeat([]byte("not a database, garbage\x00\xff"), 5000)
		if err := os.WriteFile(db, garbage, 0o644); err != nil {
			t.Fatal(err)
		}
		removeSQLiteJournal(t, db)
		pkgs, err := RPMReader{}.Read(ctx, root)
		if err == nil || pkgs != nil || !strings.Contains(err.Error(), db) {
			t.Fatalf("Read(garbage rpmdb) = %d packages, %v; want an error naming %s", len(pkgs), err, db)
		}
		t.Logf("garbage database: %v", err)
	})
	t.Run("one damaged header, rpm exits 0", func(t *testing.T) {
		root, rpm := rpmDBRoot(t)
		db := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
		// rpm reads the other packages, reports the damage on stderr and
		// exits 0: the case a check of the exit status alone would miss.
		damageHeaders(t, db, func() bool {
			cmd := exec.Command(rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-qa")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			return err == nil && len(out) > 0 && strings.Contains(stderr.String(), "error:")
		})
		pkgs, err := RPMReader{}.Read(ctx, root)
		if err == nil || pkgs != nil || !strings.Contains(err.Error(), "rpm reported errors") {
			t.Fatalf("Read(damaged header) = %d packages, %v; want an error", len(pkgs), err)
		}
		t.Logf("one damaged header: %v", err)
	})
	t.Run("every header damaged", func(t *testing.T) {
		root, _ := rpmDBRoot(t)
		damageHeaders(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), nil)
		pkgs, err := RPMReader{}.Read(ctx, root)
		if err == nil || pkgs != nil {
			t.Fatalf("Read(every header damaged) = %d packages, %v; want an error", len(pkgs), err)
		}
		t.Logf("every header damaged: %v", err)
	})
	t.Run("no database", func(t *testing.T) {
		root := t.TempDir()
		pkgs, err := RPMReader{}.Read(ctx, root)
		if !errors.Is(err, fs.ErrNotExist) || pkgs != nil {
			t.Errorf("Read(root without database) = %d packages, %v; want an error wrapping fs.ErrNotExist", len(pkgs), err)
		}
		// rpm would have made an empty database there and reported success.
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("Read(root without database) created %v", entries)
		}
	})
	t.Run("no rpm command", func(t *testing.T) {
		root := makeRoot(t, map[string][]byte{"var/lib/rpm/rpmdb.sqlite": nil})
		_, err := RPMReader{Command: filepath.Join(t.TempDir(), "rpm")}.Read(ctx, root)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read with a missing rpm command: %v; want an error wrapping fs.ErrNotExist", err)
		}
		t.Setenv("PATH", t.TempDir())
		_, err = RPMReader{}.Read(ctx, root)
		if !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("Read with no rpm on PATH: %v; want an error wrapping exec.ErrNotFound", err)
		}
	})
}

func removeSQLiteJournal(t *testing.T, db string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// damageHeaders sets the count of tags of package headers stored in an rpm
// sqlite database to an impossible value. A stored header starts with its
// tag count and data length (4 bytes each, big endian), then its first index
// entry, the region tag RPMTAG_HEADERIMMUTABLE (63) of type BIN (7). The
// file also holds stale copies in free pages, so with done nil every copy
// is damaged; otherwise copies are damaged one at a time, from the end of
// the file, until done reports the effect wanted.
func damageHeaders(t *testing.T, db string, done func() bool) {
	t.Helper()
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	removeSQLiteJournal(t, db)
	region := []byte{0, 0, 0, 63, 0, 0, 0, 7}
	var at []int
	for i := 8; ; {
		j := bytes.Index(data[i:], region)
		if j < 0 {
			break
		}
		at = append(at, i+j-8)
		i += j + 1
	}
	if len(at) == 0 {
		t.Fatalf("no header region tag in %s", db)
	}
	bad := []byte{0x7f, 0xff, 0xff, 0xff}
	if done == nil {
		for _, i := range at {
			copy(data[i:], bad)
		}
		if err := os.WriteFile(db, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, i := range slices.Backward(at) {
		damaged := slices.Clone(data)
		copy(damaged[i:], bad)
		if err := os.WriteFile(db, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		if done() {
			return
		}
	}
	t.Fatalf("damaging one header of %s at a time never had the effect wanted", db)
}
