package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/store"
)

// buildVersionOverride is the build's version when release builds set it
// with -ldflags "-X main.buildVersionOverride=v1.2.3". Without it, the module's build
// information names the VCS revision.
var buildVersionOverride = ""

func buildVersion() string {
	if buildVersionOverride != "" {
		return buildVersionOverride
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if v == "(devel)" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return fmt.Sprintf("devel (%s%s)", rev, modified)
	}
	return v
}

// env is what run was given: the process's outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run is the whole program; main only wires the process to it, so tests
// run the real program in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCommand(ctx, e)
	root.SetArgs(args[1:])
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func newRootCommand(ctx context.Context, e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "patchbay",
		Short:         "Patch management for fleets of Linux hosts",
		Long:          "patchbay knows every host and package in a fleet, finds what is vulnerable, and rolls patches out safely.\nThe server, the agent and the CLI are this one binary.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applySettings(cmd, e)
		},
	}
	root.PersistentFlags().String("config", "", "YAML file of settings (keys are flag names); also PATCHBAY_CONFIG")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(
		newServerCommand(e),
		newLoginCommand(e),
		newUsersCommand(e),
		newTokensCommand(e),
		newAuditCommand(e),
		newHostsCommand(e),
		newPackagesCommand(e),
		newVulnsCommand(e),
		newFindingsCommand(e),
		newFeedsCommand(e),
		newPoliciesCommand(e),
		newUpdatesCommand(e),
		newSLACommand(e),
		newExceptionsCommand(e),
		newApprovalsCommand(e),
		newDeploymentsCommand(e),
		newEnrollSecretsCommand(e),
		newAgentCommand(e),
		newSimCommand(e),
		newDemoCommand(e),
		newScanCommand(e),
		newVercmpCommand(e),
		newVersionCommand(e),
	)
	return root
}

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print patchbay's build version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(e.stdout, "patchbay", buildVersion())
			return nil
		},
	}
}

// usageError is a mistake in how patchbay was called: exit code 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Exit codes.
const (
	exitFailure     = 1 // anything else
	exitUsage       = 2 // bad flags, settings or arguments
	exitUnavailable = 3 // the store or server cannot be reached
)

func exitCode(err error) int {
	var ue *usageError
	var ce *client.Error
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, store.ErrNewerSchema):
		return exitFailure
	case patchbay.ErrorCodeOf(err) == patchbay.EUnavailable:
		return exitUnavailable
	case errors.As(err, &ce) && ce.Status == 503:
		return exitUnavailable
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"):
		return exitUsage
	}
	return exitFailure
}

// newLogger builds the one logger of a process.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: want text or json", format)
}
