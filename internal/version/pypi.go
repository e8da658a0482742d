package version

import (
	"cmp"
	"fmt"
	"strings"
)

// PyPIVersion is a Python package version as PEP 440 defines it:
// [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], after normalisation of the
// other spellings PEP 440 accepts (1.0RC1, 1.0-post1, 1.0-1, v1.0, ...).
type PyPIVersion struct {
	raw     string
	epoch   string // digits; "" is 0
	release string // digits and dots, as written
	pre     uint8  // pypiPre*
	preN    string // digits; "" is 0
	hasPost bool
	postN   string
	hasDev  bool
	devN    string
	local   string // as written, without the '+'; "" when absent
}

// Pre-release kinds, in their order.
const (
	pypiPreNone uint8 = iota
	pypiPreA
	pypiPreB
	pypiPreRC
)

// pypiSpace is what packaging strips from both ends (Python's \s, as far as
// ASCII goes).
const pypiSpace = " \t\n\r\f\v\x1c\x1d\x1e\x1f"

// Pre-release spellings, longest first so that a prefix does not win, and
// their kinds.
var pypiPreLabels = [...]struct {
	label string
	kind  uint8
}{
	{"preview", pypiPreRC}, {"alpha", pypiPreA}, {"beta", pypiPreB}, {"pre", pypiPreRC},
	{"rc", pypiPreRC}, {"a", pypiPreA}, {"b", pypiPreB}, {"c", pypiPreRC},
}

// ParsePyPI parses s as a PEP 440 version, as the packaging library's Version
// does: case-insensitively, around surrounding white space, with the
// alternative spellings of pre-, post- and dev-releases. Legacy versions that
// are not PEP 440 are errors.
func ParsePyPI(s string) (PyPIVersion, error) {
	v := PyPIVersion{raw: s}
	p := pep440Scanner{s: strings.Trim(s, pypiSpace)}
	if p.s == "" {
		return PyPIVersion{}, parseError(PyPI, s, "empty version")
	}
	if c := p.peek(0); c == 'v' || c == 'V' {
		p.i++
	}
	if n := p.digitsLen(); n > 0 && p.peek(n) == '!' {
		v.epoch = p.s[p.i : p.i+n]
		p.i += n + 1
	}
	start := p.i
	if p.digits() == "" {
		return PyPIVersion{}, parseError(PyPI, s, "no release number")
	}
	for p.peek(0) == '.' && isDigit(p.peek(1)) {
		p.i++
		p.digits()
	}
	v.release = p.s[start:p.i]

	save := p.i
	p.separator()
	if kind, ok := p.preLabel(); ok {
		v.pre = kind
		p.separator()
		v.preN = p.digits()
	} else {
		p.i = save
	}

	save = p.i
	if p.peek(0) == '-' && isDigit(p.peek(1)) {
		p.i++
		v.hasPost, v.postN = true, p.digits()
	} else if p.separator(); p.label("post") || p.label("rev") || p.label("r") {
		p.separator()
		v.hasPost, v.postN = true, p.digits()
	} else {
		p.i = save
	}

	save = p.i
	if p.separator(); p.label("dev") {
		p.separator()
		v.hasDev, v.devN = true, p.digits()
	} else {
		p.i = save
	}

	if p.peek(0) == '+' {
		p.i++
		start := p.i
		if p.alnums() == 0 {
			return PyPIVersion{}, parseError(PyPI, s, "empty local version")
		}
		for isPEP440Separator(p.peek(0)) && isAlnum(p.peek(1)) {
			p.i++
			p.alnums()
		}
		v.local = p.s[start:p.i]
	}
	if p.i != len(p.s) {
		return PyPIVersion{}, parseError(PyPI, s, fmt.Sprintf("invalid at %q", p.s[p.i:]))
	}
	return v, nil
}

// pep440Scanner walks a version from left to right; peek returns 0 past the end.
type pep440Scanner struct {
	s string
	i int
}

func (p *pep440Scanner) peek(k int) byte { return byteAt(p.s, p.i+k) }

func (p *pep440Scanner) digitsLen() int {
	n := 0
	for isDigit(p.peek(n)) {
		n++
	}
	return n
}

func (p *pep440Scanner) digits() string {
	n := p.digitsLen()
	p.i += n
	return p.s[p.i-n : p.i]
}

func (p *pep440Scanner) alnums() int {
	n := 0
	for isAlnum(p.peek(n)) {
		n++
	}
	p.i += n
	return n
}

func isPEP440Separator(c byte) bool { return c == '.' || c == '-' || c == '_' }

// separator skips one optional separator.
func (p *pep440Scanner) separator() {
	if isPEP440Separator(p.peek(0)) {
		p.i++
	}
}

// label skips l, in any case, if the version goes on with it.
func (p *pep440Scanner) label(l string) bool {
	if len(p.s)-p.i < len(l) || !strings.EqualFold(p.s[p.i:p.i+len(l)], l) {
		return false
	}
	p.i += len(l)
	return true
}

func (p *pep440Scanner) preLabel() (uint8, bool) {
	for _, l := range pypiPreLabels {
		if p.label(l.label) {
			return l.kind, true
		}
	}
	return pypiPreNone, false
}

// String returns the version as parsed.
func (v PyPIVersion) String() string { return v.raw }

// Normalized returns the normal form PEP 440 gives the version, which is what
// str(packaging.version.Version(s)) prints: 1.0RC1 is 1.0rc1, 1.0-1 is
// 1.0.post1, v01.02 is 1.2, 1.0+Ubuntu-1 is 1.0+ubuntu.1.
func (v PyPIVersion) Normalized() string {
	var b strings.Builder
	if e := trimZeros(v.epoch); e != "0" {
		b.WriteString(e)
		b.WriteByte('!')
	}
	for i, seg := range strings.Split(v.release, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(trimZeros(seg))
	}
	if v.pre != pypiPreNone {
		b.WriteString([...]string{pypiPreA: "a", pypiPreB: "b", pypiPreRC: "rc"}[v.pre])
		b.WriteString(trimZeros(v.preN))
	}
	if v.hasPost {
		b.WriteString(".post")
		b.WriteString(trimZeros(v.postN))
	}
	if v.hasDev {
		b.WriteString(".dev")
		b.WriteString(trimZeros(v.devN))
	}
	if v.local != "" {
		b.WriteByte('+')
		for rest, first := v.local, true; rest != ""; first = false {
			var seg string
			seg, rest = cutPEP440Segment(rest)
			if !first {
				b.WriteByte('.')
			}
			if allDigits(seg) {
				seg = trimZeros(seg)
			}
			b.WriteString(strings.ToLower(seg))
		}
	}
	return b.String()
}

// trimZeros returns the number a run of digits spells, without leading zeros.
func trimZeros(d string) string {
	d = strings.TrimLeft(d, "0")
	if d == "" {
		return "0"
	}
	return d
}

// Compare returns -1, 0 or 1 as v sorts before, the same as or after w in
// PEP 440's order: epoch; release, with trailing zeros ignored (1.0 == 1);
// then dev-releases of the release before its pre-releases, pre-releases
// (a < b < rc) before the release, the release before its post-releases,
// and each of those before its own dev-releases; then no local version
// before a local version, and local versions segment by segment, numbers
// after words.
func (v PyPIVersion) Compare(w PyPIVersion) int {
	if c := cmpDigits(v.epoch, w.epoch); c != 0 {
		return c
	}
	if c := cmpPEP440Release(v.release, w.release); c != 0 {
		return c
	}
	if c := cmp.Compare(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if v.pre != pypiPreNone {
		if c := cmp.Compare(v.pre, w.pre); c != 0 {
			return c
		}
		if c := cmpDigits(v.preN, w.preN); c != 0 {
			return c
		}
	}
	if c := cmpBool(v.hasPost, w.hasPost); c != 0 {
		return c
	}
	if c := cmpDigits(v.postN, w.postN); c != 0 {
		return c
	}
	if c := cmpBool(!v.hasDev, !w.hasDev); c != 0 {
		return c
	}
	if c := cmpDigits(v.devN, w.devN); c != 0 {
		return c
	}
	return cmpPEP440Local(v.local, w.local)
}

// preRank places a version among the releases of its release number: -1 for
// a dev-release of the release itself (1.0.dev1), 0 for a pre-release, 1
// for the release and its post-releases.
func (v PyPIVersion) preRank() int {
	switch {
	case v.pre != pypiPreNone:
		return 0
	case !v.hasPost && v.hasDev:
		return -1
	}
	return 1
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// cmpPEP440Release compares dot-separated release numbers, the shorter padded
// with zeros.
func cmpPEP440Release(a, b string) int {
	for a != "" || b != "" {
		var sa, sb string
		sa, a, _ = strings.Cut(a, ".")
		sb, b, _ = strings.Cut(b, ".")
		if c := cmpDigits(sa, sb); c != 0 {
			return c
		}
	}
	return 0
}

// cmpPEP440Local compares local versions: absent first, then segment by
// segment (separators are all alike), numbers numerically and after words,
// words case-insensitively; fewer segments first.
func cmpPEP440Local(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	for a != "" && b != "" {
		var sa, sb string
		sa, a = cutPEP440Segment(a)
		sb, b = cutPEP440Segment(b)
		na, nb := allDigits(sa), allDigits(sb)
		var c int
		switch {
		case na && nb:
			c = cmpDigits(sa, sb)
		case na:
			c = 1
		case nb:
			c = -1
		default:
			c = cmpFold(sa, sb)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b)) // only the one with segments left is non-empty
}

func cutPEP440Segment(s string) (seg, rest string) {
	for i := 0; i < len(s); i++ {
		if isPEP440Separator(s[i]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// cmpFold compares ASCII strings as their lower-case forms compare.
func cmpFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Compare(lower(a[i]), lower(b[i])); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
