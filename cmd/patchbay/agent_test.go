package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/pkgdb"
)

// fixtureRoot builds a host's root directory: Debian 12's os-release, a
// machine id, a hostname and the real 717-package status file.
func fixtureRoot(t *testing.T, hostname, machineID string) string {
	t.Helper()
	root := t.TempDir()
	status, err := os.ReadFile("../../internal/pkgdb/testdata/dpkg/bookworm-host.status")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/os-release":            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
		"etc/machine-id":            machineID + "\n",
		"proc/sys/kernel/hostname":  hostname + "\n",
		"proc/sys/kernel/osrelease": "6.1.0-28-amd64\n",
		"var/lib/dpkg/status":       string(status),
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestAgentEndToEnd enrolls a real agent (in-process) against a real server
// and checks that the server's view of the host is the host's package
// database, row for row.
func TestAgentEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil)
	admin := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	cli := func(env map[string]string, args ...string) (string, error) {
		t.Helper()
		out, _, err := runCLI(t, env, args...)
		return out, err
	}
	secret, err := cli(admin, "enroll-secrets", "create", "--name", "lab", "--labels", "prod,canary", "--groups", "web", "--max-uses", "3")
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	root := fixtureRoot(t, "web-01", "4c4c4544004a3110804cb7c04f4d3232")
	state := filepath.Join(dir, "agent-state")
	agentArgs := []string{"agent", "--server", ts.url, "--state-dir", state, "--root", root, "--once", "--log-level", "warn"}
	if _, err := cli(map[string]string{"PATCHBAY_ENROLL_SECRET": secret}, agentArgs...); err != nil {
		t.Fatalf("agent --once: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(state, "state.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent state file: %v, %v; want mode 0600", fi, err)
	}
	out, err := cli(admin, "hosts", "ls", "-o", "csv")
	if err != nil || !strings.Contains(out, "web-01,debian 12,\"canary,prod\",web") {
		t.Fatalf("hosts ls:\n%s %v", out, err)
	}
	out, err = cli(admin, "hosts", "show", "1", "--packages", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got apiv1.HostPackages
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want, err := pkgdb.DpkgReader{}.Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != len(want) || len(want) != 717 {
		t.Fatalf("server holds %d packages, the database %d (want 717)", len(got.Packages), len(want))
	}
	byKey := map[string]string{}
	for _, p := range got.Packages {
		src, srcVer := p.Source()
		byKey[p.Name+"/"+p.Arch] = p.Version + " " + src + " " + srcVer
	}
	for _, p := range want {
		if g := byKey[p.Name+"/"+p.Arch]; g != p.Version+" "+p.SourceName+" "+p.SourceVersion {
			t.Errorf("package %s/%s: server has %q, database %q", p.Name, p.Arch, g, p.Version+" "+p.SourceName+" "+p.SourceVersion)
		}
	}
	out, err = cli(admin, "packages", "where", "util-linux", "-o", "csv")
	if err != nil || !strings.Contains(out, "1,web-01,bsdutils,1:2.38.1-5+deb12u3,amd64,util-linux,2.38.1-5+deb12u3") {
		t.Fatalf("packages where util-linux:\n%s %v", out, err)
	}
	out, err = cli(admin, "hosts", "label", "1", "--add", "internet-facing", "--remove", "canary", "--owner", "team-web", "--criticality", "high")
	if err != nil || !strings.Contains(out, `labels [internet-facing,prod], groups [web], owner "team-web", criticality high`) {
		t.Fatalf("hosts label: %q, %v", out, err)
	}
	for _, bad := range [][]string{
		{"hosts", "label", "1", "--criticality", "extreme"},
		{"hosts", "label", "1", "--labels", "a", "--add", "b"},
		{"hosts", "label", "x1"},
		{"hosts", "resolve-duplicate", "1", "fuse"},
	} {
		if _, err := cli(admin, bad...); err == nil || exitCode(err) != exitUsage {
			t.Errorf("patchbay %v: err = %v, want a usage error", bad, err)
		}
	}
	// A second check-in with nothing changed uploads nothing.
	if _, err := cli(nil, agentArgs...); err != nil {
		t.Fatalf("second agent --once: %v", err)
	}
	if n := metric(t, ts.url, "patchbay_agent_inventories_total"); n != "1" {
		t.Fatalf("inventories received = %s after two check-ins of an unchanged host, want 1", n)
	}
	if n := metric(t, ts.url, `patchbay_agent_checkins_total{outcome="unchanged"}`); n != "1" {
		t.Fatalf("unchanged check-ins = %s, want 1", n)
	}
	// Retired: the agent's token is refused and it says so instead of re-enrolling.
	if _, err := cli(admin, "hosts", "retire", "1"); err != nil {
		t.Fatal(err)
	}
	_, err = cli(map[string]string{"PATCHBAY_ENROLL_SECRET": secret}, agentArgs...)
	if !errors.Is(err, agent.ErrTokenRefused) {
		t.Fatalf("agent of a retired host: err = %v, want ErrTokenRefused", err)
	}
	if out, _ := cli(admin, "hosts", "ls", "-o", "csv"); strings.Contains(out, "web-01") {
		t.Fatalf("a retired host came back:\n%s", out)
	}
}

// metric returns the value of one series on /metrics.
func metric(t *testing.T, url, series string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestAgentRidesOutServerDowntime starts an agent while the server is down:
// it retries with capped backoff, logs the outage once, and enrolls and
// reports as soon as the server is back.
func TestAgentRidesOutServerDowntime(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := filepath.Join(dir, "data")
	ts := startServer(t, data, nil, "--listen", addr)
	env := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	out, _, err := runCLI(t, env, "enroll-secrets", "create", "--name", "late")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(out)
	ts.stop(t) // the server goes down before the agent starts

	logs := &syncBuffer{}
	c, err := client.New(client.Options{Server: ts.url, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	root := fixtureRoot(t, "late-01", "9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Client: c, Server: ts.url, StateDir: filepath.Join(dir, "state"), EnrollSecret: secret,
			Facts: agent.LocalFacts{Root: root}, Inventory: &agent.LocalInventory{Root: root},
			Logger: slog.New(slog.NewTextHandler(logs, nil)), MaxBackoff: 200 * time.Millisecond, Once: true,
		})
	}()
	time.Sleep(1500 * time.Millisecond) // several failed attempts
	startServer(t, data, nil, "--listen", addr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not catch up within 20 s of the server's return:\n%s", logs)
	}
	if n := strings.Count(logs.String(), "server unreachable"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "server reachable") {
		t.Fatalf("the recovery was not logged:\n%s", logs)
	}
	hosts, _, err := runCLI(t, env, "hosts", "ls", "-o", "csv")
	if err != nil || !strings.Contains(hosts, "late-01") {
		t.Fatalf("hosts after the outage:\n%s %v", hosts, err)
	}
}
