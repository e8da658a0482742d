package patchbay

import "regexp"

var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/=-]{0,62}$`)

// ValidateTags checks labels or groups: 1 to 63 characters of letters,
// digits and . _ : / = -, starting with a letter or digit; at most 64 of
// them. field names the input in the error.
func ValidateTags(field string, tags []string) error {
	if len(tags) > 64 {
		return FieldError(EUnprocessable, field, "at most 64 entries, got %d", len(tags))
	}
	for _, t := range tags {
		if !tagRE.MatchString(t) {
			return FieldError(EUnprocessable, field, "%q must be 1 to 63 characters of letters, digits and . _ : / = -, starting with a letter or digit", truncate(t, 80))
		}
	}
	return nil
}

// ParseCriticality returns c as a Criticality or an EUnprocessable error.
func ParseCriticality(field, c string) (Criticality, error) {
	switch Criticality(c) {
	case CriticalityLow, CriticalityMedium, CriticalityHigh, CriticalityCritical:
		return Criticality(c), nil
	}
	return "", FieldError(EUnprocessable, field, "unknown criticality %q (want low, medium, high or critical)", truncate(c, 40))
}
