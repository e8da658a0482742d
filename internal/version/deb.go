package version

import (
	"cmp"
	"math"
	"strings"
)

// DebVersion is a Debian package version, [epoch:]upstream[-revision], split
// as dpkg splits it: the epoch ends at the first colon and the revision starts
// after the last hyphen.
type DebVersion struct {
	Epoch    uint32 // 0 when absent; dpkg caps it at 2147483647
	Upstream string
	Revision string // "" when absent, which sorts as "0" does
	raw      string
}

// ParseDeb parses s as dpkg does before comparing: it fails where
// dpkg --compare-versions fails (empty version, embedded space, empty,
// non-numeric, negative or too big epoch, nothing after the colon, empty
// upstream version, empty revision) and accepts what dpkg only warns about (an
// upstream version that does not start with a digit, characters outside
// those Debian Policy allows), so that it orders every version dpkg orders,
// and the same way. Leading and trailing blanks are trimmed, as dpkg does.
// ParseDebStrict rejects the warned-about versions too.
//
// Where this differs from dpkg: dpkg reads an empty argument as no version
// at all, which sorts first; here it is an error, as a NUL byte is.
func ParseDeb(s string) (DebVersion, error) {
	v, reason, _ := parseDeb(s)
	if reason != "" {
		return DebVersion{}, parseError(Deb, s, reason)
	}
	return v, nil
}

// ParseDebStrict is ParseDeb that also rejects what dpkg accepts but Debian
// Policy (5.6.12) does not: an epoch with a sign or white space ("+1:2",
// which dpkg's strtol reads), an upstream version that does not start with a
// digit, and characters other than letters, digits and . + ~ - : in the
// upstream version or . + ~ in the revision (dpkg warns about the last two).
func ParseDebStrict(s string) (DebVersion, error) {
	v, reason, warning := parseDeb(s)
	if reason == "" {
		reason = warning
	}
	if reason != "" {
		return DebVersion{}, parseError(Deb, s, reason)
	}
	return v, nil
}

// parseDeb follows dpkg's parseversion (lib/dpkg/parsehelp.c). It returns
// the reason s is not a version, or else the first warning dpkg would print.
func parseDeb(s string) (v DebVersion, reason, warning string) {
	t := strings.Trim(s, " \t")
	switch {
	case t == "":
		return v, "empty version", ""
	case strings.ContainsAny(t, " \t"):
		return v, "embedded space", ""
	case strings.IndexByte(t, 0) >= 0:
		return v, "NUL byte", ""
	}
	v.raw = t
	if colon := strings.IndexByte(t, ':'); colon >= 0 {
		// dpkg reads the epoch with strtol, which skips white space and
		// takes a sign; Debian Policy wants plain digits.
		epoch := strings.TrimLeft(t[:colon], "\n\v\f\r")
		sign := ""
		if epoch != "" && (epoch[0] == '+' || epoch[0] == '-') {
			sign, epoch = epoch[:1], epoch[1:]
		}
		if epoch == "" {
			return v, "empty epoch", ""
		}
		var n uint64
		for i := 0; i < len(epoch); i++ {
			if !isDigit(epoch[i]) {
				return v, "epoch is not a number", ""
			}
			n = n*10 + uint64(epoch[i]-'0')
			if n > math.MaxInt32 {
				return v, "epoch is too big", ""
			}
		}
		switch {
		case sign == "-" && n > 0:
			return v, "negative epoch", ""
		case sign != "" || len(epoch) < colon:
			warning = "epoch is not plain digits"
		}
		v.Epoch = uint32(n)
		t = t[colon+1:]
		if t == "" {
			return v, "nothing after the epoch colon", ""
		}
	}
	v.Upstream = t
	if hyphen := strings.LastIndexByte(t, '-'); hyphen >= 0 {
		v.Upstream, v.Revision = t[:hyphen], t[hyphen+1:]
		if v.Revision == "" {
			return v, "empty revision", ""
		}
	}
	if v.Upstream == "" {
		return v, "empty upstream version", ""
	}
	if warning != "" {
		return v, "", warning
	}
	if !isDigit(v.Upstream[0]) {
		return v, "", "upstream version does not start with a digit"
	}
	for i := 0; i < len(v.Upstream); i++ {
		if c := v.Upstream[i]; !isAlnum(c) && strings.IndexByte(".-+~:", c) < 0 {
			return v, "", "invalid character in upstream version"
		}
	}
	for i := 0; i < len(v.Revision); i++ {
		if c := v.Revision[i]; !isAlnum(c) && strings.IndexByte(".+~", c) < 0 {
			return v, "", "invalid character in revision"
		}
	}
	return v, "", ""
}

// String returns the version as parsed, without surrounding blanks.
func (v DebVersion) String() string { return v.raw }

// Compare returns -1, 0 or 1 as v sorts before, the same as or after w in
// dpkg's order: epochs numerically, then upstream versions, then revisions.
func (v DebVersion) Compare(w DebVersion) int {
	if c := cmp.Compare(v.Epoch, w.Epoch); c != 0 {
		return c
	}
	if c := debVerRevCmp(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return debVerRevCmp(v.Revision, w.Revision)
}

// debOrder is the weight of a non-digit character in dpkg's order: '~'
// before the end of the string, the end before letters, letters before
// everything else.
func debOrder(c byte) int {
	switch {
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	case c >= 0x80:
		// dpkg computes c + 256 on a plain char, which is signed on amd64
		// (where the oracle test runs): bytes from 0x80 come out as themselves,
		// between the letters and the ASCII punctuation.
		return int(c)
	}
	return int(c) + 256
}

// debVerRevCmp is dpkg's verrevcmp: alternate runs of non-digits, compared
// character by character with debOrder, and runs of digits, compared as
// numbers. The end of a string weighs 0, as a digit does.
func debVerRevCmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := 0, 0
			if i < len(a) && !isDigit(a[i]) {
				ac = debOrder(a[i])
			}
			if j < len(b) && !isDigit(b[j]) {
				bc = debOrder(b[j])
			}
			if ac != bc {
				return cmp.Compare(ac, bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = cmp.Compare(a[i], b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}
