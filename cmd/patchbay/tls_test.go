package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/certs"
)

// TestTLSPinned runs the server with a certificate and checks that the CLI
// reaches it only when told to trust it.
func TestTLSPinned(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "pki")
	cert, _, err := certs.LoadOrCreateSelfSigned(certDir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp := certs.Fingerprint(cert.Certificate[0])
	ts := startServer(t, filepath.Join(dir, "data"), nil,
		"--tls-cert", filepath.Join(certDir, certs.SelfSignedCert), "--tls-key", filepath.Join(certDir, certs.SelfSignedKey))
	if !strings.HasPrefix(ts.url, "https://") {
		t.Fatalf("server with --tls-cert listens on %s, want https", ts.url)
	}
	env := map[string]string{"HOME": dir, "PATCHBAY_TOKEN": ts.token}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"fingerprint", []string{"--server-fingerprint", fp}, true},
		{"ca", []string{"--ca", filepath.Join(certDir, certs.SelfSignedCert)}, true},
		{"wrong fingerprint", []string{"--server-fingerprint", strings.Repeat("0", 64)}, false},
		{"nothing trusted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"users", "ls", "--server", ts.url}, tc.args...)
			_, _, err := runCLI(t, env, args...)
			if (err == nil) != tc.ok {
				t.Fatalf("patchbay %s: err = %v, want ok=%v", strings.Join(args, " "), err, tc.ok)
			}
		})
	}
}

// TestSelfSignedBeyondLoopback checks the decision the server makes for a
// non-loopback address without a certificate: make one in the data dir,
// print its fingerprint, and keep it across restarts.
func TestSelfSignedBeyondLoopback(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	o := serverOptions{store: storeFlags{dataDir: dir}}
	var out bytes.Buffer
	cfg, err := serverTLS(o, "0.0.0.0", &env{stdout: &out}, log)
	if err != nil || cfg == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("serverTLS(0.0.0.0) = %v, %v; want a self-signed certificate", cfg, err)
	}
	fp := certs.Fingerprint(cfg.Certificates[0].Certificate[0])
	if !strings.Contains(out.String(), "--server-fingerprint "+fp) {
		t.Fatalf("server printed %q, want the fingerprint %s", out.String(), fp)
	}
	again, _ := serverTLS(o, "0.0.0.0", &env{stdout: &out}, log)
	if certs.Fingerprint(again.Certificates[0].Certificate[0]) != fp {
		t.Fatal("a restart made a new certificate; clients' pins would break")
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if cfg, err := serverTLS(o, host, &env{stdout: &out}, log); err != nil || cfg != nil {
			t.Errorf("serverTLS(%s) = %v, %v; want plain HTTP on loopback", host, cfg, err)
		}
	}
}
