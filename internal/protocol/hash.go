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
	slices.SortFunc(inv.Packages, comparePackages)
	slices.SortFunc(inv.Updates, compareUpdates)
	slices.SortFunc(inv.Errors, func(a, b SourceError) int { return cmp.Compare(a.Source, b.Source) })
}

// comparePackages orders packages by every field: the source breaks ties
// between the same Go module in two binaries (no package database lists
// one name, arch and version twice).
func comparePackages(a, b Package) int {
	return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.SourceName, b.SourceName), cmp.Compare(a.SourceVersion, b.SourceVersion))
}

func compareUpdates(a, b Update) int {
	return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.ToVersion, b.ToVersion))
}

// sorted reports whether inv is already in canonical order, as agents send
// it: hashing then needs no copy.
func (inv *Inventory) sorted() bool {
	return slices.IsSortedFunc(inv.Packages, comparePackages) && slices.IsSortedFunc(inv.Updates, compareUpdates) &&
		slices.IsSortedFunc(inv.Errors, func(a, b SourceError) int { return cmp.Compare(a.Source, b.Source) })
}

// InventoryHash returns the content hash of an inventory: the hex SHA-256 of
// its sorted packages (as table lines), updates and source errors (every
// field length-prefixed). Two hosts with the same installed set, updates and errors
// have the same hash whatever order their package managers list them in.
func InventoryHash(inv Inventory) string {
	if !inv.sorted() {
		inv.Packages = slices.Clone(inv.Packages)
		inv.Updates = slices.Clone(inv.Updates)
		inv.Errors = slices.Clone(inv.Errors)
		inv.Sort()
	}
	h := sha256.New()
	// Packages hash as their table lines: no field holds a tab or newline
	// (the server refuses control characters), so lines are unambiguous.
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, "P\n"...)
	for _, p := range inv.Packages {
		buf, _ = appendPackageLine(buf, p)
		if len(buf) > 60<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	buf = buf[:0]
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
