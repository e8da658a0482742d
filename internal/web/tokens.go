package web

import (
	"net/http"

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
		expires, err := s.expiry(req.ExpiresAt, req.ExpiresIn)
		if err != nil {
			writeError(w, r, s.log, err)
			return
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
