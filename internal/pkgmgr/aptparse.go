package pkgmgr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/version"
)

// Parsers of apt's output, as apt 2.6 (Debian 12) prints it with LC_ALL=C.
// Each is strict about the lines it reads and ignores the others (progress
// and notes); a line it should understand and does not is an error naming
// the line, since guessing would report wrong updates.

// aptInst is one "Inst" line of apt-get -s: an upgrade of an installed
// package.
type aptInst struct {
	name     string // as apt prints it: "libc6", or "libc6:i386" for a foreign architecture
	arch     string // of the candidate: amd64, all, i386
	from, to string
	release  string // apt's summary of the candidate's releases, "Debian-Security:12/stable-security"
}

// parseAptSimulation parses apt-get -s output. An upgrade is a line
//
//	Inst NAME [OLD] (NEW RELEASES [ARCH])
//
// possibly followed by apt's notes in brackets (" []" for a package whose
// dependencies are momentarily broken in the simulated order). RELEASES is
// "LABEL:VERSION/ARCHIVE" or "LABEL:ARCHIVE" for each index the candidate
// is in, joined by ", " (pkgCache::VerIterator::RelStr). "Inst" lines
// without [OLD] install a new package (a new dependency), and are not
// updates; Conf, Remv and Purg lines are not either.
func parseAptSimulation(out []byte) ([]aptInst, error) {
	var ups []aptInst
	seen := map[string]int{}
	for n, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "Inst ")
		if !ok {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		u, isNew, err := parseInstLine(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %s", n+1, err, quote(line))
		}
		if isNew {
			continue
		}
		if first, dup := seen[u.name]; dup {
			return nil, fmt.Errorf("line %d: %s upgraded twice (first on line %d)", n+1, u.name, first)
		}
		seen[u.name] = n + 1
		ups = append(ups, u)
	}
	return ups, nil
}

func parseInstLine(rest string) (u aptInst, isNew bool, err error) {
	u.name, rest, _ = strings.Cut(rest, " ")
	base, arch, hasArch := strings.Cut(u.name, ":")
	if err := validDebName(base); err != nil {
		return u, false, fmt.Errorf("package name: %w", err)
	}
	if hasArch {
		if err := validDebArch(arch); err != nil {
			return u, false, fmt.Errorf("package name: %w", err)
		}
	}
	if strings.HasPrefix(rest, "[") {
		var ok bool
		u.from, rest, ok = strings.Cut(rest[1:], "] ")
		if !ok {
			return u, false, errors.New("no ] after the installed version")
		}
		if _, err := version.ParseDeb(u.from); err != nil {
			return u, false, err
		}
	} else {
		isNew = true
	}
	if !strings.HasPrefix(rest, "(") {
		return u, false, errors.New("no ( before the candidate")
	}
	end := strings.Index(rest, "])")
	if end < 0 {
		return u, false, errors.New("no [ARCH]) after the candidate")
	}
	inside := rest[1 : end+1] // "1.1 Label:archive [all]"
	if after := rest[end+2:]; after != "" && !strings.HasPrefix(after, " [") {
		return u, false, fmt.Errorf("unexpected text after the candidate: %s", quote(after))
	}
	b := strings.LastIndex(inside, " [")
	if b < 0 {
		return u, false, errors.New("no [ARCH] in the candidate")
	}
	u.arch = inside[b+2 : len(inside)-1]
	if err := validDebArch(u.arch); err != nil {
		return u, false, err
	}
	if hasArch && arch != u.arch {
		return u, false, fmt.Errorf("package %s, candidate architecture %s", u.name, u.arch)
	}
	u.to, u.release, _ = strings.Cut(inside[:b], " ")
	if _, err := version.ParseDeb(u.to); err != nil {
		return u, false, err
	}
	return u, isNew, nil
}

// parseAptPolicyFiles parses apt-cache policy without arguments: the
// package indexes, keyed by the description apt prints for them, with the
// fields of their releases. An index is a line " PRIORITY DESCRIPTION",
// followed by "release k=v,k=v..." and "origin HOST" lines; the list ends
// at "Pinned packages:".
func parseAptPolicyFiles(out []byte) (map[string]AptRelease, error) {
	files := map[string]AptRelease{}
	var cur string // the description of the index being read
	started := false
	for n, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if !started {
			if line != "Package files:" {
				return nil, fmt.Errorf("line %d: want \"Package files:\", got %s", n+1, quote(line))
			}
			started = true
			continue
		}
		if line == "Pinned packages:" {
			break
		}
		t := strings.TrimLeft(line, " ")
		if rest, ok := strings.CutPrefix(t, "release "); ok && cur != "" {
			r := files[cur]
			if err := parseReleaseFields(&r, rest); err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			files[cur] = r
			continue
		}
		if rest, ok := strings.CutPrefix(t, "origin "); ok && cur != "" {
			r := files[cur]
			r.Site = rest
			files[cur] = r
			continue
		}
		prio, desc, ok := strings.Cut(t, " ")
		if _, err := strconv.Atoi(prio); !ok || err != nil || desc == "" {
			return nil, fmt.Errorf("line %d: not \"PRIORITY INDEX\": %s", n+1, quote(line))
		}
		cur = desc
		if _, dup := files[desc]; !dup {
			files[desc] = AptRelease{Index: desc}
		}
	}
	if !started {
		return nil, errors.New("no \"Package files:\" line")
	}
	return files, nil
}

// parseReleaseFields reads "v=12.5,o=Debian,a=stable,n=bookworm,l=Debian,c=main,b=amd64".
// A value may hold a comma ("l=Foo, Inc."): a part that does not start with
// one of apt's keys continues the previous value.
func parseReleaseFields(r *AptRelease, s string) error {
	var parts []string
	for p := range strings.SplitSeq(s, ",") {
		if len(p) >= 2 && p[1] == '=' && strings.IndexByte("vonalcb", p[0]) >= 0 || len(parts) == 0 {
			parts = append(parts, p)
		} else {
			parts[len(parts)-1] += "," + p
		}
	}
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || len(k) != 1 {
			return fmt.Errorf("release field %s is not k=value", quote(p))
		}
		switch k {
		case "v":
			r.Version = v
		case "o":
			r.Origin = v
		case "a":
			r.Archive = v
		case "n":
			r.Codename = v
		case "l":
			r.Label = v
		case "c":
			r.Component = v
		case "b": // the architecture
		default:
			return fmt.Errorf("unknown release field %s", quote(p))
		}
	}
	return nil
}

// aptPolicy is what apt-cache policy NAME says of one package.
type aptPolicy struct {
	installed, candidate string
	versions             map[string][]string // version -> index descriptions, in order
}

// parseAptPolicyPackages parses apt-cache policy NAME...: for each package
// a block
//
//	NAME:
//	  Installed: 1.0
//	  Candidate: 1.1
//	  Version table:
//	     1.1 500
//	        500 http://deb.debian.org/debian bookworm/main amd64 Packages
//	 *** 1.0 100
//	        100 /var/lib/dpkg/status
//
// keyed by NAME as printed (without the architecture when it is native).
func parseAptPolicyPackages(out []byte) (map[string]aptPolicy, error) {
	pols := map[string]aptPolicy{}
	var name, ver string
	for n, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		bad := func(what string) error { return fmt.Errorf("line %d: %s: %s", n+1, what, quote(line)) }
		if line[0] != ' ' {
			h, ok := strings.CutSuffix(line, ":")
			if !ok || h == "" || strings.ContainsRune(h, ' ') {
				return nil, bad("not a package header")
			}
			if _, dup := pols[h]; dup {
				return nil, bad("package twice")
			}
			name, ver = h, ""
			pols[name] = aptPolicy{versions: map[string][]string{}}
			continue
		}
		if name == "" {
			return nil, bad("outside a package")
		}
		p := pols[name]
		indent := len(line) - len(strings.TrimLeft(line, " "))
		t := line[indent:]
		switch {
		case indent == 2:
			k, v, ok := strings.Cut(t, ": ")
			if t == "Version table:" {
				continue
			}
			if !ok {
				return nil, bad("not \"Key: value\"")
			}
			switch k {
			case "Installed":
				p.installed = v
			case "Candidate":
				p.candidate = v
			}
		case strings.HasPrefix(line, " *** ") || indent == 5:
			f := strings.Fields(strings.TrimPrefix(line, " *** "))
			if len(f) != 2 {
				return nil, bad("not \"VERSION PRIORITY\"")
			}
			if _, err := strconv.Atoi(f[1]); err != nil {
				return nil, bad("not \"VERSION PRIORITY\"")
			}
			ver = f[0]
			if _, dup := p.versions[ver]; !dup {
				p.versions[ver] = nil
			}
		case indent > 5:
			prio, desc, ok := strings.Cut(t, " ")
			if _, err := strconv.Atoi(prio); !ok || err != nil || desc == "" || ver == "" {
				return nil, bad("not \"PRIORITY INDEX\" under a version")
			}
			p.versions[ver] = append(p.versions[ver], desc)
		default:
			return nil, bad("unexpected indentation")
		}
		pols[name] = p
	}
	return pols, nil
}

// aptShowKey identifies a package version in apt-cache show output.
type aptShowKey struct{ name, arch, version string }

// aptSource is the source package a binary version is built from.
type aptSource struct{ name, version string }

// parseAptShow parses apt-cache show output, stanzas of "Field: value"
// lines separated by blank lines, into the source package of each binary
// version. Source is "NAME" or "NAME (VERSION)" (a binNMU, or a binary
// whose version differs from its source's); when absent, the source is the
// package itself (Debian Policy 5.6.1).
func parseAptShow(out []byte) (map[aptShowKey]aptSource, error) {
	srcs := map[aptShowKey]aptSource{}
	fields := map[string]string{}
	start := 0
	flush := func() error {
		if len(fields) == 0 {
			return nil
		}
		defer clear(fields)
		k := aptShowKey{fields["Package"], fields["Architecture"], fields["Version"]}
		if err := validDebName(k.name); err != nil {
			return fmt.Errorf("stanza at line %d: package: %w", start, err)
		}
		if err := validDebArch(k.arch); err != nil {
			return fmt.Errorf("stanza at line %d: %w", start, err)
		}
		if _, err := version.ParseDeb(k.version); err != nil {
			return fmt.Errorf("stanza at line %d: %w", start, err)
		}
		src := aptSource{k.name, k.version}
		if s, ok := fields["Source"]; ok {
			name, ver, hasVer := strings.Cut(s, " ")
			src.name = name
			if hasVer {
				inner, ok1 := strings.CutPrefix(ver, "(")
				inner, ok2 := strings.CutSuffix(inner, ")")
				if !ok1 || !ok2 {
					return fmt.Errorf("stanza at line %d: Source %s is not \"NAME (VERSION)\"", start, quote(s))
				}
				src.version = inner
			}
			if err := validDebName(src.name); err != nil {
				return fmt.Errorf("stanza at line %d: source: %w", start, err)
			}
			if _, err := version.ParseDeb(src.version); err != nil {
				return fmt.Errorf("stanza at line %d: source: %w", start, err)
			}
		}
		if prev, dup := srcs[k]; dup && prev != src {
			return fmt.Errorf("stanza at line %d: %s %s (%s) twice, with sources %v and %v", start, k.name, k.version, k.arch, prev, src)
		}
		srcs[k] = src
		return nil
	}
	for n, line := range strings.Split(string(out), "\n") {
		if line == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d: invalid UTF-8", n+1)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return nil, fmt.Errorf("line %d: continuation line outside a stanza", n+1)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: not \"Field: value\": %s", n+1, quote(line))
		}
		if len(fields) == 0 {
			start = n + 1
		}
		fields[k] = strings.TrimSpace(v)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return srcs, nil
}

// validDebName accepts a Debian package name (Policy 5.6.1): lower-case
// letters, digits, + - and ., starting with a letter or digit.
func validDebName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%s: empty or too long", quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && strings.IndexByte("+-.", c) >= 0 {
			continue
		}
		return fmt.Errorf("%s: character %q not allowed", quote(s), c)
	}
	return nil
}

// validDebArch accepts a Debian architecture name: amd64, all, i386, arm64.
func validDebArch(s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("architecture %s: empty or too long", quote(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("architecture %s: character %q not allowed", quote(s), c)
		}
	}
	return nil
}

// checkLine refuses invalid UTF-8 and control characters other than tab.
func checkLine(line string) error {
	if !utf8.ValidString(line) {
		return errors.New("invalid UTF-8")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("control character %q", c)
		}
	}
	return nil
}

// quote returns s quoted for a message, cut to 80 bytes.
func quote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "..."
	}
	return strconv.Quote(s)
}
