package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/feedload"
	"github.com/patchbay/patchbay/internal/feedsync"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/store"
)

// DefaultMaxFeedBytes bounds an uploaded or fetched feed unless Config
// says otherwise: osv.dev's Debian all.zip is a few tens of MiB.
const DefaultMaxFeedBytes = 512 << 20

func (s *Server) handleVulnsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := func() (patchbay.AdvisoryFilter, error) {
			var f patchbay.AdvisoryFilter
			if err := checkQuery(r, "all", "severity", "kev", "host", "cursor", "limit"); err != nil {
				return f, err
			}
			q := r.URL.Query()
			var err error
			if f.All, err = queryBool(r, "all"); err != nil {
				return f, err
			}
			if f.KEV, err = queryBool(r, "kev"); err != nil {
				return f, err
			}
			if f.HostID, err = queryInt(r, "host", 0, 1, 1<<62); err != nil {
				return f, err
			}
			f.MinSeverity, f.Cursor = q.Get("severity"), q.Get("cursor")
			if err := patchbay.ValidateText("cursor", f.Cursor, 256); err != nil {
				return f, err
			}
			limit, err := queryInt(r, "limit", 100, 1, 1000)
			f.Limit = int(limit)
			return f, err
		}()
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		advs, err := s.store.Advisories(r.Context(), f)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.List[patchbay.Advisory]{Items: advs}
		if len(advs) == f.Limit {
			out.NextCursor = advs[len(advs)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Server) handleVulnGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		id := r.PathValue("id")
		if err := patchbay.ValidateText("id", id, 256); err != nil || id == "" {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "id", "want an advisory id or a CVE id"))
			return
		}
		ds, err := s.store.Advisory(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.List[apiv1.AdvisoryDetail]{Items: []apiv1.AdvisoryDetail{}}
		for _, d := range ds {
			out.Items = append(out.Items, apiv1.AdvisoryDetail{Advisory: d.Advisory, Record: d.Record, Findings: d.Findings})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Server) handleFindingsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := func() (patchbay.FindingFilter, error) {
			var f patchbay.FindingFilter
			if err := checkQuery(r, "host", "advisory", "status", "limit", "cursor"); err != nil {
				return f, err
			}
			var err error
			if f.HostID, err = queryInt(r, "host", 0, 1, 1<<62); err != nil {
				return f, err
			}
			f.Advisory = r.URL.Query().Get("advisory")
			if err := patchbay.ValidateText("advisory", f.Advisory, 256); err != nil {
				return f, err
			}
			for _, st := range r.URL.Query()["status"] {
				for _, v := range strings.Split(st, ",") {
					switch patchbay.FindingStatus(v) {
					case patchbay.FindingOpen, patchbay.FindingFixed, patchbay.FindingWithdrawn, patchbay.FindingExcepted:
						f.Status = append(f.Status, patchbay.FindingStatus(v))
					default:
						return f, patchbay.FieldError(patchbay.EInvalid, "status", "want open, excepted, fixed or withdrawn, got %q", v)
					}
				}
			}
			if f.HostID == 0 && f.Advisory == "" {
				return f, patchbay.FieldError(patchbay.EInvalid, "host", "name a host (host=ID) or an advisory (advisory=ID)")
			}
			limit, err := queryInt(r, "limit", 100000, 1, 1000000)
			f.Limit = int(limit)
			return f, err
		}()
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		after, err := findingCursorOf(r.URL.Query().Get("cursor"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		limit := f.Limit
		f.Limit = 0 // the page is cut after the cursor
		fs, err := s.findings(r.Context(), f)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, findingPage(fs, after, limit))
	})
}

// handleFeedImport takes a feed file as the request body: its name (for
// recognising its kind and for the history) comes in the name query
// parameter.
func (s *Server) handleFeedImport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, "name"); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		name := r.URL.Query().Get("name")
		if err := patchbay.ValidateText("name", name, 500); err != nil || name == "" {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "name", "want the feed's file name, such as all.zip"))
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxFeed))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, r, s.log, patchbay.FieldError(patchbay.ETooLarge, "body", "a feed may be at most %d bytes (--max-feed-bytes)", s.maxFeed))
				return
			}
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "body", "cannot read the feed: %v", err))
			return
		}
		if len(data) == 0 {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "body", "the feed is empty"))
			return
		}
		b, err := feedload.LoadBytes(r.Context(), name, data)
		if err != nil {
			writeError(w, r, s.log, feedError(name, err))
			return
		}
		res, err := feedsync.Import(r.Context(), s.store, caller(r).actor(), b)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.afterImport(res)
		writeJSON(w, http.StatusOK, res)
	})
}

// feedError makes a feed that cannot be loaded at all a 422 naming it,
// keeping the code of errors that already have one.
func feedError(name string, err error) error {
	var pe *patchbay.Error
	if errors.As(err, &pe) {
		return err
	}
	return &patchbay.Error{Code: patchbay.EUnprocessable, Field: "body", Message: fmt.Sprintf("feed %s: %v", name, err), Err: err}
}

func (s *Server) afterImport(res apiv1.FeedImportResult) {
	if (res.Added > 0 || res.Replaced > 0) && s.onAdvisories != nil {
		s.onAdvisories()
	}
}

func (s *Server) handleFeedFetch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body apiv1.FeedFetch
		if err := decode(r, s.maxBody, &body); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		u, err := url.Parse(body.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EUnprocessable, "url", "want an http or https URL"))
			return
		}
		if s.fetcher == nil {
			writeError(w, r, s.log, patchbay.Errorf(patchbay.EUnavailable, "this server does not fetch feeds"))
			return
		}
		res, err := s.fetcher.Fetch(r.Context(), caller(r).actor(), body.URL, false)
		if err != nil {
			writeError(w, r, s.log, feedError(body.URL, err))
			return
		}
		s.afterImport(res)
		writeJSON(w, http.StatusOK, res)
	})
}

func (s *Server) handleFeedsList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := apiv1.Feeds{Sources: []apiv1.FeedSource{}}
		for _, u := range s.feedURLs {
			src, err := s.store.FeedSource(r.Context(), u)
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			src.Interval = s.feedInterval.String()
			out.Sources = append(out.Sources, src)
		}
		var err error
		if out.Imports, err = s.store.FeedImports(r.Context(), 50); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if out.Advisories, out.KEV, out.EPSS, err = s.store.FeedCounts(r.Context()); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleFeedExport writes a bundle of everything imported. It is built in
// memory first, so an error answers a problem rather than a cut zip.
func (s *Server) handleFeedExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		ctx := r.Context()
		b := feedload.BundleContents{Created: s.now().UTC()}
		err := s.store.EachAdvisory(ctx, func(a store.StoredAdvisory) error {
			rec, err := osv.Parse(a.Record)
			if err != nil {
				return fmt.Errorf("stored advisory %s: %w", a.ID, err)
			}
			b.Records = append(b.Records, rec)
			return nil
		})
		if err == nil {
			b.KEV, err = s.store.KEVCatalog(ctx)
		}
		if err == nil {
			b.EPSS, err = s.store.EPSSScores(ctx)
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if len(b.KEV.Entries) == 0 {
			b.KEV = nil
		}
		if len(b.EPSS.Scores) == 0 {
			b.EPSS = nil
		}
		var buf bytes.Buffer
		if err := feedload.WriteBundle(&buf, b); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="patchbay-feeds-%s.zip"`, s.now().UTC().Format("20060102T150405Z")))
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.Write(buf.Bytes())
		s.log.Info("feeds exported", "records", len(b.Records), "bytes", buf.Len(), "actor", caller(r).actor())
	})
}
