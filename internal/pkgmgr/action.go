package pkgmgr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// Action is one package a job changes: install (or upgrade, or roll back
// to) exactly Version of Name. Arch is the package's architecture ("all",
// "amd64", "i386"), or "" for the host's own choice (apt's candidate
// architecture for a native package).
type Action struct {
	Name    string
	Arch    string
	Version string
}

// String returns "name=version" or "name:arch=version", as in messages.
func (a Action) String() string {
	if a.Arch == "" {
		return a.Name + "=" + a.Version
	}
	return a.Name + ":" + a.Arch + "=" + a.Version
}

// Validate checks a Debian action before any of it reaches a command
// line: a package name as Debian Policy 5.6.1 has it (lower-case letters,
// digits, + - ., starting with a letter or digit), an architecture of
// lower-case letters, digits and -, starting with a letter or digit, and a
// version as Policy 5.6.12 has it (digits and a colon for the epoch, an
// upstream version starting with a digit, letters, digits and . + ~ - only).
// Nothing that passes starts with "-", so nothing can become an option.
// The error names the action.
func (a Action) Validate() error {
	if err := validDebName(a.Name); err != nil {
		return fmt.Errorf("action %s: package name %w", quote(a.String()), err)
	}
	if a.Arch != "" {
		if err := validDebArch(a.Arch); err != nil {
			return fmt.Errorf("action %s: %w", quote(a.String()), err)
		}
		if c := a.Arch[0]; c == '-' {
			return fmt.Errorf("action %s: architecture %s starts with -", quote(a.String()), quote(a.Arch))
		}
	}
	if err := validDebVersion(a.Version); err != nil {
		return fmt.Errorf("action %s: %w", quote(a.String()), err)
	}
	return nil
}

// validDebVersion accepts a version as Debian Policy has it (5.6.12), and
// nothing with white space, control characters or other punctuation.
func validDebVersion(s string) error {
	if s == "" || len(s) > 256 {
		return fmt.Errorf("version %s: empty or too long", quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".+~-:", c) >= 0 {
			continue
		}
		return fmt.Errorf("version %s: character %q not allowed", quote(s), c)
	}
	if _, err := version.ParseDebStrict(s); err != nil {
		return err
	}
	return nil
}

// validateActions validates every action and refuses an empty list and a
// package named twice (apt would take the last, silently).
func validateActions(actions []Action) error {
	if len(actions) == 0 {
		return errors.New("no actions")
	}
	seen := map[string]bool{}
	for _, a := range actions {
		if err := a.Validate(); err != nil {
			return err
		}
		key := a.Name + ":" + a.Arch
		if seen[key] {
			return fmt.Errorf("action %s: package %s named twice", quote(a.String()), a.Name)
		}
		seen[key] = true
	}
	return nil
}

// aptSpec is the argument apt-get takes for a: "name=version", or
// "name:arch=version" for an architecture other than "all" (apt files an
// "all" package under the native architecture).
func (a Action) aptSpec() string {
	if a.Arch == "" || a.Arch == "all" {
		return a.Name + "=" + a.Version
	}
	return a.Name + ":" + a.Arch + "=" + a.Version
}

// matches reports whether a package name and architecture are a's; an
// action without an architecture matches any.
func (a Action) matches(name, arch string) bool {
	return a.Name == name && (a.Arch == "" || a.Arch == arch)
}

// debFileName is the name apt gives the file of a package version in its
// archive cache: NAME_VERSION_ARCH.deb, with the epoch's colon written %3a
// (apt's QuoteString; validated names, versions and architectures hold no
// other character it quotes).
func debFileName(name, ver, arch string) string {
	return name + "_" + strings.ReplaceAll(ver, ":", "%3a") + "_" + arch + ".deb"
}

// DebFile is a package file on disk, and what its control file says it
// holds.
type DebFile struct {
	Action        // the file's Package, Architecture and Version
	Path   string // absolute
	// Rebuilt is set when Keep made the file from the installed files
	// because apt's cache did not have it.
	Rebuilt bool
	// Modified lists the files (absolute paths in the root) of a rebuilt
	// package whose contents differ from what the package installed, by
	// its md5sums: a local change the rebuilt package now carries.
	// Conffiles are not listed: changing them is expected.
	Modified []string
	// Missing lists the files of a rebuilt package that dpkg lists but
	// that are not on disk (excluded by a dpkg path-exclude, as minimal
	// images do for documentation, or deleted by hand): the rebuilt
	// package does not have them.
	Missing []string
}

// parseDebShow parses the one line dpkg-deb --show --showformat
// '${Package}\t${Architecture}\t${Version}\n' prints for a package file.
func parseDebShow(out []byte) (Action, error) {
	line, rest, _ := strings.Cut(string(out), "\n")
	if strings.TrimSpace(rest) != "" {
		return Action{}, errors.New("more than one line")
	}
	if err := checkLine(line); err != nil {
		return Action{}, err
	}
	f := strings.Split(line, "\t")
	if len(f) != 3 {
		return Action{}, fmt.Errorf("not \"PACKAGE\\tARCH\\tVERSION\": %s", quote(line))
	}
	a := Action{Name: f[0], Arch: f[1], Version: f[2]}
	if err := validDebName(a.Name); err != nil {
		return Action{}, fmt.Errorf("package %w", err)
	}
	if err := validDebArch(a.Arch); err != nil {
		return Action{}, err
	}
	if _, err := version.ParseDeb(a.Version); err != nil || strings.TrimSpace(a.Version) != a.Version {
		return Action{}, fmt.Errorf("version %s: not a version", quote(a.Version))
	}
	return a, nil
}
