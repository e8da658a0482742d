package version

import (
	"cmp"
	"strings"
)

// This file is apk-tools 3's src/version.c (as of commit 90b974fd) in Go:
// Alpine version: digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}.

// apk-tools 3 token kinds, in the order that decides which may follow which
// and which version is older when one runs out of tokens first.
const (
	apk3KindInitialDigit uint8 = iota
	apk3KindDigit
	apk3KindLetter
	apk3KindSuffix
	apk3KindSuffixNo
	apk3KindCommitHash
	apk3KindRevisionNo
	apk3KindEnd
	apk3KindInvalid
)

// apk-tools 3 suffix weights: pre-release suffixes sort before none, post-
// release ones after.
const (
	apk3SuffixInvalid uint8 = iota
	apk3SuffixAlpha
	apk3SuffixBeta
	apk3SuffixPre
	apk3SuffixRC
	apk3SuffixNone
	apk3SuffixCVS
	apk3SuffixSVN
	apk3SuffixGit
	apk3SuffixHg
	apk3SuffixP
)

// apk3SuffixValue returns the weight of a whole run of lower-case letters
// after '_'.
func apk3SuffixValue(s string) uint8 {
	switch s {
	case "alpha":
		return apk3SuffixAlpha
	case "beta":
		return apk3SuffixBeta
	case "pre":
		return apk3SuffixPre
	case "rc":
		return apk3SuffixRC
	case "cvs":
		return apk3SuffixCVS
	case "svn":
		return apk3SuffixSVN
	case "git":
		return apk3SuffixGit
	case "hg":
		return apk3SuffixHg
	case "p":
		return apk3SuffixP
	}
	return apk3SuffixInvalid
}

// apk3Scanner holds the token it read last (token_state) and where it is.
type apk3Scanner struct {
	s      string
	i      int
	kind   uint8
	suffix uint8
	number uint64 // wraps past 2^64-1, as apk_blob_pull_uint does
	value  string
	bad    int // where the scanner turned invalid
}

// newAPK3Scanner reads the first token of s (token_first).
func newAPK3Scanner(s string) apk3Scanner {
	sc := apk3Scanner{s: s, kind: apk3KindInitialDigit, bad: -1}
	sc.digits()
	return sc
}

func (sc *apk3Scanner) invalid(at int) {
	sc.kind = apk3KindInvalid
	sc.bad = at
}

// digits reads a run of digits as the current token's value
// (token_parse_digits); an empty run makes the token invalid.
func (sc *apk3Scanner) digits() {
	start := sc.i
	sc.number = 0
	for sc.i < len(sc.s) && isDigit(sc.s[sc.i]) {
		sc.number = sc.number*10 + uint64(sc.s[sc.i]-'0')
		sc.i++
	}
	sc.value = sc.s[start:sc.i]
	if sc.value == "" {
		sc.invalid(start)
	}
}

// span returns the run of s from sc.i whose bytes satisfy in, and moves past it.
func (sc *apk3Scanner) span(in func(byte) bool) string {
	start := sc.i
	for sc.i < len(sc.s) && in(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

func isLowerHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

// next reads the next token, checking that it may follow the current one
// (token_next).
func (sc *apk3Scanner) next() {
	if sc.i == len(sc.s) {
		sc.kind = apk3KindEnd
		return
	}
	at := sc.i
	switch c := sc.s[sc.i]; {
	case isLower(c):
		if sc.kind > apk3KindDigit {
			sc.invalid(at)
			return
		}
		sc.value = sc.s[sc.i : sc.i+1]
		sc.kind = apk3KindLetter
		sc.i++
	case c == '.' || isDigit(c):
		if c == '.' {
			if sc.kind > apk3KindDigit {
				sc.invalid(at)
				return
			}
			sc.i++
		}
		switch sc.kind {
		case apk3KindInitialDigit, apk3KindDigit:
			sc.kind = apk3KindDigit
		case apk3KindSuffix:
			sc.kind = apk3KindSuffixNo
		default:
			sc.invalid(at)
			return
		}
		sc.digits()
	case c == '_':
		if sc.kind > apk3KindSuffixNo {
			sc.invalid(at)
			return
		}
		sc.i++
		sc.value = sc.span(isLower)
		sc.suffix = apk3SuffixValue(sc.value)
		if sc.suffix == apk3SuffixInvalid {
			sc.invalid(at)
			return
		}
		sc.kind = apk3KindSuffix
	case c == '~':
		if sc.kind >= apk3KindCommitHash {
			sc.invalid(at)
			return
		}
		sc.i++
		sc.value = sc.span(isLowerHex)
		if sc.value == "" {
			sc.invalid(at)
			return
		}
		sc.kind = apk3KindCommitHash
	case c == '-':
		if sc.kind >= apk3KindRevisionNo || !strings.HasPrefix(sc.s[sc.i:], "-r") {
			sc.invalid(at)
			return
		}
		sc.i += 2
		sc.kind = apk3KindRevisionNo
		sc.digits()
	default:
		sc.invalid(at)
	}
}

// apk3TokenCmp compares two tokens of the same kind (token_cmp).
func apk3TokenCmp(a, b *apk3Scanner) int {
	switch a.kind {
	case apk3KindDigit:
		if a.value[0] == '0' || b.value[0] == '0' {
			// A leading zero makes the component compare as a string, as
			// Gentoo does: 1.0 < 1.00 < 1.001 < 1.01.
			return strings.Compare(a.value, b.value)
		}
		return cmp.Compare(a.number, b.number)
	case apk3KindInitialDigit, apk3KindSuffixNo, apk3KindRevisionNo:
		return cmp.Compare(a.number, b.number)
	case apk3KindLetter:
		return cmp.Compare(a.value[0], b.value[0])
	case apk3KindSuffix:
		return cmp.Compare(a.suffix, b.suffix)
	}
	return strings.Compare(a.value, b.value) // commit hashes
}

// apk3Invalid returns where s stops being a valid apk-tools 3 version, or -1
// when it is valid (apk_version_validate).
func apk3Invalid(s string) int {
	sc := newAPK3Scanner(s)
	for sc.kind < apk3KindEnd {
		sc.next()
	}
	if sc.kind == apk3KindInvalid {
		return sc.bad
	}
	return -1
}

// compareAPK3 is apk-tools 3's apk_version_compare_fuzzy: it orders any two
// strings, valid versions or not. With fuzzy, a equals b when b's tokens are
// a prefix of a's (the ~ dependency operator: 3.6.9 ~ 3.6).
func compareAPK3(a, b string, fuzzy bool) int {
	if c, ok := apkCompareEmpty(a, b); ok {
		return c
	}
	sa, sb := newAPK3Scanner(a), newAPK3Scanner(b)
	for sa.kind == sb.kind && sa.kind < apk3KindEnd {
		if c := apk3TokenCmp(&sa, &sb); c != 0 {
			return c
		}
		sa.next()
		sb.next()
	}
	if sa.kind == sb.kind || sb.kind == apk3KindEnd && fuzzy {
		return 0
	}
	// The common tokens are equal: the longer version is newer unless what
	// it has more of is a pre-release suffix.
	if sa.kind == apk3KindSuffix && sa.suffix < apk3SuffixNone {
		return -1
	}
	if sb.kind == apk3KindSuffix && sb.suffix < apk3SuffixNone {
		return 1
	}
	return -cmp.Compare(sa.kind, sb.kind)
}
