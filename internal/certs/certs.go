// Package certs makes and checks the TLS material of a patchbay server: a
// self-signed certificate kept in the data directory when the operator gives
// none, its SHA-256 fingerprint, and the client side's pinning of either a
// CA file or that fingerprint.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names of the self-signed pair inside the data directory.
const (
	SelfSignedCert = "tls-cert.pem"
	SelfSignedKey  = "tls-key.pem"
)

// LoadOrCreateSelfSigned returns the self-signed certificate kept in
// dataDir, making it first when it does not exist (valid ten years, for
// localhost, the machine's hostname and hosts). created says whether it
// was made now.
func LoadOrCreateSelfSigned(dataDir string, hosts []string, now time.Time) (cert tls.Certificate, created bool, err error) {
	certPath := filepath.Join(dataDir, SelfSignedCert)
	keyPath := filepath.Join(dataDir, SelfSignedKey)
	if _, err := os.Stat(certPath); err == nil {
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return cert, false, fmt.Errorf("load self-signed certificate %s: %w", certPath, err)
		}
		return cert, false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, false, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return cert, false, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "patchbay server", Organization: []string{"patchbay"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if hn, err := os.Hostname(); err == nil && hn != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, hn)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return cert, false, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return cert, false, fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return cert, false, err
	}
	// Key first, so a crash between the writes leaves no certificate
	// without its key.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return cert, false, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return cert, false, err
	}
	cert, err = tls.LoadX509KeyPair(certPath, keyPath)
	return cert, true, err
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Fingerprint returns the SHA-256 of a certificate's DER bytes as lower-case
// hex, the form --server-fingerprint takes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint accepts a SHA-256 fingerprint as hex with or without
// colons, any case, optionally prefixed "sha256:" or "SHA256:", and returns
// it as lower-case hex.
func NormalizeFingerprint(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	f = strings.TrimPrefix(f, "sha256:")
	f = strings.ReplaceAll(f, ":", "")
	if b, err := hex.DecodeString(f); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("server fingerprint %q is not a SHA-256 (64 hex digits, colons allowed)", s)
	}
	return f, nil
}

// ClientConfig returns the TLS configuration of a client that trusts a
// server by caFile (a PEM bundle), by fingerprint (the leaf certificate's
// SHA-256), or, with neither, by the system's roots.
func ClientConfig(caFile, fingerprint string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case caFile != "" && fingerprint != "":
		return nil, errors.New("give --ca or --server-fingerprint, not both")
	case caFile != "":
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	case fingerprint != "":
		want, err := NormalizeFingerprint(fingerprint)
		if err != nil {
			return nil, err
		}
		// Pinning replaces chain and name checks: the server is trusted
		// exactly when its leaf certificate is the pinned one.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			if got := Fingerprint(raw[0]); got != want {
				return fmt.Errorf("server certificate fingerprint %s does not match the pinned %s", got, want)
			}
			return nil
		}
	}
	return cfg, nil
}
