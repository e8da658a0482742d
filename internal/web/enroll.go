package web

import (
	"net/http"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/store"
)

func (s *Server) handleEnrollSecretsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.store.EnrollSecrets(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, apiv1.List[patchbay.EnrollSecret]{Items: nonNil(list)})
	})
}

func (s *Server) handleEnrollSecretsCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateEnrollSecretRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		expires, err := s.expiry(req.ExpiresAt, req.ExpiresIn)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		es, secret, err := s.store.CreateEnrollSecret(r.Context(), caller(r).actor(), store.NewEnrollSecret{
			Name: req.Name, ExpiresAt: expires, MaxUses: req.MaxUses, Labels: req.Labels, Groups: req.Groups})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, apiv1.CreatedEnrollSecret{EnrollSecret: *es, Secret: secret})
	})
}

func (s *Server) handleEnrollSecretsRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		es, err := s.store.RevokeEnrollSecret(r.Context(), caller(r).actor(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, es)
	})
}

// expiry reads an optional expiry given as an RFC 3339 time or a duration
// from now, refusing both at once.
func (s *Server) expiry(at, in string) (*time.Time, error) {
	switch {
	case at != "" && in != "":
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "expires_in", "give expires_in or expires_at, not both")
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, patchbay.FieldError(patchbay.EInvalid, "expires_at", "want an RFC 3339 time such as 2027-01-01T00:00:00Z, got %q", at)
		}
		return &t, nil
	case in != "":
		d, err := time.ParseDuration(in)
		if err != nil || d <= 0 {
			return nil, patchbay.FieldError(patchbay.EUnprocessable, "expires_in", "want a positive duration such as 720h, got %q", in)
		}
		t := s.now().Add(d)
		return &t, nil
	}
	return nil, nil
}
