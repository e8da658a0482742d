package web

import (
	"context"
	"net/http"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, apiv1.Health{Status: "ok", Version: s.version})
	})
}

func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			writeError(w, r, s.log, &patchbay.Error{Code: patchbay.EUnavailable, Message: "the store does not answer", Err: err})
			return
		}
		writeJSON(w, http.StatusOK, apiv1.Health{Status: "ready", Version: s.version, Store: string(s.store.Engine())})
	})
}

func (s *Server) handleWhoami() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := caller(r)
		writeJSON(w, http.StatusOK, apiv1.WhoAmI{User: *p.user, Token: *p.token, Permissions: patchbay.RolePermissions[p.user.Role]})
	})
}

func (s *Server) handleRoles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := apiv1.List[apiv1.RoleInfo]{}
		for _, role := range patchbay.Roles {
			out.Items = append(out.Items, apiv1.RoleInfo{Role: role, Permissions: patchbay.RolePermissions[role]})
		}
		writeJSON(w, http.StatusOK, out)
	})
}
