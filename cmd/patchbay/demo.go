package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/pkgmgr"
	"github.com/patchbay/patchbay/internal/sim"
	"github.com/patchbay/patchbay/internal/web"
)

type demoOptions struct {
	dataDir  string
	listen   string
	hosts    int
	seed     uint64
	interval time.Duration
}

func newDemoCommand(e *env) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a server with this machine's agent and a simulated fleet, on SQLite",
		Long: `Start a patchbay server on SQLite (in --data-dir, or a new temporary
directory), enroll this machine's own agent (it reads the package database
and never changes anything) and a simulated fleet of --hosts hosts, and print
the API address and an admin token. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "server state (default: a new temporary directory)")
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the API")
	cmd.Flags().IntVar(&o.hosts, "hosts", 50, "simulated hosts")
	cmd.Flags().Uint64Var(&o.seed, "seed", 1, "seed of the simulated fleet")
	cmd.Flags().DurationVar(&o.interval, "interval", 30*time.Second, "check-in interval of every agent")
	return cmd
}

func runDemo(ctx context.Context, e *env, o demoOptions) error {
	if o.hosts < 0 {
		return usageErrorf("--hosts %d: want 0 or more", o.hosts)
	}
	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "patchbay-demo-")
		if err != nil {
			return err
		}
		o.dataDir = dir
	}
	so := serverOptions{store: storeFlags{dataDir: o.dataDir, database: "sqlite:"}, listen: o.listen,
		maxBody: web.DefaultMaxBodyBytes, logLevel: "warn", logFormat: "text", shutdownTimeout: 5 * time.Second,
		checkInInterval: o.interval}
	// An admin token for the demo, whether the store is new or not.
	log, _ := newLogger(e.stderr, "warn", "text")
	st, err := so.store.open(ctx, log)
	if err != nil {
		return err
	}
	boot, err := st.Bootstrap(ctx, true)
	st.Close()
	if err != nil {
		return err
	}
	fl, err := fleet.NewFleet(o.seed, o.hosts, fleet.Options{AgentVersion: "sim/" + buildVersion()})
	if err != nil {
		return err
	}
	ready := func(url, _ string) {
		go func() {
			if err := startDemoFleet(ctx, e, url, boot.Secret, o, fl); err != nil {
				fmt.Fprintln(e.stderr, "patchbay demo:", err)
			}
		}()
	}
	return serve(ctx, e, so, ready)
}

// startDemoFleet enrolls this machine's agent and the simulated fleet.
func startDemoFleet(ctx context.Context, e *env, url, token string, o demoOptions, fl *fleet.Fleet) error {
	admin, err := client.New(client.Options{Server: url, Token: token})
	if err != nil {
		return err
	}
	es, err := admin.CreateEnrollSecret(ctx, apiv1.CreateEnrollSecretRequest{Name: "demo: this machine", Labels: []string{"demo"}})
	if err != nil {
		return fmt.Errorf("make the demo's enroll secret: %w", err)
	}
	fmt.Fprintf(e.stdout, `
patchbay demo is running: %d simulated hosts and this machine are enrolling.
  API          %s
  admin token  %s
  data         %s
Try:
  patchbay login --server %s --token %s
  patchbay hosts ls
  patchbay packages where openssl
Stop it with Ctrl-C.

`, o.hosts, url, token, o.dataDir, url, token)
	log, _ := newLogger(e.stderr, "warn", "text")
	go func() {
		err := agent.Run(ctx, agent.Config{
			Client: admin.WithToken(""), Server: url, EnrollSecret: es.Secret,
			StateDir: filepath.Join(o.dataDir, "agent"),
			Facts:    agent.LocalFacts{Root: "/"},
			// The demo reads this machine's indexes as they are and never
			// refreshes them: it changes nothing on the machine.
			Inventory: &agent.LocalInventory{Root: "/", Updates: localUpdates("/"), Refresh: pkgmgr.RefreshPolicy{Interval: -1}},
			Version:   buildVersion(), Logger: log.With("component", "agent"), Interval: o.interval,
		})
		if err != nil {
			fmt.Fprintln(e.stderr, "patchbay demo: this machine's agent:", err)
		}
	}()
	if o.hosts == 0 {
		return nil
	}
	var stats sim.Stats
	return sim.Run(ctx, sim.Config{Client: admin.WithToken(""), Fleet: fl, SecretFor: secretsByTags(ctx, admin, o.seed),
		Interval: o.interval, Ramp: 5 * time.Second, Workers: 8, Logger: log.With("component", "sim")}, &stats)
}
