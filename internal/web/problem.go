package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[patchbay.ErrorCode]int{
	patchbay.EInvalid:          http.StatusBadRequest,
	patchbay.EUnprocessable:    http.StatusUnprocessableEntity,
	patchbay.ENotFound:         http.StatusNotFound,
	patchbay.EMethodNotAllowed: http.StatusMethodNotAllowed,
	patchbay.EConflict:         http.StatusConflict,
	patchbay.EUnauthorized:     http.StatusUnauthorized,
	patchbay.EForbidden:        http.StatusForbidden,
	patchbay.ETooLarge:         http.StatusRequestEntityTooLarge,
	patchbay.EUnavailable:      http.StatusServiceUnavailable,
	patchbay.EInternal:         http.StatusInternalServerError,
}

// problemTypeBase prefixes the type URI of every problem; the document at
// docs/api.md#errors describes each code.
const problemTypeBase = "https://patchbay.dev/problems/"

// writeError answers err as problem JSON. Internal errors are logged with
// their cause and answered with a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := patchbay.ErrorCodeOf(err)
	status := statusOf[code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	p := apiv1.Problem{
		Type:     problemTypeBase + string(code),
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   patchbay.ErrorMessageOf(err),
		Instance: r.URL.Path,
		Code:     string(code),
	}
	var pe *patchbay.Error
	if errors.As(err, &pe) {
		p.Field = pe.Field
	}
	switch {
	case status >= 500:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay"`)
	}
	if code == patchbay.EUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
