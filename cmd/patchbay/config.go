package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Settings come from, in this order of precedence: command-line flags,
// PATCHBAY_* environment variables (the flag's name upper-cased, '-' as
// '_'), the YAML file named by --config or PATCHBAY_CONFIG (keys are flag
// names), and for client commands the file `patchbay login` writes.

// envName returns the environment variable of a flag.
func envName(flag string) string {
	return "PATCHBAY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applySettings fills the flags of cmd that the command line left unset,
// from the environment and then from the config file. A value that does not
// parse is an error naming where it came from.
func applySettings(cmd *cobra.Command, e *env) error {
	file, err := loadConfigFile(cmd, e)
	if err != nil {
		return err
	}
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "config" {
			return
		}
		if v := e.getenv(envName(f.Name)); v != "" {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, usageErrorf("%s=%q: %v", envName(f.Name), v, err))
			}
			return
		}
		if v, ok := file.values[f.Name]; ok {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, usageErrorf("config %s: %s: %q: %v", file.path, f.Name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

type configFile struct {
	path   string
	values map[string]string
}

// loadConfigFile reads the config file, refusing keys that are no flag of
// any command (a typo would otherwise be silently ignored).
func loadConfigFile(cmd *cobra.Command, e *env) (configFile, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = e.getenv("PATCHBAY_CONFIG")
	}
	cf := configFile{path: path, values: map[string]string{}}
	if path == "" {
		return cf, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cf, usageErrorf("config: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return cf, usageErrorf("config %s: not a YAML mapping of settings: %v", path, err)
	}
	known := allFlagNames(cmd.Root())
	for k, v := range raw {
		if !slices.Contains(known, k) {
			return cf, usageErrorf("config %s: unknown setting %q (settings are flag names, such as listen or data-dir)", path, k)
		}
		switch v := v.(type) {
		case string, bool, int, int64, uint64, float64:
			cf.values[k] = fmt.Sprint(v)
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			cf.values[k] = strings.Join(parts, ",")
		default:
			return cf, usageErrorf("config %s: %s: want a single value, got %T", path, k, v)
		}
	}
	return cf, nil
}

func allFlagNames(root *cobra.Command) []string {
	var names []string
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// clientConfigPath is where `patchbay login` keeps the server and token.
func clientConfigPath(getenv func(string) string) (string, error) {
	if p := getenv("PATCHBAY_CLIENT_CONFIG"); p != "" {
		return p, nil
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("cannot place the client config: set HOME, XDG_CONFIG_HOME or PATCHBAY_CLIENT_CONFIG")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "patchbay", "client.yaml"), nil
}

// clientConfig is what `patchbay login` stores (mode 0600: it holds a token).
type clientConfig struct {
	Server      string `yaml:"server"`
	Token       string `yaml:"token"`
	CA          string `yaml:"ca,omitempty"`
	Fingerprint string `yaml:"server-fingerprint,omitempty"`
}

func readClientConfig(path string) (clientConfig, error) {
	var c clientConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read client config: %w", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("client config %s: %w", path, err)
	}
	return c, nil
}

func writeClientConfig(path string, c clientConfig) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write client config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write client config: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return fmt.Errorf("write client config: %w", err)
	}
	return os.Rename(tmp, path)
}
