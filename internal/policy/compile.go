package policy

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/severity"
	"github.com/patchbay/patchbay/internal/window"
)

// The limits Compile holds a policy to.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
	MaxPriority       = 1000 // and -MaxPriority
	MaxDeferralDays   = 365
	MaxDeadlineDays   = 90
	MaxWindows        = 16
	MaxRings          = 10
	MaxRingNameLen    = 63
	MaxSoakTime       = 30 * 24 * time.Hour
	MaxMinHealthy     = 24 * time.Hour
	MaxRebootDelay    = 24 * time.Hour
	MaxSLADays        = 3650
	MaxPatterns       = 100 // include or exclude patterns in one list
	MaxPatternLen     = 100
	MaxSelectorList   = 64 // entries in each of a selector's lists
	MaxOSLen          = 64
	MaxOwnerLen       = 200
)

// Compiled is a validated policy, ready to evaluate. Its Policy must not be
// changed after Compile: the parsed forms below are kept beside it.
type Compiled struct {
	patchbay.Policy
	Windows window.Windows

	sel         selector
	updates     rule
	auto        *rule
	rings       []RingRule
	rebootDelay time.Duration
	hostLocal   bool // some window follows each host's zone
}

// RingRule is a ring of a compiled policy with its text fields parsed.
type RingRule struct {
	patchbay.RingSpec
	Threshold  Threshold
	Soak       time.Duration
	MinHealthy time.Duration // 0: the deployment's checks say
}

// Threshold is a ring's failure threshold: a number of hosts, or a
// percentage of the ring's hosts when Percent.
type Threshold struct {
	N       int
	Percent bool
}

// Exceeded reports whether failures among a ring of hosts hosts exceed t,
// which halts the deployment. The zero Threshold halts at the first
// failure.
func (t Threshold) Exceeded(failures, hosts int) bool {
	if t.Percent {
		return failures*100 > t.N*hosts
	}
	return failures > t.N
}

// Rings returns the policy's rings, parsed.
func (c *Compiled) Rings() []RingRule { return c.rings }

// RebootDelay returns how long after the notice a host reboots.
func (c *Compiled) RebootDelay() time.Duration { return c.rebootDelay }

// HostLocal reports whether any of the policy's windows follows each host's
// own time zone, so that its hosts are scheduled per zone.
func (c *Compiled) HostLocal() bool { return c.hostLocal }

// Validate reports whether p compiles; see Compile.
func Validate(p patchbay.Policy) error {
	_, err := Compile(p)
	return err
}

// Compile validates p and returns it compiled. Errors are *patchbay.Error
// with code EUnprocessable naming the first field at fault, in the order of
// the fields. Compile does not fill defaults: call Normalize first.
func Compile(p patchbay.Policy) (*Compiled, error) {
	c := &Compiled{Policy: p}
	steps := []func() error{
		c.checkText, c.compileSelector, c.compileRules, c.compileWindows, c.compileRings, c.compileReboot,
		func() error { return c.Checks.Validate("checks") }, c.checkSLA,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func invalid(field, format string, args ...any) error {
	return patchbay.FieldError(patchbay.EUnprocessable, field, format, args...)
}

func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

func (c *Compiled) checkText() error {
	if c.Name == "" {
		return invalid("name", "required: 1 to %d characters", MaxNameLen)
	}
	if err := patchbay.ValidateText("name", c.Name, MaxNameLen); err != nil {
		return err
	}
	if err := patchbay.ValidateText("description", c.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if c.Priority < -MaxPriority || c.Priority > MaxPriority {
		return invalid("priority", "must be from %d to %d, got %d", -MaxPriority, MaxPriority, c.Priority)
	}
	if c.DeferralDays < 0 || c.DeferralDays > MaxDeferralDays {
		return invalid("deferral_days", "must be from 0 to %d, got %d", MaxDeferralDays, c.DeferralDays)
	}
	if c.DeadlineDays < 0 || c.DeadlineDays > MaxDeadlineDays {
		return invalid("deadline_days", "must be from 0 (wait for later windows) to %d, got %d", MaxDeadlineDays, c.DeadlineDays)
	}
	return nil
}

// checkList bounds a list's length and checks each entry with check, which
// gets the entry's field name.
func checkList(field string, list []string, check func(field, v string) error) error {
	if len(list) > MaxSelectorList {
		return invalid(field, "at most %d entries, got %d", MaxSelectorList, len(list))
	}
	for i, v := range list {
		if err := check(index(field, i), v); err != nil {
			return err
		}
	}
	return nil
}

func checkTag(field, v string) error { return patchbay.ValidateTags(field, []string{v}) }

func (c *Compiled) compileSelector() error {
	s := c.Selector
	if err := checkList("selector.labels", s.Labels, checkTag); err != nil {
		return err
	}
	if err := checkList("selector.groups", s.Groups, checkTag); err != nil {
		return err
	}
	c.sel = selector{labels: s.Labels, groups: s.Groups, owners: s.Owners}
	err := checkList("selector.os", s.OS, func(field, v string) error {
		if err := patchbay.ValidateText(field, v, MaxOSLen); err != nil {
			return err
		}
		f := strings.Fields(v)
		if len(f) == 0 || len(f) > 2 {
			return invalid(field, `want an OS family or name, optionally with a release, such as "debian", "debian 12" or "rocky 9"; got %q`, v)
		}
		e := osEntry{text: v, name: f[0]}
		if len(f) == 2 {
			e.release = f[1]
		}
		c.sel.os = append(c.sel.os, e)
		return nil
	})
	if err != nil {
		return err
	}
	crit := make([]string, len(s.Criticality))
	for i, v := range s.Criticality {
		crit[i] = string(v)
	}
	err = checkList("selector.criticality", crit, func(field, v string) error {
		_, err := patchbay.ParseCriticality(field, v)
		return err
	})
	if err != nil {
		return err
	}
	c.sel.crit = s.Criticality
	return checkList("selector.owners", s.Owners, func(field, v string) error {
		if v == "" {
			return invalid(field, "empty owner")
		}
		return patchbay.ValidateText(field, v, MaxOwnerLen)
	})
}

func (c *Compiled) compileRules() error {
	r, err := compileRule("updates", c.Updates)
	if err != nil {
		return err
	}
	c.updates = r
	if c.AutoApprove != nil {
		a, err := compileRule("auto_approve", *c.AutoApprove)
		if err != nil {
			return err
		}
		c.auto = &a
	}
	return nil
}

func compileRule(field string, u patchbay.UpdateRule) (rule, error) {
	var r rule
	for i, cl := range u.Classes {
		bit := classBit(risk.Class(cl))
		if bit == 0 {
			return r, invalid(index(field+".classes", i), "unknown class %q; want critical, security, bugfix or feature", truncate(cl, 40))
		}
		r.classes |= bit
	}
	if u.MinSeverity != "" {
		l, err := severity.ParseLevel(u.MinSeverity)
		if err != nil || l == severity.None {
			return r, invalid(field+".min_severity", "unknown severity %q; want critical, high, medium, low or unknown (which ranks above critical)", truncate(u.MinSeverity, 40))
		}
		r.min, r.hasMin = l, true
	}
	r.kevOnly = u.KEVOnly
	var err error
	if r.include, err = compilePatterns(field+".include", u.Include); err != nil {
		return r, err
	}
	if r.exclude, err = compilePatterns(field+".exclude", u.Exclude); err != nil {
		return r, err
	}
	return r, nil
}

func compilePatterns(field string, list []string) ([]pattern, error) {
	if len(list) > MaxPatterns {
		return nil, invalid(field, "at most %d patterns, got %d", MaxPatterns, len(list))
	}
	var out []pattern
	for i, p := range list {
		f := index(field, i)
		if p == "" {
			return nil, invalid(f, "empty pattern")
		}
		if err := patchbay.ValidateText(f, p, MaxPatternLen); err != nil {
			return nil, err
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, invalid(f, "%q is not a valid pattern: * matches any run of characters, ? one, [a-z] a class, \\ quotes the next", p)
		}
		out = append(out, pattern{text: p, literal: !strings.ContainsAny(p, `*?[\`)})
	}
	return out, nil
}

func (c *Compiled) compileWindows() error {
	switch {
	case len(c.Policy.Windows) == 0:
		return invalid("windows", "at least one window is required")
	case len(c.Policy.Windows) > MaxWindows:
		return invalid("windows", "at most %d windows, got %d", MaxWindows, len(c.Policy.Windows))
	}
	ws, err := window.FromSpecs("windows", c.Policy.Windows)
	if err != nil {
		return err
	}
	c.Windows = ws
	for _, w := range ws {
		c.hostLocal = c.hostLocal || w.HostLocal()
	}
	return nil
}

func (c *Compiled) compileRings() error {
	rs := c.Policy.Rings
	switch {
	case len(rs) == 0:
		return invalid("rings", "at least one ring is required")
	case len(rs) > MaxRings:
		return invalid("rings", "at most %d rings, got %d", MaxRings, len(rs))
	}
	seen := make(map[string]int, len(rs))
	for i, r := range rs {
		field := index("rings", i)
		if r.Name == "" {
			return invalid(field+".name", "required: 1 to %d characters", MaxRingNameLen)
		}
		if err := patchbay.ValidateText(field+".name", r.Name, MaxRingNameLen); err != nil {
			return err
		}
		if j, ok := seen[r.Name]; ok {
			return invalid(field+".name", "%q is also the name of rings[%d]", r.Name, j)
		}
		seen[r.Name] = i
		if err := checkRingSelector(field, i == len(rs)-1, r); err != nil {
			return err
		}
		if r.MaxParallel < 0 {
			return invalid(field+".max_parallel", "must be 0 (no bound) or more, got %d", r.MaxParallel)
		}
		rr := RingRule{RingSpec: r}
		var msg string
		if rr.Threshold, msg = parseThreshold(r.FailureThreshold); msg != "" {
			return invalid(field+".failure_threshold", "%s", msg)
		}
		if rr.Soak, msg = parseDuration(r.SoakTime, MaxSoakTime, "720h (30 days)"); msg != "" {
			return invalid(field+".soak_time", "%s", msg)
		}
		if rr.MinHealthy, msg = parseDuration(r.MinHealthy, MaxMinHealthy, "24h"); msg != "" {
			return invalid(field+".min_healthy", "%s", msg)
		}
		c.rings = append(c.rings, rr)
	}
	return nil
}

func checkRingSelector(field string, last bool, r patchbay.RingSpec) error {
	n := 0
	for _, set := range []bool{r.Label != "", r.Group != "", r.Percent != 0, r.Count != 0} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return invalid(field, "set at most one of label, group, percent and count")
	case n == 0 && !last:
		return invalid(field, "only the last ring may take the rest of the hosts; give this one a label, group, percent or count")
	case r.Label != "":
		return checkTag(field+".label", r.Label)
	case r.Group != "":
		return checkTag(field+".group", r.Group)
	case r.Percent < 0 || r.Percent > 100:
		return invalid(field+".percent", "must be from 1 to 100, got %d", r.Percent)
	case r.Count < 0:
		return invalid(field+".count", "must be 1 or more, got %d", r.Count)
	}
	return nil
}

// parseThreshold reads a failure threshold: "" (halt at the first
// failure), "N" hosts or "N%" of the ring. It returns a message on error.
func parseThreshold(s string) (Threshold, string) {
	if s == "" {
		return Threshold{}, ""
	}
	t := Threshold{}
	num := s
	if rest, ok := strings.CutSuffix(s, "%"); ok {
		t.Percent, num = true, rest
	}
	n, err := strconv.Atoi(num)
	switch {
	case err != nil || num == "" || num[0] < '0' || num[0] > '9':
		return t, fmt.Sprintf(`%q is not a threshold; write a number of hosts such as "2" or a share of the ring such as "5%%"`, truncate(s, 40))
	case t.Percent && n > 100:
		return t, fmt.Sprintf("at most 100%%, got %s", s)
	}
	t.N = n
	return t, ""
}

// parseDuration reads an optional duration from 0 to max (written as
// maxText); it returns a message on error.
func parseDuration(s string, max time.Duration, maxText string) (time.Duration, string) {
	if s == "" {
		return 0, ""
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf(`%q is not a duration; write a string such as "30m" or "1h30m"`, truncate(s, 40))
	case d < 0:
		return 0, fmt.Sprintf("must not be negative, got %s", s)
	case d > max:
		return 0, fmt.Sprintf("at most %s, got %s", maxText, s)
	}
	return d, ""
}

func (c *Compiled) compileReboot() error {
	switch c.Reboot.Mode {
	case patchbay.RebootNever, patchbay.RebootIfRequired, patchbay.RebootAlways:
	default:
		return invalid("reboot.mode", "unknown mode %q; want never, if-required or always", truncate(string(c.Reboot.Mode), 40))
	}
	d, msg := parseDuration(c.Reboot.Delay, MaxRebootDelay, "24h")
	if msg != "" {
		return invalid("reboot.delay", "%s", msg)
	}
	c.rebootDelay = d
	return nil
}

func (c *Compiled) checkSLA() error {
	s := c.SLA
	for _, f := range []struct {
		name string
		days int
	}{{"critical", s.Critical}, {"high", s.High}, {"medium", s.Medium}, {"low", s.Low}, {"unknown", s.Unknown}} {
		if f.days < 1 || f.days > MaxSLADays {
			return invalid("sla."+f.name, "must be from 1 to %d days, got %d", MaxSLADays, f.days)
		}
	}
	return nil
}

// Normalize fills p's defaults before validation: an all-zero SLA becomes
// patchbay.DefaultSLA(), an empty reboot mode if-required, no rings one ring
// named "all" taking every host. It trims the spaces around every text
// field and list entry.
func Normalize(p *patchbay.Policy) {
	p.Name = strings.TrimSpace(p.Name)
	p.Description = strings.TrimSpace(p.Description)
	s := &p.Selector
	trimAll(s.Labels)
	trimAll(s.Groups)
	trimAll(s.OS)
	trimAll(s.Owners)
	for i, c := range s.Criticality {
		s.Criticality[i] = patchbay.Criticality(strings.TrimSpace(string(c)))
	}
	normalizeRule(&p.Updates)
	if p.AutoApprove != nil {
		normalizeRule(p.AutoApprove)
	}
	for i := range p.Windows {
		w := &p.Windows[i]
		w.Cron, w.Duration, w.Zone = strings.TrimSpace(w.Cron), strings.TrimSpace(w.Duration), strings.TrimSpace(w.Zone)
	}
	if len(p.Rings) == 0 {
		p.Rings = []patchbay.RingSpec{{Name: "all"}}
	}
	for i := range p.Rings {
		r := &p.Rings[i]
		r.Name, r.Label, r.Group = strings.TrimSpace(r.Name), strings.TrimSpace(r.Label), strings.TrimSpace(r.Group)
		r.FailureThreshold, r.SoakTime = strings.TrimSpace(r.FailureThreshold), strings.TrimSpace(r.SoakTime)
		r.MinHealthy = strings.TrimSpace(r.MinHealthy)
	}
	p.Reboot.Mode = patchbay.RebootMode(strings.TrimSpace(string(p.Reboot.Mode)))
	if p.Reboot.Mode == "" {
		p.Reboot.Mode = patchbay.RebootIfRequired
	}
	p.Reboot.Delay = strings.TrimSpace(p.Reboot.Delay)
	if p.SLA == (patchbay.SLADays{}) {
		p.SLA = patchbay.DefaultSLA()
	}
}

func normalizeRule(u *patchbay.UpdateRule) {
	trimAll(u.Classes)
	u.MinSeverity = strings.TrimSpace(u.MinSeverity)
	trimAll(u.Include)
	trimAll(u.Exclude)
}

func trimAll(list []string) {
	for i, v := range list {
		list[i] = strings.TrimSpace(v)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
