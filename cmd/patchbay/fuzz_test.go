package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzConfigFile feeds arbitrary YAML to the config loader: it either
// accepts settings that are all known flags, or refuses naming the file.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"listen: 127.0.0.1:8080\ndata-dir: /var/lib/patchbay\n",
		"max-body-bytes: 1048576\nlog-format: json\n",
		"database: postgres://postgres@127.0.0.1/test\n",
		"lisen: x\n", "- a\n", "listen: [a, b]\n", "listen: {a: 1}\n", "",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		e := &env{getenv: mapEnv(nil)}
		root := newRootCommand(t.Context(), e)
		cmd, _, _ := root.Find([]string{"server"})
		cmd.Flags().Set("config", path)
		cf, err := loadConfigFile(cmd, e)
		if err != nil {
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "config") {
				t.Fatalf("error %q does not name the config file", err)
			}
			return
		}
		known := allFlagNames(root)
		for k := range cf.values {
			found := false
			for _, n := range known {
				found = found || n == k
			}
			if !found {
				t.Fatalf("accepted unknown setting %q", k)
			}
		}
	})
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2026-12-04T10:00:00Z", "24h", "90m", "-1h", "yesterday", "", "2026-13-01T00:00:00Z"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen("--since", s, now)
		if err != nil {
			if !strings.Contains(err.Error(), "--since") {
				t.Fatalf("parseWhen(%q) error %q does not name the flag", s, err)
			}
			return
		}
		if s == "" && !got.IsZero() {
			t.Fatalf("parseWhen(\"\") = %v, want zero", got)
		}
	})
}
