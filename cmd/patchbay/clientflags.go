package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/client"
)

// clientFlags are the flags of every command that talks to a server.
// Unset ones fall back to what `patchbay login` stored.
type clientFlags struct {
	server      string
	token       string
	ca          string
	fingerprint string
	output      string
	timeout     time.Duration
}

func (f *clientFlags) add(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "server URL (default: from patchbay login)")
	pf.StringVar(&f.token, "token", "", "API token (default: from patchbay login); prefer PATCHBAY_TOKEN to keep it out of ps")
	pf.StringVar(&f.ca, "ca", "", "trust the server through this CA certificate (PEM)")
	pf.StringVar(&f.fingerprint, "server-fingerprint", "", "trust the server whose certificate has this SHA-256")
	pf.StringVarP(&f.output, "output", "o", outputTable, "table, json or csv")
	pf.DurationVar(&f.timeout, "timeout", 60*time.Second, "time limit of each request")
}

// client builds the API client from the flags and the login file.
func (f *clientFlags) client(e *env) (*client.Client, error) {
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	path, err := clientConfigPath(e.getenv)
	if err != nil {
		return nil, err
	}
	saved, err := readClientConfig(path)
	if err != nil {
		return nil, err
	}
	opt := client.Options{Server: f.server, Token: f.token, CAFile: f.ca, Fingerprint: f.fingerprint,
		Timeout: f.timeout, UserAgent: "patchbay-cli/" + buildVersion()}
	if opt.Server == "" {
		opt.Server = saved.Server
		if opt.CAFile == "" && opt.Fingerprint == "" {
			opt.CAFile, opt.Fingerprint = saved.CA, saved.Fingerprint
		}
	}
	if opt.Token == "" && opt.Server == saved.Server {
		opt.Token = saved.Token
	}
	if opt.Server == "" {
		return nil, usageErrorf("no server: run patchbay login --server URL --token TOKEN, or give --server")
	}
	c, err := client.New(opt)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return c, nil
}
