// Package feedsync brings advisory feeds into the store: a feed uploaded
// or fetched once, and the feed URLs a server syncs on a schedule with
// HTTP validators (ETag, Last-Modified), so an unchanged feed costs one 304.
// A feed is imported in one transaction: its usable records all, or, when
// the store fails, none; records it cannot use are reported by name and
// never stored, so the store never holds half a record.
package feedsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/feedload"
	"github.com/patchbay/patchbay/internal/store"
)

// maxProblemsShown bounds the problems an answer lists; all are counted.
const maxProblemsShown = 200

// Import stores a loaded feed as actor and says what it did.
func Import(ctx context.Context, st *store.Store, actor string, b *feedload.Batch) (apiv1.FeedImportResult, error) {
	sum, err := st.ImportAdvisories(ctx, actor, store.AdvisoryImport{
		Source: b.Name, Kind: string(b.Kind), Records: b.Records, KEV: b.KEV, EPSS: b.EPSS, Problems: len(b.Problems),
	})
	if err != nil {
		return apiv1.FeedImportResult{}, err
	}
	res := apiv1.FeedImportResult{
		Name: b.Name, Kind: string(b.Kind), Records: len(b.Records),
		Added: sum.Added, Replaced: sum.Replaced, Unchanged: sum.Unchanged, Older: sum.Older, KEV: sum.KEV, EPSS: sum.EPSS,
		ProblemsTotal: len(b.Problems), Problems: []apiv1.FeedProblem{},
	}
	for i, p := range b.Problems {
		if i == maxProblemsShown {
			break
		}
		res.Problems = append(res.Problems, apiv1.FeedProblem{File: p.File, Reason: p.Reason})
	}
	return res, nil
}

// Summary is a result in one line, for logs and the sync state.
func Summary(r apiv1.FeedImportResult) string {
	if r.NotModified {
		return "not modified"
	}
	return fmt.Sprintf("%s: %d records (%d added, %d replaced, %d unchanged, %d older), %d KEV, %d EPSS, %d problems",
		r.Kind, r.Records, r.Added, r.Replaced, r.Unchanged, r.Older, r.KEV, r.EPSS, r.ProblemsTotal)
}

// NewClient returns the HTTP client a server fetches feeds with: bounded
// in time, and refusing to connect to link-local addresses (cloud metadata
// services live there), unspecified and multicast addresses, whatever name
// resolved to them.
func NewClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, Control: refuseSpecial}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil
	return &http.Client{Timeout: timeout, Transport: tr}
}

// refuseSpecial is a net.Dialer Control that refuses addresses a feed has
// no business on.
func refuseSpecial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("feed address %q is not an IP address", host)
	}
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("refusing to fetch a feed from %s: a link-local, unspecified or multicast address", ip)
	}
	return nil
}

// Fetcher fetches feed URLs and imports them.
type Fetcher struct {
	Store    *store.Store
	Client   *http.Client
	MaxBytes int64 // the largest feed body taken; feedload's limits apply after
	Logger   *slog.Logger
	Now      func() time.Time
}

// Fetch gets url and imports it as actor. With validators (a scheduled
// sync) it sends the ones stored for the URL and records the new ones; a
// 304 imports nothing. Failures are recorded in the URL's sync state.
func (f *Fetcher) Fetch(ctx context.Context, actor, url string, validators bool) (apiv1.FeedImportResult, error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	var v feedload.Validators
	if validators {
		src, err := f.Store.FeedSource(ctx, url)
		if err != nil {
			return apiv1.FeedImportResult{}, err
		}
		v = feedload.Validators{ETag: src.ETag, LastModified: src.LastModified}
	}
	res, etag, lastMod, err := f.fetch(ctx, actor, url, v)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return res, err
	}
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	if serr := f.Store.SaveFeedSync(context.WithoutCancel(ctx), url, etag, lastMod, Summary(res), errText, now()); serr != nil && err == nil {
		err = serr
	}
	return res, err
}

func (f *Fetcher) fetch(ctx context.Context, actor, url string, v feedload.Validators) (apiv1.FeedImportResult, string, string, error) {
	got, err := feedload.Fetch(ctx, f.Client, url, v, f.MaxBytes)
	if err != nil {
		return apiv1.FeedImportResult{}, "", "", err
	}
	if got.NotModified {
		return apiv1.FeedImportResult{Name: url, NotModified: true, Problems: []apiv1.FeedProblem{}}, got.ETag, got.LastModified, nil
	}
	b, err := feedload.LoadBytes(ctx, url, got.Data)
	if err != nil {
		var pe *patchbay.Error
		if errors.As(err, &pe) { // keep its code: a zip bomb stays ETooLarge
			return apiv1.FeedImportResult{}, "", "", err
		}
		return apiv1.FeedImportResult{}, "", "", patchbay.Errorf(patchbay.EUnprocessable, "feed %s: %v", url, err)
	}
	res, err := Import(ctx, f.Store, actor, b)
	return res, got.ETag, got.LastModified, err
}

// Syncer fetches configured feed URLs every Interval, one server at a time.
type Syncer struct {
	Fetcher  *Fetcher
	URLs     []string
	Interval time.Duration
	Holder   string // names this server for the lease
	OnImport func() // called after an import changed something (the matcher's Nudge)
	Logger   *slog.Logger
}

// Run syncs every URL now and then every Interval, until ctx ends. A URL
// that failed is retried at the next round; its error is in its sync state.
func (s *Syncer) Run(ctx context.Context) {
	if len(s.URLs) == 0 {
		return
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		ok, err := s.Fetcher.Store.TakeLease(ctx, "feedsync", s.Holder, s.Interval+time.Minute)
		if err != nil {
			log.Warn("feed sync lease", "err", err)
		}
		if ok {
			for _, url := range s.URLs {
				res, err := s.Fetcher.Fetch(ctx, "system:feed-sync", url, true)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					log.Warn("feed sync failed", "url", url, "err", err)
				default:
					log.Info("feed synced", "url", url, "result", Summary(res))
					if (res.Added > 0 || res.Replaced > 0) && s.OnImport != nil {
						s.OnImport()
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.Interval):
		}
	}
}
