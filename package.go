package patchbay

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Package is one installed package: the same (ecosystem, name, version,
// arch, source) anywhere in the fleet is one Package. SourceName and
// SourceVersion are empty when they equal Name and Version; Debian
// advisories name source packages, so matching uses Source().
//
// Ecosystem "go" is a Go module built into a binary: Name is the module
// path ("stdlib" for the Go toolchain's standard library), Version the
// module version without its leading "v" (as Go vulnerability records
// write it), Arch empty, and SourceName the absolute path of the binary
// that holds the module, so the same module in two binaries is two
// packages. SourceVersion is empty. Source() means nothing for them.
type Package struct {
	Ecosystem     string `json:"ecosystem"` // deb, rpm, apk, go
	Name          string `json:"name"`
	Version       string `json:"version"`
	Arch          string `json:"arch"`
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
}

// Source returns the source package's name and version, falling back to
// the binary's own.
func (p Package) Source() (name, version string) {
	name, version = p.SourceName, p.SourceVersion
	if name == "" {
		name = p.Name
	}
	if version == "" {
		version = p.Version
	}
	return name, version
}

// Ecosystems of packages patchbay reads.
var packageEcosystems = map[string]bool{"deb": true, "rpm": true, "apk": true, "go": true}

// ValidatePackage bounds a package as agents report it: a known ecosystem,
// a name and version of at most 256 bytes without control characters or
// spaces, an arch of at most 32. A Go module ("go") also needs the path
// of its binary as source name: absolute, and bounded like a name (a path
// holding a space cannot be reported). field names it in the error.
func ValidatePackage(field string, p Package) error {
	if !packageEcosystems[p.Ecosystem] {
		return FieldError(EUnprocessable, field+".ecosystem", "unknown ecosystem %q (want deb, rpm, apk or go)", truncate(p.Ecosystem, 20))
	}
	if p.Name == "" || p.Version == "" {
		return FieldError(EUnprocessable, field, "a package needs a name and a version")
	}
	if p.Ecosystem == "go" && !strings.HasPrefix(p.SourceName, "/") {
		return FieldError(EUnprocessable, field+".source_name", "a Go module needs the absolute path of its binary as source name")
	}
	if err := validateToken(field, ".name", p.Name); err != nil {
		return err
	}
	if err := validateToken(field, ".version", p.Version); err != nil {
		return err
	}
	if err := validateToken(field, ".source_name", p.SourceName); err != nil {
		return err
	}
	if err := validateToken(field, ".source_version", p.SourceVersion); err != nil {
		return err
	}
	if len(p.Arch) > 32 || !plainText(p.Arch) {
		return ValidateText(field+".arch", p.Arch, 32)
	}
	return nil
}

// validateToken checks a name or version: at most 256 bytes of printable
// text without spaces. The common case, plain ASCII, costs one pass.
func validateToken(field, sub, v string) error {
	if len(v) <= 256 && plainText(v) {
		return nil
	}
	if err := ValidateText(field+sub, v, 256); err != nil {
		return err
	}
	if strings.ContainsRune(v, ' ') {
		return FieldError(EUnprocessable, field+sub, "%q contains a space", truncate(v, 80))
	}
	return nil
}

// plainText reports whether v is printable ASCII without spaces.
func plainText(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// ValidateText refuses text longer than max bytes, not UTF-8, or holding
// control characters.
func ValidateText(field, v string, max int) error {
	if len(v) > max {
		return FieldError(EUnprocessable, field, "longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return FieldError(EUnprocessable, field, "not valid UTF-8")
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return FieldError(EUnprocessable, field, "contains control characters")
	}
	return nil
}
