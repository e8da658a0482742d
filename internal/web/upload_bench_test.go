package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
	"github.com/patchbay/patchbay/internal/web"
)

// BenchmarkInventoryUpload is the server's whole cost of a full upload of
// 2,000 packages (gunzip, decode, validate, hash, store), without the
// network and without the agent's side.
func BenchmarkInventoryUpload(b *testing.B) {
	const hosts = 300
	fl, err := fleet.NewFleet(5, hosts, fleet.Options{Packages: 2000, ChangeRate: -1, Mix: map[string]float64{"debian-12": 1}})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, hosts)
	for i := range bodies {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		protocol.EncodeInventory(zw, fl.Inventory(i))
		zw.Close()
		bodies[i] = buf.Bytes()
	}
	s := storetest.Open(b, store.SQLite)
	ctx := context.Background()
	_, secret, _ := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "bench"})
	tokens := make([]string, hosts)
	for i := range tokens {
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: fmt.Sprintf("h%d", i)}})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = e.HostToken
	}
	srv := web.New(web.Config{Store: s})
	put := func(i int) {
		r := httptest.NewRequest("PUT", protocol.PathInventory, bytes.NewReader(bodies[i]))
		r.Header.Set("Authorization", "Bearer "+tokens[i])
		r.Header.Set("Content-Encoding", "gzip")
		r.Header.Set("Content-Type", protocol.ContentTypeInventory)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != 204 {
			b.Fatalf("upload: %d %s", w.Code, w.Body)
		}
	}
	put(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		put(1 + i%(hosts-1))
	}
}
