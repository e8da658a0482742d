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
	buf := make([]byte, 0, 512)
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	flush := func() {
		buf = append(buf, '\n')
		h.Write(buf)
		buf = buf[:0]
	}
	for _, p := range inv.Packages {
		buf = append(buf, 'P')
		field(p.Ecosystem)
		field(p.Name)
		field(p.Version)
		field(p.Arch)
		field(p.SourceName)
		field(p.SourceVersion)
		flush()
	}
	for _, u := range inv.Updates {
		buf = append(buf, 'U')
		sec := ""
		if u.Security {
			sec = "1"
		}
		field(u.Ecosystem)
		field(u.Name)
		field(u.Arch)
		field(u.FromVersion)
		field(u.ToVersion)
		field(u.SourceName)
		field(u.SourceVersion)
		field(u.Origin)
		field(u.Archive)
		field(sec)
		field(u.AdvisoryType)
		field(u.Severity)
		field(strings.Join(u.AdvisoryIDs, ","))
		flush()
	}
	for _, e := range inv.Errors {
		buf = append(buf, 'E')
		field(e.Source)
		field(e.Message)
		flush()
	}
	return hex.EncodeToString(h.Sum(nil))
}
