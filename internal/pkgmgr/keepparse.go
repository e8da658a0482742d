package pkgmgr

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/version"
)

// Parsers of what dpkg-query says about an installed package, for
// rebuilding its file (Keep), as dpkg 1.21 (Debian 12) prints it.

// repackControl is an installed package's control file, rebuilt from its
// record in dpkg's status.
type repackControl struct {
	pkg       Action
	control   string   // the stanza without dpkg's own fields, ending in a newline
	conffiles []string // the package's current conffiles
}

// statusOnlyFields are the fields dpkg keeps in its status file that are
// not the package's: its state, the version last configured, the
// conffiles with their hashes (written to DEBIAN/conffiles instead), and
// pending triggers.
var statusOnlyFields = map[string]bool{
	"Status": true, "Config-Version": true, "Conffiles": true,
	"Triggers-Pending": true, "Triggers-Awaited": true,
}

// parseStatusStanza parses dpkg-query --status NAME: one stanza of
// "Field: value" lines, with continuation lines that start with a space
// or a tab. It returns the stanza without dpkg's own fields and the
// conffiles from its Conffiles field, lines " PATH HASH [FLAG]", leaving
// out those dpkg marks obsolete (no longer in the package) or
// remove-on-upgrade.
func parseStatusStanza(out []byte) (repackControl, error) {
	var rc repackControl
	text := strings.TrimRight(string(out), "\n")
	if text == "" {
		return rc, errors.New("empty")
	}
	if !utf8.ValidString(text) {
		return rc, errors.New("invalid UTF-8")
	}
	var b strings.Builder
	fields := map[string]string{}
	field := ""   // the field the current line belongs to
	keep := false // whether it goes into the control file
	for n, line := range strings.Split(text, "\n") {
		if line == "" {
			return rc, fmt.Errorf("line %d: more than one stanza", n+1)
		}
		if strings.ContainsAny(line, "\r\x00") {
			return rc, fmt.Errorf("line %d: control character", n+1)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if field == "" {
				return rc, fmt.Errorf("line %d: continuation line before any field", n+1)
			}
			if field == "Conffiles" {
				if err := rc.addConffile(line); err != nil {
					return rc, fmt.Errorf("line %d: %w", n+1, err)
				}
			}
			if keep {
				b.WriteString(line + "\n")
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") || name[0] == '#' || name[0] == '-' {
			return rc, fmt.Errorf("line %d: not \"Field: value\": %s", n+1, quote(line))
		}
		if _, dup := fields[name]; dup {
			return rc, fmt.Errorf("line %d: field %s twice", n+1, name)
		}
		fields[name] = strings.TrimSpace(value)
		field, keep = name, !statusOnlyFields[name]
		if keep {
			b.WriteString(line + "\n")
		}
	}
	rc.pkg = Action{Name: fields["Package"], Arch: fields["Architecture"], Version: fields["Version"]}
	if err := validDebName(rc.pkg.Name); err != nil {
		return rc, fmt.Errorf("package %w", err)
	}
	if err := validDebArch(rc.pkg.Arch); err != nil {
		return rc, err
	}
	if _, err := version.ParseDeb(rc.pkg.Version); err != nil {
		return rc, err
	}
	rc.control = b.String()
	return rc, nil
}

// addConffile reads one line of a Conffiles field.
func (rc *repackControl) addConffile(line string) error {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return fmt.Errorf("conffile line %s is not \"PATH HASH [FLAG]\"", quote(line))
	}
	if err := checkPackagePath(f[0]); err != nil {
		return fmt.Errorf("conffile %w", err)
	}
	if len(f) == 3 {
		switch f[2] {
		case "obsolete", "remove-on-upgrade":
			return nil
		default:
			return fmt.Errorf("conffile %s: unknown flag %s", quote(f[0]), quote(f[2]))
		}
	}
	rc.conffiles = append(rc.conffiles, f[0])
	return nil
}

// checkPackagePath accepts an absolute, clean path, as dpkg records the
// files of a package: no "..", no empty or "." components, at most 4096
// bytes.
func checkPackagePath(p string) error {
	if len(p) < 2 || len(p) > 4096 || p[0] != '/' {
		return fmt.Errorf("path %s: not absolute", quote(p))
	}
	if path.Clean(p) != p {
		return fmt.Errorf("path %s: not clean", quote(p))
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == ".." || c == "." || c == "" {
			return fmt.Errorf("path %s: component %s", quote(p), quote(c))
		}
	}
	if !utf8.ValidString(p) || strings.ContainsAny(p, "\n\r\x00") {
		return fmt.Errorf("path %s: control character or invalid UTF-8", quote(p))
	}
	return nil
}

// packageFile is one file dpkg lists for a package, and where its
// contents are on disk: elsewhere when another package (or the
// administrator) diverted it.
type packageFile struct {
	path   string // the path the package ships it at
	onDisk string // where it is: path, or the diversion's target
}

// parseDpkgList parses dpkg-query --listfiles NAME: one path a line, "/."
// for the root, each path possibly followed by a line on its diversion
// (src/query/main.c in dpkg):
//
//	locally diverted to: X         the administrator moved this package's file to X
//	diverted by OTHER to: X        another package moved this package's file to X
//	package diverts others to: X   this package's own file is at the path; others' go to X
//
// and "Package 'NAME' does not contain any files (!)" for a package
// without files.
func parseDpkgList(out []byte) ([]packageFile, error) {
	var files []packageFile
	seen := map[string]bool{}
	last := -1 // index in files of the path a diversion line refers to
	for n, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "" || line == "/.":
			last = -1
			continue
		case strings.HasPrefix(line, "Package '") && strings.HasSuffix(line, "' does not contain any files (!)"):
			if len(files) > 0 {
				return nil, fmt.Errorf("line %d: no files, after files", n+1)
			}
			continue
		case line[0] == '/':
			if err := checkPackagePath(line); err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			if seen[line] {
				return nil, fmt.Errorf("line %d: %s twice", n+1, quote(line))
			}
			seen[line] = true
			files = append(files, packageFile{path: line, onDisk: line})
			last = len(files) - 1
			continue
		}
		target, how, err := parseDiversionLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if last < 0 {
			return nil, fmt.Errorf("line %d: diversion without a path before it: %s", n+1, quote(line))
		}
		if how != "package diverts others to" {
			files[last].onDisk = target
		}
		last = -1
	}
	return files, nil
}

// parseDiversionLine reads "HOW to: TARGET".
func parseDiversionLine(line string) (target, how string, err error) {
	how, target, ok := strings.Cut(line, " to: ")
	if !ok {
		return "", "", fmt.Errorf("not a path nor a diversion: %s", quote(line))
	}
	switch {
	case how == "locally diverted", how == "package diverts others":
	case strings.HasPrefix(how, "diverted by "):
		if err := validDebName(strings.TrimPrefix(how, "diverted by ")); err != nil {
			return "", "", fmt.Errorf("diversion by package %w", err)
		}
	default:
		return "", "", fmt.Errorf("not a path nor a diversion: %s", quote(line))
	}
	if err := checkPackagePath(target); err != nil {
		return "", "", fmt.Errorf("diversion target %w", err)
	}
	return target, how + " to", nil
}

// parseMD5Sums parses a package's md5sums control file: lines
// "HASH  PATH" (md5sum's format: 32 hex digits, two spaces, the path
// without its leading slash, which may hold spaces). It returns the
// hashes by absolute path.
func parseMD5Sums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if len(line) < 35 || line[32] != ' ' || (line[33] != ' ' && line[33] != '*') {
			return nil, fmt.Errorf("line %d: not \"HASH  PATH\": %s", n+1, quote(line))
		}
		hash := line[:32]
		for i := 0; i < len(hash); i++ {
			if c := hash[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return nil, fmt.Errorf("line %d: hash %s is not 32 lower-case hex digits", n+1, quote(hash))
			}
		}
		p := "/" + strings.TrimPrefix(line[34:], "./")
		if err := checkPackagePath(p); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if _, dup := sums[p]; dup {
			return nil, fmt.Errorf("line %d: %s twice", n+1, quote(p))
		}
		sums[p] = hash
	}
	return sums, nil
}
