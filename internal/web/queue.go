package web

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/store"
)

// findings lists the findings f selects with their risk, SLA due date and
// exception (planner.Annotate). Excepted findings are open ones an
// exception covers: asking for either status reads the open ones.
func (s *Server) findings(ctx context.Context, f patchbay.FindingFilter) ([]patchbay.Finding, error) {
	want := f.Status
	if len(want) == 0 {
		want = []patchbay.FindingStatus{patchbay.FindingOpen}
	}
	f.Status = nil
	for _, st := range want {
		if st == patchbay.FindingExcepted {
			st = patchbay.FindingOpen
		}
		if !slices.Contains(f.Status, st) {
			f.Status = append(f.Status, st)
		}
	}
	limit := f.Limit
	f.Limit = 0 // the limit applies after the statuses are known
	fs, err := s.store.Findings(ctx, f)
	if err != nil {
		return nil, err
	}
	hosts, err := s.hostsOf(ctx, fs)
	if err != nil {
		return nil, err
	}
	_, compiled, ex, err := s.planInputs(ctx, 0)
	if err != nil {
		return nil, err
	}
	planner.Annotate(fs, hosts, compiled, ex, s.now())
	out := fs[:0]
	for _, fd := range fs {
		if slices.Contains(want, fd.Status) {
			out = append(out, fd)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// hostsOf loads the hosts of fs's open findings: one by one for a few,
// the whole fleet in one listing for many.
func (s *Server) hostsOf(ctx context.Context, fs []patchbay.Finding) (map[int64]*patchbay.Host, error) {
	var ids []int64
	for _, fd := range fs {
		if fd.Status == patchbay.FindingOpen {
			ids = append(ids, fd.HostID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	hosts := make(map[int64]*patchbay.Host, len(ids))
	if len(ids) > 20 {
		all, err := s.store.Hosts(ctx, patchbay.HostFilter{Limit: 1 << 30})
		if err != nil {
			return nil, err
		}
		for i := range all {
			hosts[all[i].ID] = &all[i]
		}
		return hosts, nil
	}
	for _, id := range ids {
		h, err := s.store.Host(ctx, id)
		if err != nil {
			return nil, err
		}
		hosts[id] = h
	}
	return hosts, nil
}

func (s *Server) handleUpdatesList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := updateFilter(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		items, next, err := s.store.Queue(r.Context(), f)
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.HostUpdate]{Items: items, NextCursor: next}, err)
	})
}

// updateFilter reads GET /api/v1/updates's query.
func updateFilter(r *http.Request) (patchbay.UpdateFilter, error) {
	var f patchbay.UpdateFilter
	if err := checkQuery(r, "class", "host", "owner", "sort", "cursor", "limit"); err != nil {
		return f, err
	}
	q := r.URL.Query()
	for _, c := range q["class"] {
		switch c {
		case "critical", "security", "bugfix", "feature":
			f.Classes = append(f.Classes, c)
		default:
			return f, patchbay.FieldError(patchbay.EInvalid, "class", "unknown class %q (want critical, security, bugfix or feature)", c)
		}
	}
	var err error
	if f.HostID, err = queryInt(r, "host", 0, 1, 1<<62); err != nil {
		return f, err
	}
	f.Owner, f.Sort, f.Cursor = q.Get("owner"), q.Get("sort"), q.Get("cursor")
	if f.Sort != "" && f.Sort != "risk" && f.Sort != "host" {
		return f, patchbay.FieldError(patchbay.EInvalid, "sort", "want risk or host, got %q", f.Sort)
	}
	if err := patchbay.ValidateText("owner", f.Owner, 200); err != nil {
		return f, err
	}
	if err := patchbay.ValidateText("cursor", f.Cursor, 100); err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	f.Limit = int(limit)
	return f, err
}

func (s *Server) handleUpdateExplain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		host, upd, err := store.ParseQueueID(r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		d, compiled, ex, err := s.planInputs(r.Context(), host)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out, err := planner.Explain(d, compiled, ex, s.now(), host, upd)
		s.answer(w, r, http.StatusOK, out, err)
	})
}

func (s *Server) handleSLAReport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		rep, err := s.store.SLAReport(r.Context())
		s.answer(w, r, http.StatusOK, apiv1.List[patchbay.SLAReport]{Items: rep}, err)
	})
}

// findingKey is what orders findings (the store's order, then what tells
// apart a host's findings of one package name and advisory: the versions
// it was found in, fixed since): a page's cursor is the last one's,
// encoded. It names one finding, so a page ending on one of several that
// share a name and advisory does not skip the others.
type findingKey struct {
	Host                         int64
	Name, Arch, Source, Advisory string
	Ecosystem, Version, SourceV  string `json:",omitempty"`
}

func keyOf(f patchbay.Finding) findingKey {
	return findingKey{f.HostID, f.Package.Name, f.Package.Arch, f.Package.SourceName, f.Advisory,
		f.Package.Ecosystem, f.Package.Version, f.Package.SourceVersion}
}

func (a findingKey) compare(b findingKey) int {
	return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Source, b.Source), cmp.Compare(a.Advisory, b.Advisory),
		cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Version, b.Version), cmp.Compare(a.SourceV, b.SourceV))
}

// findingCursorOf decodes a findings page's cursor; nil for none.
func findingCursorOf(s string) (*findingKey, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var k findingKey
	if err == nil {
		err = json.Unmarshal(b, &k)
	}
	if err != nil || len(s) > 2048 {
		return nil, patchbay.FieldError(patchbay.EInvalid, "cursor", "not a cursor this server gave (next_cursor of the previous page)")
	}
	return &k, nil
}

// findingPage returns the findings after the cursor, at most limit (0:
// all), with the cursor of the next page when more follow.
func findingPage(fs []patchbay.Finding, after *findingKey, limit int) apiv1.List[patchbay.Finding] {
	// The store's order leaves those ties in no order: the whole key's,
	// the same on every page.
	slices.SortFunc(fs, func(a, b patchbay.Finding) int { return keyOf(a).compare(keyOf(b)) })
	if after != nil {
		i, _ := slices.BinarySearchFunc(fs, *after, func(f patchbay.Finding, k findingKey) int { return keyOf(f).compare(k) })
		for i < len(fs) && keyOf(fs[i]).compare(*after) <= 0 {
			i++
		}
		fs = fs[i:]
	}
	page := apiv1.List[patchbay.Finding]{Items: fs}
	if limit > 0 && len(fs) > limit {
		page.Items = fs[:limit]
		b, _ := json.Marshal(keyOf(fs[limit-1]))
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page
}
