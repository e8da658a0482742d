package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// splitDeb splits v as dpkg does: the epoch (with its colon) ends at the
// first colon, the revision starts after the last hyphen.
func splitDeb(v string) (ep, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		ep, v = v[:i+1], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return ep, v[:i], v[i+1:]
	}
	return ep, v, ""
}

func joinDeb(ep, upstream, revision string) string {
	if revision == "" {
		return ep + upstream
	}
	return ep + upstream + "-" + revision
}

// addLast adds d to the last run of digits in s.
func addLast(s string, d int) (string, bool) {
	end := strings.LastIndexFunc(s, isDigit)
	if end < 0 {
		return "", false
	}
	begin := strings.LastIndexFunc(s[:end+1], func(r rune) bool { return !isDigit(r) }) + 1
	n, err := strconv.Atoi(s[begin : end+1])
	if err != nil || n+d < 0 || end+1-begin > 9 {
		return "", false
	}
	return s[:begin] + strconv.Itoa(n+d) + s[end+1:], true
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// pick returns the first candidate, in a seeded order, that want accepts
// against v.
func (g *generator) pick(v string, want func(c int) bool, cands []string, fallback string) string {
	g.r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, c := range append(cands, fallback) {
		if c == "" {
			continue
		}
		if r, err := version.Compare(version.Deb, c, v); err == nil && want(r) {
			return c
		}
	}
	panic(fmt.Sprintf("osvgen: no version for %q", v))
}

func greater(c int) bool { return c > 0 }

func less(c int) bool { return c < 0 }

// above returns a version later than v, as the next security update, the
// next Debian revision or a new upstream release would be.
func (g *generator) above(v string) string {
	ep, u, rev := splitDeb(v)
	last := lastPart(u, rev)
	var cands []string
	if m := securityUpdate.FindStringSubmatch(last); m != nil {
		n, _ := strconv.Atoi(m[2])
		cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])+"+deb"+m[1]+"u"+strconv.Itoa(n+1)))
	} else {
		cands = append(cands, withLast(ep, u, rev, last+"+deb12u1"))
		if r2, ok := addLast(rev, 1); ok && rev != "" {
			cands = append(cands, joinDeb(ep, u, r2))
		}
	}
	if u2, ok := addLast(u, 1); ok {
		r := ""
		if rev != "" {
			r = "1"
		}
		cands = append(cands, joinDeb(ep, u2, r))
	}
	return g.pick(v, greater, cands, joinDeb(ep, u+".1", rev))
}

// below returns a version earlier than v: the one before its security
// update, an earlier Debian revision or an earlier upstream release.
func (g *generator) below(v string) string {
	ep, u, rev := splitDeb(v)
	last := lastPart(u, rev)
	var cands []string
	if m := securityUpdate.FindStringSubmatch(last); m != nil {
		cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])))
		if n, _ := strconv.Atoi(m[2]); n > 1 {
			cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])+"+deb"+m[1]+"u"+strconv.Itoa(n-1)))
		}
	} else if r2, ok := addLast(rev, -1); ok && rev != "" {
		cands = append(cands, joinDeb(ep, u, r2))
	}
	if u2, ok := addLast(u, -1); ok {
		cands = append(cands, joinDeb(ep, u2, rev))
	}
	return g.pick(v, less, cands, joinDeb(ep, u+"~0", rev))
}

// lastPart is the part of a version a security update suffix goes on: the
// revision, or the upstream version of a native package.
func lastPart(u, rev string) string {
	if rev == "" {
		return u
	}
	return rev
}

// withLast returns ep:u-rev with lastPart(u, rev) replaced by s.
func withLast(ep, u, rev, s string) string {
	if rev == "" {
		return ep + s
	}
	return joinDeb(ep, u, s)
}

// prerelease returns the pre-release of v's upstream version, U~rc1-1,
// which dpkg orders before U-anything.
func (g *generator) prerelease(v string) string {
	ep, u, rev := splitDeb(v)
	r := ""
	if rev != "" {
		r = "1"
	}
	return g.pick(v, less, nil, joinDeb(ep, u+"~rc1", r))
}

// release returns v without its last ~ part (0.55.7~deb12u1 → 0.55.7),
// which dpkg orders after v.
func (g *generator) release(v string) string {
	ep, u, rev := splitDeb(v)
	if i := strings.LastIndexByte(rev, '~'); i > 0 {
		rev = rev[:i]
	} else if i := strings.LastIndexByte(u, '~'); i > 0 {
		u = u[:i]
	}
	return g.pick(v, greater, nil, joinDeb(ep, u, rev))
}

// nextEpoch returns an earlier-looking version under the next epoch, which
// orders after v whatever the rest says.
func (g *generator) nextEpoch(v string) string {
	ep, u, rev := splitDeb(v)
	n := 0
	if ep != "" {
		n, _ = strconv.Atoi(strings.TrimSuffix(ep, ":"))
	}
	low := g.below(joinDeb("", u, rev))
	return g.pick(v, greater, nil, strconv.Itoa(n+1)+":"+low)
}

// dropEpoch returns a later-looking version of an epoch-carrying v without
// the epoch, which orders before v.
func (g *generator) dropEpoch(v string) string {
	_, u, rev := splitDeb(v)
	return g.pick(v, less, nil, g.above(joinDeb("", u, rev)))
}
