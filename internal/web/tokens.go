package web

import (
	"net/http"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func (s *Server) handleTokensList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, "all"); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p := caller(r)
		userID := p.user.ID
		if r.URL.Query().Get("all") == "true" {
			if !p.user.Role.Can(patchbay.PermTokensAll) {
				writeError(w, r, s.log, patchbay.Errorf(patchbay.EForbidden, "role %s lacks permission %s", p.user.Role, patchbay.PermTokensAll))
				return
			}
			userID = 0
		}
		toks, err := s.store.Tokens(r.Context(), userID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, apiv1.List[patchbay.Token]{Items: nonNil(toks)})
	})
}

func (s *Server) handleTokensCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateTokenRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p := caller(r)
		if req.User == "" {
			req.User = p.user.Name
		}
		if req.User != p.user.Name && !p.user.Role.Can(patchbay.PermTokensAll) {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EForbidden, "user", "role %s may only create its own tokens", p.user.Role))
			return
		}
		var expires *time.Time
		if req.ExpiresAt != "" {
			t, err := time.Parse(time.RFC3339, req.ExpiresAt)
			if err != nil {
				writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "expires_at", "want an RFC 3339 time such as 2027-01-01T00:00:00Z, got %q", req.ExpiresAt))
				return
			}
			expires = &t
		}
		if req.ExpiresIn != "" {
			if expires != nil {
				writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "expires_in", "give expires_in or expires_at, not both"))
				return
			}
			d, err := time.ParseDuration(req.ExpiresIn)
			if err != nil || d <= 0 {
				writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "expires_in", "want a positive duration such as 720h, got %q", req.ExpiresIn))
				return
			}
			t := s.now().Add(d)
			expires = &t
		}
		tok, secret, err := s.store.CreateToken(r.Context(), p.actor(), req.User, req.Name, expires)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, apiv1.CreatedToken{Token: *tok, Secret: secret})
	})
}

func (s *Server) handleTokensRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p := caller(r)
		owner := p.user.ID
		if p.user.Role.Can(patchbay.PermTokensAll) {
			owner = 0
		}
		tok, err := s.store.RevokeToken(r.Context(), p.actor(), id, owner)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, tok)
	})
}
