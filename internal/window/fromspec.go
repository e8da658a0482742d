package window

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// FromSpec parses the domain's form of a window, whose duration is text
// ("3h", "1h30m"), as Parse parses a Spec, with the same errors: a duration
// that is not in Go's notation is reported on field.duration exactly as
// Parse reports one that did not decode from JSON, and an empty one as
// missing.
func FromSpec(field string, s patchbay.WindowSpec) (Window, error) {
	spec := Spec{Cron: s.Cron, Zone: s.Zone}
	if s.Duration != "" {
		if d, err := time.ParseDuration(s.Duration); err == nil {
			spec.Duration = d
		} else {
			spec.badDuration = jsonString(s.Duration)
		}
	}
	return Parse(field, spec)
}

// FromSpecs parses a policy's windows with FromSpec; errors name
// field[i].cron and so on. An empty list gives an empty set.
func FromSpecs(field string, specs []patchbay.WindowSpec) (Windows, error) {
	ws := make(Windows, 0, len(specs))
	for i, s := range specs {
		w, err := FromSpec(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// jsonString is s as a JSON string, the way a client would have written it
// (no HTML escaping), so that messages read the same whichever form the
// window came in.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
