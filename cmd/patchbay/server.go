package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/certs"
	"github.com/patchbay/patchbay/internal/feedsync"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/web"
)

// storeFlags are --data-dir and --database, the same on every command that
// opens the store itself.
type storeFlags struct {
	dataDir  string
	database string
	// failPoint kills the process at a store fail point (see
	// failPointFromEnv); nil in normal runs.
	failPoint func(name string)
}

func (f *storeFlags) add(cmd *cobra.Command, e *env) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", defaultDataDir(e.getenv), "directory of server state (created if missing)")
	cmd.Flags().StringVar(&f.database, "database", "sqlite:", `store: "sqlite:" (a file in --data-dir), "sqlite:PATH" or "postgres://…"`)
}

func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "patchbay")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "patchbay")
	}
	return "patchbay-data"
}

// open makes the data directory and opens (and migrates) the store.
func (f *storeFlags) open(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	if f.dataDir == "" {
		return nil, usageErrorf("--data-dir is empty")
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, usageErrorf("--data-dir %s: %v", f.dataDir, err)
	}
	loc, err := store.ParseLocation(f.database, f.dataDir)
	if err != nil {
		return nil, usageErrorf("--database: %v", err)
	}
	s, err := store.Open(ctx, loc, store.Options{Logger: log.With("component", "store"), FailPoint: f.failPoint})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

type serverOptions struct {
	store           storeFlags
	listen          string
	tlsCert, tlsKey string
	maxBody         int64
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration
	checkInInterval time.Duration
	feedURLs        []string
	feedInterval    time.Duration
	maxFeedBytes    int64
	matchInterval   time.Duration
	planInterval    time.Duration
}

func newServerCommand(e *env) *cobra.Command {
	var o serverOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the patchbay server: API, scheduler and feed sync",
		Long: `Run the patchbay server.

On first start against an empty store it creates the user "admin" and prints
an API token for it, once. Listening beyond loopback without --tls-cert and
--tls-key, it makes a self-signed certificate in --data-dir and prints its
fingerprint for clients' --server-fingerprint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(cmd.Context(), e, o)
		},
	}
	o.store.add(cmd, e)
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM); with --tls-cert")
	cmd.Flags().Int64Var(&o.maxBody, "max-body-bytes", web.DefaultMaxBodyBytes, "largest request body accepted")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "text or json")
	cmd.Flags().DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to let requests finish on SIGINT/SIGTERM")
	cmd.Flags().DurationVar(&o.checkInInterval, "checkin-interval", web.DefaultCheckInInterval, "how often agents check in (they add ±10% jitter)")
	cmd.Flags().StringSliceVar(&o.feedURLs, "feed-url", nil, "an http(s) feed to sync on a schedule (repeatable): an OSV zip, tracker list, KEV JSON, EPSS CSV or bundle")
	cmd.Flags().DurationVar(&o.feedInterval, "feed-interval", 6*time.Hour, "how often --feed-url feeds are synced (with ETag/If-Modified-Since)")
	cmd.Flags().Int64Var(&o.maxFeedBytes, "max-feed-bytes", web.DefaultMaxFeedBytes, "largest feed uploaded or fetched")
	cmd.Flags().DurationVar(&o.planInterval, "plan-interval", time.Minute, "how often the planner rebuilds the work queue and checks the policies' windows")
	cmd.Flags().DurationVar(&o.matchInterval, "match-interval", matcher.DefaultInterval, "how often the matcher looks for changes other servers made")
	return cmd
}

func (o *serverOptions) validate() error {
	_, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usageErrorf("--listen %q: want HOST:PORT, such as 127.0.0.1:8080: %v", o.listen, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usageErrorf("--listen %q: bad port: %v", o.listen, err)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together: give both or neither")
	}
	if o.maxBody < 1024 {
		return usageErrorf("--max-body-bytes %d: want at least 1024", o.maxBody)
	}
	if o.checkInInterval < time.Second {
		return usageErrorf("--checkin-interval %v: want at least 1s", o.checkInInterval)
	}
	for _, u := range o.feedURLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil {
			return usageErrorf("--feed-url %q: want an http or https URL without credentials", u)
		}
	}
	if o.feedInterval < time.Minute {
		return usageErrorf("--feed-interval %v: want at least 1m", o.feedInterval)
	}
	if o.maxFeedBytes < 1<<20 {
		return usageErrorf("--max-feed-bytes %d: want at least 1048576", o.maxFeedBytes)
	}
	if o.matchInterval < 100*time.Millisecond {
		return usageErrorf("--match-interval %v: want at least 100ms", o.matchInterval)
	}
	if o.planInterval < 100*time.Millisecond {
		return usageErrorf("--plan-interval %v: want at least 100ms", o.planInterval)
	}
	if o.shutdownTimeout <= 0 {
		return usageErrorf("--shutdown-timeout %v: want a positive duration", o.shutdownTimeout)
	}
	return nil
}

// loopbackHost reports whether a listen host is only reachable from this
// machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServer(ctx context.Context, e *env, o serverOptions) error {
	return serve(ctx, e, o, nil)
}

// serve runs the server until ctx ends. ready, when not nil, is called once
// the server listens, with its URL and the admin token made on this start
// ("" when the store already had users).
func serve(ctx context.Context, e *env, o serverOptions, ready func(url, adminToken string)) error {
	if err := o.validate(); err != nil {
		return err
	}
	fp, err := failPointFromEnv(e.getenv("PATCHBAY_FAILPOINT"))
	if err != nil {
		return err
	}
	o.store.failPoint = fp
	log, err := newLogger(e.stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	boot, err := st.Bootstrap(ctx, false)
	if err != nil {
		return err
	}
	if boot.CreatedAdmin {
		fmt.Fprintf(e.stdout, "patchbay: created user admin; its API token, shown only now:\n\n    %s\n\n", boot.Secret)
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", o.listen, err)
	}
	scheme := "http"
	host, _, _ := net.SplitHostPort(o.listen)
	tlsCfg, err := serverTLS(o, host, e, log)
	if err != nil {
		ln.Close()
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	holder := fmt.Sprintf("%s:%d", hostnameOr("server"), os.Getpid())
	if st.Location().Engine == store.SQLite {
		releaseDeadLeases(ctx, st, log, hostnameOr("server"))
	}
	reg := prometheus.NewRegistry()
	pl := planner.New(st, planner.Options{Logger: log.With("component", "planner"), Holder: holder, Interval: o.planInterval,
		OnPass: plannerMetrics(reg)})
	onMatch := matcherMetrics(reg)
	m := matcher.New(st, matcher.Options{Logger: log.With("component", "matcher"), Holder: holder, Interval: o.matchInterval,
		OnPass: func(s matcher.Stats) { onMatch(s); pl.Nudge() }})
	fetcher := &feedsync.Fetcher{Store: st, Client: feedsync.NewClient(10 * time.Minute), MaxBytes: o.maxFeedBytes, Logger: log.With("component", "feeds")}
	syncer := &feedsync.Syncer{Fetcher: fetcher, URLs: o.feedURLs, Interval: o.feedInterval, Holder: holder, OnImport: m.Nudge,
		Logger: log.With("component", "feeds")}
	var jobsChanged func(int64) // the web server's, set before anything runs
	ctl := rollout.NewController(st, rollout.Options{Logger: log.With("component", "rollout"), Holder: holder,
		OnChange: func(id int64) { jobsChanged(id) }})
	handler := web.New(web.Config{
		Store:           st,
		Logger:          log.With("component", "web"),
		Registry:        reg,
		MaxBodyBytes:    o.maxBody,
		Version:         buildVersion(),
		CheckInInterval: o.checkInInterval,
		MaxFeedBytes:    o.maxFeedBytes,
		OnInventory:     m.Nudge,
		OnAdvisories:    m.Nudge,
		OnPlans:         pl.Nudge,
		Rollout:         ctl,
		Fetcher:         fetcher,
		FeedURLs:        o.feedURLs,
		FeedInterval:    o.feedInterval,
	})
	jobsChanged = handler.JobsChanged
	bg, stopBG := context.WithCancel(ctx)
	var bgDone sync.WaitGroup
	bgDone.Go(func() { m.Run(bg) })
	bgDone.Go(func() { syncer.Run(bg) })
	bgDone.Go(func() { pl.Run(bg) })
	bgDone.Go(func() { ctl.Run(bg) })
	defer func() { stopBG(); bgDone.Wait() }()

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(handler.StopPolls)
	log.Info("listening", "url", scheme+"://"+ln.Addr().String(), "store", st.Location().String(), "startup", time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "patchbay server listening on %s://%s\n", scheme, ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(scheme+"://"+ln.Addr().String(), boot.Secret)
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// serverTLS decides how the server speaks: the given certificate; plain
// HTTP on loopback; otherwise a self-signed certificate kept in the data
// directory, whose fingerprint it prints.
func serverTLS(o serverOptions, host string, e *env, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case o.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, usageErrorf("--tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		return cfg, nil
	case loopbackHost(host):
		return nil, nil
	}
	cert, created, err := certs.LoadOrCreateSelfSigned(o.store.dataDir, []string{host}, time.Now())
	if err != nil {
		return nil, err
	}
	fp := certs.Fingerprint(cert.Certificate[0])
	if created {
		log.Info("made a self-signed certificate", "path", filepath.Join(o.store.dataDir, certs.SelfSignedCert))
	}
	fmt.Fprintf(e.stdout, "patchbay: TLS with a self-signed certificate; clients pass --server-fingerprint %s\n", fp)
	cfg.Certificates = []tls.Certificate{cert}
	return cfg, nil
}

func hostnameOr(def string) string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return def
}

// plannerMetrics registers the planner's metrics and returns what updates
// them after each pass.
func plannerMetrics(reg *prometheus.Registry) func(planner.Result, error) {
	passes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "patchbay_planner_pass_seconds",
		Help: "Duration of planner passes: work queue rebuilt and windows checked.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)})
	counters := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_planner_total",
		Help: "What planner passes did: passes and failures, queue rows written, deployments proposed, windows missed."}, []string{"what"})
	queue := prometheus.NewGauge(prometheus.GaugeOpts{Name: "patchbay_work_queue_entries", Help: "Entries in the work queue after the last pass."})
	reg.MustRegister(passes, counters, queue)
	return func(r planner.Result, err error) {
		counters.WithLabelValues("passes").Inc()
		if err != nil {
			counters.WithLabelValues("failures").Inc()
			return
		}
		passes.Observe(r.Took.Seconds())
		queue.Set(float64(r.Queue))
		counters.WithLabelValues("written").Add(float64(r.Written))
		counters.WithLabelValues("proposed").Add(float64(r.Proposed))
		counters.WithLabelValues("missed").Add(float64(r.Missed))
	}
}

// matcherMetrics registers the matcher's metrics and returns what updates
// them after each pass.
func matcherMetrics(reg *prometheus.Registry) func(matcher.Stats) {
	passes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "patchbay_matcher_pass_seconds",
		Help: "Duration of matcher passes that changed something.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)})
	counters := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_matcher_total",
		Help: "What matcher passes did: hosts evaluated again, keys evaluated, advisory changes taken in, findings opened and closed."}, []string{"what"})
	reg.MustRegister(passes, counters)
	return func(st matcher.Stats) {
		passes.Observe(st.Took.Seconds())
		counters.WithLabelValues("hosts").Add(float64(st.Hosts))
		counters.WithLabelValues("keys").Add(float64(st.KeysEvaluated))
		counters.WithLabelValues("advisories").Add(float64(st.Advisories))
		counters.WithLabelValues("opened").Add(float64(st.Opened))
		counters.WithLabelValues("closed").Add(float64(st.Closed))
	}
}

// releaseDeadLeases gives up the leases a server of this host that no
// longer runs still holds (killed, so it never released them): otherwise
// this one waits out their time-to-live, 15 s, before it plans, matches
// or rolls out. Only on SQLite, where every server of a database runs on
// this host: on PostgreSQL another host's process of the same number
// would look dead here.
func releaseDeadLeases(ctx context.Context, st *store.Store, log *slog.Logger, host string) {
	leases, err := st.LeaseHolders(ctx)
	if err != nil {
		log.Warn("leases of a previous server", "err", err)
		return
	}
	for name, holder := range leases {
		h, p, ok := strings.Cut(holder, ":")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || h != host || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := st.ReleaseLease(ctx, name, holder); err != nil {
			log.Warn("leases of a previous server", "lease", name, "err", err)
			continue
		}
		log.Info("released the lease of a server that is gone", "lease", name, "holder", holder)
	}
}
