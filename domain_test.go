package patchbay_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

func TestRolePermissions(t *testing.T) {
	for _, r := range patchbay.Roles {
		if len(patchbay.RolePermissions[r]) == 0 {
			t.Errorf("role %s has no permissions", r)
		}
	}
	cases := []struct {
		role patchbay.Role
		perm patchbay.Permission
		want bool
	}{
		{patchbay.RoleAdmin, patchbay.PermUsersWrite, true},
		{patchbay.RoleOperator, patchbay.PermUsersWrite, false},
		{patchbay.RoleOperator, patchbay.PermDeploymentsWrite, true},
		{patchbay.RoleOperator, patchbay.PermApprovalsDecide, false},
		{patchbay.RoleApprover, patchbay.PermApprovalsDecide, true},
		{patchbay.RoleApprover, patchbay.PermHostsWrite, false},
		{patchbay.RoleViewer, patchbay.PermHostsRead, true},
		{patchbay.RoleViewer, patchbay.PermAuditRead, false},
		{"root", patchbay.PermHostsRead, false},
	}
	for _, c := range cases {
		if got := c.role.Can(c.perm); got != c.want {
			t.Errorf("Role(%s).Can(%s) = %v, want %v", c.role, c.perm, got, c.want)
		}
	}
	// Admin has every permission any role has.
	for _, r := range patchbay.Roles {
		for _, p := range patchbay.RolePermissions[r] {
			if !patchbay.RoleAdmin.Can(p) {
				t.Errorf("admin lacks %s, which %s has", p, r)
			}
		}
	}
}

func TestNobodyApprovesTheirOwnRequest(t *testing.T) {
	admin := &patchbay.User{ID: 1, Name: "root", Role: patchbay.RoleAdmin}
	approver := &patchbay.User{ID: 2, Name: "ann", Role: patchbay.RoleApprover}
	operator := &patchbay.User{ID: 3, Name: "otto", Role: patchbay.RoleOperator}
	cases := []struct {
		name      string
		approver  *patchbay.User
		requester int64
		ok        bool
	}{
		{"approver, someone else's", approver, 3, true},
		{"admin, someone else's", admin, 3, true},
		{"approver, own", approver, 2, false},
		{"admin, own", admin, 1, false},
		{"operator may not approve", operator, 2, false},
	}
	for _, c := range cases {
		err := patchbay.CheckApprover(c.approver, c.requester)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckApprover = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && patchbay.ErrorCodeOf(err) != patchbay.EForbidden {
			t.Errorf("%s: code %s, want forbidden", c.name, patchbay.ErrorCodeOf(err))
		}
	}
}

func TestSecrets(t *testing.T) {
	a, err := patchbay.NewSecret(patchbay.TokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := patchbay.NewSecret(patchbay.TokenPrefix)
	if a == b || !patchbay.WellFormedSecret(patchbay.TokenPrefix, a) {
		t.Fatalf("NewSecret gave %q and %q", a, b)
	}
	if !patchbay.HashSecret(a).Equal(patchbay.HashSecret(a)) || patchbay.HashSecret(a).Equal(patchbay.HashSecret(b)) {
		t.Fatal("HashSecret/Equal disagree with string equality")
	}
	for _, bad := range []string{"", "pbu_", a[:len(a)-1], "xxx_" + a[4:], a + "=", strings.Replace(a, a[10:11], "!", 1)} {
		if patchbay.WellFormedSecret(patchbay.TokenPrefix, bad) {
			t.Errorf("WellFormedSecret(%q) = true", bad)
		}
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := patchbay.AuditEvent{Seq: 7, At: time.Date(2026, 12, 4, 10, 0, 0, 123456000, time.UTC), Actor: "user:a",
		Action: "user.create", ObjectType: "user", ObjectID: "b", Before: json.RawMessage(`{"x":1}`), After: json.RawMessage(`{"x":2}`), PrevHash: "ab"}
	h := base.ComputeHash()
	edits := map[string]func(e *patchbay.AuditEvent){
		"seq":      func(e *patchbay.AuditEvent) { e.Seq++ },
		"at":       func(e *patchbay.AuditEvent) { e.At = e.At.Add(time.Microsecond) },
		"actor":    func(e *patchbay.AuditEvent) { e.Actor = "user:b" },
		"action":   func(e *patchbay.AuditEvent) { e.Action = "user.update" },
		"type":     func(e *patchbay.AuditEvent) { e.ObjectType = "token" },
		"id":       func(e *patchbay.AuditEvent) { e.ObjectID = "c" },
		"before":   func(e *patchbay.AuditEvent) { e.Before = json.RawMessage(`{"x":3}`) },
		"after":    func(e *patchbay.AuditEvent) { e.After = nil },
		"prev":     func(e *patchbay.AuditEvent) { e.PrevHash = "ac" },
		"boundary": func(e *patchbay.AuditEvent) { e.Actor, e.Action = "user:au", "ser.create" },
	}
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.ComputeHash() == h {
			t.Errorf("editing %s leaves the hash unchanged", name)
		}
	}
	var v patchbay.ChainVerifier
	first := patchbay.AuditEvent{Seq: 1, Actor: "system", Action: "x"}
	first.Hash = first.ComputeHash()
	if err := v.Next(&first); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	second := patchbay.AuditEvent{Seq: 3, PrevHash: first.Hash}
	second.Hash = second.ComputeHash()
	var br *patchbay.ChainBreak
	if err := v.Next(&second); !errors.As(err, &br) || br.Seq != 3 {
		t.Fatalf("a gap in the chain: err = %v, want a break at 3", err)
	}
}

func TestErrorHelpers(t *testing.T) {
	err := patchbay.FieldError(patchbay.EUnprocessable, "role", "unknown role %q", "root")
	wrapped := errors.Join(errors.New("context"), err)
	if patchbay.ErrorCodeOf(wrapped) != patchbay.EUnprocessable || patchbay.ErrorMessageOf(wrapped) != `role: unknown role "root"` {
		t.Fatalf("code %s, message %q", patchbay.ErrorCodeOf(wrapped), patchbay.ErrorMessageOf(wrapped))
	}
	plain := errors.New("disk on fire at /secret/path")
	if patchbay.ErrorCodeOf(plain) != patchbay.EInternal || strings.Contains(patchbay.ErrorMessageOf(plain), "secret") {
		t.Fatal("a plain error must be internal and its text must not reach clients")
	}
	if patchbay.ErrorCodeOf(nil) != "" {
		t.Fatal("ErrorCodeOf(nil) must be empty")
	}
}
