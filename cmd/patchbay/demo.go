package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/demodata"
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
		checkInInterval: o.interval, feedInterval: 6 * time.Hour, maxFeedBytes: web.DefaultMaxFeedBytes, matchInterval: time.Second,
		planInterval: 10 * time.Second}
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
	if err := importDemoFeeds(ctx, e, admin); err != nil {
		return err
	}
	if err := createDemoPolicies(ctx, e, admin); err != nil {
		return err
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
  patchbay vulns ls --severity high
  patchbay vulns ls --kev
  patchbay vulns show CVE-2022-2588
  patchbay findings ls --host 1
  patchbay updates ls --sort risk --class critical
  patchbay policies simulate "prod critical" --days 14
  patchbay sla
  patchbay deployments ls          (a rollout starts once the staging hosts report)
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
			Inventory: &agent.LocalInventory{Root: "/", Updates: localUpdates("/"), Refresh: pkgmgr.RefreshPolicy{Interval: -1},
				GoBinaries: demoGoBinaries(e)},
			Version: buildVersion(), Logger: log.With("component", "agent"), Interval: o.interval,
		})
		if err != nil {
			fmt.Fprintln(e.stderr, "patchbay demo: this machine's agent:", err)
		}
	}()
	if o.hosts == 0 {
		return nil
	}
	go func() {
		if err := startDemoDeployment(ctx, e, admin); err != nil && ctx.Err() == nil {
			fmt.Fprintln(e.stderr, "patchbay demo: the demo's deployment:", err)
		}
	}()
	var stats sim.Stats
	// The simulated hosts take deployment jobs; about one install in
	// fifty fails, and takes a second or two.
	pm := &sim.PackageManager{Seed: o.seed, DefaultFailRate: 0.02, DefaultDuration: 2 * time.Second, Wait: 2 * time.Second}
	return sim.Run(ctx, sim.Config{Client: admin.WithToken(""), Fleet: fl, SecretFor: secretsByTags(ctx, admin, o.seed),
		Interval: o.interval, Ramp: 5 * time.Second, Workers: 8, Logger: log.With("component", "sim"), Jobs: pm}, &stats)
}

// startDemoDeployment waits for the work queue to hold the staging hosts'
// updates, then deploys their security updates in three rings with a
// window open now, approved by a second person (the demo's approver), so
// that a rollout is in progress: patchbay deployments watch 1.
func startDemoDeployment(ctx context.Context, e *env, admin *client.Client) error {
	var hosts []int64
	for deadline := time.Now().Add(2 * time.Minute); len(hosts) < 5; {
		if time.Now().After(deadline) {
			return errors.New("the staging hosts' updates did not reach the work queue within 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
		l, err := admin.Hosts(ctx, client.HostQuery{Label: "staging", Limit: 100})
		if err != nil {
			continue
		}
		hosts = hosts[:0]
		for _, h := range l.Items {
			if q, err := admin.Updates(ctx, client.UpdateQuery{HostID: h.ID, Classes: []string{"critical", "security"}, Limit: 1}); err == nil && len(q.Items) > 0 {
				hosts = append(hosts, h.ID)
			}
		}
	}
	opened := time.Now().UTC().Add(-time.Minute)
	d, err := admin.CreateDeployment(ctx, apiv1.CreateDeploymentRequest{Name: "demo: security updates on staging", Hosts: hosts,
		Classes: []string{"critical", "security"},
		Rings: []patchbay.RingSpec{{Name: "pilot", Count: 2, SoakTime: "30s"}, {Name: "early", Percent: 30, FailureThreshold: "20%", MaxParallel: 3},
			{Name: "rest", FailureThreshold: "20%", MaxParallel: 5}},
		Windows: []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "8h", Zone: "UTC"}},
		Reboot:  patchbay.RebootRule{Mode: patchbay.RebootIfRequired}})
	if err != nil {
		return err
	}
	// Nobody approves their own request: the demo's approver does.
	if _, err := admin.CreateUser(ctx, apiv1.CreateUserRequest{Name: "demo-approver", Role: patchbay.RoleApprover}); err != nil {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code() != patchbay.EConflict {
			return err
		}
	}
	tok, err := admin.CreateToken(ctx, apiv1.CreateTokenRequest{Name: "demo", User: "demo-approver", ExpiresIn: "24h"})
	if err != nil {
		return err
	}
	if _, err := admin.WithToken(tok.Secret).DecideDeployment(ctx, d.ID, apiv1.DecisionRequest{Decision: patchbay.Approve,
		Comment: "the demo's approver: staging first"}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deployment %d is rolling out to %d staging hosts: patchbay deployments watch %d\n", d.ID, len(hosts), d.ID)
	return nil
}

// importDemoFeeds imports the real advisories embedded in the binary: the
// Debian tracker's DSA and DLA lists, the Go vulnerability database subset
// (zipped here), and CISA's KEV catalog.
func importDemoFeeds(ctx context.Context, e *env, c *client.Client) error {
	c = c.WithTimeout(5 * time.Minute)
	send := func(name string, data []byte) error {
		res, err := c.ImportFeed(ctx, name, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return fmt.Errorf("import the demo's %s: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "imported %s: %d records, %d KEV entries\n", name, res.Records, res.KEV)
		return nil
	}
	for _, name := range []string{"debian-tracker/DSA/list", "debian-tracker/DLA/list"} {
		data, err := demodata.DebianTracker.ReadFile(name)
		if err != nil {
			return err
		}
		if err := send(name, data); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	entries, err := demodata.GoVulnDB.ReadDir("govulndb")
	if err != nil {
		return err
	}
	for _, ent := range entries {
		data, err := demodata.GoVulnDB.ReadFile("govulndb/" + ent.Name())
		if err != nil {
			return err
		}
		w, err := zw.Create(ent.Name())
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := send("govulndb.zip", buf.Bytes()); err != nil {
		return err
	}
	kev, err := demodata.KEV.ReadFile("kev/known_exploited_vulnerabilities.json")
	if err != nil {
		return err
	}
	return send("known_exploited_vulnerabilities.json", kev)
}

// createDemoPolicies writes the two policies the demo shows: the issue's
// example (critical updates on prod hosts, Saturdays 02:00–05:00
// Europe/Berlin, approval required, critical findings due in 7 days) and
// a catch-all for staging, auto-approved, on weeknights in each host's
// zone.
func createDemoPolicies(ctx context.Context, e *env, c *client.Client) error {
	sla := patchbay.SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30}
	for _, p := range []patchbay.Policy{
		{Name: "prod critical", Enabled: true, Priority: 100, Selector: patchbay.Selector{Labels: []string{"prod"}},
			Updates: patchbay.UpdateRule{Classes: []string{"critical"}},
			Windows: []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
			Rings:   []patchbay.RingSpec{{Name: "pilot", Label: "canary"}, {Name: "early", Percent: 10, FailureThreshold: "5%"}, {Name: "rest"}},
			Reboot:  patchbay.RebootRule{Mode: patchbay.RebootIfRequired, Delay: "5m"}, SLA: sla},
		{Name: "staging all", Enabled: true, Priority: 10, Selector: patchbay.Selector{Labels: []string{"staging"}},
			AutoApprove: &patchbay.UpdateRule{}, DeferralDays: 2,
			Windows: []patchbay.WindowSpec{{Cron: "0 22 * * 1-5", Duration: "4h", Zone: "host"}},
			Reboot:  patchbay.RebootRule{Mode: patchbay.RebootAlways}, SLA: sla},
	} {
		res, err := c.CreatePolicy(ctx, p)
		if ce := (*client.Error)(nil); errors.As(err, &ce) && ce.Code() == patchbay.EConflict {
			continue // a demo started again on its data directory
		}
		if err != nil {
			return fmt.Errorf("create the demo's policy %q: %w", p.Name, err)
		}
		fmt.Fprintf(e.stdout, "created policy %d %q\n", res.Policy.ID, res.Policy.Name)
	}
	return nil
}

// demoGoBinaries are the places this machine's agent looks for Go
// binaries in the demo: this patchbay itself, Go's own tools, and the
// usual install directories, those that exist.
func demoGoBinaries(e *env) []string {
	var out []string
	if self, err := os.Executable(); err == nil {
		out = append(out, self)
	}
	candidates := []string{"/usr/local/go/bin", "/usr/local/bin"}
	if home := e.getenv("HOME"); home != "" {
		candidates = append(candidates, filepath.Join(home, "go", "bin"))
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}
