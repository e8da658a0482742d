package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/pkgmgr"
)

type agentOptions struct {
	server, enrollSecret, stateDir string
	ca, fingerprint                string
	root                           string
	goBinaries                     []string
	interval, refresh              time.Duration
	once                           bool
	jobs, allowHooks               bool
	hooksDir                       string
	logLevel, logFormat            string
}

func newAgentCommand(e *env) *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent --server URL --enroll-secret S --state-dir DIR",
		Short: "Run the agent: enroll once, then report facts and packages on an interval",
		Long: `Run the patchbay agent on a host. It enrolls once with the enroll secret and
keeps the host token it receives in --state-dir (mode 0600); from then on it
checks in with its facts and its inventory's hash, and uploads the full
inventory (compressed) when the server asks. Package indexes are refreshed
every --refresh-interval (apt-get update / dnf makecache); installed packages
are never changed by reporting; with --jobs the agent also takes deployment
jobs (long poll), journalling each under --state-dir before it acts. With --go-binaries, the Go binaries found in
those files and directories are reported too, one package per module they
were built with (ecosystem go).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.server == "" {
				return usageErrorf("--server is required")
			}
			if o.stateDir == "" {
				return usageErrorf("--state-dir is required")
			}
			for _, p := range o.goBinaries {
				if !filepath.IsAbs(p) {
					return usageErrorf("--go-binaries %q: want an absolute path", p)
				}
			}
			log, err := newLogger(e.stderr, o.logLevel, o.logFormat)
			if err != nil {
				return err
			}
			c, err := client.New(client.Options{Server: o.server, CAFile: o.ca, Fingerprint: o.fingerprint,
				Timeout: 2 * time.Minute, UserAgent: "patchbay-agent/" + buildVersion()})
			if err != nil {
				return usageErrorf("%v", err)
			}
			var pm agent.PackageManager
			if o.jobs {
				if pm, err = localJobs(o.root, o.stateDir); err != nil {
					return usageErrorf("--jobs: %v", err)
				}
			}
			return agent.Run(cmd.Context(), agent.Config{
				Client:       c,
				Server:       o.server,
				EnrollSecret: o.enrollSecret,
				StateDir:     o.stateDir,
				Facts:        agent.LocalFacts{Root: o.root},
				Inventory: &agent.LocalInventory{Root: o.root, GoBinaries: o.goBinaries, Updates: localUpdates(o.root),
					Refresh: pkgmgr.RefreshPolicy{Interval: o.refresh, Stamp: filepath.Join(o.stateDir, "indexes-refreshed")}},
				Version:  buildVersion(),
				Logger:   log.With("component", "agent"),
				Interval: o.interval,
				Once:     o.once,
				Packages: pm,
				Host:     agent.LocalHost{Root: o.root, HooksDir: o.hooksDir, AllowHooks: o.allowHooks},
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.server, "server", "", "server URL")
	fl.StringVar(&o.enrollSecret, "enroll-secret", "", "enroll secret, needed until enrolled; prefer PATCHBAY_ENROLL_SECRET")
	fl.StringVar(&o.stateDir, "state-dir", "/var/lib/patchbay-agent", "where the agent keeps its host token")
	fl.StringVar(&o.ca, "ca", "", "trust the server through this CA certificate (PEM)")
	fl.StringVar(&o.fingerprint, "server-fingerprint", "", "trust the server whose certificate has this SHA-256")
	fl.StringVar(&o.root, "root", "/", "root directory to read (a mounted image, a test fixture)")
	fl.StringSliceVar(&o.goBinaries, "go-binaries", nil, "report the Go modules of the Go binaries in these files and directories, read under --root (absolute; repeatable)")
	fl.DurationVar(&o.interval, "interval", 0, "check-in interval (default: what the server says)")
	fl.DurationVar(&o.refresh, "refresh-interval", 24*time.Hour, "how often to refresh package indexes; negative never")
	fl.BoolVar(&o.once, "once", false, "check in once and exit")
	fl.BoolVar(&o.allowHooks, "allow-hooks", false, "run the pre- and post-checks deployments name, from --hooks-dir (root-owned, not writable by others); off, jobs naming hooks fail")
	fl.StringVar(&o.hooksDir, "hooks-dir", "/etc/patchbay/hooks.d", "the only directory hooks are run from")
	fl.BoolVar(&o.jobs, "jobs", false, "take deployment jobs: install, fetch ahead and roll back packages as deployments ask (apt, dnf and apk hosts); off, the agent only reports")
	fl.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&o.logFormat, "log-format", "text", "text or json")
	return cmd
}

// localJobs is the package manager that runs deployment jobs under root,
// keeping its files under the state directory: apt and dpkg where there
// is a dpkg database, dnf and rpm where there is an rpm database, apk
// where there is apk's.
func localJobs(root, stateDir string) (agent.PackageManager, error) {
	dbs, _ := pkgdb.Detect(root)
	dir := filepath.Join(stateDir, "packages")
	for _, db := range dbs {
		switch db.Ecosystem {
		case pkgdb.Deb:
			if _, err := exec.LookPath("apt-get"); err != nil {
				return nil, fmt.Errorf("a dpkg database but no apt-get: %w", err)
			}
			return &pkgmgr.AptJobs{Apt: &pkgmgr.Apt{Root: root}, Dir: dir}, nil
		case pkgdb.RPM:
			if _, err := exec.LookPath("dnf"); err != nil {
				return nil, fmt.Errorf("an rpm database but no dnf: %w", err)
			}
			return &pkgmgr.DnfJobs{Dnf: &pkgmgr.Dnf{Root: root}, Dir: dir}, nil
		case pkgdb.Apk:
			if _, err := exec.LookPath("apk"); err != nil {
				return nil, fmt.Errorf("an apk database but no apk: %w", err)
			}
			return &pkgmgr.ApkJobs{Root: root, Dir: dir}, nil
		}
	}
	return nil, fmt.Errorf("no package database under %s that jobs can change (dpkg with apt, rpm with dnf, or apk)", root)
}

// localUpdates is the update lister of the package manager found under
// root: apt where there is a dpkg database and apt-get, dnf where there is
// an rpm database and dnf; none otherwise (apk comes later).
func localUpdates(root string) agent.UpdateLister {
	dbs, _ := pkgdb.Detect(root)
	for _, db := range dbs {
		switch db.Ecosystem {
		case pkgdb.Deb:
			if _, err := exec.LookPath("apt-get"); err == nil {
				return &pkgmgr.Apt{Root: root}
			}
		case pkgdb.RPM:
			if _, err := exec.LookPath("dnf"); err == nil {
				return &pkgmgr.Dnf{Root: root}
			}
		}
	}
	return nil
}
