package version

import (
	"cmp"
	"strings"
)

// This file is apk-tools 2.x's version comparison (src/version.c of v2.14.10)
// in Go: a scanner whose state, typ, is the kind of the token it reads next.
//
// The C source of v2.14.10 was not at hand; this follows the older
// src/version.c it derives from, with the two changes that the 20,000 pairs
// apk-tools v2.14.10 labelled (testdata/apk-v2.14.10-20000.tsv) require and
// that agree with every one of them: after a dot, a run of zeros leaves its
// last zero to the number that follows (so 3.0_alpha10 < 3.0), and a run of
// 18 or more digits makes the version invalid (so values fit in an int64).
// The data cannot tell that limit from "17 or more digits without the
// leading zeros"; the two differ only on numbers padded with many zeros.

// apk2MaxDigits is the length of the shortest run of digits apk-tools 2
// refuses.
const apk2MaxDigits = 18

// apk-tools 2 token kinds, in the order the C enum gives them: a kind may
// only be followed by a later one, with three exceptions (see next).
const (
	apk2KindInvalid int8 = iota - 1
	apk2KindDigitOrZero
	apk2KindDigit
	apk2KindLetter
	apk2KindSuffix
	apk2KindSuffixNo
	apk2KindRevisionNo
	apk2KindEnd
)

// apk-tools 2 suffixes, matched as prefixes in this order. Pre-release
// suffixes weigh -4 to -1, post-release ones 0 to 4.
var (
	apk2PreSuffixes  = [...]string{"alpha", "beta", "pre", "rc"}
	apk2PostSuffixes = [...]string{"cvs", "svn", "git", "hg", "p"}
)

type apk2Scanner struct {
	s   string
	i   int
	typ int8
	bad int // where the scanner turned invalid
}

func newAPK2Scanner(s string) apk2Scanner {
	return apk2Scanner{s: s, typ: apk2KindDigit, bad: -1}
}

func (sc *apk2Scanner) invalid(at int) {
	sc.typ = apk2KindInvalid
	sc.bad = at
}

// token reads the token of kind sc.typ and returns its value (get_token).
func (sc *apk2Scanner) token() int64 {
	rest := sc.s[sc.i:]
	if rest == "" {
		sc.typ = apk2KindEnd
		return 0
	}
	var v int64
	n := 0
	nextTyp := apk2KindInvalid
	switch sc.typ {
	case apk2KindDigitOrZero:
		if rest[0] == '0' {
			// Leading zeros but the last weigh minus their count, and the
			// digits from the last zero on are a token of their own:
			// 10.00 < 10.0 < 10.01.
			for n+1 < len(rest) && rest[n+1] == '0' {
				n++
			}
			nextTyp = apk2KindDigit
			v = -int64(n)
			break
		}
		fallthrough
	case apk2KindDigit, apk2KindSuffixNo, apk2KindRevisionNo:
		for n < len(rest) && isDigit(rest[n]) {
			v = v*10 + int64(rest[n]-'0')
			n++
			if n >= apk2MaxDigits {
				sc.invalid(sc.i)
				return -1
			}
		}
	case apk2KindLetter:
		v = int64(rest[0])
		n = 1
	case apk2KindSuffix:
		v, n = apk2Suffix(rest)
		if n == 0 {
			sc.invalid(sc.i)
			return -1
		}
	default:
		sc.invalid(sc.i)
		return -1
	}
	sc.i += n
	switch {
	case sc.i == len(sc.s):
		sc.typ = apk2KindEnd
	case nextTyp != apk2KindInvalid:
		sc.typ = nextTyp
	default:
		sc.next()
	}
	return v
}

// apk2Suffix returns the weight and length of the suffix rest starts with,
// or a length of 0 when it starts with none.
func apk2Suffix(rest string) (int64, int) {
	for k, suf := range apk2PreSuffixes {
		if strings.HasPrefix(rest, suf) {
			return int64(k - len(apk2PreSuffixes)), len(suf)
		}
	}
	for k, suf := range apk2PostSuffixes {
		if strings.HasPrefix(rest, suf) {
			return int64(k), len(suf)
		}
	}
	return 0, 0
}

// next decides the kind of the token at sc.i, consuming its separator if it
// has one (next_token). A NUL byte ends the version, as it ends a C string.
func (sc *apk2Scanner) next() {
	at := sc.i
	n := apk2KindInvalid
	switch {
	case sc.i >= len(sc.s) || sc.s[sc.i] == 0:
		n = apk2KindEnd
	case (sc.typ == apk2KindDigit || sc.typ == apk2KindDigitOrZero) && isLower(sc.s[sc.i]):
		n = apk2KindLetter
	case sc.typ == apk2KindLetter && isDigit(sc.s[sc.i]):
		n = apk2KindDigit
	case sc.typ == apk2KindSuffix && isDigit(sc.s[sc.i]):
		n = apk2KindSuffixNo
	default:
		switch sc.s[sc.i] {
		case '.':
			n = apk2KindDigitOrZero
		case '_':
			n = apk2KindSuffix
		case '-':
			if sc.i+1 < len(sc.s) && sc.s[sc.i+1] == 'r' {
				n = apk2KindRevisionNo
				sc.i++
			}
		}
		sc.i++
	}
	if n < sc.typ && !(n == apk2KindDigitOrZero && sc.typ == apk2KindDigit ||
		n == apk2KindSuffix && sc.typ == apk2KindSuffixNo ||
		n == apk2KindDigit && sc.typ == apk2KindLetter) {
		n = apk2KindInvalid
	}
	sc.typ = n
	if n == apk2KindInvalid {
		sc.bad = at
	}
}

// apk2Invalid returns where s stops being a valid apk-tools 2 version, or -1
// when it is valid (apk_version_validate, but "" is invalid).
func apk2Invalid(s string) int {
	if s == "" {
		return 0
	}
	sc := newAPK2Scanner(s)
	for sc.typ != apk2KindEnd && sc.typ != apk2KindInvalid {
		sc.token()
	}
	if sc.typ == apk2KindInvalid {
		return sc.bad
	}
	return -1
}

// compareAPK2 is apk-tools 2's apk_version_compare_blob_fuzzy: it orders any
// two strings, valid versions or not. With fuzzy, a version equals another
// that it shares a prefix of tokens with.
func compareAPK2(a, b string, fuzzy bool) int {
	if c, ok := apkCompareEmpty(a, b); ok {
		return c
	}
	sa, sb := newAPK2Scanner(a), newAPK2Scanner(b)
	var av, bv int64
	for sa.typ == sb.typ && sa.typ != apk2KindEnd && sa.typ != apk2KindInvalid && av == bv {
		av = sa.token()
		bv = sb.token()
	}
	if av != bv {
		return cmp.Compare(av, bv)
	}
	if sa.typ == sb.typ || fuzzy {
		return 0
	}
	// The common tokens are equal: the longer version is newer unless what
	// it has more of is a pre-release suffix.
	if sa.typ == apk2KindSuffix {
		if t := sa; t.token() < 0 {
			return -1
		}
	}
	if sb.typ == apk2KindSuffix {
		if t := sb; t.token() < 0 {
			return 1
		}
	}
	return -cmp.Compare(sa.typ, sb.typ)
}
