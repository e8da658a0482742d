package web

import (
	"net/http"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/store"
)

func (s *Server) handleUsersList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users, err := s.store.Users(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, apiv1.List[patchbay.User]{Items: nonNil(users)})
	})
}

func (s *Server) handleUsersCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateUserRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		u, err := s.store.CreateUser(r.Context(), caller(r).actor(), req.Name, req.Role)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, u)
	})
}

func (s *Server) handleUsersGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.store.User(r.Context(), r.PathValue("name"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
}

func (s *Server) handleUsersUpdate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.UpdateUserRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if req.Role == nil && req.Disabled == nil {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "body", "nothing to change: give role or disabled"))
			return
		}
		u, err := s.store.UpdateUser(r.Context(), caller(r).actor(), r.PathValue("name"), store.UserUpdate{Role: req.Role, Disabled: req.Disabled})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
}

// nonNil makes an empty listing encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
