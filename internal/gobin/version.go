package gobin

import "strings"

// StdlibVersion converts the toolchain version a Go binary records
// ("go1.22.5", "go1.21rc2", "go1.22.5 X:boringcrypto") to the version Go
// vulnerability records give the module "stdlib": semantic versioning
// without the "v", a missing patch number as 0 and a pre-release as "-rc.N"
// or "-beta.N" ("1.22.5", "1.21.0-rc.2"), as the Go vulnerability database
// converts release tags. Anything after the first space (experiments,
// a vendor's note) is ignored. ok is false for a toolchain that is not a
// release: a development build ("devel go1.24-abcdef…") or a vendor's
// branch build ("go1.22-20231128-RC02").
func StdlibVersion(goVersion string) (v string, ok bool) {
	tag, _, _ := strings.Cut(strings.TrimSpace(goVersion), " ")
	rest, ok := strings.CutPrefix(tag, "go")
	if !ok {
		return "", false
	}
	num, pre := rest, ""
	if i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		num, pre = rest[:i], rest[i:]
	}
	parts := strings.Split(num, ".")
	if len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !number(p) {
			return "", false
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	v = strings.Join(parts, ".")
	if pre == "" {
		return v, true
	}
	for _, kind := range []string{"rc", "beta"} {
		if n, ok := strings.CutPrefix(pre, kind); ok && number(n) {
			return v + "-" + kind + "." + n, true
		}
	}
	return "", false
}

// number reports whether s is a decimal number without leading zeros.
func number(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
