package certs_test

import (
	"encoding/hex"
	"testing"

	"github.com/patchbay/patchbay/internal/certs"
)

func FuzzNormalizeFingerprint(f *testing.F) {
	for _, s := range []string{
		"3f9a0c1e5b7d2a4c6e8f0b1d3a5c7e9f1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a",
		"SHA256:3F:9A:0C:1E:5B:7D:2A:4C:6E:8F:0B:1D:3A:5C:7E:9F:1B:3D:5F:7A:9C:1E:3B:5D:7F:9A:1C:3E:5B:7D:9F:1A",
		"", "zz", "sha256:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := certs.NormalizeFingerprint(s)
		if err != nil {
			return
		}
		b, derr := hex.DecodeString(got)
		if derr != nil || len(b) != 32 {
			t.Fatalf("NormalizeFingerprint(%q) = %q, not 64 hex digits", s, got)
		}
		again, err := certs.NormalizeFingerprint(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeFingerprint is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
