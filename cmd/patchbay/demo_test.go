package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
)

// TestDemo runs `patchbay demo` with a small fleet and waits until the
// server lists every simulated host and this machine.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"patchbay", "demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--hosts", "5", "--interval", "2s"},
			mapEnv(map[string]string{"HOME": dir}), strings.NewReader(""), out, &syncBuffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	}()
	re := regexp.MustCompile(`API\s+(\S+)\s+admin token\s+(\S+)`)
	var c *client.Client
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil && c == nil {
			c, _ = client.New(client.Options{Server: m[1], Token: m[2]})
		}
		if c != nil {
			page, err := c.Hosts(context.Background(), client.HostQuery{Limit: 100})
			if err == nil && len(page.Items) == 6 {
				withInventory := 0
				for _, h := range page.Items {
					if full, err := c.Host(context.Background(), h.ID); err == nil && full.Inventory != nil {
						withInventory++
					}
				}
				if withInventory == 6 {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the demo did not show 6 hosts with inventories within 30 s:\n%s", out)
}
