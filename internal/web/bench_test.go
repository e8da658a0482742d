package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
	"github.com/patchbay/patchbay/internal/web"
)

// clients is the number of concurrent HTTP clients the figure names.
const clients = 50

// loadHTTP drives url with clients concurrent keep-alive clients for b.N
// requests in all, over real loopback TCP, and reports requests per second
// and the median and 99th percentile latency.
func loadHTTP(b *testing.B, url, token string) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	get := func() (time.Duration, error) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	for range clients { // warm the connections
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
	work := make(chan struct{}, clients)
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	var failed error
	var once sync.Once
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				d, err := get()
				if err != nil {
					once.Do(func() { failed = err })
					continue
				}
				lat[i] = append(lat[i], d)
			}
		}()
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkHostsList is the figure: authenticated
// GET /api/v1/hosts?limit=100 on an empty store, 50 concurrent clients.
func BenchmarkHostsList(b *testing.B) {
	for _, eng := range storetest.Engines() {
		b.Run(string(eng), func(b *testing.B) {
			s := storetest.Open(b, eng)
			boot, err := s.Bootstrap(context.Background(), false)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(web.New(web.Config{Store: s}))
			defer srv.Close()
			loadHTTP(b, srv.URL+"/api/v1/hosts?limit=100", boot.Secret)
		})
	}
}

// BenchmarkHostsList100 lists a page of 100 hosts with labels, for scale.
func BenchmarkHostsList100(b *testing.B) {
	s := storetest.Open(b, store.SQLite)
	boot, _ := s.Bootstrap(context.Background(), false)
	for i := range 100 {
		s.CreateHost(context.Background(), "system", patchbay.Host{Hostname: fmt.Sprintf("h%03d", i), Labels: []string{"prod"}, Groups: []string{"web"}})
	}
	srv := httptest.NewServer(web.New(web.Config{Store: s}))
	defer srv.Close()
	loadHTTP(b, srv.URL+"/api/v1/hosts?limit=100", boot.Secret)
}

// BenchmarkTrivialHandler is the machine's ceiling under the same load
// generator: compare BenchmarkHostsList to it as a ratio.
func BenchmarkTrivialHandler(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":[]}`)
	}))
	defer srv.Close()
	loadHTTP(b, srv.URL, "")
}
