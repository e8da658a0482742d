package pkgmgr

import (
	"testing"

	"github.com/patchbay/patchbay/internal/version"
)

// The fuzz targets check each parser's promise on any input: no panic, and
// either an error or results whose names and versions are valid. They are
// seeded with the real captured output and the hand-written samples in
// testdata (see its README).

func seed(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte{})
}

func FuzzAptSimulation(f *testing.F) {
	seed(f, "apt/simulate.txt", "apt/host-simulate.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		ups, err := parseAptSimulation(data)
		if err != nil {
			if ups != nil {
				t.Fatalf("%d updates with error %v", len(ups), err)
			}
			return
		}
		for _, u := range ups {
			if validDebArch(u.arch) != nil || u.name == "" {
				t.Fatalf("bad update %+v", u)
			}
			if _, err := version.ParseDeb(u.from); err != nil {
				t.Fatalf("update %+v: from: %v", u, err)
			}
			if _, err := version.ParseDeb(u.to); err != nil {
				t.Fatalf("update %+v: to: %v", u, err)
			}
		}
	})
}

func FuzzAptPolicyFiles(f *testing.F) {
	seed(f, "apt/policy-files.txt", "apt/host-policy-files.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := parseAptPolicyFiles(data)
		if err != nil {
			if files != nil {
				t.Fatalf("%d files with error %v", len(files), err)
			}
			return
		}
		for desc, r := range files {
			if desc == "" || r.Index != desc {
				t.Fatalf("file %q: %+v", desc, r)
			}
		}
	})
}

func FuzzAptPolicyPackages(f *testing.F) {
	seed(f, "apt/policy-pkgs.txt", "apt/host-policy-pkgs.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		pols, err := parseAptPolicyPackages(data)
		if err != nil {
			if pols != nil {
				t.Fatalf("%d packages with error %v", len(pols), err)
			}
			return
		}
		for name, p := range pols {
			if name == "" || p.versions == nil {
				t.Fatalf("package %q: %+v", name, p)
			}
			for v, idx := range p.versions {
				for _, i := range idx {
					if v == "" || i == "" {
						t.Fatalf("package %q: version %q in %q", name, v, i)
					}
				}
			}
		}
	})
}

func FuzzAptShow(f *testing.F) {
	seed(f, "apt/show.txt", "apt/host-show.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := parseAptShow(data)
		if err != nil {
			if srcs != nil {
				t.Fatalf("%d records with error %v", len(srcs), err)
			}
			return
		}
		for k, s := range srcs {
			if validDebName(k.name) != nil || validDebArch(k.arch) != nil || validDebName(s.name) != nil {
				t.Fatalf("record %+v: source %+v", k, s)
			}
			if _, err := version.ParseDeb(s.version); err != nil {
				t.Fatalf("record %+v: source version: %v", k, err)
			}
		}
	})
}

func FuzzDnfQuery(f *testing.F) {
	seed(f, "dnf/repoquery-upgrades.txt", "dnf/repoquery-installed.txt", "dnf/rocky-repoquery-upgrades.txt", "dnf/rocky-repoquery-installed.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseDnfQuery(data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		for _, p := range pkgs {
			if validRPMPackage(p) != nil {
				t.Fatalf("invalid package %+v", p)
			}
			if _, err := version.ParseRPM(p.evr()); err != nil {
				t.Fatalf("package %+v: evr: %v", p, err)
			}
		}
	})
}

func FuzzUpdateinfoList(f *testing.F) {
	seed(f, "dnf/updateinfo-list.txt", "dnf/rocky-updateinfo-list.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		refs, err := parseUpdateinfoList(data)
		if err != nil {
			if refs != nil {
				t.Fatalf("%d advisories with error %v", len(refs), err)
			}
			return
		}
		for _, r := range refs {
			if r.id == "" || r.typ == "" || r.name == "" || r.evr == "" || r.arch == "" {
				t.Fatalf("advisory %+v", r)
			}
		}
	})
}

func FuzzUpdateinfoInfo(f *testing.F) {
	seed(f, "dnf/updateinfo-info.txt", "dnf/rocky-updateinfo-info.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, err := parseUpdateinfoInfo(data)
		if err != nil {
			if advs != nil {
				t.Fatalf("%d advisories with error %v", len(advs), err)
			}
			return
		}
		for id := range advs {
			if id == "" {
				t.Fatalf("advisory without id: %+v", advs)
			}
		}
	})
}
