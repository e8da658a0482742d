package feedload

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

const maxFetch = 4 << 20

// TestFetchValidators checks a 200 with validators, then a 304 for them.
func TestFetchValidators(t *testing.T) {
	body := readFile(t, epssGzPath)
	const etag = `"epss-2025-08-25"`
	const lastMod = "Mon, 25 Aug 2025 12:55:00 GMT"
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Clone())
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(body)
	}))
	defer srv.Close()

	res, err := Fetch(t.Context(), srv.Client(), srv.URL+"/epss.csv.gz", Validators{}, maxFetch)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if res.NotModified || !bytes.Equal(res.Data, body) || res.ETag != etag || res.LastModified != lastMod || res.ContentType != "application/gzip" {
		t.Fatalf("Fetch = %+v; want the body, ETag %s, Last-Modified %s", res, etag, lastMod)
	}
	if b, err := LoadBytes(t.Context(), "epss.csv.gz", res.Data); err != nil || b.Kind != KindEPSS {
		t.Errorf("LoadBytes(fetched) = %v, %v; want EPSS", b, err)
	}

	res2, err := Fetch(t.Context(), srv.Client(), srv.URL+"/epss.csv.gz", Validators{ETag: res.ETag, LastModified: res.LastModified}, maxFetch)
	if err != nil {
		t.Fatalf("Fetch with validators: %v", err)
	}
	// The 304 repeated no validators: the ones sent are kept.
	if want := (FetchResult{NotModified: true, ETag: etag, LastModified: lastMod}); !equalResult(res2, want) {
		t.Errorf("Fetch with validators = %+v, want %+v", res2, want)
	}
	if len(got) != 2 || got[0].Get("If-None-Match") != "" || got[1].Get("If-None-Match") != etag || got[1].Get("If-Modified-Since") != lastMod {
		t.Errorf("requests had headers %v; want none, then If-None-Match %s and If-Modified-Since %s", got, etag, lastMod)
	}
}

func equalResult(a, b FetchResult) bool {
	return a.NotModified == b.NotModified && bytes.Equal(a.Data, b.Data) && a.ETag == b.ETag &&
		a.LastModified == b.LastModified && a.ContentType == b.ContentType
}

// TestFetchFailures checks each way a feed server can fail.
func TestFetchFailures(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream database is down", http.StatusInternalServerError)
	})
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/304", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/206", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusPartialContent)
		w.Write([]byte("part"))
	})
	mux.HandleFunc("/never", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/csv\r\n\r\n")
		buf.Write(readFile(t, epssPath)[:300])
		buf.Flush()
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2<<10))
	})
	mux.HandleFunc("/large-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			w.Write(make([]byte, 1<<10))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	tests := []struct {
		name     string
		path     string
		maxBytes int64
		timeout  time.Duration // of the context
		client   time.Duration // http.Client.Timeout
		code     patchbay.ErrorCode
		parts    []string
	}{
		{"500", "/500", maxFetch, 0, 0, patchbay.EUnavailable, []string{srv.URL + "/500", "500 Internal Server Error", "upstream database is down"}},
		{"404", "/404", maxFetch, 0, 0, patchbay.EUnavailable, []string{srv.URL + "/404", "404 Not Found"}},
		{"206 unasked", "/206", maxFetch, 0, 0, patchbay.EUnavailable, []string{"206 Partial Content"}},
		{"never answers", "/never", maxFetch, 200 * time.Millisecond, 0, patchbay.EUnavailable, []string{srv.URL + "/never", "no complete answer", "deadline exceeded"}},
		{"truncated body", "/truncated", maxFetch, 0, 0, patchbay.EUnavailable, []string{"cut off after 300 bytes (Content-Length 1000)", "truncated download"}},
		{"over maxBytes", "/large", 1 << 10, 0, 0, patchbay.ETooLarge, []string{"2048 bytes, more than the limit of 1024"}},
		{"over maxBytes chunked", "/large-chunked", 1 << 10, 0, 0, patchbay.ETooLarge, []string{"more than the limit of 1024 bytes"}},
		{"redirect to file", "/to-file", maxFetch, 0, 0, patchbay.EInvalid, []string{"redirected to file:///etc/passwd", "only http and https"}},
		{"never answers, client timeout", "/never", maxFetch, 0, 200 * time.Millisecond, patchbay.EUnavailable, []string{srv.URL + "/never", "within the client's timeout"}},
		{"304 unasked", "/304", maxFetch, 0, 0, patchbay.EUnavailable, []string{"304 Not Modified to a request without validators"}},
		{"redirect loop", "/loop", maxFetch, 0, 0, patchbay.EUnavailable, []string{"stopped after 10 redirects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			client := srv.Client()
			client.Timeout = tt.client
			start := time.Now()
			res, err := Fetch(ctx, client, srv.URL+tt.path, Validators{}, tt.maxBytes)
			if err == nil {
				t.Fatalf("Fetch(%s) = %d bytes, want an error", tt.path, len(res.Data))
			}
			if res.Data != nil {
				t.Errorf("Fetch(%s): %d bytes of data with the error", tt.path, len(res.Data))
			}
			if got := patchbay.ErrorCodeOf(err); got != tt.code {
				t.Errorf("Fetch(%s): code %s, want %s (%v)", tt.path, got, tt.code, err)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("Fetch(%s): error %q does not say %q", tt.path, err, p)
				}
			}
			if tt.timeout > 0 || tt.client > 0 {
				if !errors.Is(err, context.DeadlineExceeded) && tt.timeout > 0 {
					t.Errorf("Fetch(%s): error %v does not wrap context.DeadlineExceeded", tt.path, err)
				}
				if d := time.Since(start); d > tt.timeout+tt.client+2*time.Second {
					t.Errorf("Fetch(%s) took %v with a timeout of %v", tt.path, d, tt.timeout+tt.client)
				}
			}
		})
	}
}

// TestFetchRefusedURLs checks that only http and https URLs without
// credentials are fetched, and that messages never show a password.
func TestFetchRefusedURLs(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		url  string
		want string
	}{
		{"file:///etc/passwd", `not "file"`},
		{"ftp://" + host + "/all.zip", `not "ftp"`},
		{"gopher://" + host + "/", `not "gopher"`},
		{"javascript:alert(1)", `not "javascript"`},
		{host + "/all.zip", "not a URL: want https://"},
		{"//" + host + "/all.zip", `not ""`},
		{"http:///all.zip", "no host"},
		{"http://admin:s3cret@" + host + "/all.zip", "user name or password"},
		{"https://:s3cret@" + host + "/all.zip", "user name or password"},
		{"http://admin@" + host + "/all.zip", "user name or password"},
		{"http://a b:s3cret@" + host + "/%zz", "not a URL: want https://"},
	}
	for _, tt := range tests {
		_, err := Fetch(t.Context(), srv.Client(), tt.url, Validators{}, maxFetch)
		if patchbay.ErrorCodeOf(err) != patchbay.EInvalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Fetch(%q) error %v, want invalid saying %q", tt.url, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Fetch(%q) error %q shows the password", tt.url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server was asked %d times, want never", n)
	}
}

// TestFetchRedirects checks that http redirects are followed, and that one
// from https down to http is not.
func TestFetchRedirects(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		w.Write([]byte("cve,epss,percentile\n"))
	}))
	defer plain.Close()
	res, err := Fetch(t.Context(), plain.Client(), plain.URL+"/old", Validators{}, maxFetch)
	if err != nil || string(res.Data) != "cve,epss,percentile\n" {
		t.Errorf("Fetch(/old) = %q, %v; want the body of /new", res.Data, err)
	}

	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/new", http.StatusFound)
	}))
	defer secure.Close()
	var asked atomic.Int32
	client := secure.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { asked.Add(1); return nil }
	_, err = Fetch(t.Context(), client, secure.URL+"/feed", Validators{}, maxFetch)
	if patchbay.ErrorCodeOf(err) != patchbay.EInvalid || !strings.Contains(err.Error(), "step down to plain http") {
		t.Errorf("Fetch(https → http) error %v, want invalid saying the step down is refused", err)
	}
	if asked.Load() != 0 {
		t.Errorf("the client's own CheckRedirect was asked about a refused redirect")
	}
	if client.CheckRedirect == nil {
		t.Errorf("Fetch changed the caller's client")
	}
}
