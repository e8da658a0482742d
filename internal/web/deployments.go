package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/window"
)

// maxDeploymentHosts bounds a deployment a person makes in one request.
const maxDeploymentHosts = 100_000

func (s *Server) handleDeploymentCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateDeploymentRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		d, err := s.newDeployment(r.Context(), req)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		who := caller(r)
		d.RequestedBy = who.user.ID
		if err := s.store.CreateDeployment(r.Context(), who.actor(), d); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, d)
	})
}

// newDeployment validates req and plans it: each host's available updates
// it names, from the work queue, placed in rings.
func (s *Server) newDeployment(ctx context.Context, req apiv1.CreateDeploymentRequest) (*patchbay.Deployment, error) {
	if req.Name == "" {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "name", "required: what the deployment is for")
	}
	if err := patchbay.ValidateText("name", req.Name, 200); err != nil {
		return nil, err
	}
	switch {
	case len(req.Hosts) == 0:
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "hosts", "name at least one host")
	case len(req.Hosts) > maxDeploymentHosts:
		return nil, patchbay.FieldError(patchbay.ETooLarge, "hosts", "at most %d hosts", maxDeploymentHosts)
	}
	for i, c := range req.Classes {
		if !slices.Contains([]string{"critical", "security", "bugfix", "feature"}, c) {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, fmt.Sprintf("classes[%d]", i), "unknown class %q (want critical, security, bugfix or feature)", c)
		}
	}
	if len(req.Rings) == 0 {
		req.Rings = []patchbay.RingSpec{{Name: "all"}}
	}
	if _, err := policy.ParseRings(req.Rings); err != nil {
		return nil, err
	}
	if len(req.Windows) == 0 && !req.Emergency {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "windows", "at least one window is required (or an emergency deployment, which skips them)")
	}
	if _, err := window.FromSpecs("windows", req.Windows); err != nil {
		return nil, err
	}
	if req.Reboot.Mode == "" {
		req.Reboot.Mode = patchbay.RebootIfRequired
	}
	if !slices.Contains([]patchbay.RebootMode{patchbay.RebootNever, patchbay.RebootIfRequired, patchbay.RebootAlways}, req.Reboot.Mode) {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "reboot.mode", "unknown mode %q (want never, if-required or always)", req.Reboot.Mode)
	}
	if req.Reboot.Delay != "" {
		// As a policy's: the agent would read a delay it cannot parse as
		// none, and reboot without notice.
		if d, err := time.ParseDuration(req.Reboot.Delay); err != nil || d < 0 || d > policy.MaxRebootDelay {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, "reboot.delay", "%q is not a duration from 0 to %s such as \"5m\"", req.Reboot.Delay, policy.MaxRebootDelay)
		}
	}
	deadline := 2 * time.Hour
	if req.ProgressDeadline != "" {
		var err error
		if deadline, err = time.ParseDuration(req.ProgressDeadline); err != nil && req.ProgressDeadline != "0" || deadline < 0 {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, "progress_deadline", "%q is not a duration such as \"2h\" (\"0\": none)", req.ProgressDeadline)
		}
	}
	var grace time.Duration
	if req.OfflineGrace != "" {
		var err error
		if grace, err = time.ParseDuration(req.OfflineGrace); err != nil || grace < time.Minute || grace > 90*24*time.Hour {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, "offline_grace", "%q is not a duration from 1m to 2160h such as \"72h\"", req.OfflineGrace)
		}
	}
	if req.Deadline != nil && !req.Deadline.After(s.now()) {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "deadline", "%s is not in the future", req.Deadline.UTC().Format(time.RFC3339))
	}
	if err := req.Checks.Validate("checks"); err != nil {
		return nil, err
	}
	d := &patchbay.Deployment{Name: req.Name, State: patchbay.DeploymentAwaitingApproval, Reason: patchbay.ReasonNeedsApprove, Checks: req.Checks,
		Detail: "made by a person; an approver decides", Emergency: req.Emergency, Windows: nonNil(req.Windows), Reboot: req.Reboot,
		AutoRollback: req.AutoRollback == nil || *req.AutoRollback, ProgressDeadline: int(deadline / time.Second),
		Deadline: req.Deadline, ManualStart: req.ManualStart, OfflineGrace: int(grace / time.Second)}
	if req.Emergency {
		d.Detail = "EMERGENCY: skips maintenance windows and deferral; an approver decides"
	}
	hosts := make([]*patchbay.Host, 0, len(req.Hosts))
	planned := map[int64][]patchbay.PlannedUpdate{}
	slices.Sort(req.Hosts)
	for _, id := range slices.Compact(req.Hosts) {
		h, err := s.store.Host(ctx, id)
		if err != nil {
			return nil, err
		}
		if !h.Active() {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, "hosts", "host %d (%s) is retired", id, h.Hostname)
		}
		ups, _, err := s.store.Queue(ctx, patchbay.UpdateFilter{HostID: id, Classes: req.Classes, Sort: "host", Limit: 10_000})
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			if len(req.Packages) > 0 && !slices.Contains(req.Packages, u.Name) {
				continue
			}
			planned[id] = append(planned[id], patchbay.PlannedUpdate{Ecosystem: u.Ecosystem, Name: u.Name, Arch: u.Arch,
				FromVersion: u.FromVersion, ToVersion: u.ToVersion, Class: u.Class, Fixes: u.Fixes})
		}
		if len(planned[id]) > 0 {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "hosts", "none of the hosts is offered an update that matches (%s)", describeMatch(req))
	}
	idx, rings := policy.AssignRings(req.Rings, hosts)
	d.Rings = rings
	for i, h := range hosts {
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: h.ID, Hostname: h.Hostname, Ring: idx[i], Updates: planned[h.ID]})
	}
	d.HostCount = len(d.Hosts)
	return d, nil
}

func describeMatch(req apiv1.CreateDeploymentRequest) string {
	var parts []string
	if len(req.Packages) > 0 {
		parts = append(parts, "packages "+strings.Join(req.Packages, ", "))
	}
	if len(req.Classes) > 0 {
		parts = append(parts, "classes "+strings.Join(req.Classes, ", "))
	}
	if len(parts) == 0 {
		return "any update"
	}
	return strings.Join(parts, "; ")
}

func (s *Server) handleDeploymentAction() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var req apiv1.DeploymentActionRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		a := rollout.Action(req.Action)
		if !slices.Contains(rollout.Actions, a) || a == rollout.Approve || a == rollout.Reject {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "action",
				"unknown action %q (want submit, start, pause, resume, retry, promote, cancel or rollback; approvals go to /decision)", req.Action))
			return
		}
		if s.rollout == nil {
			writeError(w, r, s.log, patchbay.Errorf(patchbay.EUnavailable, "this server runs no rollout controller"))
			return
		}
		tr, err := s.rollout.Act(r.Context(), id, a, caller(r).actor())
		s.answer(w, r, http.StatusOK, apiv1.DeploymentActionResult{State: tr.State, Reason: tr.Reason, Detail: tr.Detail}, err)
	})
}

func (s *Server) handleDeploymentJobs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathIDQuery(r, "id", "kind", "state", "host", "output", "cursor", "limit")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		f, err := jobFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if _, err := s.store.Deployment(r.Context(), id); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		jobs, next, err := s.store.JobPage(r.Context(), id, f)
		page := apiv1.List[patchbay.Job]{Items: jobs}
		if next > 0 {
			page.NextCursor = strconv.FormatInt(next, 10)
		}
		s.answer(w, r, http.StatusOK, page, err)
	})
}

// jobFilter reads a job list's query: kind, state, host, output, and the
// page (cursor, limit: 500 by default, at most 1000, or 50 with output).
func jobFilter(r *http.Request) (patchbay.JobFilter, error) {
	q := r.URL.Query()
	f := patchbay.JobFilter{Kind: patchbay.JobKind(q.Get("kind")), State: patchbay.JobState(q.Get("state"))}
	if f.Kind != "" && f.Kind != patchbay.JobFetch && f.Kind != patchbay.JobInstall && f.Kind != patchbay.JobRollback {
		return f, patchbay.FieldError(patchbay.EInvalid, "kind", "want fetch, install or rollback, got %q", f.Kind)
	}
	if f.State != "" && !slices.Contains(patchbay.JobStates, f.State) {
		return f, patchbay.FieldError(patchbay.EInvalid, "state", "want one of %s, got %q", joinStates(patchbay.JobStates), f.State)
	}
	switch q.Get("output") {
	case "", "false":
	case "true":
		f.Output = true
	default:
		return f, patchbay.FieldError(patchbay.EInvalid, "output", "want true or false, got %q", q.Get("output"))
	}
	host, err := queryInt(r, "host", 0, 1, math.MaxInt64)
	if err != nil {
		return f, err
	}
	cursor, err := queryInt(r, "cursor", 0, 0, math.MaxInt64)
	if err != nil {
		return f, err
	}
	most := int64(1000)
	if f.Output {
		most = 50 // a job's output is up to 256 KiB
	}
	limit, err := queryInt(r, "limit", min(500, most), 1, most)
	if err != nil {
		return f, err
	}
	f.HostID, f.Cursor, f.Limit = host, cursor, int(limit)
	return f, nil
}

func joinStates(states []patchbay.JobState) string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return strings.Join(out, ", ")
}
