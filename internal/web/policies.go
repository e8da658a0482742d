package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/store"
)

// answer writes v as JSON with status, or err as a problem.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, status, v)
}

// plansChanged tells the planner that what it computes from changed.
func (s *Server) plansChanged() {
	if s.onPlans != nil {
		s.onPlans()
	}
}

func (s *Server) handlePoliciesList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, "all"); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		all, err := queryBool(r, "all")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ps, err := s.store.Policies(r.Context(), patchbay.PolicyFilter{All: all})
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.Policy]{Items: ps}, err)
	})
}

// readPolicy decodes and validates a policy body, and warns when its
// selector selects no host in service.
func (s *Server) readPolicy(r *http.Request) (patchbay.Policy, []string, error) {
	var p patchbay.Policy
	if err := decode(r, s.maxBody, &p); err != nil {
		return p, nil, err
	}
	policy.Normalize(&p)
	c, err := policy.Compile(p)
	if err != nil {
		return p, nil, err
	}
	hosts, err := s.store.Hosts(r.Context(), patchbay.HostFilter{Limit: 1 << 30})
	if err != nil {
		return p, nil, err
	}
	for i := range hosts {
		if ok, _ := c.Selects(&hosts[i]); ok {
			return p, nil, nil
		}
	}
	return p, []string{fmt.Sprintf("selector: selects none of the %d hosts in service", len(hosts))}, nil
}

func (s *Server) handlePolicyCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, warnings, err := s.readPolicy(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		stored, err := s.store.CreatePolicy(r.Context(), who.actor(), who.user.ID, p)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.plansChanged()
		writeJSON(w, http.StatusCreated, apiv1.PolicyResult{Policy: *stored, Warnings: warnings})
	})
}

func (s *Server) handlePolicyUpdate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p, warnings, err := s.readPolicy(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		// The body's version is the one the change was made from.
		stored, err := s.store.UpdatePolicy(r.Context(), who.actor(), who.user.ID, id, p.Version, p)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.plansChanged()
		writeJSON(w, http.StatusOK, apiv1.PolicyResult{Policy: *stored, Warnings: warnings})
	})
}

func (s *Server) handlePolicyGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathIDQuery(r, "id", "version")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v, err := queryInt(r, "version", 0, 1, 1<<31-1)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p, err := s.store.Policy(r.Context(), id, int(v))
		s.answer(w, r, http.StatusOK, p, err)
	})
}

func (s *Server) handlePolicyVersions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathIDQuery(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ps, err := s.store.PolicyVersions(r.Context(), id)
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.Policy]{Items: ps}, err)
	})
}

// planInputs loads what planning computes from: the data (of the hosts
// named, all of them when none is, no data when the one named is 0), the
// enabled policies compiled, and the active exceptions.
func (s *Server) planInputs(ctx context.Context, hosts ...int64) (*store.PlanData, []*policy.Compiled, []patchbay.Exception, error) {
	var d *store.PlanData
	if len(hosts) != 1 || hosts[0] != 0 {
		var err error
		if d, err = s.store.LoadPlanData(ctx, hosts...); err != nil {
			return nil, nil, nil, err
		}
	}
	ps, err := s.store.Policies(ctx, patchbay.PolicyFilter{})
	if err != nil {
		return nil, nil, nil, err
	}
	var compiled []*policy.Compiled
	for _, p := range ps {
		if c, err := policy.Compile(p); err == nil {
			compiled = append(compiled, c)
		}
	}
	ex, err := s.store.Exceptions(ctx, false)
	return d, compiled, ex, err
}

func (s *Server) handlePolicySimulate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim, err := s.simulate(r)
		s.answer(w, r, http.StatusOK, sim, err)
	})
}

// simulate answers what a policy would deploy over the coming days, with
// no side effects. A disabled policy is simulated as if enabled.
func (s *Server) simulate(r *http.Request) (*apiv1.Simulation, error) {
	id, err := pathIDQuery(r, "id", "days")
	if err != nil {
		return nil, err
	}
	days, err := queryInt(r, "days", 14, 1, policy.MaxSimulateDays)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Policy(r.Context(), id, 0)
	if err != nil {
		return nil, err
	}
	target, err := policy.Compile(*p)
	if err != nil {
		return nil, fmt.Errorf("policy %d no longer compiles: %w", id, err)
	}
	target.Enabled = true
	d, compiled, ex, err := s.planInputs(r.Context())
	if err != nil {
		return nil, err
	}
	others := []*policy.Compiled{target}
	for _, c := range compiled {
		if c.ID != id {
			others = append(others, c)
		}
	}
	now := s.now()
	q := planner.Build(d, others, ex, now)
	hosts := make([]*patchbay.Host, len(d.Hosts))
	for i := range d.Hosts {
		hosts[i] = &d.Hosts[i]
	}
	wins, err := policy.Simulate(others, id, hosts, q.Candidates, now, int(days))
	if err != nil {
		return nil, err
	}
	out := &apiv1.Simulation{Policy: *p, From: now.UTC(), Days: int(days), Windows: []apiv1.SimulatedWindow{}}
	for _, g := range policy.Groups(others, hosts) {
		if g.Policy.ID == id {
			out.Hosts += len(g.Hosts)
		}
	}
	for _, sw := range wins {
		win := apiv1.SimulatedWindow{Zone: sw.Zone, Start: sw.Window.Start.UTC(), End: sw.Window.End.UTC(), Hosts: sw.Hosts,
			Deployments: []patchbay.Deployment{}}
		for _, prop := range sw.Proposals {
			win.Deployments = append(win.Deployments, *planner.Deployment(target, prop))
		}
		out.Windows = append(out.Windows, win)
	}
	return out, nil
}

func (s *Server) handleHostPolicy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathIDQuery(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		h, err := s.store.Host(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		_, compiled, _, err := s.planInputs(r.Context(), 0)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		_, gov := policy.Govern(compiled, h)
		writeJSON(w, http.StatusOK, gov)
	})
}
