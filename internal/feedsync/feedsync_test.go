package feedsync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feedsync"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// feedServer serves the real DSA list with an ETag, or what fail says.
func feedServer(t *testing.T, fail *atomic.Value) (*httptest.Server, *atomic.Int32) {
	list, err := os.ReadFile("../feed/testdata/debian-security-tracker-2023-04/DSA/list")
	if err != nil {
		t.Fatal(err)
	}
	var full atomic.Int32 // answers with a body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f, _ := fail.Load().(string); f {
		case "500":
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		case "garbage":
			w.Write([]byte("this is not a feed"))
			return
		}
		if r.Header.Get("If-None-Match") == `"dsa-1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"dsa-1"`)
		w.Write(list)
	}))
	t.Cleanup(srv.Close)
	return srv, &full
}

func TestScheduledSync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var fail atomic.Value
		srv, full := feedServer(t, &fail)
		url := srv.URL + "/DSA/list"
		f := &feedsync.Fetcher{Store: s, Client: feedsync.NewClient(10 * time.Second), MaxBytes: 64 << 20}

		res, err := f.Fetch(ctx, "system:feed-sync", url, true)
		if err != nil || res.Kind != "debian-tracker" || res.Added < 5000 {
			t.Fatalf("first sync: %+v, %v", res, err)
		}
		src, _ := s.FeedSource(ctx, url)
		if src.ETag != `"dsa-1"` || src.LastSuccess == nil || src.LastError != "" || !strings.Contains(src.LastSummary, "added") {
			t.Fatalf("state after the first sync: %+v", src)
		}
		// The second sync sends the ETag and gets a 304: nothing imported.
		res, err = f.Fetch(ctx, "system:feed-sync", url, true)
		if err != nil || !res.NotModified || full.Load() != 1 {
			t.Fatalf("second sync: %+v, %v (%d full answers)", res, err, full.Load())
		}
		advs, _, _, _ := s.FeedCounts(ctx)

		// A failing feed: the error is recorded, the validators and the
		// advisories stay.
		for _, mode := range []string{"500", "garbage"} {
			fail.Store(mode)
			if _, err := f.Fetch(ctx, "system:feed-sync", url, true); err == nil {
				t.Fatalf("%s: no error", mode)
			}
			src, _ = s.FeedSource(ctx, url)
			if src.LastError == "" || src.ETag != `"dsa-1"` {
				t.Fatalf("%s: state %+v", mode, src)
			}
		}
		if n, _, _, _ := s.FeedCounts(ctx); n != advs {
			t.Fatalf("failed syncs changed the advisories: %d -> %d", advs, n)
		}

		// A feed that never answers ends at the client's time limit.
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer hang.Close()
		slow := &feedsync.Fetcher{Store: s, Client: feedsync.NewClient(300 * time.Millisecond), MaxBytes: 1 << 20}
		start := time.Now()
		if _, err := slow.Fetch(ctx, "system:feed-sync", hang.URL, true); patchbay.ErrorCodeOf(err) != patchbay.EUnavailable || time.Since(start) > 5*time.Second {
			t.Fatalf("a feed that never answers: %v after %v", err, time.Since(start))
		}
	})
}

func TestSyncerRunsAndNudges(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	var fail atomic.Value
	srv, _ := feedServer(t, &fail)
	nudged := make(chan struct{}, 1)
	sy := &feedsync.Syncer{
		Fetcher:  &feedsync.Fetcher{Store: s, Client: feedsync.NewClient(10 * time.Second), MaxBytes: 64 << 20},
		URLs:     []string{srv.URL + "/DSA/list"},
		Interval: time.Hour, Holder: "test",
		OnImport: func() { nudged <- struct{}{} },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sy.Run(ctx); close(done) }()
	select {
	case <-nudged:
	case <-time.After(30 * time.Second):
		t.Fatal("the syncer did not import within 30 s")
	}
	cancel()
	<-done
}

func TestClientRefusesLinkLocal(t *testing.T) {
	c := feedsync.NewClient(2 * time.Second)
	_, err := c.Get("http://169.254.169.254/latest/meta-data/")
	if err == nil || !strings.Contains(err.Error(), "link-local") {
		t.Fatalf("fetching from the metadata address: %v", err)
	}
}
