package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

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
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := checkQuery(r, "version"); err != nil {
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
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ps, err := s.store.PolicyVersions(r.Context(), id)
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.Policy]{Items: ps}, err)
	})
}

// planInputs loads what planning computes from: the data (of the hosts
// named, or all), the enabled policies compiled, and the active
// exceptions.
func (s *Server) planInputs(ctx context.Context, hosts ...int64) (*store.PlanData, []*policy.Compiled, []patchbay.Exception, error) {
	d, err := s.store.LoadPlanData(ctx, hosts...)
	if err != nil {
		return nil, nil, nil, err
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
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if err := checkQuery(r, "days"); err != nil {
		return nil, err
	}
	days, err := queryInt(r, "days", 14, 1, 90)
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
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		h, err := s.store.Host(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		_, compiled, _, err := s.planInputs(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		_, gov := policy.Govern(compiled, h)
		writeJSON(w, http.StatusOK, gov)
	})
}

func (s *Server) handleUpdatesList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := updateFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		items, next, err := s.store.Queue(r.Context(), f)
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.HostUpdate]{Items: items, NextCursor: next}, err)
	})
}

// updateFilter reads GET /api/v1/updates's query.
func updateFilter(r *http.Request) (patchbay.UpdateFilter, error) {
	var f patchbay.UpdateFilter
	if err := checkQuery(r, "class", "host", "owner", "sort", "cursor", "limit"); err != nil {
		return f, err
	}
	q := r.URL.Query()
	for _, c := range q["class"] {
		switch c {
		case "critical", "security", "bugfix", "feature":
			f.Classes = append(f.Classes, c)
		default:
			return f, patchbay.FieldError(patchbay.EInvalid, "class", "unknown class %q (want critical, security, bugfix or feature)", c)
		}
	}
	var err error
	if f.HostID, err = queryInt(r, "host", 0, 1, 1<<62); err != nil {
		return f, err
	}
	f.Owner, f.Sort, f.Cursor = q.Get("owner"), q.Get("sort"), q.Get("cursor")
	if f.Sort != "" && f.Sort != "risk" && f.Sort != "host" {
		return f, patchbay.FieldError(patchbay.EInvalid, "sort", "want risk or host, got %q", f.Sort)
	}
	if err := patchbay.ValidateText("owner", f.Owner, 200); err != nil {
		return f, err
	}
	if err := patchbay.ValidateText("cursor", f.Cursor, 100); err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	f.Limit = int(limit)
	return f, err
}

func (s *Server) handleUpdateExplain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		host, upd, err := store.ParseQueueID(r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		d, compiled, ex, err := s.planInputs(r.Context(), host)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out, err := planner.Explain(d, compiled, ex, s.now(), host, upd)
		s.answer(w, r, http.StatusOK, out, err)
	})
}

func (s *Server) handleSLAReport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		rep, err := s.store.SLAReport(r.Context())
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.SLAReport]{Items: rep}, err)
	})
}

func (s *Server) handleExceptionsList() http.Handler {
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
		ex, err := s.store.Exceptions(r.Context(), all)
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.Exception]{Items: ex}, err)
	})
}

func (s *Server) handleExceptionCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateExceptionRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		x, err := s.store.CreateException(r.Context(), who.actor(), who.user.ID, store.NewException{Advisory: req.Advisory,
			Package: req.Package, Group: req.Group, Reason: req.Reason, ExpiresAt: req.ExpiresAt})
		s.answer(w, r, http.StatusCreated, x, err)
	})
}

func (s *Server) handleExceptionDecide() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, req, err := s.decision(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		x, err := s.store.DecideException(r.Context(), who.actor(), who.user, id, req.Decision, req.Comment)
		if err == nil {
			s.plansChanged()
		}
		s.answer(w, r, http.StatusOK, x, err)
	})
}

func (s *Server) handleExceptionRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		x, err := s.store.RevokeException(r.Context(), caller(r).actor(), id)
		if err == nil {
			s.plansChanged()
		}
		s.answer(w, r, http.StatusOK, x, err)
	})
}

// decision reads a decision route's id and body.
func (s *Server) decision(r *http.Request) (int64, apiv1.DecisionRequest, error) {
	var req apiv1.DecisionRequest
	id, err := pathID(r, "id")
	if err != nil {
		return 0, req, err
	}
	return id, req, decode(r, s.maxBody, &req)
}

func (s *Server) handleDeploymentsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := deploymentFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ds, err := s.store.Deployments(r.Context(), f)
		out := apiv1.List[patchbay.Deployment]{Items: ds}
		if err == nil && len(ds) == f.Limit {
			out.NextCursor = strconv.FormatInt(ds[len(ds)-1].ID, 10)
		}
		s.answer(w, r, http.StatusOK, out, err)
	})
}

// deploymentFilter reads GET /api/v1/deployments's query.
func deploymentFilter(r *http.Request) (patchbay.DeploymentFilter, error) {
	var f patchbay.DeploymentFilter
	if err := checkQuery(r, "state", "policy", "cursor", "limit"); err != nil {
		return f, err
	}
	for _, st := range r.URL.Query()["state"] {
		ok := false
		for _, known := range patchbay.DeploymentStates {
			ok = ok || string(known) == st
		}
		if !ok {
			return f, patchbay.FieldError(patchbay.EInvalid, "state", "unknown deployment state %q", st)
		}
		f.States = append(f.States, patchbay.DeploymentState(st))
	}
	var err error
	if f.PolicyID, err = queryInt(r, "policy", 0, 1, 1<<62); err != nil {
		return f, err
	}
	if f.Cursor, err = queryInt(r, "cursor", 0, 1, 1<<62); err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	f.Limit = int(limit)
	return f, err
}

func (s *Server) handleDeploymentGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		d, err := s.store.Deployment(r.Context(), id)
		s.answer(w, r, http.StatusOK, d, err)
	})
}

func (s *Server) handleDeploymentDecide() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, req, err := s.decision(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		d, err := s.store.DecideDeployment(r.Context(), who.actor(), who.user, id, req.Decision, req.Comment)
		s.answer(w, r, http.StatusOK, d, err)
	})
}

func (s *Server) handleApprovalsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ds, err := s.store.Deployments(r.Context(), patchbay.DeploymentFilter{States: []patchbay.DeploymentState{patchbay.DeploymentAwaitingApproval}})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		all, err := s.store.Exceptions(r.Context(), true)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.Approvals{Deployments: ds, Exceptions: []patchbay.Exception{}}
		for _, x := range all {
			if x.State == patchbay.ExceptionPending {
				out.Exceptions = append(out.Exceptions, x)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}
