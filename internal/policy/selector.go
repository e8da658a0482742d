package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay"
)

// selector is a compiled patchbay.Selector.
type selector struct {
	labels, groups, owners []string
	crit                   []patchbay.Criticality
	os                     []osEntry
}

// familyReleases lists, per OS family, the distributions (os-release IDs)
// whose releases are the family's own: RHEL's rebuilds share its major
// versions, Raspberry Pi OS Debian's; Fedora and Ubuntu number their own.
var familyReleases = map[string][]string{
	"rhel":   {"rhel", "rocky", "almalinux", "centos", "ol", "cloudlinux", "eurolinux", "scientific", "circle", "navy", "virtuozzo"},
	"debian": {"debian", "raspbian"},
	"suse":   {"sles", "sled", "opensuse-leap"},
}

// osEntry is one entry of a selector's os list: "debian", "debian 12".
type osEntry struct {
	text, name, release string
}

// matches reports whether host h runs the OS e names: e's name is h's
// family, name or (with a release) its codename, case-insensitively, and e's
// release, when set, is h's release or a prefix of it up to a dot ("12"
// matches "12.4", not "120"). A release given with a family name holds
// only for the family's members that number their releases as it does:
// "rhel 9" is Rocky 9, but "rhel 39" is not Fedora 39, nor "debian 22.04"
// Ubuntu 22.04.
func (e *osEntry) matches(h *patchbay.Host) bool {
	byName := strings.EqualFold(e.name, h.OSName)
	if !byName && !strings.EqualFold(e.name, h.OSFamily) {
		return false
	}
	if e.release == "" {
		return true
	}
	if !byName && !slices.Contains(familyReleases[strings.ToLower(h.OSFamily)], strings.ToLower(h.OSName)) {
		return false
	}
	r := h.OSRelease
	if r == e.release || (strings.HasPrefix(r, e.release) && r[len(e.release)] == '.') {
		return true
	}
	return h.OSCodename != "" && strings.EqualFold(e.release, h.OSCodename)
}

// missingLabel returns the index of the first of s's labels h lacks, -1
// when it carries them all.
func (s *selector) missingLabel(h *patchbay.Host) int {
	for i, l := range s.labels {
		if !slices.Contains(h.Labels, l) {
			return i
		}
	}
	return -1
}

// The indexes of the first entry of each list that h matches, -1 for none.

func (s *selector) group(h *patchbay.Host) int {
	for i, g := range s.groups {
		if slices.Contains(h.Groups, g) {
			return i
		}
	}
	return -1
}

func (s *selector) osMatch(h *patchbay.Host) int {
	for i := range s.os {
		if s.os[i].matches(h) {
			return i
		}
	}
	return -1
}

// selects is Selects without the words.
func (s *selector) selects(h *patchbay.Host) bool {
	return s.missingLabel(h) < 0 &&
		(len(s.groups) == 0 || s.group(h) >= 0) &&
		(len(s.os) == 0 || s.osMatch(h) >= 0) &&
		(len(s.crit) == 0 || slices.Contains(s.crit, h.Criticality)) &&
		(len(s.owners) == 0 || slices.Contains(s.owners, h.Owner))
}

// Selects reports whether c's selector selects h, and why in words ("label
// prod, os debian 12") or why not ("lacks label prod"). It does not look at
// whether c is enabled; Govern does.
func (c *Compiled) Selects(h *patchbay.Host) (bool, string) {
	s := &c.sel
	var why []string
	if i := s.missingLabel(h); i >= 0 {
		return false, "lacks label " + s.labels[i]
	}
	switch len(s.labels) {
	case 0:
	case 1:
		why = append(why, "label "+s.labels[0])
	default:
		why = append(why, "labels "+strings.Join(s.labels, ", "))
	}
	if len(s.groups) > 0 {
		i := s.group(h)
		if i < 0 {
			return false, "in " + noneOf("group", s.groups)
		}
		why = append(why, "group "+s.groups[i])
	}
	if len(s.os) > 0 {
		i := s.osMatch(h)
		if i < 0 {
			texts := make([]string, len(s.os))
			for j, e := range s.os {
				texts[j] = e.text
			}
			return false, "os " + hostOS(h) + " is " + noneOf("", texts)
		}
		why = append(why, "os "+s.os[i].text)
	}
	if len(s.crit) > 0 {
		if !slices.Contains(s.crit, h.Criticality) {
			texts := make([]string, len(s.crit))
			for j, v := range s.crit {
				texts[j] = string(v)
			}
			return false, "criticality " + orNone(string(h.Criticality)) + " is " + noneOf("", texts)
		}
		why = append(why, "criticality "+string(h.Criticality))
	}
	if len(s.owners) > 0 {
		if !slices.Contains(s.owners, h.Owner) {
			return false, "owner " + orNone(h.Owner) + " is " + noneOf("", s.owners)
		}
		why = append(why, "owner "+h.Owner)
	}
	if len(why) == 0 {
		return true, "selects every host"
	}
	return true, strings.Join(why, ", ")
}

// noneOf says a value is none of list: "not prod", "none of a, b"; with a
// noun, "no group prod", "none of groups a, b".
func noneOf(noun string, list []string) string {
	if len(list) == 1 {
		if noun != "" {
			return "no " + noun + " " + list[0]
		}
		return "not " + list[0]
	}
	if noun != "" {
		return "none of " + noun + "s " + strings.Join(list, ", ")
	}
	return "none of " + strings.Join(list, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// hostOS names h's OS as a selector entry would: "debian 12".
func hostOS(h *patchbay.Host) string {
	name := h.OSName
	if name == "" {
		name = h.OSFamily
	}
	if name == "" {
		return "(unknown)"
	}
	if h.OSRelease != "" {
		name += " " + h.OSRelease
	}
	return name
}

// governing returns the enabled policies of ps, in the order they outrank
// each other: priority, highest first, then the lower ID.
func governing(ps []*Compiled) []*Compiled {
	out := make([]*Compiled, 0, len(ps))
	for _, p := range ps {
		if p != nil && p.Enabled {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, outranks)
	return out
}

// outranks orders a before b when a governs a host both select.
func outranks(a, b *Compiled) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Govern returns the policy that governs h: the enabled policy of highest
// Priority whose selector selects h, the lower ID on a tie. The Governance
// names it with its priority and the selector's reasons, and lists in Also
// the other enabled policies that select h, in the order they rank. When
// none selects h, Govern returns nil and a Governance that says so; so it
// does for a retired host, which Groups leaves out of every schedule.
func Govern(ps []*Compiled, h *patchbay.Host) (*Compiled, patchbay.Governance) {
	if h.RetiredAt != nil {
		return nil, patchbay.Governance{Why: "retired: no policy governs it"}
	}
	var best *Compiled
	var why string
	var also []string
	for _, p := range governing(ps) {
		ok, reason := p.Selects(h)
		if !ok {
			continue
		}
		if best == nil {
			best, why = p, reason
			continue
		}
		also = append(also, p.Name)
	}
	if best == nil {
		return nil, patchbay.Governance{Why: "no enabled policy selects it"}
	}
	return best, patchbay.Governance{
		PolicyID: best.ID,
		Policy:   best.Name,
		Version:  best.Version,
		Why:      fmt.Sprintf("policy %q (priority %d) selects it: %s", best.Name, best.Priority, why),
		Also:     also,
	}
}
