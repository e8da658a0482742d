package protocol

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Sort puts an inventory's packages and updates in the canonical order
// InventoryHash hashes them in.
func (inv *Inventory) Sort() {
	slices.SortFunc(inv.Packages, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
	})
	slices.SortFunc(inv.Updates, func(a, b Update) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.ToVersion, b.ToVersion))
	})
	slices.SortFunc(inv.Errors, func(a, b SourceError) int { return cmp.Compare(a.Source, b.Source) })
}

// InventoryHash returns the content hash of an inventory: the hex SHA-256 of
// its sorted packages, updates and source errors, every field
// length-prefixed. Two hosts with the same installed set, updates and errors
// have the same hash whatever order their package managers list them in.
func InventoryHash(inv Inventory) string {
	inv.Packages = slices.Clone(inv.Packages)
	inv.Updates = slices.Clone(inv.Updates)
	inv.Errors = slices.Clone(inv.Errors)
	inv.Sort()
	h := sha256.New()
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	flush := func() {
		b.WriteByte('\n')
		h.Write([]byte(b.String()))
		b.Reset()
	}
	for _, p := range inv.Packages {
		b.WriteString("P")
		for _, f := range []string{p.Ecosystem, p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion} {
			field(f)
		}
		flush()
	}
	for _, u := range inv.Updates {
		b.WriteString("U")
		sec := ""
		if u.Security {
			sec = "1"
		}
		for _, f := range []string{u.Ecosystem, u.Name, u.Arch, u.FromVersion, u.ToVersion, u.SourceName, u.SourceVersion,
			u.Origin, u.Archive, sec, u.AdvisoryType, u.Severity, strings.Join(u.AdvisoryIDs, ",")} {
			field(f)
		}
		flush()
	}
	for _, e := range inv.Errors {
		b.WriteString("E")
		field(e.Source)
		field(e.Message)
		flush()
	}
	return hex.EncodeToString(h.Sum(nil))
}
