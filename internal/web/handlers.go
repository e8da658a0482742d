package web

import (
	"context"
	"net/http"
	"time"

	"github.com/patchbay/patchbay"
)

// List is the shape of every listing: a page of items and, when there may
// be more, the cursor that fetches the next page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
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
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": string(s.store.Engine())})
	})
}

// WhoAmI is the answer of GET /api/v1/whoami.
type WhoAmI struct {
	User        patchbay.User         `json:"user"`
	Token       patchbay.Token        `json:"token"`
	Permissions []patchbay.Permission `json:"permissions"`
}

func (s *Server) handleWhoami() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := caller(r)
		writeJSON(w, http.StatusOK, WhoAmI{User: *p.user, Token: *p.token, Permissions: patchbay.RolePermissions[p.user.Role]})
	})
}

// RoleInfo is one row of GET /api/v1/roles.
type RoleInfo struct {
	Role        patchbay.Role         `json:"role"`
	Permissions []patchbay.Permission `json:"permissions"`
}

func (s *Server) handleRoles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := List[RoleInfo]{}
		for _, role := range patchbay.Roles {
			out.Items = append(out.Items, RoleInfo{Role: role, Permissions: patchbay.RolePermissions[role]})
		}
		writeJSON(w, http.StatusOK, out)
	})
}
