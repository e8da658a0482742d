package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/store"
)

// buildBinary compiles patchbay once for tests that need a real process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "patchbay-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "patchbay")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess starts `patchbay server` as a child process and returns it
// with its URL and (first start only) admin token.
func startProcess(t *testing.T, bin, dataDir string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = []string{"HOME=" + dataDir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var url, token string
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if m := tokenRE.FindString(line); m != "" {
			token = m
		}
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatalf("server process did not start listening")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, url, token
}

// TestKillDuringWrites SIGKILLs the server while clients create users as
// fast as they can, a few times over. After each restart every creation the
// server acknowledged is there, and the audit chain is intact and holds
// exactly one entry per change: nothing lost, nothing half-written.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7)) // seeded: the kill points repeat run to run
	var token string
	acked := map[string]bool{}
	var mu sync.Mutex
	var seq atomic.Int64
	for round := range 4 {
		cmd, url, tok := startProcess(t, bin, dataDir)
		if round == 0 {
			token = tok
		}
		c, err := client.New(client.Options{Server: url, Token: token, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					name := fmt.Sprintf("u%05d", seq.Add(1))
					if _, err := c.CreateUser(ctx, apiv1.CreateUserRequest{Name: name, Role: "viewer"}); err == nil {
						mu.Lock()
						acked[name] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		wg.Wait()
	}

	st, err := store.Open(context.Background(), store.Location{Engine: store.SQLite, Path: filepath.Join(dataDir, store.DefaultSQLiteFile)}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users, err := st.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, u := range users {
		have[u.Name] = true
	}
	for name := range acked {
		if !have[name] {
			t.Errorf("user %s was acknowledged but is gone after the kill", name)
		}
	}
	n, err := st.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("audit chain after kills: %v", err)
	}
	// admin + its token, then one entry per user.
	if want := int64(len(users) + 1); n != want {
		t.Fatalf("audit has %d entries for %d users, want %d: a change without its entry or the reverse", n, len(users), want)
	}
	if len(acked) < 20 {
		t.Fatalf("only %d creations acknowledged over 4 rounds: the test did not exercise the server", len(acked))
	}
	t.Logf("%d creations acknowledged across 4 kills; %d users stored", len(acked), len(users))
}
