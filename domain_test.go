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

func TestValidatePackage(t *testing.T) {
	ok := []patchbay.Package{
		{Ecosystem: "deb", Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", Arch: "amd64", SourceName: "util-linux", SourceVersion: "2.38.1-5+deb12u3"},
		{Ecosystem: "rpm", Name: "openssl-libs", Version: "1:3.0.7-27.el9", Arch: "x86_64", SourceName: "openssl"},
		{Ecosystem: "apk", Name: "libcrypto3", Version: "3.3.2-r1", Arch: "x86_64", SourceName: "openssl"},
		// Go modules name their binary, an absolute path, as source.
		{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/usr/local/bin/terraform"},
		{Ecosystem: "go", Name: "golang.org/x/net", Version: "0.17.0", SourceName: "/opt/app/bin/server"},
		{Ecosystem: "go", Name: "github.com/x/y", Version: "0.0.0-20231128133512-abcdef012345+incompatible", SourceName: "/usr/lib/google-cloud-sdk/bin/kubectl.1.28"},
		{Ecosystem: "go", Name: "example.com/m", Version: "1.0.0", SourceName: "/home/ünïcode/go/bin/tool"},
	}
	for _, p := range ok {
		if err := patchbay.ValidatePackage("p", p); err != nil {
			t.Errorf("ValidatePackage(%+v) = %v, want nil", p, err)
		}
	}
	bad := []struct {
		name string
		p    patchbay.Package
		want string // in the error
	}{
		{"unknown ecosystem", patchbay.Package{Ecosystem: "npm", Name: "left-pad", Version: "1.3.0"}, "want deb, rpm, apk or go"},
		{"go without a binary", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5"}, "p.source_name"},
		{"go with a relative binary", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "bin/tool"}, "absolute path"},
		{"go binary path with a space", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/opt/My Tools/tool"}, "contains a space"},
		{"go binary path with a newline", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/opt/a\nb"}, "control characters"},
		{"go binary path too long", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/" + strings.Repeat("d/", 130)}, "longer than 256"},
		{"go binary path not UTF-8", patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: "1.22.5", SourceName: "/opt/\xff"}, "UTF-8"},
		{"no version", patchbay.Package{Ecosystem: "go", Name: "stdlib", SourceName: "/bin/x"}, "needs a name and a version"},
	}
	for _, c := range bad {
		err := patchbay.ValidatePackage("p", c.p)
		if err == nil || !strings.Contains(patchbay.ErrorMessageOf(err), c.want) {
			t.Errorf("%s: ValidatePackage(%+v) = %v, want an error with %q", c.name, c.p, err, c.want)
		}
	}
}
