package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay"
)

// decode reads r's JSON body into v. It refuses, naming the field where it
// can, bodies over the limit (413), unknown fields, wrong types, malformed
// JSON, trailing data and non-JSON content types (400).
func decode(r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return patchbay.FieldError(patchbay.EInvalid, "Content-Type", "want application/json, got %q", ct)
		}
	}
	body := http.MaxBytesReader(nil, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return decodeError(err, limit)
		}
		return patchbay.FieldError(patchbay.EInvalid, "body", "unexpected data after the JSON value")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return patchbay.FieldError(patchbay.ETooLarge, "body", "larger than the limit of %d bytes", limit)
	case errors.Is(err, io.EOF):
		return patchbay.FieldError(patchbay.EInvalid, "body", "empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return patchbay.FieldError(patchbay.EInvalid, "body", "truncated JSON")
	case errors.As(err, &syntax):
		return patchbay.FieldError(patchbay.EInvalid, "body", "invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return patchbay.FieldError(patchbay.EInvalid, field, "want %s, got JSON %s", typ.Type, typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ := strconv.Unquote(name)
		return patchbay.FieldError(patchbay.EInvalid, f, "unknown field")
	}
	return patchbay.FieldError(patchbay.EInvalid, "body", "cannot read JSON: %v", err)
}

// queryInt reads an optional integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, patchbay.FieldError(patchbay.EInvalid, name, "want an integer from %d to %d, got %q", min, max, s)
	}
	return n, nil
}

// queryBool reads an optional boolean query parameter (false when absent).
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, patchbay.FieldError(patchbay.EInvalid, name, "want true or false, got %q", v)
	}
	return b, nil
}

// pathID reads an integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, patchbay.FieldError(patchbay.EInvalid, name, "want a positive integer id, got %q", s)
	}
	return n, nil
}

// pathIDQuery reads an integer path parameter and refuses query
// parameters other than known: what a route on one object checks first.
func pathIDQuery(r *http.Request, name string, known ...string) (int64, error) {
	id, err := pathID(r, name)
	if err != nil {
		return 0, err
	}
	return id, checkQuery(r, known...)
}

// checkQuery refuses query parameters a route does not know, so a typo in a
// filter is an error rather than a silently unfiltered listing.
func checkQuery(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			return patchbay.FieldError(patchbay.EInvalid, k, "unknown query parameter (known: %s)", fmt.Sprint(known))
		}
	}
	return nil
}
