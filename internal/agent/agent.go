// Package agent is what runs on each host: it enrolls once, then checks in
// on an interval with its facts and its inventory's hash, and uploads the
// full inventory when the server asks. It talks to the server only through
// internal/client and never imports the store or the web server.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// FactSource tells the agent about its host.
type FactSource interface {
	Facts(ctx context.Context) (protocol.Facts, error)
}

// InventorySource reads the host's installed packages and available
// updates. A source that fails is reported in Inventory.Errors, never
// silently left out.
type InventorySource interface {
	Inventory(ctx context.Context) protocol.Inventory
}

// Config is an agent's setup.
type Config struct {
	Client       *client.Client // without a token; the agent adds its host token
	Server       string         // for the state file: a changed server means enrolling anew
	EnrollSecret string         // needed only until the first enrollment
	StateDir     string
	Facts        FactSource
	Inventory    InventorySource
	Version      string
	Logger       *slog.Logger
	// Interval overrides the server's check-in interval when not zero.
	Interval time.Duration
	// MaxBackoff caps the wait between attempts while the server is
	// unreachable (default 5 minutes).
	MaxBackoff time.Duration
	// Once makes Run return after one successful check-in (and upload).
	Once bool
	// Packages, when set, lets the agent take deployment jobs: it waits
	// for them by long poll and runs them through this package manager,
	// journalled under StateDir/jobs.
	Packages PackageManager
	// PollWait is how long a job poll waits on the server (default 25s).
	PollWait time.Duration
	// Host runs jobs' hooks, watches their services and reboots (nil:
	// none of that; jobs that ask for it fail saying so).
	Host HostOps
	Rand *rand.Rand // jitter; seeded from the clock when nil
}

// ErrTokenRefused means the server no longer accepts this host's token: the
// host was retired or merged away. The agent does not re-enroll by itself,
// which would undo the retirement.
var ErrTokenRefused = errors.New("the server refused this host's token (retired or merged?); remove the state file and enroll again if this host should come back")

// Run enrolls when needed, then checks in until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15))
	}
	a := &runner{cfg: cfg, log: cfg.Logger}
	return a.run(ctx)
}

type runner struct {
	cfg    Config
	log    *slog.Logger
	state  State
	api    *client.Client
	online *bool // nil until the first attempt: logs only state changes
	fails  int
}

func (a *runner) run(ctx context.Context) error {
	st, err := LoadState(a.cfg.StateDir)
	if err != nil {
		return err
	}
	a.state = st
	a.api = a.cfg.Client.WithToken(st.HostToken)
	jobsStarted := false
	var jobs sync.WaitGroup
	defer jobs.Wait()
	for {
		interval, err := a.cycle(ctx)
		switch {
		case err == nil:
			a.setOnline(true, nil)
			a.fails = 0
			if a.cfg.Once {
				return nil
			}
			if a.cfg.Packages != nil && !jobsStarted {
				jobsStarted = true
				x, err := a.executor()
				if err != nil {
					return err
				}
				api := a.api
				jobs.Go(func() { a.runJobs(ctx, api, x) })
			}
		case errors.Is(err, ErrTokenRefused), ctx.Err() != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case isPermanent(err):
			// Misconfiguration (a refused enroll secret): keep trying slowly,
			// an admin may fix it, but say so every time.
			if a.cfg.Once {
				return err
			}
			a.log.Error("enrollment refused", "err", err)
			a.fails++
			interval = a.backoff()
		default:
			a.setOnline(false, err)
			a.fails++
			interval = a.backoff()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// cycle is one check-in: enroll if needed, report, upload if asked. It
// returns the wait until the next one.
func (a *runner) cycle(ctx context.Context) (time.Duration, error) {
	facts, err := a.cfg.Facts.Facts(ctx)
	if err != nil {
		a.log.Warn("some facts could not be read", "err", err)
	}
	facts.AgentVersion = a.cfg.Version
	facts.ProtocolVersion = protocol.Version
	if a.state.HostToken == "" || a.state.Server != a.cfg.Server {
		if err := a.enroll(ctx, facts); err != nil {
			return 0, err
		}
	}
	inv := a.cfg.Inventory.Inventory(ctx)
	inv.Hash = protocol.InventoryHash(inv)
	for _, e := range inv.Errors {
		a.log.Warn("package source unreadable", "source", e.Source, "err", e.Message)
	}
	res, err := a.api.CheckIn(ctx, protocol.CheckInRequest{Facts: facts, InventoryHash: inv.Hash})
	if err != nil {
		return 0, a.refused(err)
	}
	if res.InventoryNeeded {
		if err := a.api.UploadInventory(ctx, inv); err != nil {
			return 0, a.refused(err)
		}
		a.log.Info("inventory uploaded", "packages", len(inv.Packages), "updates", len(inv.Updates), "hash", inv.Hash[:12])
	}
	return a.interval(res), nil
}

func (a *runner) enroll(ctx context.Context, facts protocol.Facts) error {
	if a.cfg.EnrollSecret == "" {
		return permanent(errors.New("not enrolled and no enroll secret given (--enroll-secret or PATCHBAY_ENROLL_SECRET)"))
	}
	prev := a.state.HostToken
	if a.state.Server != a.cfg.Server {
		prev = "" // a token of another server means nothing here
	}
	res, err := a.cfg.Client.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: a.cfg.EnrollSecret, HostToken: prev, Facts: facts})
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status < 500 {
			return permanent(fmt.Errorf("enroll: %w", err))
		}
		return fmt.Errorf("enroll: %w", err)
	}
	a.state = State{Server: a.cfg.Server, HostID: res.HostID, HostToken: res.HostToken}
	if err := SaveState(a.cfg.StateDir, a.state); err != nil {
		return permanent(err)
	}
	a.api = a.cfg.Client.WithToken(res.HostToken)
	args := []any{"host_id", res.HostID}
	if res.PossibleDuplicateOf != 0 {
		args = append(args, "possible_duplicate_of", res.PossibleDuplicateOf)
	}
	a.log.Info("enrolled", args...)
	return nil
}

// refused turns a 401 into ErrTokenRefused.
func (a *runner) refused(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w: %v", ErrTokenRefused, err)
	}
	return err
}

// interval is the server's check-in interval (or the configured one) with
// ±10% jitter, so a fleet started together spreads out.
func (a *runner) interval(res protocol.CheckInResponse) time.Duration {
	d := time.Duration(res.CheckInIntervalSeconds) * time.Second
	if a.cfg.Interval > 0 {
		d = a.cfg.Interval
	}
	if d <= 0 {
		d = time.Minute
	}
	return time.Duration(float64(d) * (0.9 + 0.2*a.cfg.Rand.Float64()))
}

// backoff is capped exponential with full jitter: 1 s, 2 s, 4 s, … up to
// MaxBackoff, each a random time up to that bound.
func (a *runner) backoff() time.Duration {
	max := time.Second << min(a.fails, 20)
	if max > a.cfg.MaxBackoff || max <= 0 {
		max = a.cfg.MaxBackoff
	}
	return time.Duration(a.cfg.Rand.Int64N(int64(max))) + 100*time.Millisecond
}

func (a *runner) setOnline(ok bool, err error) {
	if a.online != nil && *a.online == ok {
		return
	}
	a.online = &ok
	if ok {
		a.log.Info("server reachable")
	} else {
		a.log.Warn("server unreachable; retrying with backoff", "err", err)
	}
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
