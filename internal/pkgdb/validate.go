package pkgdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on the strings of a Package. Package databases are data, and so is
// what an agent sends: nothing longer is accepted.
const (
	MaxNameLen    = 128
	MaxVersionLen = 256
	MaxArchLen    = 32
	MaxFileLen    = 256 // SourceRPM
)

// Validate reports whether p is a well-formed package of its ecosystem: every
// field present that the ecosystem requires, within the length limits, and
// made only of the characters the ecosystem allows. Readers return only
// packages that pass; a server should call it on packages an agent sends.
func (p Package) Validate() error {
	var name, version, arch func(string) error
	switch p.Ecosystem {
	case Deb:
		name, version, arch = validDebName, validDebVersion, validDebArch
	case RPM:
		name, version, arch = validRPMName, validRPMVersion, validRPMArch
	case Apk:
		name, version, arch = validApkName, validApkVersion, validApkArch
	default:
		return fmt.Errorf("unknown ecosystem %s", quote(string(p.Ecosystem)))
	}
	if err := name(p.Name); err != nil {
		return fmt.Errorf("package name %s: %w", quote(p.Name), err)
	}
	if err := version(p.Version); err != nil {
		return fmt.Errorf("package %s: version %s: %w", p.Name, quote(p.Version), err)
	}
	if err := arch(p.Arch); err != nil {
		return fmt.Errorf("package %s: architecture %s: %w", p.Name, quote(p.Arch), err)
	}
	// rpm packages may lack a source rpm; deb and apk always name a source.
	if p.Ecosystem != RPM || p.SourceName != "" || p.SourceVersion != "" {
		if err := name(p.SourceName); err != nil {
			return fmt.Errorf("package %s: source name %s: %w", p.Name, quote(p.SourceName), err)
		}
		if err := version(p.SourceVersion); err != nil {
			return fmt.Errorf("package %s: source version %s: %w", p.Name, quote(p.SourceVersion), err)
		}
	}
	if p.Ecosystem != RPM && p.SourceRPM != "" {
		return fmt.Errorf("package %s: source rpm set on a %s package", p.Name, p.Ecosystem)
	}
	if p.SourceRPM != "" {
		if err := validFile(p.SourceRPM); err != nil {
			return fmt.Errorf("package %s: source rpm %s: %w", p.Name, quote(p.SourceRPM), err)
		}
	}
	return nil
}

// quote returns s quoted for an error message, cut to 64 bytes: the value
// may be garbage from a corrupt file.
func quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "..."
	}
	return strconv.Quote(s)
}

var errEmpty = errors.New("empty")

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlnum(c byte) bool {
	return isDigit(c) || isLower(c) || ('A' <= c && c <= 'Z')
}

// checkChars checks that s is non-empty, at most max bytes, starts with a
// byte first accepts and continues with bytes rest accepts.
func checkChars(s string, max int, first, rest func(byte) bool, firstWhat string) error {
	if s == "" {
		return errEmpty
	}
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !first(s[0]) {
		return fmt.Errorf("must start with %s", firstWhat)
	}
	for i := 1; i < len(s); i++ {
		if !rest(s[i]) {
			return fmt.Errorf("character %q not allowed", s[i])
		}
	}
	return nil
}

func isDigitByte(c byte) bool { return isDigit(c) }

// Debian policy §5.6.1: lower case letters, digits, plus, minus and period,
// starting with an alphanumeric. Policy also asks for two characters; dpkg
// accepts one, and so does pkgdb.
func validDebName(s string) error {
	return checkChars(s, MaxNameLen,
		func(c byte) bool { return isDigit(c) || isLower(c) },
		func(c byte) bool { return isDigit(c) || isLower(c) || c == '+' || c == '-' || c == '.' },
		"a lower case letter or a digit")
}

// dpkg's own rule for architecture names: alphanumerics and hyphens,
// starting with an alphanumeric (Debian's are lower case).
func validDebArch(s string) error {
	return checkChars(s, MaxArchLen,
		func(c byte) bool { return isDigit(c) || isLower(c) },
		func(c byte) bool { return isDigit(c) || isLower(c) || c == '-' },
		"a lower case letter or a digit")
}

// debVersion is a parsed Debian version.
type debVersion struct {
	epoch    uint64
	upstream string
	revision string
}

// String formats v as dpkg-query does: the epoch only when it is not zero
// (or when the upstream version holds a colon, which would be ambiguous).
func (v debVersion) String() string {
	var b strings.Builder
	if v.epoch != 0 || strings.Contains(v.upstream, ":") {
		b.WriteString(strconv.FormatUint(v.epoch, 10))
		b.WriteByte(':')
	}
	b.WriteString(v.upstream)
	if v.revision != "" {
		b.WriteByte('-')
		b.WriteString(v.revision)
	}
	return b.String()
}

// parseDebVersion parses [epoch:]upstream[-revision] with dpkg's rules
// (lib/dpkg/parsehelp.c parseversion), treating what dpkg only warns about
// (an upstream version not starting with a digit, invalid characters) as
// errors, and refusing any white space.
func parseDebVersion(s string) (debVersion, error) {
	var v debVersion
	if s == "" {
		return v, errEmpty
	}
	if len(s) > MaxVersionLen {
		return v, fmt.Errorf("longer than %d bytes", MaxVersionLen)
	}
	rest := s
	if e, r, ok := strings.Cut(s, ":"); ok {
		if e == "" {
			return v, errors.New("epoch is empty")
		}
		for i := 0; i < len(e); i++ {
			if !isDigit(e[i]) {
				return v, errors.New("epoch is not a number")
			}
		}
		n, err := strconv.ParseUint(e, 10, 31) // dpkg: at most INT_MAX
		if err != nil {
			return v, errors.New("epoch is too big")
		}
		if r == "" {
			return v, errors.New("nothing after the epoch")
		}
		v.epoch, rest = n, r
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.upstream, v.revision = rest[:i], rest[i+1:]
		if v.revision == "" {
			return v, errors.New("revision is empty")
		}
	} else {
		v.upstream = rest
	}
	if v.upstream == "" {
		return v, errors.New("upstream version is empty")
	}
	if !isDigit(v.upstream[0]) {
		return v, errors.New("upstream version does not start with a digit")
	}
	for i := 0; i < len(v.upstream); i++ {
		c := v.upstream[i]
		if !isAlnum(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return v, fmt.Errorf("character %q not allowed in upstream version", c)
		}
	}
	for i := 0; i < len(v.revision); i++ {
		c := v.revision[i]
		if !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return v, fmt.Errorf("character %q not allowed in revision", c)
		}
	}
	return v, nil
}

func validDebVersion(s string) error {
	_, err := parseDebVersion(s)
	return err
}

// rpm's own rule for names (build/parsePreamble.c): alphanumerics and
// "-._+"; pkgdb also asks for an alphanumeric first.
func validRPMName(s string) error {
	return checkChars(s, MaxNameLen, isAlnum,
		func(c byte) bool { return isAlnum(c) || strings.IndexByte("-._+", c) >= 0 },
		"a letter or a digit")
}

func isRPMVersionByte(c byte) bool { return isAlnum(c) || strings.IndexByte("._+~^", c) >= 0 }

// validRPMVersion accepts an EVR, [epoch:]version-release, where version and
// release use the characters rpmbuild allows ("._+~^" and alphanumerics,
// never a hyphen).
func validRPMVersion(s string) error {
	if s == "" {
		return errEmpty
	}
	if len(s) > MaxVersionLen {
		return fmt.Errorf("longer than %d bytes", MaxVersionLen)
	}
	vr := s
	if e, r, ok := strings.Cut(s, ":"); ok {
		if err := validRPMEpoch(e); err != nil {
			return err
		}
		vr = r
	}
	v, r, ok := strings.Cut(vr, "-")
	if !ok {
		return errors.New("no release (want version-release)")
	}
	if err := checkChars(v, MaxVersionLen, isRPMVersionByte, isRPMVersionByte, "a letter, digit or one of ._+~^"); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if err := checkChars(r, MaxVersionLen, isRPMVersionByte, isRPMVersionByte, "a letter, digit or one of ._+~^"); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

func validRPMEpoch(e string) error {
	if err := checkChars(e, 10, isDigitByte, isDigitByte, "a digit"); err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	if _, err := strconv.ParseUint(e, 10, 32); err != nil {
		return errors.New("epoch is too big")
	}
	return nil
}

func isArchByte(c byte) bool { return isAlnum(c) || c == '_' }

// rpm and apk architectures: x86_64, noarch, i686, aarch64, ppc64le, armv7hl...
func validRPMArch(s string) error {
	return checkChars(s, MaxArchLen, isAlnum, isArchByte, "a letter or a digit")
}

func validApkArch(s string) error { return validRPMArch(s) }

// Alpine package names (abuild): alphanumerics and "-._+", starting with an
// alphanumeric.
func validApkName(s string) error { return validRPMName(s) }

// validApkVersion checks the characters of an apk version
// (1.2.3_rc1~abcdef-r4): alphanumerics and "._~+-", starting with a digit.
// apk's full grammar is internal/version's business.
func validApkVersion(s string) error {
	return checkChars(s, MaxVersionLen, isDigitByte,
		func(c byte) bool { return isAlnum(c) || strings.IndexByte("._~+-", c) >= 0 },
		"a digit")
}

// validFile checks a file name such as a SOURCERPM.
func validFile(s string) error {
	return checkChars(s, MaxFileLen, isAlnum,
		func(c byte) bool { return isRPMVersionByte(c) || c == '-' },
		"a letter or a digit")
}
