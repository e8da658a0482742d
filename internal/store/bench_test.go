package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// BenchmarkPutInventory stores full 2,000-package inventories of distinct
// hosts of one fleet (2% variation): the store's share of an upload.
func BenchmarkPutInventory(b *testing.B) {
	for _, eng := range storetest.Engines() {
		b.Run(string(eng), func(b *testing.B) {
			const hosts = 500
			fl, err := fleet.NewFleet(3, hosts, fleet.Options{Packages: 2000, ChangeRate: -1, Mix: map[string]float64{"debian-12": 1}})
			if err != nil {
				b.Fatal(err)
			}
			invs := make([]protocol.Inventory, hosts)
			for i := range invs {
				invs[i] = fl.Inventory(i)
			}
			s := storetest.Open(b, eng)
			ctx := context.Background()
			_, secret, _ := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "bench"})
			sessions := make([]*store.HostSession, hosts)
			for i := range sessions {
				e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: fmt.Sprintf("h%d", i)}})
				if err != nil {
					b.Fatal(err)
				}
				sessions[i], _ = s.AuthenticateHost(ctx, e.HostToken)
			}
			// Warm the interned packages as a running server would be.
			if err := s.PutInventory(ctx, sessions[0], invs[0]); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				h := 1 + i%(hosts-1)
				if err := s.PutInventory(ctx, sessions[h], invs[h]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
