package fleet

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// maxUpdateText limits the free-text fields of an update (origin, archive,
// advisory type, severity, advisory ids); names, versions and
// architectures follow pkgdb's limits.
const maxUpdateText = 64

// validatePackage checks p with pkgdb's rules for its ecosystem (names,
// versions, architectures: characters and lengths), and that its version
// and source version parse with order.
func validatePackage(p protocol.Package, order version.Ecosystem) error {
	src, srcVer := source(p)
	if p.Ecosystem == string(pkgdb.RPM) && p.SourceVersion == "" {
		// An rpm's source version is its version-release, without epoch.
		_, srcVer = splitEpoch(p.Version)
	}
	pp := pkgdb.Package{Ecosystem: pkgdb.Ecosystem(p.Ecosystem), Name: p.Name, Version: p.Version, Arch: p.Arch,
		SourceName: src, SourceVersion: srcVer}
	if err := pp.Validate(); err != nil {
		return err
	}
	for _, v := range []string{p.Version, srcVer} {
		if _, err := version.Parse(order, v); err != nil {
			return fmt.Errorf("package %s: %w", p.Name, err)
		}
	}
	return nil
}

// validateUpdate checks u: the package it updates (at FromVersion and at
// ToVersion) must be a valid package, ToVersion must sort after
// FromVersion, and the free-text fields must be short, printable and
// without control characters.
func validateUpdate(u protocol.Update, order version.Ecosystem) error {
	from := protocol.Package{Ecosystem: u.Ecosystem, Name: u.Name, Version: u.FromVersion, Arch: u.Arch}
	to := protocol.Package{Ecosystem: u.Ecosystem, Name: u.Name, Version: u.ToVersion, Arch: u.Arch,
		SourceName: u.SourceName, SourceVersion: u.SourceVersion}
	if err := validatePackage(from, order); err != nil {
		return fmt.Errorf("update from: %w", err)
	}
	if err := validatePackage(to, order); err != nil {
		return fmt.Errorf("update to: %w", err)
	}
	c, err := version.Compare(order, u.ToVersion, u.FromVersion)
	if err != nil {
		return fmt.Errorf("update of %s: %w", u.Name, err)
	}
	if c <= 0 {
		return fmt.Errorf("update of %s: %s is not newer than %s", u.Name, u.ToVersion, u.FromVersion)
	}
	fields := append([]string{u.Origin, u.Archive, u.AdvisoryType, u.Severity}, u.AdvisoryIDs...)
	for _, f := range fields {
		if err := checkText(f, maxUpdateText); err != nil {
			return fmt.Errorf("update of %s: %q: %w", u.Name, f, err)
		}
	}
	return nil
}

// checkText accepts short printable UTF-8 without control characters.
func checkText(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("longer than %d bytes", limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not UTF-8")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
		return fmt.Errorf("control character")
	}
	return nil
}
