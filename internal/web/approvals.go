package web

import (
	"net/http"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/store"
)

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
		id, err := pathIDQuery(r, "id")
		if err != nil {
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
		if err == nil && s.rollout != nil {
			s.rollout.Nudge() // an approved deployment is scheduled at once
		}
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
			// A request that expired while it waited can no longer be
			// approved: it is not waiting for anyone.
			if x.State == patchbay.ExceptionPending && s.now().Before(x.ExpiresAt) {
				out.Exceptions = append(out.Exceptions, x)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}
