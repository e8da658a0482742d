package pkgmgr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/version"
)

// Parsers of dnf 4's output (Debian 12's dnf 4.14, with -q and LC_ALL=C).

// dnfPackage is one line of repoquery output in dnfQueryFormat.
type dnfPackage struct {
	name, epoch, version, release, arch, repo string
	sourceName, sourceVersion                 string // from the source rpm's file name
}

// evr returns [epoch:]version-release, without a zero epoch, as dnf prints
// it.
func (p dnfPackage) evr() string {
	vr := p.version + "-" + p.release
	if p.epoch == "" || p.epoch == "0" {
		return vr
	}
	return p.epoch + ":" + vr
}

// parseDnfQuery parses repoquery output in dnfQueryFormat. The gpg-pubkey
// pseudo-packages are left out.
func parseDnfQuery(out []byte) ([]dnfPackage, error) {
	var pkgs []dnfPackage
	err := eachRPMLine(out, 7, func(f []string) error {
		p := dnfPackage{name: f[0], epoch: f[1], version: f[2], release: f[3], arch: f[4], repo: f[5]}
		if err := validRPMPackage(p); err != nil {
			return err
		}
		if srpm := f[6]; srpm != "" && srpm != "(none)" {
			var err error
			if p.sourceName, p.sourceVersion, err = pkgdb.ParseSourceRPM(srpm); err != nil {
				return fmt.Errorf("source rpm %s: %w", quote(srpm), err)
			}
		}
		pkgs = append(pkgs, p)
		return nil
	})
	return pkgs, err
}

// eachRPMLine calls each with the fields of every line of out, a query's
// output of n tab-separated fields a package, the name first. Empty lines
// and the gpg-pubkey pseudo-packages (public keys) are left out; an error
// names its line.
func eachRPMLine(out []byte, n int, each func(f []string) error) error {
	for i, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		f := strings.Split(line, "\t")
		if len(f) != n {
			return fmt.Errorf("line %d: %d fields, want %d: %s", i+1, len(f), n, quote(line))
		}
		if f[0] == "gpg-pubkey" {
			continue
		}
		if err := each(f); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return nil
}

func validRPMPackage(p dnfPackage) error {
	for _, f := range []struct{ what, v string }{
		{"name", p.name}, {"version", p.version}, {"release", p.release}, {"arch", p.arch}, {"repository", p.repo},
	} {
		if f.v == "" || len(f.v) > 256 || strings.ContainsAny(f.v, " \t") {
			return fmt.Errorf("package %s: bad %s %s", quote(p.name), f.what, quote(f.v))
		}
	}
	if strings.ContainsRune(p.version, '-') || strings.ContainsRune(p.release, '-') {
		return fmt.Errorf("package %s: hyphen in version %s or release %s", quote(p.name), quote(p.version), quote(p.release))
	}
	if p.epoch != "" {
		if _, err := strconv.ParseUint(p.epoch, 10, 32); err != nil {
			return fmt.Errorf("package %s: bad epoch %s", quote(p.name), quote(p.epoch))
		}
	}
	if _, err := version.ParseRPM(p.evr()); err != nil {
		return fmt.Errorf("package %s: %w", quote(p.name), err)
	}
	return nil
}

// dnfAdvisoryRef is a line of dnf updateinfo list: an advisory that
// applies to one package version.
type dnfAdvisoryRef struct {
	id, typ, severity string
	name, evr, arch   string
}

// parseUpdateinfoList parses dnf updateinfo list --updates: lines
//
//	ID TYPE NAME-[EPOCH:]VERSION-RELEASE.ARCH
//
// where TYPE is bugfix, enhancement, newpackage, unknown, or for a security
// advisory its severity: Critical/Sec., Important/Sec., Moderate/Sec.,
// Low/Sec., Unknown/Sec. (dnf/cli/commands/updateinfo.py).
func parseUpdateinfoList(out []byte) ([]dnfAdvisoryRef, error) {
	var refs []dnfAdvisoryRef
	for n, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: %d fields, want 3 (ID TYPE NEVRA): %s", n+1, len(f), quote(line))
		}
		r := dnfAdvisoryRef{id: f[0], typ: f[1]}
		if sev, ok := strings.CutSuffix(f[1], "/Sec."); ok {
			r.typ = "security"
			if sev != "Unknown" {
				r.severity = sev
			}
		}
		var err error
		if r.name, r.evr, r.arch, err = splitNEVRA(f[2]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// splitNEVRA splits name-[epoch:]version-release.arch.
func splitNEVRA(s string) (name, evr, arch string, err error) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || dot == len(s)-1 {
		return "", "", "", fmt.Errorf("%s: no architecture", quote(s))
	}
	nvr := s[:dot]
	arch = s[dot+1:]
	r := strings.LastIndexByte(nvr, '-')
	if r <= 0 || r == len(nvr)-1 {
		return "", "", "", fmt.Errorf("%s: no release", quote(s))
	}
	v := strings.LastIndexByte(nvr[:r], '-')
	if v <= 0 || v == r-1 {
		return "", "", "", fmt.Errorf("%s: no version", quote(s))
	}
	return nvr[:v], nvr[v+1:], arch, nil
}

// dnfAdvisory is what dnf updateinfo info says of an advisory.
type dnfAdvisory struct{ typ, severity string }

// parseUpdateinfoInfo parses dnf updateinfo info: for each advisory, its
// title between two lines of "=", then lines "LABEL: value", the labels
// right-aligned, a value of several lines continued by lines with an empty
// label ("           : more"). Of these, Update ID, Type and Severity are
// kept, by id.
func parseUpdateinfoInfo(out []byte) (map[string]dnfAdvisory, error) {
	advs := map[string]dnfAdvisory{}
	var id string
	var cur dnfAdvisory
	state := 0 // 0: before a header, 1: in the title, 2: in the fields
	flush := func(line int) error {
		if state != 2 {
			return nil
		}
		if id == "" {
			return fmt.Errorf("line %d: advisory without an Update ID", line)
		}
		if _, dup := advs[id]; dup {
			return fmt.Errorf("line %d: advisory %s twice", line, id)
		}
		advs[id] = cur
		id, cur = "", dnfAdvisory{}
		return nil
	}
	lines := strings.Split(string(out), "\n")
	for n, line := range lines {
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(line) >= 10 && strings.Trim(line, "=") == "" {
			switch state {
			case 1:
				state = 2
			default:
				if err := flush(n + 1); err != nil {
					return nil, err
				}
				state = 1
			}
			continue
		}
		switch {
		case state == 1:
			continue // the title
		case state == 0:
			if strings.TrimSpace(line) != "" {
				return nil, fmt.Errorf("line %d: text before the first advisory: %s", n+1, quote(line))
			}
			continue
		case strings.TrimSpace(line) == "":
			continue
		}
		label, value, ok := strings.Cut(line, ": ")
		if !ok {
			label, ok = strings.CutSuffix(line, ":") // an empty value
		}
		if !ok {
			return nil, fmt.Errorf("line %d: not \"LABEL: value\": %s", n+1, quote(line))
		}
		switch strings.TrimSpace(label) {
		case "Update ID":
			id = strings.TrimSpace(value)
		case "Type":
			cur.typ = strings.TrimSpace(value)
		case "Severity":
			cur.severity = strings.TrimSpace(value)
		}
	}
	if state == 1 {
		return nil, errors.New("output ends inside an advisory's title")
	}
	if err := flush(len(lines)); err != nil {
		return nil, err
	}
	return advs, nil
}
