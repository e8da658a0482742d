package web

import (
	"net/http"
	"strconv"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func (s *Server) handleHostsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, "label", "group", "owner", "cursor", "limit"); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		f := patchbay.HostFilter{Label: q.Get("label"), Group: q.Get("group"), Owner: q.Get("owner")}
		var err error
		if f.Cursor, err = queryInt(r, "cursor", 0, 0, 1<<62); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		limit, err := queryInt(r, "limit", 100, 1, 1000)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		f.Limit = int(limit)
		hosts, err := s.store.Hosts(r.Context(), f)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.List[patchbay.Host]{Items: nonNil(hosts)}
		if len(hosts) == f.Limit {
			out.NextCursor = strconv.FormatInt(hosts[len(hosts)-1].ID, 10)
		}
		writeJSON(w, http.StatusOK, out)
	})
}
