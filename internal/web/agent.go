package web

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
)

type hostKey struct{}

// hostSession returns the host an agent request acts for.
func hostSession(r *http.Request) *store.HostSession {
	hs, _ := r.Context().Value(hostKey{}).(*store.HostSession)
	return hs
}

// authHost authenticates an agent's bearer host token. The request then
// acts for that host only: agent routes name no host.
func (s *Server) authHost(r *http.Request) (*http.Request, error) {
	token, ok := bearer(r)
	if !ok {
		return r, patchbay.Errorf(patchbay.EUnauthorized, "agent routes need a host token: send Authorization: Bearer <host token>")
	}
	hs, err := s.store.AuthenticateHost(r.Context(), token)
	if err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), hostKey{}, hs)), nil
}

// decodeAgent reads an agent's JSON body. Unlike the user API it tolerates
// unknown fields: a newer agent may send more than this server knows.
func decodeAgent(r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(nil, r.Body, limit)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return decodeError(err, limit)
	}
	return nil
}

func (s *Server) handleEnroll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.EnrollRequest
		if err := decodeAgent(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		res, err := s.store.Enroll(r.Context(), req)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, protocol.EnrollResponse{HostID: res.HostID, HostToken: res.HostToken,
			PossibleDuplicateOf: res.PossibleDuplicateOf})
	})
}

func (s *Server) handleCheckIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.CheckInRequest
		if err := decodeAgent(r, s.maxBody, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		need, err := s.store.CheckIn(r.Context(), hostSession(r), req.Facts, req.InventoryHash)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		outcome := "unchanged"
		if need {
			outcome = "inventory_needed"
		}
		s.metrics.checkins.WithLabelValues(outcome).Inc()
		writeJSON(w, http.StatusOK, protocol.CheckInResponse{InventoryNeeded: need,
			CheckInIntervalSeconds: int(s.checkInInterval.Seconds()), ServerTime: s.now().UTC()})
	})
}

// gzipReaders are reused across uploads.
var gzipReaders sync.Pool

// maxCompressedInventory bounds the bytes of a gzip upload on the wire;
// protocol.MaxInventoryBytes bounds them once decompressed.
const maxCompressedInventory = 16 << 20

func (s *Server) handleInventory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = http.MaxBytesReader(w, r.Body, maxCompressedInventory)
		switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
		case "gzip":
			zr, _ := gzipReaders.Get().(*gzip.Reader)
			var err error
			if zr == nil {
				zr, err = gzip.NewReader(body)
			} else {
				err = zr.Reset(body)
			}
			if err != nil {
				writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "body", "not gzip data: %v", err))
				return
			}
			defer gzipReaders.Put(zr)
			body = zr
		case "", "identity":
		default:
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "Content-Encoding", "want gzip or none, got %q", enc))
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != protocol.ContentTypeInventory {
			writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "Content-Type", "want %s, got %q", protocol.ContentTypeInventory, ct))
			return
		}
		inv, err := protocol.DecodeInventory(body, protocol.MaxInventoryBytes)
		if err != nil {
			var tooBig *http.MaxBytesError
			switch {
			case errors.Is(err, protocol.ErrInventoryTooLarge):
				writeError(w, r, s.log, patchbay.FieldError(patchbay.ETooLarge, "body", "inventory larger than %d bytes uncompressed", protocol.MaxInventoryBytes))
			case errors.As(err, &tooBig):
				writeError(w, r, s.log, patchbay.FieldError(patchbay.ETooLarge, "body", "upload larger than %d bytes", maxCompressedInventory))
			default:
				writeError(w, r, s.log, patchbay.FieldError(patchbay.EInvalid, "body", "%v", err))
			}
			return
		}
		if err := s.store.PutInventory(r.Context(), hostSession(r), inv); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.metrics.inventories.Inc()
		s.inventoryChanged()
		w.WriteHeader(http.StatusNoContent)
	})
}

// inventoryChanged tells the matcher that a host's findings may change.
func (s *Server) inventoryChanged() {
	if s.onInventory != nil {
		s.onInventory()
	}
}
