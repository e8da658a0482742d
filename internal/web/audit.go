package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func (s *Server) handleAuditList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := auditFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		evs, err := s.store.ListAudit(r.Context(), f)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.List[patchbay.AuditEvent]{Items: nonNil(evs)}
		if len(evs) == f.Limit {
			out.NextCursor = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// auditFilter reads GET /api/v1/audit's query: actor, object ("type" or
// "type:id"), since and until (RFC 3339), cursor and limit.
func auditFilter(r *http.Request) (patchbay.AuditFilter, error) {
	if err := checkQuery(r, "actor", "object", "since", "until", "cursor", "limit"); err != nil {
		return patchbay.AuditFilter{}, err
	}
	q := r.URL.Query()
	f := patchbay.AuditFilter{Actor: q.Get("actor")}
	if obj := q.Get("object"); obj != "" {
		f.ObjectType, f.ObjectID, _ = strings.Cut(obj, ":")
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, patchbay.FieldError(patchbay.EInvalid, name, "want an RFC 3339 time such as 2026-12-04T10:00:00Z, got %q", v)
			}
			*dst = t
		}
	}
	var err error
	if f.AfterSeq, err = queryInt(r, "cursor", 0, 0, 1<<62); err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	f.Limit = int(limit)
	return f, err
}

func (s *Server) handleAuditVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := s.store.VerifyAudit(r.Context())
		var br *patchbay.ChainBreak
		if errors.As(err, &br) {
			writeJSON(w, http.StatusOK, apiv1.AuditVerification{Checked: n, Break: br})
			return
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, apiv1.AuditVerification{OK: true, Checked: n})
	})
}
