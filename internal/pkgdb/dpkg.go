package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Paths of dpkg's database under a root.
const (
	dpkgStatusPath  = "var/lib/dpkg/status"
	dpkgUpdatesPath = "var/lib/dpkg/updates"
)

// DpkgReader reads dpkg's database under a root: the status file
// var/lib/dpkg/status, then the journal var/lib/dpkg/updates/NNNN of records
// dpkg wrote but has not yet merged into it (after an interrupted run),
// exactly as dpkg-query does. It returns the packages whose status (the
// third word of the Status field, dpkg-query's ${db:Status-Status}) is
// "installed"; half-configured, unpacked or triggers-pending packages are
// left out.
//
// The source of a package follows dpkg-query's ${source:Package} and
// ${source:Version} (lib/dpkg/pkg-format.c, lib/dpkg/pkg.c): without a
// Source field the source is the package itself at the same version;
// "Source: name" means that source at the binary's own version, epoch
// included; "Source: name (version)" gives the source version, which does
// not carry the binary's epoch: bsdutils 1:2.38.1-5+deb12u3 is built from
// util-linux 2.38.1-5+deb12u3, and bash 5.2.15-2+b8 (a binNMU) from bash
// 5.2.15-2.
type DpkgReader struct{}

// Read returns the installed packages recorded under root. A missing status
// file is an error that wraps fs.ErrNotExist.
func (DpkgReader) Read(ctx context.Context, root string) ([]Package, error) {
	statusPath := filepath.Join(root, dpkgStatusPath)
	data, err := readFile(statusPath)
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", statusPath, err)
	}
	db := dpkgDB{}
	if err := db.parseStatus(ctx, string(data)); err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", statusPath, err)
	}
	updates, err := dpkgUpdateFiles(filepath.Join(root, dpkgUpdatesPath))
	if err != nil {
		return nil, fmt.Errorf("read dpkg updates: %w", err)
	}
	for _, path := range updates {
		data, err := readFile(path)
		if err != nil {
			return nil, fmt.Errorf("read dpkg update %s: %w", path, err)
		}
		if err := db.applyUpdate(string(data)); err != nil {
			return nil, fmt.Errorf("read dpkg update %s: %w", path, err)
		}
	}
	return db.installed(), nil
}

// ReadDpkgStatusFile returns the installed packages of one dpkg status
// file given on its own (a copy taken from a host), read as Read reads a
// root's: there is no journal of updates beside it.
func ReadDpkgStatusFile(ctx context.Context, path string) ([]Package, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", path, err)
	}
	pkgs, err := parseDpkgStatus(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", path, err)
	}
	return pkgs, nil
}

// parseDpkgStatus parses the text of a status file and returns its
// installed packages; it is Read without the file system, for tests and
// fuzzing.
func parseDpkgStatus(ctx context.Context, data []byte) ([]Package, error) {
	db := dpkgDB{}
	if err := db.parseStatus(ctx, string(data)); err != nil {
		return nil, err
	}
	return db.installed(), nil
}

// dpkgUpdateFiles lists dpkg's journal of updates: files whose names are all
// digits, of one length, in name order (dpkg's lib/dpkg/dbmodify.c). A
// missing directory is an empty journal.
func dpkgUpdateFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var paths []string
	nameLen := -1
	for _, e := range entries {
		name := e.Name()
		if strings.Trim(name, "0123456789") != "" {
			continue // dpkg's tmp.i and the like
		}
		if nameLen >= 0 && len(name) != nameLen {
			return nil, fmt.Errorf("%s: update files with names of different lengths", dir)
		}
		nameLen = len(name)
		paths = append(paths, filepath.Join(dir, name))
	}
	slices.Sort(paths) // os.ReadDir sorts already; the order is the journal's
	return paths, nil
}

// dpkgEntry is one package instance of dpkg's database: one stanza.
type dpkgEntry struct {
	name, arch, version string
	sourceName          string
	sourceVersion       string
	status              string
	multiArchSame       bool
	line                int
}

// dpkgDB is dpkg's database in memory: package sets keyed by name, each
// holding its instances (one per architecture for Multi-Arch: same).
type dpkgDB map[string][]dpkgEntry

// Status words of dpkg (lib/dpkg/pkg-namevalue.c).
var (
	dpkgWants    = []string{"unknown", "install", "hold", "deinstall", "purge"}
	dpkgEflags   = []string{"ok", "reinstreq"}
	dpkgStatuses = []string{"not-installed", "config-files", "half-installed",
		"unpacked", "half-configured", "triggers-awaited", "triggers-pending", "installed"}
	dpkgMultiArch = []string{"no", "same", "foreign", "allowed"}
)

// dpkg checks the context once per this many stanzas.
const ctxEvery = 256

func (db dpkgDB) parseStatus(ctx context.Context, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := stanzaScanner{lineReader: lineReader{src: src}, blankEnd: true}
	for n := 1; ; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		fields, line, err := s.next()
		if err != nil {
			return err
		}
		if fields == nil {
			break
		}
		e, err := parseDpkgStanza(fields, line)
		if err != nil {
			return err
		}
		for _, old := range db[e.name] {
			if old.arch == e.arch {
				return parseErrorf(line, "package %s:%s listed twice (first on line %d)", e.name, e.arch, old.line)
			}
		}
		db[e.name] = append(db[e.name], e)
	}
	// dpkg's parse_find_set_slot: at most one instance of a package that is
	// not Multi-Arch: same, and never mixed with instances that are.
	for name, set := range db {
		single, multi := 0, 0
		for _, e := range set {
			switch {
			case e.status == "not-installed":
			case e.multiArchSame:
				multi++
			default:
				single++
			}
		}
		if single > 1 || (single > 0 && multi > 0) {
			return parseErrorf(set[len(set)-1].line, "package %s has several instances that cannot be installed together", name)
		}
	}
	return nil
}

// applyUpdate merges one journal file, which holds exactly one stanza, the
// way dpkg's parse_find_pkg_slot does: with one installed instance that is
// not Multi-Arch: same on both sides, the record replaces it even across
// architectures (a cross-grade); otherwise it takes the slot of its own
// architecture.
func (db dpkgDB) applyUpdate(src string) error {
	s := stanzaScanner{lineReader: lineReader{src: src}}
	fields, line, err := s.next()
	if err != nil {
		return err
	}
	if fields == nil {
		return parseErrorf(0, "no package record")
	}
	e, err := parseDpkgStanza(fields, line)
	if err != nil {
		return err
	}
	if more, _, err := s.next(); err != nil {
		return err
	} else if more != nil {
		return parseErrorf(s.line, "more than one package record")
	}
	set := db[e.name]
	installed := -1
	count := 0
	for i, old := range set {
		if old.status != "not-installed" {
			installed, count = i, count+1
		}
	}
	if count > 1 && !e.multiArchSame {
		return parseErrorf(line, "package %s is not Multi-Arch: same but has several installed instances", e.name)
	}
	var slot int
	if count == 1 && !(set[installed].multiArchSame && e.multiArchSame) {
		slot = installed
	} else {
		slot = slices.IndexFunc(set, func(old dpkgEntry) bool { return old.arch == e.arch })
	}
	if slot >= 0 {
		set[slot] = e
	} else {
		db[e.name] = append(set, e)
	}
	return nil
}

// installed returns the installed packages, sorted.
func (db dpkgDB) installed() []Package {
	var pkgs []Package
	for _, set := range db {
		for _, e := range set {
			if e.status != "installed" {
				continue
			}
			pkgs = append(pkgs, Package{
				Ecosystem:     Deb,
				Name:          e.name,
				Version:       e.version,
				Arch:          e.arch,
				SourceName:    e.sourceName,
				SourceVersion: e.sourceVersion,
			})
		}
	}
	sortPackages(pkgs)
	return pkgs
}

// parseDpkgStanza checks one stanza of the status file or of an update and
// keeps what pkgdb needs. Fields pkgdb does not use are only checked for
// form, by the scanner.
func parseDpkgStanza(fields []field, line int) (dpkgEntry, error) {
	e := dpkgEntry{line: line}
	var pkgF, statusF, versionF, archF, sourceF, maF, configF *field
	for i := range fields {
		f := &fields[i]
		var slot **field
		switch {
		case fieldIs(f.name, "Package"):
			slot = &pkgF
		case fieldIs(f.name, "Status"):
			slot = &statusF
		case fieldIs(f.name, "Version"):
			slot = &versionF
		case fieldIs(f.name, "Architecture"):
			slot = &archF
		case fieldIs(f.name, "Source"):
			slot = &sourceF
		case fieldIs(f.name, "Multi-Arch"):
			slot = &maF
		case fieldIs(f.name, "Config-Version"):
			slot = &configF
		default:
			continue
		}
		if f.multiline {
			return e, parseErrorf(f.line, "field %s spans several lines", f.name)
		}
		*slot = f
	}

	if pkgF == nil {
		return e, parseErrorf(line, "stanza without a Package field")
	}
	if err := validDebName(pkgF.value); err != nil {
		return e, parseErrorf(pkgF.line, "package name %s: %v", quote(pkgF.value), err)
	}
	e.name = pkgF.value

	if statusF == nil {
		return e, parseErrorf(line, "package %s: no Status field", e.name)
	}
	words := strings.Fields(statusF.value)
	if len(words) != 3 || !slices.Contains(dpkgWants, words[0]) ||
		!slices.Contains(dpkgEflags, words[1]) || !slices.Contains(dpkgStatuses, words[2]) {
		return e, parseErrorf(statusF.line, "package %s: malformed Status %s (want: want eflag status)", e.name, quote(statusF.value))
	}
	e.status = words[2]

	if maF != nil {
		if !slices.Contains(dpkgMultiArch, maF.value) {
			return e, parseErrorf(maF.line, "package %s: unknown Multi-Arch %s", e.name, quote(maF.value))
		}
		e.multiArchSame = maF.value == "same"
	}

	if archF != nil {
		if err := validDebArch(archF.value); err != nil {
			return e, parseErrorf(archF.line, "package %s: architecture %s: %v", e.name, quote(archF.value), err)
		}
		e.arch = archF.value
	}
	if e.multiArchSame && (e.arch == "" || e.arch == "all") {
		return e, parseErrorf(line, "package %s: Multi-Arch: same with architecture %s", e.name, quote(e.arch))
	}
	if e.status == "installed" && e.arch == "" {
		return e, parseErrorf(line, "installed package %s has no Architecture", e.name)
	}

	if versionF != nil {
		v, err := parseDebVersion(versionF.value)
		if err != nil {
			return e, parseErrorf(versionF.line, "package %s: version %s: %v", e.name, quote(versionF.value), err)
		}
		e.version = v.String()
	} else if e.status != "not-installed" && e.status != "half-installed" {
		// dpkg's pkg_parse_verify asks the same.
		return e, parseErrorf(line, "package %s with status %s has no Version", e.name, e.status)
	}
	if configF != nil && (e.status == "installed" || e.status == "not-installed") {
		return e, parseErrorf(configF.line, "package %s: Config-Version with status %s", e.name, e.status)
	}

	e.sourceName, e.sourceVersion = e.name, e.version
	if sourceF != nil {
		name, version, err := parseDebSource(sourceF.value)
		if err != nil {
			return e, parseErrorf(sourceF.line, "package %s: Source %s: %v", e.name, quote(sourceF.value), err)
		}
		e.sourceName = name
		if version != "" {
			e.sourceVersion = version
		}
	}
	return e, nil
}

// fieldIs reports whether a field's name is want, in any case, as dpkg
// compares field names.
func fieldIs(name, want string) bool {
	return len(name) == len(want) && strings.EqualFold(name, want)
}

// parseDebSource parses a Source field, "name" or "name (version)", and
// returns the version normalized, or "" when the field names none.
func parseDebSource(value string) (name, version string, err error) {
	name, rest, _ := strings.Cut(value, " ")
	if err := validDebName(name); err != nil {
		return "", "", fmt.Errorf("name: %w", err)
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" {
		return name, "", nil
	}
	if len(rest) < 2 || rest[0] != '(' || rest[len(rest)-1] != ')' {
		return "", "", errors.New(`want "name" or "name (version)"`)
	}
	v, err := parseDebVersion(strings.Trim(rest[1:len(rest)-1], " \t"))
	if err != nil {
		return "", "", fmt.Errorf("version: %w", err)
	}
	return name, v.String(), nil
}
