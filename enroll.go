package patchbay

import "time"

// EnrollSecret lets agents enroll. The secret itself is shown once and
// stored only as a hash. Hosts that enroll with it get its labels and
// groups.
type EnrollSecret struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	MaxUses   *int       `json:"max_uses,omitempty"` // nil: no limit
	Uses      int        `json:"uses"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Labels    []string   `json:"labels"`
	Groups    []string   `json:"groups"`
}

// Usable returns nil when s may enroll a host at now, or an EUnauthorized
// error saying why not.
func (s *EnrollSecret) Usable(now time.Time) error {
	switch {
	case s.RevokedAt != nil:
		return Errorf(EUnauthorized, "the enroll secret was revoked")
	case s.ExpiresAt != nil && !now.Before(*s.ExpiresAt):
		return Errorf(EUnauthorized, "the enroll secret expired")
	case s.MaxUses != nil && s.Uses >= *s.MaxUses:
		return Errorf(EUnauthorized, "the enroll secret reached its limit of %d enrollments", *s.MaxUses)
	}
	return nil
}
