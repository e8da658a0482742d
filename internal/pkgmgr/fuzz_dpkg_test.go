package pkgmgr

import (
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/version"
)

// Fuzz targets of the parsers the package-changing drivers read dpkg
// with, seeded with the real output captured in testdata/dpkg and the
// hand-written host samples beside it (see testdata/README.md).

func FuzzParseDpkgQuery(f *testing.F) {
	seed(f, "dpkg/query.txt", "dpkg/query-broken.txt", "dpkg/query-held.txt", "dpkg/host-query.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseDpkgQuery(data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if validDebName(p.Name) != nil || p.Want == "" || p.Status == "" || seen[p.ref] {
				t.Fatalf("bad package %+v", p)
			}
			seen[p.ref] = true
			if p.Arch != "" && validDebArch(p.Arch) != nil {
				t.Fatalf("package %+v: architecture", p)
			}
			if p.Version == "" {
				if p.Status != "not-installed" {
					t.Fatalf("package %+v without a version", p)
				}
				continue
			}
			if _, err := version.ParseDeb(p.Version); err != nil {
				t.Fatalf("package %+v: version: %v", p, err)
			}
		}
	})
}

func FuzzParseDpkgList(f *testing.F) {
	seed(f, "dpkg/list-diverted-by.txt", "dpkg/list-local-diversion.txt", "dpkg/host-list-dash.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := parseDpkgList(data)
		if err != nil {
			if files != nil {
				t.Fatalf("%d files with error %v", len(files), err)
			}
			return
		}
		for _, pf := range files {
			// Whatever dpkg's database says, a path never leaves the root.
			if checkPackagePath(pf.path) != nil || checkPackagePath(pf.onDisk) != nil {
				t.Fatalf("bad file %+v", pf)
			}
		}
	})
}

func FuzzParseStatusStanza(f *testing.F) {
	seed(f, "dpkg/status-story-pb.txt", "dpkg/host-status-openssh-server.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := parseStatusStanza(data)
		if err != nil {
			return
		}
		if validDebName(rc.pkg.Name) != nil || validDebArch(rc.pkg.Arch) != nil {
			t.Fatalf("bad package %+v", rc.pkg)
		}
		if _, err := version.ParseDeb(rc.pkg.Version); err != nil {
			t.Fatalf("package %+v: version: %v", rc.pkg, err)
		}
		for _, c := range rc.conffiles {
			if checkPackagePath(c) != nil {
				t.Fatalf("bad conffile %q", c)
			}
		}
		// The control file holds none of dpkg's own fields, and is a
		// stanza dpkg-deb reads: no blank line, ending in a newline.
		for _, line := range strings.Split(strings.TrimSuffix(rc.control, "\n"), "\n") {
			name, _, _ := strings.Cut(line, ":")
			if line == "" || statusOnlyFields[name] {
				t.Fatalf("control file line %q:\n%s", line, rc.control)
			}
		}
		if !strings.HasSuffix(rc.control, "\n") {
			t.Fatalf("control file without a final newline: %q", rc.control)
		}
	})
}

func FuzzParseMD5Sums(f *testing.F) {
	seed(f, "dpkg/md5sums-story-pb.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := parseMD5Sums(data)
		if err != nil {
			return
		}
		for p, h := range sums {
			if checkPackagePath(p) != nil || len(h) != 32 {
				t.Fatalf("bad sum %q %q", h, p)
			}
		}
	})
}

func FuzzParseDebShow(f *testing.F) {
	f.Add([]byte("story-pb\tall\t1.1\n"))
	f.Add([]byte("openssh-server\tamd64\t1:9.2p1-2+deb12u3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseDebShow(data)
		if err != nil {
			return
		}
		if validDebName(a.Name) != nil || validDebArch(a.Arch) != nil {
			t.Fatalf("bad package %+v", a)
		}
		if _, err := version.ParseDeb(a.Version); err != nil {
			t.Fatalf("package %+v: version: %v", a, err)
		}
	})
}

// FuzzActionValidate checks the promise of Validate: nothing that passes
// can become an option or break out of its argument.
func FuzzActionValidate(f *testing.F) {
	f.Add("openssh-server", "amd64", "1:9.2p1-2+deb12u3")
	f.Add("-oDebug::NoLocking=1", "", "1.0")
	f.Add("hello", "all", "1.0 --force-all")
	f.Fuzz(func(t *testing.T, name, arch, ver string) {
		a := Action{Name: name, Arch: arch, Version: ver}
		if a.Validate() != nil {
			return
		}
		for _, arg := range []string{a.aptSpec(), policyName(a), name, arch, ver} {
			if strings.HasPrefix(arg, "-") || strings.ContainsAny(arg, " \t\n\r\x00/\\'\"$;|&<>`*?[]{}()") {
				t.Fatalf("valid action %+v gives the argument %q", a, arg)
			}
		}
		if _, err := version.ParseDebStrict(ver); err != nil {
			t.Fatalf("valid action %+v: %v", a, err)
		}
	})
}

func FuzzParseAptProblems(f *testing.F) {
	seed(f, "apt/install-held-dependency.txt", "apt/install-held-changed.txt", "apt/install-broken.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, line := range append(aptProblems(string(data), "story-pb"), aptHeldChanged(string(data))...) {
			if line == "" || line != strings.TrimSpace(line) || strings.Contains(line, "\n") {
				t.Fatalf("line %q", line)
			}
		}
	})
}
