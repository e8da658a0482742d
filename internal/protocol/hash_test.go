package protocol

import (
	"fmt"
	"testing"
)

func TestInventoryHash(t *testing.T) {
	a := Inventory{Packages: []Package{
		{Ecosystem: "deb", Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64"},
		{Ecosystem: "deb", Name: "libssl3", Version: "3.0.15-1~deb12u1", Arch: "amd64", SourceName: "openssl"},
	}, Updates: []Update{{Ecosystem: "deb", Name: "libssl3", Arch: "amd64", FromVersion: "3.0.15-1~deb12u1", ToVersion: "3.0.17-1~deb12u2", Security: true}}}
	b := a
	b.Packages = []Package{a.Packages[1], a.Packages[0]}
	if InventoryHash(a) != InventoryHash(b) {
		t.Fatal("the hash depends on the order packages are listed in")
	}
	if b.Packages[0].Name != "libssl3" {
		t.Fatal("InventoryHash reordered its argument's packages")
	}
	for name, edit := range map[string]func(*Inventory){
		"version":  func(i *Inventory) { i.Packages[0].Version = "5.2.15-2+b8" },
		"source":   func(i *Inventory) { i.Packages[1].SourceName = "" },
		"boundary": func(i *Inventory) { i.Packages[0].Name, i.Packages[0].Version = "bash5", ".2.15-2+b7" },
		"security": func(i *Inventory) { i.Updates[0].Security = false },
		"error":    func(i *Inventory) { i.Errors = []SourceError{{Source: "dpkg", Message: "x"}} },
	} {
		c := a
		c.Packages = append([]Package(nil), a.Packages...)
		c.Updates = append([]Update(nil), a.Updates...)
		edit(&c)
		if InventoryHash(c) == InventoryHash(a) {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
}

// TestInventoryHashGoModules checks the canonical order where packages
// differ only in their source: the same Go module in two binaries.
func TestInventoryHashGoModules(t *testing.T) {
	mod := func(bin string) Package {
		return Package{Ecosystem: "go", Name: "golang.org/x/net", Version: "0.17.0", SourceName: bin}
	}
	a := Inventory{Packages: []Package{mod("/usr/local/bin/terraform"), mod("/opt/app/bin/server"), mod("/usr/bin/docker")}}
	b := Inventory{Packages: []Package{a.Packages[2], a.Packages[0], a.Packages[1]}}
	if InventoryHash(a) != InventoryHash(b) {
		t.Fatal("the hash depends on the order of the binaries holding a module")
	}
	a.Sort()
	b.Sort()
	if a.Packages[0] != b.Packages[0] || a.Packages[0].SourceName != "/opt/app/bin/server" {
		t.Fatalf("Sort is not canonical for packages that differ in source: %+v, %+v", a.Packages, b.Packages)
	}
}

func BenchmarkInventoryHash2000(b *testing.B) {
	inv := Inventory{}
	for i := range 2000 {
		inv.Packages = append(inv.Packages, Package{Ecosystem: "deb", Name: fmt.Sprintf("package-%04d", i), Version: "1.2.3-4+deb12u1", Arch: "amd64"})
	}
	b.ReportAllocs()
	for b.Loop() {
		InventoryHash(inv)
	}
}
