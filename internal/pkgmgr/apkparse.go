package pkgmgr

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// Parsers of apk-tools 2.x's files and output (Alpine 3.22 and older ship
// 2.14), for ApkJobs. Each format is apk's own, as its sources write it:
// database.c (the installed database, the world file), app_policy.c,
// commit.c (the solver's errors) and package.c (script errors); see
// testdata/apk/README.md for the captures that pin them down.

// apkInstalled is what ApkJobs keeps of one package of apk's installed
// database, lib/apk/db/installed.
type apkInstalled struct {
	Name, Version, Arch string
	// Checksum is the package's identity, the C: field: "Q1" and the
	// base64 of a SHA-1 (an MD5 in hex for very old packages). apk names
	// a package's file in its cache after it.
	Checksum string
	// Flags is the f: field, which apk writes for a package it could not
	// finish: f (files missing or not written), s (a maintainer script
	// failed), x (extended attributes not applied); S only says the file
	// checksums are SHA-256 cut to 160 bits, no fault.
	Flags string
}

// broken returns why apk holds p unfinished, "" when it does not: what
// apk fix repairs.
func (p apkInstalled) broken() string {
	var why []string
	if strings.Contains(p.Flags, "s") {
		why = append(why, "a maintainer script failed")
	}
	if strings.Contains(p.Flags, "f") {
		why = append(why, "files missing or not written")
	}
	if strings.Contains(p.Flags, "x") {
		why = append(why, "extended attributes not applied")
	}
	return strings.Join(why, ", ")
}

// cacheTag returns the 8 hexadecimal digits apk puts in the name of p's
// file in its cache (NAME-VERSION.TAG.apk): the first four bytes of the
// identity checksum (apk_pkg_format_cache_pkg); "" when the checksum is
// not one apk writes.
func (p apkInstalled) cacheTag() string {
	var sum []byte
	var err error
	if rest, ok := strings.CutPrefix(p.Checksum, "Q1"); ok {
		sum, err = base64.StdEncoding.DecodeString(rest)
	} else {
		sum, err = hex.DecodeString(p.Checksum)
	}
	if err != nil || len(sum) < 4 {
		return ""
	}
	return hex.EncodeToString(sum[:4])
}

// parseApkInstalled parses apk's installed database: one block of "K:value"
// lines per package, each block ending with a line shorter than two bytes
// (apk writes an empty one), as apk_db_fdb_read reads it. It keeps P, V, A,
// C and f; every block must have P and V. Virtual packages (apk add
// --virtual .name) are packages like the others here.
func parseApkInstalled(data []byte) ([]apkInstalled, error) {
	var (
		pkgs  []apkInstalled
		cur   *apkInstalled
		start int
		seen  = map[string]int{}
	)
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		n := i + 1
		if len(line) < 2 {
			if cur == nil {
				continue
			}
			if cur.Name == "" || cur.Version == "" {
				return nil, fmt.Errorf("line %d: package without P: or V:", start)
			}
			if first, dup := seen[cur.Name]; dup {
				return nil, fmt.Errorf("line %d: package %s listed twice (first on line %d)", start, cur.Name, first)
			}
			seen[cur.Name] = start
			pkgs = append(pkgs, *cur)
			cur = nil
			continue
		}
		if line[1] != ':' {
			return nil, fmt.Errorf("line %d: not a \"K:value\" line: %s", n, quote(line))
		}
		if cur == nil {
			cur, start = &apkInstalled{}, n
		}
		value := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = value
		case 'V':
			cur.Version = value
		case 'A':
			cur.Arch = value
		case 'C':
			cur.Checksum = value
		case 'f':
			cur.Flags = value
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: file ends inside a package block (truncated?)", start)
	}
	return pkgs, nil
}

// apkDep is one dependency of apk's world file (etc/apk/world): what the
// host asks apk to keep installed, "name", "name=1.2-r0", "name<2",
// "name@edge", "!name", ".virtual".
type apkDep struct {
	Conflict bool   // "!name": never install it
	Name     string //
	Tag      string // "@edge": only from repositories with that tag
	// Op is "", "=", "<", ">", "<=", ">=", "~" (apk's fuzzy match: the
	// version starts with Version's tokens) or "><" (one build, by its
	// checksum).
	Op      string
	Version string
}

func (d apkDep) String() string {
	s := d.Name + d.Tag + d.Op + d.Version
	if d.Conflict {
		s = "!" + s
	}
	return s
}

// parseApkWorld parses apk's world file: dependencies separated by white
// space, each [!]name[@tag][op version], as apk_blob_pull_dep reads them.
func parseApkWorld(data []byte) ([]apkDep, error) {
	var deps []apkDep
	for _, f := range strings.Fields(string(data)) {
		d, err := parseApkDep(f)
		if err != nil {
			return nil, err
		}
		deps = append(deps, d)
	}
	return deps, nil
}

// parseApkDep parses one dependency.
func parseApkDep(s string) (apkDep, error) {
	var d apkDep
	rest := s
	if r, ok := strings.CutPrefix(rest, "!"); ok {
		d.Conflict, rest = true, r
	}
	end := strings.IndexAny(rest, "@<>=~")
	if end < 0 {
		end = len(rest)
	}
	d.Name, rest = rest[:end], rest[end:]
	if d.Name == "" {
		return apkDep{}, fmt.Errorf("dependency %s: no package name", quote(s))
	}
	if strings.HasPrefix(rest, "@") {
		end := strings.IndexAny(rest, "<>=~")
		if end < 0 {
			end = len(rest)
		}
		d.Tag, rest = rest[:end], rest[end:]
		if d.Tag == "@" {
			return apkDep{}, fmt.Errorf("dependency %s: empty repository tag", quote(s))
		}
	}
	end = strings.IndexFunc(rest, func(r rune) bool { return !strings.ContainsRune("<>=~", r) })
	if end < 0 {
		end = len(rest)
	}
	d.Op, d.Version = rest[:end], rest[end:]
	switch d.Op {
	case "", "=", "<", ">", "<=", ">=", "~", "><":
	case "=~", "~=":
		d.Op = "~"
	default:
		return apkDep{}, fmt.Errorf("dependency %s: unknown operator %s", quote(s), quote(d.Op))
	}
	if (d.Op == "") != (d.Version == "") {
		return apkDep{}, fmt.Errorf("dependency %s: an operator needs a version and a version an operator", quote(s))
	}
	return d, nil
}

// satisfiedBy reports whether version v of d's package meets d's version
// constraint, as apk-tools 2 compares versions. A checksum constraint
// ("><", one build) is not met by a version; an unparsable version meets
// nothing.
func (d apkDep) satisfiedBy(v string) bool {
	if d.Op == "" {
		return true
	}
	if d.Op == "><" {
		return false
	}
	if d.Op == "~" {
		// apk's fuzzy match compares tokens until the constraint's run
		// out: 1.2 matches 1.2, 1.2.3, 1.2-r4 and 1.2_rc1, not 1.20.
		rest, ok := strings.CutPrefix(v, d.Version)
		return ok && (rest == "" || rest[0] < '0' || rest[0] > '9')
	}
	a, err := version.ParseAPK(version.APK2, v)
	if err != nil {
		return false
	}
	b, err := version.ParseAPK(version.APK2, d.Version)
	if err != nil {
		return false
	}
	c := a.Compare(b)
	switch d.Op {
	case "=":
		return c == 0
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	}
	return false
}

// apkPolicyVersion is one version of a package as apk policy lists it,
// with where apk could take it from: "lib/apk/db/installed" (the
// installed package), a repository's URL or path, "@tag URL" for a
// repository with a tag.
type apkPolicyVersion struct {
	Version string
	Sources []string
}

// inRepository reports whether apk would install v from a repository
// without a tag: a source other than the installed database
// ("lib/apk/db/installed", "lib/apk/db-uvol/installed") and not tagged
// (a tagged repository's packages are installed only when asked by tag).
func (v apkPolicyVersion) inRepository() bool {
	for _, s := range v.Sources {
		if !strings.HasSuffix(s, "/installed") && !strings.HasPrefix(s, "@") {
			return true
		}
	}
	return false
}

// parseApkPolicy parses the output of apk policy NAME... (app_policy.c):
//
//	story-pb policy:
//	  1.0-r0:
//	    lib/apk/db/installed
//	  1.1-r0:
//	    https://dl-cdn.alpinelinux.org/alpine/v3.20/main
//
// A name apk does not know prints nothing.
func parseApkPolicy(out []byte) (map[string][]apkPolicyVersion, error) {
	pols := map[string][]apkPolicyVersion{}
	name := ""
	for i, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		switch {
		case !strings.HasPrefix(line, " "):
			n, ok := strings.CutSuffix(line, " policy:")
			if !ok || n == "" || strings.ContainsAny(n, " \t") {
				return nil, fmt.Errorf("line %d: not \"NAME policy:\": %s", i+1, quote(line))
			}
			if _, dup := pols[n]; dup {
				return nil, fmt.Errorf("line %d: package %s listed twice", i+1, n)
			}
			name = n
			pols[name] = []apkPolicyVersion{}
		case strings.HasPrefix(line, "    ") && len(line) > 4 && line[4] != ' ':
			vs := pols[name]
			if name == "" || len(vs) == 0 {
				return nil, fmt.Errorf("line %d: a source before its version: %s", i+1, quote(line))
			}
			vs[len(vs)-1].Sources = append(vs[len(vs)-1].Sources, line[4:])
		case strings.HasPrefix(line, "  ") && len(line) > 2 && line[2] != ' ':
			v, ok := strings.CutSuffix(line[2:], ":")
			if !ok || v == "" || strings.ContainsAny(v, " \t") || name == "" {
				return nil, fmt.Errorf("line %d: not \"  VERSION:\" of a package: %s", i+1, quote(line))
			}
			pols[name] = append(pols[name], apkPolicyVersion{Version: v})
		default:
			return nil, fmt.Errorf("line %d: unexpected indentation: %s", i+1, quote(line))
		}
	}
	return pols, nil
}

// apkProblem is one entry of the solver's "unable to select packages"
// report (commit.c, apk_solver_print_errors): a label, the package chosen
// ("story-pb-1.0-r0") or a name it could not satisfy ("story-pb (no such
// package)", "so:libx.so.1 (virtual)"), and under it what the package
// breaks, satisfies or conflicts with, what requires a missing name, and
// the repositories that mask it.
type apkProblem struct {
	Label string
	Items map[string][]string // "breaks", "satisfies", "conflicts", "required by", "masked in", "provided by", "note"
}

// parseApkProblems returns the entries of every "unable to select
// packages:" report in output, stdout and stderr together. The report's
// lines are indented: two spaces before a label, four before "key:
// items", more before items apk wrapped onto the next line. It never
// fails: text that is not part of a report is passed over.
func parseApkProblems(output string) []apkProblem {
	var probs []apkProblem
	in := false
	key := ""
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasSuffix(line, "unable to select packages:"):
			in, key = true, ""
		case !in:
		case strings.HasPrefix(line, "  ") && len(line) > 3 && line[2] != ' ' && strings.HasSuffix(line, ":"):
			label := strings.TrimSuffix(line[2:], ":")
			probs = append(probs, apkProblem{Label: label, Items: map[string][]string{}})
			key = ""
		case strings.HasPrefix(line, "    ") && len(line) > 4 && line[4] != ' ' && len(probs) > 0:
			k, items, ok := strings.Cut(line[4:], ": ")
			if !ok {
				k, ok = strings.CutSuffix(line[4:], ":")
			}
			if !ok || k == "" {
				in = false
				continue
			}
			key = k
			p := probs[len(probs)-1]
			p.Items[key] = append(p.Items[key], strings.Fields(items)...)
		case strings.HasPrefix(line, "     ") && strings.TrimSpace(line) != "" && len(probs) > 0 && key != "":
			p := probs[len(probs)-1]
			p.Items[key] = append(p.Items[key], strings.Fields(line)...)
		default:
			in = false
		}
	}
	return probs
}

// name returns the package name of a problem's label: "story-pb" of
// "story-pb-1.0-r0", "story-pb (no such package)" and "story-pb (virtual)".
func (p apkProblem) name() string {
	if n, _, ok := strings.Cut(p.Label, " ("); ok {
		return n
	}
	if n, _, ok := splitApkNameVersion(p.Label); ok {
		return n
	}
	return p.Label
}

// String returns the problem on one line, as apk's report says it.
func (p apkProblem) String() string {
	var parts []string
	for _, k := range []string{"masked in", "conflicts", "breaks", "satisfies", "required by", "provided by", "note"} {
		if items := p.Items[k]; len(items) > 0 {
			parts = append(parts, k+": "+strings.Join(items, " "))
		}
	}
	if len(parts) == 0 {
		return p.Label
	}
	return p.Label + ": " + strings.Join(parts, "; ")
}

// worldConstraint returns the constraint of the world file named by an
// item of the report, "world[story-pb=1.0-r0]"; ok is false for items of
// packages ("storyapp-pb-2.0-r0[story-pb]").
func worldConstraint(item string) (apkDep, bool) {
	inner, ok := strings.CutPrefix(item, "world[")
	if !ok || !strings.HasSuffix(inner, "]") {
		return apkDep{}, false
	}
	d, err := parseApkDep(strings.TrimSuffix(inner, "]"))
	return d, err == nil
}

// apkScriptError is apk's report of a maintainer script that failed:
// "ERROR: story-pb-1.1-r0.post-upgrade: script exited with error 1"
// (apk_db_run_script; the script's name is PACKAGE-VERSION.TYPE).
type apkScriptError struct {
	Name, Version, Script string
	Status                int
}

var apkScriptErrorRE = regexp.MustCompile(`^ERROR: (\S+)\.(pre-install|post-install|pre-deinstall|post-deinstall|pre-upgrade|post-upgrade|trigger): script exited with error (\d+)$`)

// parseApkScriptErrors returns the script failures apk reported in
// output.
func parseApkScriptErrors(output string) []apkScriptError {
	var errs []apkScriptError
	for _, line := range strings.Split(output, "\n") {
		m := apkScriptErrorRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		name, ver, ok := splitApkNameVersion(m[1])
		status, err := strconv.Atoi(m[3])
		if !ok || err != nil {
			continue
		}
		errs = append(errs, apkScriptError{Name: name, Version: ver, Script: m[2], Status: status})
	}
	return errs
}

// apkErrorLines returns apk's "ERROR: " lines in output, without the
// prefix.
func apkErrorLines(output string) []string {
	var out []string
	for _, line := range strings.Split(output, "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "ERROR: "); ok {
			out = append(out, msg)
		}
	}
	return out
}

// splitApkNameVersion splits "story-pb-1.0-r0" (a package file's name
// without ".apk", a script's, a report's label) into name and version as
// apk_pkg_parse_name does: the version starts after the last '-' that is
// followed by a digit, with at most one '-' not followed by a digit after
// it (the one of "-r0").
func splitApkNameVersion(s string) (name, ver string, ok bool) {
	dashes := 0
	for i := len(s) - 2; i >= 0; i-- {
		if s[i] != '-' {
			continue
		}
		if c := s[i+1]; '0' <= c && c <= '9' {
			if i == 0 {
				return "", "", false
			}
			return s[:i], s[i+1:], true
		}
		if dashes++; dashes >= 2 {
			return "", "", false
		}
	}
	return "", "", false
}
