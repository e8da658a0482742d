package policy

import (
	"slices"
	"testing"

	"github.com/patchbay/patchbay"
)

func TestSelects(t *testing.T) {
	deb := host(1, "", "prod", "web")
	deb.Groups = []string{"frontend", "eu"}
	deb.Owner = "team-web"
	deb.OSRelease = "12.4"
	rocky := &patchbay.Host{ID: 2, OSFamily: "rhel", OSName: "rocky", OSRelease: "9.4", Labels: []string{"prod"}, Criticality: patchbay.CriticalityCritical}
	fedora := &patchbay.Host{ID: 4, OSFamily: "rhel", OSName: "fedora", OSRelease: "39"}
	ubuntu := &patchbay.Host{ID: 5, OSFamily: "debian", OSName: "ubuntu", OSRelease: "22.04", OSCodename: "jammy"}
	bare := &patchbay.Host{ID: 3}
	for _, tc := range []struct {
		name string
		sel  patchbay.Selector
		h    *patchbay.Host
		want bool
		why  string
	}{
		{"zero selector", patchbay.Selector{}, bare, true, "selects every host"},
		{"label", patchbay.Selector{Labels: []string{"prod"}}, deb, true, "label prod"},
		{"labels all", patchbay.Selector{Labels: []string{"prod", "web"}}, deb, true, "labels prod, web"},
		{"lacks a label", patchbay.Selector{Labels: []string{"prod", "db"}}, deb, false, "lacks label db"},
		{"labels are case-sensitive", patchbay.Selector{Labels: []string{"Prod"}}, deb, false, "lacks label Prod"},
		{"group any", patchbay.Selector{Groups: []string{"backend", "eu"}}, deb, true, "group eu"},
		{"no group", patchbay.Selector{Groups: []string{"backend"}}, deb, false, "in no group backend"},
		{"none of groups", patchbay.Selector{Groups: []string{"backend", "us"}}, deb, false, "in none of groups backend, us"},
		{"os family", patchbay.Selector{OS: []string{"debian"}}, deb, true, "os debian"},
		{"os case-insensitive", patchbay.Selector{OS: []string{"Debian"}}, deb, true, "os Debian"},
		{"os release prefix to a dot", patchbay.Selector{OS: []string{"debian 12"}}, deb, true, "os debian 12"},
		{"os exact release", patchbay.Selector{OS: []string{"debian 12.4"}}, deb, true, "os debian 12.4"},
		{"os codename", patchbay.Selector{OS: []string{"debian bookworm"}}, deb, true, "os debian bookworm"},
		{"os release is no string prefix", patchbay.Selector{OS: []string{"debian 1"}}, deb, false, "os debian 12.4 is not debian 1"},
		{"os family of rocky", patchbay.Selector{OS: []string{"rhel 9"}}, rocky, true, "os rhel 9"},
		{"os family release not fedora's", patchbay.Selector{OS: []string{"rhel 39"}}, fedora, false, "os fedora 39 is not rhel 39"},
		{"os family without release takes fedora", patchbay.Selector{OS: []string{"rhel"}}, fedora, true, "os rhel"},
		{"os family release not ubuntu's", patchbay.Selector{OS: []string{"debian 22.04"}}, ubuntu, false, "os ubuntu 22.04 is not debian 22.04"},
		{"os name release of ubuntu", patchbay.Selector{OS: []string{"ubuntu 22.04"}}, ubuntu, true, "os ubuntu 22.04"},
		{"os name of rocky", patchbay.Selector{OS: []string{"debian", "rocky 9"}}, rocky, true, "os rocky 9"},
		{"os other release", patchbay.Selector{OS: []string{"rocky 8", "debian"}}, rocky, false, "os rocky 9.4 is none of rocky 8, debian"},
		{"os unknown", patchbay.Selector{OS: []string{"debian"}}, bare, false, "os (unknown) is not debian"},
		{"criticality", patchbay.Selector{Criticality: []patchbay.Criticality{"high", "critical"}}, rocky, true, "criticality critical"},
		{"criticality not", patchbay.Selector{Criticality: []patchbay.Criticality{"high", "critical"}}, deb, false, "criticality medium is none of high, critical"},
		{"criticality unset", patchbay.Selector{Criticality: []patchbay.Criticality{"low"}}, bare, false, "criticality (none) is not low"},
		{"owner", patchbay.Selector{Owners: []string{"team-db", "team-web"}}, deb, true, "owner team-web"},
		{"owner not", patchbay.Selector{Owners: []string{"team-db"}}, deb, false, "owner team-web is not team-db"},
		{"all set", patchbay.Selector{Labels: []string{"prod"}, Groups: []string{"eu"}, OS: []string{"debian 12"}, Criticality: []patchbay.Criticality{"medium"}, Owners: []string{"team-web"}},
			deb, true, "label prod, group eu, os debian 12, criticality medium, owner team-web"},
		{"first failure named", patchbay.Selector{Labels: []string{"prod"}, OS: []string{"ubuntu"}, Owners: []string{"x"}}, deb, false, "os debian 12.4 is not ubuntu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, with(func(p *patchbay.Policy) { p.Selector = tc.sel }))
			ok, why := c.Selects(tc.h)
			if ok != tc.want || why != tc.why {
				t.Errorf("Selects(host %d) = %v, %q; want %v, %q", tc.h.ID, ok, why, tc.want, tc.why)
			}
			if fast := c.sel.selects(tc.h); fast != ok {
				t.Errorf("selects(host %d) = %v; Selects says %v", tc.h.ID, fast, ok)
			}
		})
	}
}

func TestGovern(t *testing.T) {
	pol := func(id int64, name string, prio int, enabled bool, labels ...string) *Compiled {
		return mustCompile(t, with(func(p *patchbay.Policy) {
			p.ID, p.Name, p.Priority, p.Enabled, p.Version = id, name, prio, enabled, int(id)*10
			p.Selector.Labels = labels
		}))
	}
	everyone := pol(1, "everyone", 0, true)
	prod := pol(2, "prod", 10, true, "prod")
	prodTie := pol(3, "prod too", 10, true, "prod")
	disabled := pol(4, "disabled", 100, false, "prod")
	db := pol(5, "db", 50, true, "db")
	for _, tc := range []struct {
		name string
		ps   []*Compiled
		h    *patchbay.Host
		want *Compiled
		gov  patchbay.Governance
	}{
		{"highest priority", []*Compiled{everyone, prod, db}, host(1, "", "prod"), prod, patchbay.Governance{
			PolicyID: 2, Policy: "prod", Version: 20, Why: `policy "prod" (priority 10) selects it: label prod`, Also: []string{"everyone"}}},
		{"tie: lower id, in any order", []*Compiled{prodTie, everyone, prod}, host(1, "", "prod"), prod, patchbay.Governance{
			PolicyID: 2, Policy: "prod", Version: 20, Why: `policy "prod" (priority 10) selects it: label prod`, Also: []string{"prod too", "everyone"}}},
		{"disabled ignored", []*Compiled{disabled, prod}, host(1, "", "prod"), prod, patchbay.Governance{
			PolicyID: 2, Policy: "prod", Version: 20, Why: `policy "prod" (priority 10) selects it: label prod`}},
		{"fallback", []*Compiled{prod, everyone, db}, host(1, "", "staging"), everyone, patchbay.Governance{
			PolicyID: 1, Policy: "everyone", Version: 10, Why: `policy "everyone" (priority 0) selects it: selects every host`}},
		{"none", []*Compiled{prod, disabled, nil}, host(1, "", "staging"), nil, patchbay.Governance{Why: "no enabled policy selects it"}},
		{"no policies", nil, host(1, ""), nil, patchbay.Governance{Why: "no enabled policy selects it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gov := Govern(tc.ps, tc.h)
			if got != tc.want {
				t.Errorf("Govern: policy %v; want %v", name(got), name(tc.want))
			}
			if gov.PolicyID != tc.gov.PolicyID || gov.Policy != tc.gov.Policy || gov.Version != tc.gov.Version || gov.Why != tc.gov.Why || !slices.Equal(gov.Also, tc.gov.Also) {
				t.Errorf("Govern: %+v\nwant %+v", gov, tc.gov)
			}
		})
	}
}

func name(c *Compiled) string {
	if c == nil {
		return "none"
	}
	return c.Name
}
