package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer that a running command and a test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mapEnv is a getenv over a fixed map: tests never read the real
// environment.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCLI runs the real program in-process and returns its output.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"patchbay"}, args...), mapEnv(env), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// testServer is a `patchbay server` running in-process.
type testServer struct {
	url     string
	token   string
	dataDir string
	stdout  *syncBuffer
	stderr  *syncBuffer
	cancel  context.CancelFunc
	done    chan error
}

var (
	listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)
	tokenRE     = regexp.MustCompile(`pbu_[A-Za-z0-9_-]{43}`)
)

// startServer runs `patchbay server` with args on a free loopback port and
// waits until it listens.
func startServer(t *testing.T, dataDir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{dataDir: dataDir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	argv := append([]string{"patchbay", "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)
	go func() { ts.done <- run(ctx, argv, mapEnv(env), strings.NewReader(""), ts.stdout, ts.stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(ts.stdout.String()); m != nil {
			ts.url = m[1]
			ts.token = tokenRE.FindString(ts.stdout.String())
			t.Cleanup(func() { ts.stop(t) })
			return ts
		}
		select {
		case err := <-ts.done:
			cancel()
			t.Fatalf("server exited before listening: %v\nstdout: %s\nstderr: %s", err, ts.stdout, ts.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("server did not listen within 20 s\nstdout: %s\nstderr: %s", ts.stdout, ts.stderr)
	return nil
}

// stop shuts the server down as SIGTERM would and checks it stopped cleanly.
func (ts *testServer) stop(t *testing.T) {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("server stopped with %v\nstderr: %s", err, ts.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("server did not stop within 20 s of its context ending")
	}
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil)
	if ts.token == "" {
		t.Fatalf("first start printed no admin token:\n%s", ts.stdout)
	}
	env := map[string]string{"HOME": dir}
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCLI(t, env, args...)
		if err != nil {
			t.Fatalf("patchbay %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}

	out := cli("login", "--server", ts.url, "--token", ts.token)
	if !strings.Contains(out, "as admin (admin)") {
		t.Fatalf("login said %q", out)
	}
	cfg := filepath.Join(dir, ".config", "patchbay", "client.yaml")
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("client config %s: mode %v, err %v; want 0600", cfg, fi.Mode(), err)
	}
	cli("users", "create", "alice", "--role", "operator")
	cli("users", "create", "vera", "--role", "viewer")
	if out := cli("users", "ls", "-o", "csv"); !strings.Contains(out, "alice,operator,false") || !strings.Contains(out, "vera,viewer,false") {
		t.Fatalf("users ls -o csv:\n%s", out)
	}
	secret := strings.TrimSpace(cli("tokens", "create", "--name", "ci", "--user", "vera", "--expires-in", "1h"))
	if !tokenRE.MatchString(secret) {
		t.Fatalf("tokens create printed %q, want the secret alone", secret)
	}
	// vera can read but not write.
	veraEnv := map[string]string{"HOME": t.TempDir(), "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": secret}
	if _, _, err := runCLI(t, veraEnv, "hosts", "ls"); err != nil {
		t.Fatalf("viewer hosts ls: %v", err)
	}
	_, _, err := runCLI(t, veraEnv, "users", "create", "eve", "--role", "admin")
	if err == nil || !strings.Contains(err.Error(), "403") || exitCode(err) != exitFailure {
		t.Fatalf("viewer users create: err = %v, want a 403", err)
	}
	if out := cli("audit", "ls", "--actor", "user:admin", "-o", "json"); !strings.Contains(out, `"user.create"`) || strings.Contains(out, "system:bootstrap") {
		t.Fatalf("audit ls --actor user:admin:\n%s", out)
	}
	if out := cli("audit", "ls", "--object", "user:vera"); strings.Count(out, "user.create") != 1 {
		t.Fatalf("audit ls --object user:vera:\n%s", out)
	}
	if out := cli("audit", "verify"); !strings.Contains(out, "audit chain intact: 5 entries") {
		t.Fatalf("audit verify: %q", out)
	}
	if out := cli("tokens", "ls", "--all", "-o", "json"); strings.Contains(out, secret) {
		t.Fatalf("tokens ls shows a secret")
	}
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `patchbay_http_requests_total{code="403",method="POST",route="/api/v1/users"} 1`) {
		t.Fatalf("metrics lack the refused request:\n%s", body)
	}

	// Stop the server, edit an audit row behind its back, and verify offline.
	ts.stop(t)
	tamperSQLite(t, filepath.Join(dir, "data", "patchbay.db"), "UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 4")
	_, _, err = runCLI(t, env, "audit", "verify", "--data-dir", filepath.Join(dir, "data"))
	if err == nil || !strings.Contains(err.Error(), "broken at entry 4") {
		t.Fatalf("audit verify after tampering: err = %v, want broken at entry 4", err)
	}

	// Restarting keeps the admin: no new bootstrap token is printed.
	ts2 := startServer(t, filepath.Join(dir, "data"), nil)
	if ts2.token != "" {
		t.Fatalf("second start printed a new admin token")
	}
}

func TestBootstrapOffline(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCLI(t, nil, "users", "bootstrap", "--data-dir", dir)
	first := strings.TrimSpace(out)
	if err != nil || !tokenRE.MatchString(first) {
		t.Fatalf("users bootstrap = %q, %v", out, err)
	}
	out, _, err = runCLI(t, nil, "users", "bootstrap", "--data-dir", dir)
	if second := strings.TrimSpace(out); err != nil || !tokenRE.MatchString(second) || second == first {
		t.Fatalf("second users bootstrap = %q, %v; want another new token", out, err)
	}
	// The server then starts without printing a token of its own.
	ts := startServer(t, dir, nil)
	if ts.token != "" {
		t.Fatal("server printed a bootstrap token although bootstrap already ran")
	}
	if _, _, err := runCLI(t, map[string]string{"HOME": dir}, "users", "ls", "--server", ts.url, "--token", first); err != nil {
		t.Fatalf("users ls with the offline token: %v", err)
	}
}

func TestSettingsPrecedenceAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "patchbay.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:1\nmax-body-bytes: 4096\n"), 0o600)
	// The file's listen loses to the environment's, which loses to the flag.
	ts := startServer(t, filepath.Join(dir, "d1"), map[string]string{"PATCHBAY_CONFIG": cfg, "PATCHBAY_LISTEN": "127.0.0.1:2"})
	if !strings.HasPrefix(ts.url, "http://127.0.0.1:") || strings.HasSuffix(ts.url, ":1") || strings.HasSuffix(ts.url, ":2") {
		t.Fatalf("server listens on %s, want the flag's free port", ts.url)
	}
	ts.stop(t)

	cases := []struct {
		name string
		env  map[string]string
		file string
		args []string
		want string
	}{
		{"bad env value", map[string]string{"PATCHBAY_MAX_BODY_BYTES": "lots"}, "", nil, "PATCHBAY_MAX_BODY_BYTES"},
		{"bad file value", nil, "max-body-bytes: lots\n", nil, "max-body-bytes"},
		{"unknown file key", nil, "lisen: 127.0.0.1:9\n", nil, `unknown setting "lisen"`},
		{"file not a mapping", nil, "- a\n- b\n", nil, "not a YAML mapping"},
		{"bad listen", nil, "", []string{"--listen", "nowhere"}, "--listen"},
		{"half tls", nil, "", []string{"--tls-cert", "x.pem"}, "--tls-key"},
		{"small body limit", nil, "", []string{"--max-body-bytes", "10"}, "--max-body-bytes"},
		{"bad database", nil, "", []string{"--database", "mysql://x"}, "--database"},
		{"bad log level", nil, "", []string{"--log-level", "loud"}, "--log-level"},
		{"unknown flag", nil, "", []string{"--colour"}, "unknown flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			if tc.file != "" {
				p := filepath.Join(t.TempDir(), "c.yaml")
				os.WriteFile(p, []byte(tc.file), 0o600)
				env["PATCHBAY_CONFIG"] = p
			}
			dataDir := t.TempDir()
			args := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, tc.args...)
			_, _, err := runCLI(t, env, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitUsage {
				t.Fatalf("err = %v (exit %d), want a usage error naming %q", err, exitCode(err), tc.want)
			}
			if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
				t.Errorf("a refused start left %d files in the data dir", len(entries))
			}
		})
	}
}

func TestStoreUnavailableAtStart(t *testing.T) {
	_, _, err := runCLI(t, nil, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--database", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err == nil || exitCode(err) != exitUnavailable || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v (exit %d), want exit %d naming the server", err, exitCode(err), exitUnavailable)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "patchbay ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestClientRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	_, _, err := runCLI(t, map[string]string{"HOME": t.TempDir()}, "users", "ls", "--server", "http://192.0.2.1:8080", "--token", "x")
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "only to loopback") {
		t.Fatalf("err = %v, want a refusal of plain http", err)
	}
}
