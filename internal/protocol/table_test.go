package protocol

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestInventoryWireRoundTrip(t *testing.T) {
	inv := Inventory{Hash: "h", Packages: []Package{
		{Ecosystem: "deb", Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", Arch: "amd64", SourceName: "util-linux", SourceVersion: "2.38.1-5+deb12u3"},
		{Ecosystem: "deb", Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64"},
	}, Updates: []Update{{Ecosystem: "deb", Name: "bash", ToVersion: "5.2.15-2+b8", AdvisoryIDs: []string{"x"}}},
		Errors: []SourceError{{Source: "rpm", Message: "no rpm"}}}
	var buf bytes.Buffer
	if err := EncodeInventory(&buf, inv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "}\ndeb\tbsdutils\t1:2.38.1-5+deb12u3\tamd64\tutil-linux\t2.38.1-5+deb12u3\ndeb\tbash\t5.2.15-2+b7\tamd64\t\t\n") {
		t.Fatalf("wire form %q", buf.String())
	}
	back, err := DecodeInventory(bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, inv) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, inv)
	}
	if _, err := DecodeInventory(bytes.NewReader(buf.Bytes()), 100); err != ErrInventoryTooLarge {
		t.Fatalf("over the limit: err = %v", err)
	}
	if err := EncodeInventory(&buf, Inventory{Packages: []Package{{Name: "a\tb"}}}); err == nil {
		t.Fatal("a tab inside a field was written")
	}
	for _, bad := range []string{"deb\tbash\n", "deb\tbash\t1\tamd64\t\t\t\n", "deb\tbash\t1\tamd64\t\t", "\n"} {
		if _, err := ParsePackageTable(bad); err == nil {
			t.Errorf("ParsePackageTable(%q) took a damaged table", bad)
		}
	}
	for _, bad := range []string{"", "{\"hash\":", "{\"hash\":\"x\"}", "[1]\n"} {
		if _, err := DecodeInventory(strings.NewReader(bad), 1<<20); err == nil {
			t.Errorf("DecodeInventory(%q) took it", bad)
		}
	}
}

// TestInventoryWireGoModules checks that Go modules travel whole: module
// paths and binary paths hold '/', versions have no "v", arch is empty.
func TestInventoryWireGoModules(t *testing.T) {
	inv := Inventory{Hash: "h", Packages: []Package{
		{Ecosystem: "deb", Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64"},
		{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/usr/local/bin/terraform"},
		{Ecosystem: "go", Name: "golang.org/x/net", Version: "0.17.0", SourceName: "/usr/local/bin/terraform"},
		{Ecosystem: "go", Name: "golang.org/x/net", Version: "0.17.0", SourceName: "/opt/app/bin/server"},
		{Ecosystem: "go", Name: "github.com/docker/docker", Version: "28.0.1+incompatible", SourceName: "/usr/lib/google-cloud-sdk/bin/kubectl.1.28"},
		{Ecosystem: "go", Name: "example.com/m", Version: "0.0.0-20231128133512-abcdef012345", SourceName: "/home/ünïcode/go/bin/m"},
	}, Updates: []Update{}, Errors: []SourceError{{Source: "go-binaries", Message: "/srv/x: permission denied"}}}
	var buf bytes.Buffer
	if err := EncodeInventory(&buf, inv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\ngo\tgolang.org/x/net\t0.17.0\t\t/opt/app/bin/server\t\n") {
		t.Fatalf("wire form %q", buf.String())
	}
	back, err := DecodeInventory(bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, inv) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, inv)
	}
	if InventoryHash(back) != InventoryHash(inv) {
		t.Fatal("the hash changed in transit")
	}
}

func FuzzDecodeInventory(f *testing.F) {
	f.Add("{\"hash\":\"h\",\"updates\":[]}\ndeb\tbash\t5.2.15-2+b7\tamd64\t\t\ndeb\tbsdutils\t1:2.38.1-5+deb12u3\tamd64\tutil-linux\t2.38.1-5+deb12u3\n")
	f.Add("{\"hash\":\"h\",\"updates\":[{\"ecosystem\":\"rpm\",\"name\":\"openssl-libs\",\"to_version\":\"1:3.0.7-28.el9\",\"security\":true}]}\nrpm\topenssl-libs\t1:3.0.7-27.el9\tx86_64\topenssl\t3.0.7-27.el9\n")
	f.Add("{}\n")
	f.Add("{\"hash\":\"h\"}\ngo\tstdlib\t1.22.5\t\t/usr/local/bin/terraform\t\ngo\tgolang.org/x/net\t0.17.0\t\t/opt/app/bin/server\t\n")
	f.Add("{\"errors\":[{\"source\":\"dpkg\",\"message\":\"truncated\"}]}\napk\tlibcrypto3\t3.3.2-r1\tx86_64\topenssl\t\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := DecodeInventory(strings.NewReader(s), 1<<20)
		if err != nil {
			return
		}
		// What decodes encodes and decodes again to the same inventory.
		var buf bytes.Buffer
		if err := EncodeInventory(&buf, inv); err != nil {
			t.Fatalf("decoded inventory does not encode: %v", err)
		}
		again, err := DecodeInventory(&buf, 1<<20)
		if err != nil || !reflect.DeepEqual(again.Packages, inv.Packages) {
			t.Fatalf("re-decoding %q: %v", s, err)
		}
	})
}
