package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/pkgdb"
)

// installedSource is a source package with the binaries built from it that the
// host has, all at one source version.
type installedSource struct {
	name, version string
	binaries      []pkgdb.Package
}

// inventory is what the generator knows of the host.
type inventory struct {
	sources []*installedSource // sorted by name
	byName  map[string]*installedSource
	pkgs    []pkgdb.Package
}

// readInstalled reads the status file with the project's own dpkg reader,
// which gives each binary's source name and source version as dpkg-query does.
func readInstalled(ctx context.Context, status string) (*inventory, error) {
	abs, err := filepath.Abs(status)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "osvgen-root-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(abs, filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		return nil, err
	}
	pkgs, err := pkgdb.DpkgReader{}.Read(ctx, root)
	if err != nil {
		return nil, err
	}
	inv := &inventory{byName: map[string]*installedSource{}, pkgs: pkgs}
	for _, p := range pkgs {
		s := inv.byName[p.SourceName]
		if s == nil {
			s = &installedSource{name: p.SourceName, version: p.SourceVersion}
			inv.byName[p.SourceName] = s
			inv.sources = append(inv.sources, s)
		}
		if s.version != p.SourceVersion {
			// The cases assume one source version per source; a host in the
			// middle of an upgrade would need per-binary expectations.
			return nil, fmt.Errorf("%s: source %s installed at %s and %s", status, p.SourceName, s.version, p.SourceVersion)
		}
		s.binaries = append(s.binaries, p)
	}
	slices.SortFunc(inv.sources, func(a, b *installedSource) int { return strings.Compare(a.name, b.name) })
	return inv, nil
}

// availableSource is one line of the source list.
type availableSource struct{ name, version string }

func readSources(path string) ([]availableSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []availableSource
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, ver, ok := strings.Cut(t, "\t")
		if !ok || name == "" || ver == "" {
			return nil, fmt.Errorf("%s:%d: want source<TAB>version", path, line)
		}
		out = append(out, availableSource{name, ver})
	}
	return out, sc.Err()
}
