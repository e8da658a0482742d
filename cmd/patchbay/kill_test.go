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
	"github.com/patchbay/patchbay/internal/protocol"
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
		cmd, url, tok := startProcessEnv(t, bin, dataDir)
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

// startProcessEnv starts `patchbay server` as a child process with extra
// environment and returns it with its URL and (first start only) admin
// token.
func startProcessEnv(t *testing.T, bin, dataDir string, env ...string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = append([]string{"HOME=" + dataDir}, env...)
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
	for sc.Scan() {
		if m := tokenRE.FindString(sc.Text()); m != "" {
			token = m
		}
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatal("server process did not start listening")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, url, token
}

// killInventory is the inventory host h sends in round r: 300 packages,
// unique per (h, r), so every upload is new to the server.
func killInventory(h, r int) protocol.Inventory {
	inv := protocol.Inventory{Updates: []protocol.Update{}}
	for i := range 300 {
		inv.Packages = append(inv.Packages, protocol.Package{Ecosystem: "deb", Name: fmt.Sprintf("pkg%03d", i),
			Version: fmt.Sprintf("1.%d-%d", (i*7+h)%5, r), Arch: "amd64"})
	}
	inv.Hash = protocol.InventoryHash(inv)
	return inv
}

// TestKillDuringInventoryUploads kills the server (SIGKILL from a seeded
// fail point just before an inventory commits) several times while hosts
// upload, then checks every host: its stored inventory is exactly one that
// it sent, complete, and no older than the last one the server
// acknowledged. The bench script bench/kill-uploads.sh runs the same with
// 1,000 uploads.
func TestKillDuringInventoryUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	runKillUploads(t, 20, 15, 3, 11)
}

// TestKillDuringInventoryUploadsLong is the 1,000-upload version; it runs
// when PATCHBAY_BENCH_KILL is set (bench/kill-uploads.sh sets it).
func TestKillDuringInventoryUploadsLong(t *testing.T) {
	if os.Getenv("PATCHBAY_BENCH_KILL") == "" {
		t.Skip("set PATCHBAY_BENCH_KILL=1 (or run bench/kill-uploads.sh) for 1,000 uploads and 10 kills")
	}
	runKillUploads(t, 50, 20, 10, 23)
}

// runKillUploads runs hosts×rounds uploads through kills server kills at
// points drawn from seed.
func runKillUploads(t *testing.T, hosts, rounds, kills int, seed uint64) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, seed))
	_, url, admin := startProcessEnv(t, bin, dataDir, "PATCHBAY_FAILPOINT=inventory-commit@1000000")
	ac, _ := client.New(client.Options{Server: url, Token: admin, Timeout: 10 * time.Second})
	es, err := ac.CreateEnrollSecret(context.Background(), apiv1.CreateEnrollSecretRequest{Name: "kill"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, hosts)
	ids := make([]int64, hosts)
	for h := range hosts {
		res, err := ac.Enroll(context.Background(), protocol.EnrollRequest{EnrollSecret: es.Secret,
			Facts: protocol.Facts{Hostname: fmt.Sprintf("k%02d", h)}})
		if err != nil {
			t.Fatal(err)
		}
		tokens[h], ids[h] = res.HostToken, res.HostID
	}
	next := make([]int, hosts)  // next round each host sends
	acked := make([]int, hosts) // last acknowledged round, -1 for none
	for h := range acked {
		acked[h] = -1
	}
	sent := 0
	for kill := 0; kill <= kills; kill++ {
		env := "PATCHBAY_FAILPOINT=inventory-commit@1000000"
		if kill < kills {
			env = fmt.Sprintf("PATCHBAY_FAILPOINT=inventory-commit@%d", 1+rng.IntN(hosts*rounds/(kills+1)))
		}
		cmd, url, _ := startProcessEnv(t, bin, dataDir, env)
		died := make(chan struct{})
		go func() { cmd.Wait(); close(died) }()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for h := w; h < hosts; h += 4 {
					c, _ := client.New(client.Options{Server: url, Token: tokens[h], Timeout: 10 * time.Second})
					for next[h] < rounds {
						err := c.UploadInventory(context.Background(), killInventory(h, next[h]))
						if err != nil {
							return // the server died; this host resumes after the restart
						}
						mu.Lock()
						acked[h] = next[h]
						next[h]++
						sent++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if kill < kills {
			select {
			case <-died:
			case <-time.After(20 * time.Second):
				t.Fatalf("kill %d: the fail point never fired", kill)
			}
		} else {
			cmd.Process.Signal(syscall.SIGTERM)
			<-died
		}
	}
	st, err := store.Open(context.Background(), store.Location{Engine: store.SQLite, Path: filepath.Join(dataDir, store.DefaultSQLiteFile)}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for h := range hosts {
		if acked[h] != rounds-1 {
			t.Errorf("host %d: last acknowledged round %d, want %d: uploads did not resume", h, acked[h], rounds-1)
		}
		host, err := st.Host(context.Background(), ids[h])
		if err != nil || host.Inventory == nil {
			t.Fatalf("host %d: %v, inventory %v", h, err, host)
		}
		want := killInventory(h, acked[h])
		if host.Inventory.Hash != want.Hash {
			t.Errorf("host %d holds inventory %s, want round %d's %s", h, host.Inventory.Hash[:12], acked[h], want.Hash[:12])
		}
		pkgs, _, err := st.HostPackages(context.Background(), ids[h])
		if err != nil || len(pkgs) != len(want.Packages) || host.Inventory.Packages != len(want.Packages) {
			t.Errorf("host %d: %d packages stored (summary %d), want %d: a partial inventory", h, len(pkgs), host.Inventory.Packages, len(want.Packages))
		}
	}
	t.Logf("%d uploads acknowledged across %d kills", sent, kills)
}
