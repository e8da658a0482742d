package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
)

// signal wakes every waiter at once: long polls wait on it for jobs that
// may have become due.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// hostSignals wakes the polls of chosen hosts.
type hostSignals struct {
	mu      sync.Mutex
	m       map[int64]*signal // at most one a host, kept: bounded by the fleet
	waiting map[int64]int     // each host's polls in progress here
}

func (h *hostSignals) wait(host int64) <-chan struct{} {
	h.mu.Lock()
	sig := h.m[host]
	if sig == nil {
		if h.m == nil {
			h.m = map[int64]*signal{}
		}
		sig = &signal{}
		h.m[host] = sig
	}
	h.mu.Unlock()
	return sig.wait()
}

// enter counts a poll of host in progress until leave is called.
func (h *hostSignals) enter(host int64) (leave func()) {
	h.mu.Lock()
	if h.waiting == nil {
		h.waiting = map[int64]int{}
	}
	h.waiting[host]++
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if h.waiting[host]--; h.waiting[host] <= 0 {
			delete(h.waiting, host)
		}
		h.mu.Unlock()
	}
}

// fire wakes the polls of up to n of hosts, those with a poll in progress
// here: a host offline (whose jobs stay pending, the oldest of all) has
// none, and waking it would wake nobody.
func (h *hostSignals) fire(hosts []int64, n int) {
	h.mu.Lock()
	sigs := make([]*signal, 0, n)
	for _, id := range hosts {
		if sig := h.m[id]; sig != nil && h.waiting[id] > 0 && len(sigs) < n {
			sigs = append(sigs, sig)
		}
	}
	h.mu.Unlock()
	for _, sig := range sigs {
		sig.fire()
	}
}

// slotWakes is how many waiting polls a freed parallel slot wakes: one
// takes it; a few more cover hosts outside their window. They are chosen
// among the first slotCandidates hosts whose install waits in the ring.
const (
	slotWakes      = 4
	slotCandidates = 256
)

// JobsChanged wakes the agents waiting for jobs of a deployment that moved
// (the rollout controller calls it after every transition it stores): its
// hosts' polls here, not the whole fleet's. When its hosts cannot be read,
// every poll.
func (s *Server) JobsChanged(deployment int64) {
	hosts, err := s.store.DeploymentHostIDs(context.Background(), deployment)
	if err != nil {
		s.log.Warn("hosts of a deployment that moved; waking every poll", "deployment", deployment, "err", err)
		s.jobs.fire()
		return
	}
	s.hostJobs.fire(hosts, len(hosts))
}

// StopPolls answers every waiting long poll at once and every later one
// without waiting: the server is shutting down (http.Server's
// RegisterOnShutdown), and agents will poll the next server.
func (s *Server) StopPolls() {
	s.stopping.Store(true)
	s.jobs.fire()
}

// recheck is how often a waiting poll looks at the store without being
// woken: another server's controller may have made its jobs due.
const recheck = 5 * time.Second

func (s *Server) handleJobsPoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.PollRequest
		if err := decodeAgent(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := req.Validate(); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		release, err := s.store.ReleasedDeployments(r.Context(), req.Holding, s.now())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		wait := min(max(time.Duration(req.WaitSeconds)*time.Second, 0), protocol.MaxPollWait)
		deadline := time.Now().Add(wait)
		host := hostSession(r).HostID
		defer s.hostJobs.enter(host)()
		for {
			// Before claiming: a change during the claim is not missed.
			woken, mine := s.jobs.wait(), s.hostJobs.wait(host)
			jobs, err := s.store.ClaimJobs(r.Context(), host, s.now(), protocol.MaxJobsPerPoll, s.mayStart)
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			left := time.Until(deadline)
			if len(jobs) > 0 || left <= 0 || s.stopping.Load() {
				s.metrics.jobsHanded.Add(float64(len(jobs)))
				// A deployment whose job the host is handed (one offered
				// again after an answer was lost, say, a rollback of one
				// ended since) still needs its files: the agent deletes
				// released files before it runs the jobs.
				release = slices.DeleteFunc(release, func(d int64) bool {
					return slices.ContainsFunc(jobs, func(j protocol.Job) bool { return j.DeploymentID == d })
				})
				writeJSON(w, http.StatusOK, protocol.PollResponse{Jobs: nonNil(jobs), Release: release})
				return
			}
			t := time.NewTimer(min(left, recheck))
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-woken:
			case <-mine:
			case <-t.C:
			}
			t.Stop()
		}
	})
}

// mayStart applies rollout.MayStart at the server's clock.
func (s *Server) mayStart(c store.JobCandidate) (time.Time, bool) {
	startBy, ok, err := rollout.MayStart(c, s.now())
	if err != nil {
		s.log.Error("a deployment's job cannot be started", "err", err)
	}
	return startBy, ok
}

func (s *Server) handleJobResult() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var res protocol.JobResult
		// A result an agent bounded as the protocol says always fits: were
		// it refused, the job would stay running and be offered again.
		if err := decodeAgent(r, max(s.maxBody, protocol.MaxJobResultBody), &res); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		_, err = s.store.RecordJobResult(r.Context(), hostSession(r).HostID, id, res)
		if errors.Is(err, store.ErrStaleResult) {
			// Harmless: an older attempt, or the same result again after a
			// retry. The agent forgets it.
			writeJSON(w, http.StatusOK, map[string]bool{"accepted": false})
			return
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.metrics.jobResults.WithLabelValues(string(res.Status)).Inc()
		switch res.Status {
		case protocol.JobHealthy, protocol.JobFailed, protocol.JobRefused:
			// The host no longer holds a slot of its ring's max_parallel:
			// hosts waiting for one take it now, not at their next look.
			if hosts, err := s.store.HostsAwaitingSlot(r.Context(), id, slotCandidates); err != nil {
				s.log.Warn("hosts waiting for a parallel slot", "job", id, "err", err)
			} else {
				s.hostJobs.fire(hosts, slotWakes)
			}
		}
		if s.rollout != nil {
			s.rollout.Nudge()
		}
		writeJSON(w, http.StatusOK, map[string]bool{"accepted": true})
	})
}

// Rollout is what the API needs of the rollout controller.
type Rollout interface {
	Act(ctx context.Context, id int64, a rollout.Action, by string) (rollout.Transition, error)
	Nudge()
}
