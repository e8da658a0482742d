package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/version"
)

// hostFilter reads GET /api/v1/hosts's query. stale=DURATION lists hosts
// not seen for that long; online=DURATION those seen within it.
func (s *Server) hostFilter(r *http.Request) (patchbay.HostFilter, error) {
	if err := checkQuery(r, "label", "group", "owner", "os", "stale", "online", "reboot_required", "duplicates", "retired", "cursor", "limit"); err != nil {
		return patchbay.HostFilter{}, err
	}
	q := r.URL.Query()
	f := patchbay.HostFilter{Label: q.Get("label"), Group: q.Get("group"), Owner: q.Get("owner"), OS: q.Get("os")}
	for name, dst := range map[string]*time.Time{"stale": &f.SeenBefore, "online": &f.SeenSince} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return f, patchbay.FieldError(patchbay.EInvalid, name, "want a positive duration such as 15m or 24h, got %q", v)
			}
			*dst = s.now().Add(-d)
		}
	}
	var err error
	if f.Duplicates, err = queryBool(r, "duplicates"); err != nil {
		return f, err
	}
	if f.Retired, err = queryBool(r, "retired"); err != nil {
		return f, err
	}
	if q.Get("reboot_required") != "" {
		b, err := queryBool(r, "reboot_required")
		if err != nil {
			return f, err
		}
		f.RebootRequired = &b
	}
	if f.Cursor, err = queryInt(r, "cursor", 0, 0, 1<<62); err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	f.Limit = int(limit)
	return f, err
}

func (s *Server) handleHostsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := s.hostFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
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

func (s *Server) handleHostGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		h, err := s.store.Host(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, h)
	})
}

func (s *Server) handleHostPackages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		pkgs, upds, err := s.store.HostPackages(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.HostPackages{Packages: nonNil(pkgs), Updates: nonNil(upds)}
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Server) handleHostUpdate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var req apiv1.UpdateHostRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if req.Labels == nil && req.Groups == nil && req.Criticality == nil && req.Owner == nil {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "body", "nothing to change: give labels, groups, criticality or owner"))
			return
		}
		h, err := s.store.UpdateHost(r.Context(), caller(r).actor(), id, store.HostUpdate{Labels: req.Labels, Groups: req.Groups,
			Criticality: req.Criticality, Owner: req.Owner})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.plansChanged()
		writeJSON(w, http.StatusOK, h)
	})
}

func (s *Server) handleHostRetire() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		h, err := s.store.RetireHost(r.Context(), caller(r).actor(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.inventoryChanged() // a retired host's findings go
		writeJSON(w, http.StatusOK, h)
	})
}

func (s *Server) handleHostResolveDuplicate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var req apiv1.ResolveDuplicateRequest
		if err := decode(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if req.Action != "merge" && req.Action != "keep" {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "action", "want merge or keep, got %q", req.Action))
			return
		}
		h, err := s.store.ResolveDuplicate(r.Context(), caller(r).actor(), id, req.Action == "keep")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.inventoryChanged()
		writeJSON(w, http.StatusOK, h)
	})
}

func (s *Server) handlePackageHosts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, "limit", "version_lt"); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		below := r.URL.Query().Get("version_lt")
		if err := patchbay.ValidateText("version_lt", below, 256); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		name := r.PathValue("name")
		if err := patchbay.ValidateText("name", name, 256); err != nil || name == "" {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "name", "want a package name"))
			return
		}
		limit, err := queryInt(r, "limit", 1000, 1, 100000)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		rows, err := s.store.WhichHosts(r.Context(), name, int(limit))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.List[apiv1.PackageHost]{Items: []apiv1.PackageHost{}}
		for _, ph := range rows {
			if below != "" {
				lower, err := versionBelow(name, ph.Package, below)
				if err != nil {
					writeError(w, r, s.log, err)
					return
				}
				if !lower {
					continue
				}
			}
			out.Items = append(out.Items, apiv1.PackageHost(ph))
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// packageOrderings are the version orderings of package ecosystems. Alpine
// hosts are compared by apk-tools 2's ordering: the two orderings differ
// only on versions with leading zeros past the first component.
var packageOrderings = map[string]version.Ecosystem{"deb": version.Deb, "rpm": version.RPM, "apk": version.APK2, "go": version.Go}

// versionBelow reports whether p, found by name, is at a version lower
// than below: its source version when name is its source's name, else its
// own. A below that is not a version of p's ecosystem is EInvalid; a
// package whose version does not parse is not below anything.
func versionBelow(name string, p patchbay.Package, below string) (bool, error) {
	eco, ok := packageOrderings[p.Ecosystem]
	if !ok {
		return false, nil
	}
	v := p.Version
	if src, srcVer := p.Source(); name == src && name != p.Name {
		v = srcVer
	}
	if _, err := version.Parse(eco, below); err != nil {
		return false, patchbay.FieldError(patchbay.EInvalid, "version_lt", "%v", err)
	}
	c, err := version.Compare(eco, v, below)
	return err == nil && c < 0, nil
}
