package sim

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
)

// TestRetriedCheckInChangesOnce checks that a check-in which fails (the
// server is down) and is retried draws its inventory change only once.
func TestRetriedCheckInChangesOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: every request fails
	c, err := client.New(client.Options{Server: "http://" + addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := fleet.NewFleet(1, 1, fleet.Options{ChangeRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Client: c, Fleet: fl, EnrollSecret: "unused", Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	var stats Stats
	h := &host{i: 0, token: "pbh_test", checkIn: 1, gen: -1, advanced: -1}
	for range 3 {
		cfg.step(context.Background(), h, &stats)
	}
	if got := fl.Generation(0); got != 1 {
		t.Fatalf("generation %d after three failed tries of one check-in, want 1", got)
	}
	if stats.Errors.Load() != 3 || stats.CheckIns.Load() != 0 {
		t.Fatalf("stats %s, want 3 errors and no check-in", &stats)
	}
}
