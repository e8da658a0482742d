// Package pkgdb reads the installed-package databases of a machine or of a
// mounted image: the dpkg status file (Debian, Ubuntu), the RPM database
// (through the rpm command) and Alpine's apk installed database.
//
// Every reader takes a root directory, so the same code reads "/" on a host,
// a mounted image, or a fixture in a test. A reader returns either the whole
// inventory or an error naming the database and, for text formats, the line
// at fault: a truncated or corrupt database never yields a partial list that
// looks complete. Every returned Package has passed Validate, and the list is
// sorted, so two reads of the same database are equal.
package pkgdb

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Ecosystem names the packaging system a Package belongs to.
type Ecosystem string

// The ecosystems pkgdb reads.
const (
	Deb Ecosystem = "deb"
	RPM Ecosystem = "rpm"
	Apk Ecosystem = "apk"
)

// Package is one installed binary package, as its package database records it.
//
// Version is the full version string the ecosystem's own comparator orders:
//   - deb: [epoch:]upstream[-revision], normalized as dpkg-query prints it
//     (a zero epoch is dropped, "01:" becomes "1:");
//   - rpm: the EVR, [epoch:]version-release, exactly as rpm's %{EVR} prints
//     it: the epoch appears when the package has one, even "0";
//   - apk: the version as apk records it, for example 1.36.1-r29.
//
// SourceName and SourceVersion name the source package the binary was built
// from, because advisories name source packages:
//   - deb: from the Source field (see DpkgReader); when it is absent, the
//     package itself;
//   - rpm: parsed from SourceRPM (name-version-release.src.rpm); the file
//     name carries no epoch, so SourceVersion is version-release. Both are
//     empty when the package records no source rpm;
//   - apk: SourceName is the origin (the APKBUILD's pkgname), SourceVersion
//     equals Version, since every subpackage of an APKBUILD shares its
//     pkgver-pkgrel.
type Package struct {
	Ecosystem     Ecosystem
	Name          string
	Version       string
	Arch          string
	SourceName    string
	SourceVersion string
	// SourceRPM is the rpm's SOURCERPM tag, for example
	// bash-5.1.8-9.el9.src.rpm; empty for other ecosystems.
	SourceRPM string
}

// Reader reads the installed packages of one database format under root.
type Reader interface {
	Read(ctx context.Context, root string) ([]Package, error)
}

// ReaderFor returns the reader for an ecosystem, with default settings.
func ReaderFor(e Ecosystem) (Reader, error) {
	switch e {
	case Deb:
		return DpkgReader{}, nil
	case RPM:
		return RPMReader{}, nil
	case Apk:
		return ApkReader{}, nil
	}
	return nil, fmt.Errorf("unknown package ecosystem %q", e)
}

// ParseError reports why the text of a package database (or rpm's listing
// of one) could not be parsed, and on which line. Readers wrap it with the
// file's path.
type ParseError struct {
	Line int    // 1-based; 0 when the fault is not on one line
	Msg  string // what is wrong, lower case
}

// Error returns "line N: why", or "why" when Line is 0.
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func parseErrorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// comparePackages orders packages by name, arch, version, then the
// remaining fields, bytewise: a deterministic order, not a version order.
// A reader's packages are all of one ecosystem.
func comparePackages(a, b Package) int {
	// Not cmp.Or, which would compare every field every time.
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Arch, b.Arch); c != 0 {
		return c
	}
	if c := strings.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.Ecosystem, b.Ecosystem),
		cmp.Compare(a.SourceName, b.SourceName),
		cmp.Compare(a.SourceVersion, b.SourceVersion),
		cmp.Compare(a.SourceRPM, b.SourceRPM),
	)
}

func sortPackages(pkgs []Package) {
	slices.SortFunc(pkgs, comparePackages)
}

// maxDBSize bounds the size of a text database pkgdb will read. The dpkg
// status file of a large desktop is about 10 MB; apk's installed database,
// which lists every file, some tens of MB.
const maxDBSize = 256 << 20

// maxLineLen bounds one line of a text database. The longest lines in real
// dpkg status files are Provides lists of Rust library packages (about 11 KB
// in Debian 12).
const maxLineLen = 1 << 20

var errTooLarge = errors.New("file larger than 256 MiB")

// readFile reads a whole database file, refusing anything larger than
// maxDBSize.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxDBSize {
		return nil, errTooLarge
	}
	// The size is a hint: the file may change while it is read.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+512))
	if _, err := buf.ReadFrom(io.LimitReader(f, maxDBSize+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxDBSize {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}
