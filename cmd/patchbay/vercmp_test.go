package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestVercmp(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--ecosystem", "deb", "1.0~rc1", "1.0"}, "-1"},
		{[]string{"--ecosystem", "deb", "1:1.0", "2.0"}, "1"},
		{[]string{"--ecosystem", "rpm", "1.0^git1", "1.0"}, "1"},
		{[]string{"--ecosystem", "apk3", "1.0_rc1", "1.0"}, "-1"},
		{[]string{"--ecosystem", "pypi", "1.0RC1", "1.0rc1"}, "0"},
		{[]string{"--ecosystem", "go", "v1.2.3", "v1.10.0"}, "-1"},
		{[]string{"--ecosystem", "semver", "1.0.0-alpha", "1.0.0"}, "-1"},
	}
	for _, tc := range cases {
		out, _, err := runCLI(t, nil, append([]string{"vercmp"}, tc.args...)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Errorf("vercmp %v = %q, %v; want %s", tc.args, out, err, tc.want)
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"patchbay", "vercmp", "--ecosystem", "deb"}, mapEnv(nil),
		strings.NewReader("1.0\t1.1\n2.0\t2.0\n1.10\t1.9\n"), &out, &errb)
	if err != nil || out.String() != "-1\n0\n1\n" {
		t.Fatalf("vercmp from stdin = %q, %v", out.String(), err)
	}
	for _, bad := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--ecosystem", "dpkg", "1", "2"}, "", "--ecosystem"},
		{[]string{"--ecosystem", "deb", "1"}, "", "two versions"},
		{[]string{"--ecosystem", "deb", "1:", "2"}, "", `"1:"`},
		{[]string{"--ecosystem", "deb"}, "1.0 1.1\n", "line 1"},
		{[]string{"--ecosystem", "deb"}, "1.0\t1.1\n1:\t2\n", "line 2"},
	} {
		var o, e bytes.Buffer
		err := run(context.Background(), append([]string{"patchbay", "vercmp"}, bad.args...), mapEnv(nil), strings.NewReader(bad.stdin), &o, &e)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("vercmp %v <<%q: err = %v, want one naming %q", bad.args, bad.stdin, err, bad.want)
		}
	}
}
