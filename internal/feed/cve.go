package feed

import (
	"strings"

	"github.com/patchbay/patchbay/internal/osv"
)

// NormalizeCVE returns s as a canonical CVE id ("CVE-2023-23914") and true,
// or "" and false if s is not one. Surrounding space is trimmed and the
// prefix may be in any case; the year has four digits and the sequence
// number at least four (CVE's own syntax, as in KEV's schema, up to 19).
func NormalizeCVE(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 4 || !strings.EqualFold(s[:4], "CVE-") {
		return "", false
	}
	year, num, ok := strings.Cut(s[4:], "-")
	if !ok || len(year) != 4 || !allDigits(year) || len(num) < 4 || len(num) > 19 || !allDigits(num) {
		return "", false
	}
	return "CVE-" + year + "-" + num, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// CVEsOf returns the CVE ids a record names in its id, aliases, upstream and
// related fields, normalised, without duplicates, in that order. Ids that
// only embed a CVE ("DEBIAN-CVE-2008-1768") are not CVE ids and are left
// out: the plain CVE is listed beside them where it applies.
func CVEsOf(rec *osv.Record) []string {
	if rec == nil {
		return nil
	}
	var out []string
	seen := make(map[string]bool)
	add := func(ids ...string) {
		for _, id := range ids {
			if c, ok := NormalizeCVE(id); ok && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	add(rec.ID)
	add(rec.Aliases...)
	add(rec.Upstream...)
	add(rec.Related...)
	return out
}
