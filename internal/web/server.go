// Package web is patchbay's whole HTTP surface as one http.Handler: the user
// API under /api/v1/, health and readiness, Prometheus metrics and the
// OpenAPI document. routes.go lists every route with its access class and
// the permission it needs; nothing is reachable that is not listed there.
package web

import (
	"log/slog"
	"sync/atomic"

	"net/http"
	"time"

	"github.com/patchbay/patchbay"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/patchbay/patchbay/internal/feedsync"
	"github.com/patchbay/patchbay/internal/store"
)

// DefaultMaxBodyBytes bounds request bodies unless Config says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Config is everything the handler depends on.
type Config struct {
	Store        *store.Store
	Logger       *slog.Logger
	Registry     *prometheus.Registry // metrics are registered here and served at /metrics
	MaxBodyBytes int64
	Version      string
	Now          func() time.Time
	// CheckInInterval is what agents are told to wait between check-ins
	// (DefaultCheckInInterval when zero); they add jitter.
	CheckInInterval time.Duration

	// MaxFeedBytes bounds an uploaded feed (DefaultMaxFeedBytes when zero).
	MaxFeedBytes int64
	// OnInventory and OnAdvisories are called after an inventory upload
	// or an import changed what findings depend on: the matcher's Nudge.
	OnInventory, OnAdvisories func()
	// OnPlans is called after a change the planner computes from: a
	// policy, an exception, a host's labels, groups, criticality or owner.
	OnPlans func()
	// Rollout takes people's actions on deployments and is nudged by job
	// results and approvals; nil refuses the actions.
	Rollout Rollout
	// Fetcher fetches feed URLs for POST /api/v1/feeds/fetch; nil refuses.
	Fetcher *feedsync.Fetcher
	// FeedURLs are the feeds synced on a schedule, every FeedInterval,
	// shown by GET /api/v1/feeds.
	FeedURLs     []string
	FeedInterval time.Duration
}

// DefaultCheckInInterval is the agents' check-in interval unless configured.
const DefaultCheckInInterval = time.Minute

// Server serves the API. Build it with New.
type Server struct {
	store   *store.Store
	log     *slog.Logger
	maxBody int64
	version string
	now     func() time.Time
	metrics *metrics
	mux     *http.ServeMux
	routes  []Route

	checkInInterval time.Duration

	maxFeed                   int64
	onInventory, onAdvisories func()
	onPlans                   func()
	rollout                   Rollout
	jobs                      signal      // every waiting poll: a deployment moved
	hostJobs                  hostSignals // one host's waiting polls: a slot freed for it
	stopping                  atomic.Bool
	fetcher                   *feedsync.Fetcher
	feedURLs                  []string
	feedInterval              time.Duration
}

// New returns the API handler.
func New(cfg Config) *Server {
	s := &Server{
		store:   cfg.Store,
		log:     cfg.Logger,
		maxBody: cfg.MaxBodyBytes,
		version: cfg.Version,
		now:     cfg.Now,
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.checkInInterval = cfg.CheckInInterval
	s.maxFeed = cfg.MaxFeedBytes
	if s.maxFeed <= 0 {
		s.maxFeed = DefaultMaxFeedBytes
	}
	s.onInventory, s.onAdvisories, s.onPlans, s.rollout = cfg.OnInventory, cfg.OnAdvisories, cfg.OnPlans, cfg.Rollout
	s.fetcher, s.feedURLs, s.feedInterval = cfg.Fetcher, cfg.FeedURLs, cfg.FeedInterval
	if s.checkInInterval <= 0 {
		s.checkInInterval = DefaultCheckInInterval
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: let the mux choose 404 or 405 (and its Allow header),
		// but answer in problem JSON like every other error.
		h.ServeHTTP(&unrouted{ResponseWriter: w, r: r, s: s}, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// unrouted turns the mux's plain-text 404 and 405 into problem JSON.
type unrouted struct {
	http.ResponseWriter
	r       *http.Request
	s       *Server
	written bool
}

func (u *unrouted) WriteHeader(status int) {
	if u.written {
		return
	}
	u.written = true
	code, msg := patchbay.ENotFound, "no route %s %s; see /api/v1/openapi.json"
	if status == http.StatusMethodNotAllowed {
		code, msg = patchbay.EMethodNotAllowed, "method %s is not allowed on %s (allowed: see the Allow header)"
	}
	u.Header().Del("Content-Type")
	writeError(u.ResponseWriter, u.r, u.s.log, patchbay.Errorf(code, msg, u.r.Method, u.r.URL.Path))
}

func (u *unrouted) Write(b []byte) (int, error) {
	if !u.written {
		u.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil // the mux's plain-text body is dropped
}

// Routes returns the route table, for tests and the OpenAPI comparison.
func (s *Server) Routes() []Route { return s.routes }
