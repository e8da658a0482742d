package certs_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/certs"
)

func TestSelfSignedKeptAndPinned(t *testing.T) {
	dir := t.TempDir()
	cert, created, err := certs.LoadOrCreateSelfSigned(dir, []string{"patchbay.example"}, time.Now())
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateSelfSigned = %v, created %v", err, created)
	}
	again, created, err := certs.LoadOrCreateSelfSigned(dir, nil, time.Now())
	if err != nil || created || certs.Fingerprint(again.Certificate[0]) != certs.Fingerprint(cert.Certificate[0]) {
		t.Fatalf("second LoadOrCreateSelfSigned made a new certificate (err %v)", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, certs.SelfSignedKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v (%v), want 0600", fi.Mode(), err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	fp := certs.Fingerprint(cert.Certificate[0])
	colons := strings.ToUpper(fp[:2]) + ":" + fp[2:]
	for _, tc := range []struct {
		name, ca, fp string
		ok           bool
	}{
		{"pinned", "", fp, true},
		{"pinned with colons and case", "", "SHA256:" + colons, true},
		{"ca file", filepath.Join(dir, certs.SelfSignedCert), "", true},
		{"wrong pin", "", strings.Repeat("ab", 32), false},
		{"system roots", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := certs.ClientConfig(tc.ca, tc.fp)
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
			resp, err := c.Get(srv.URL)
			if resp != nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("GET with %s: err = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestClientConfigRefusesBadInput(t *testing.T) {
	for _, tc := range []struct{ ca, fp, want string }{
		{"", "abc", "not a SHA-256"},
		{"/no/such/ca.pem", "", "read --ca"},
		{"x", strings.Repeat("ab", 32), "not both"},
	} {
		if _, err := certs.ClientConfig(tc.ca, tc.fp); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ClientConfig(%q, %q) err = %v, want %q", tc.ca, tc.fp, err, tc.want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing"), 0o600)
	if _, err := certs.ClientConfig(empty, ""); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("ClientConfig(empty pem) err = %v", err)
	}
}
