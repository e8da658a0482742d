package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newLoginCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "login --server URL --token TOKEN",
		Short: "Check a server and token and remember them for later commands",
		Long: `Check that the server answers and the token is valid, then store both
(with --ca or --server-fingerprint) in the client config file, readable only
by you (mode 0600): $PATCHBAY_CLIENT_CONFIG, or patchbay/client.yaml under
$XDG_CONFIG_HOME or ~/.config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.server == "" || f.token == "" {
				return usageErrorf("login needs --server and --token (or PATCHBAY_SERVER and PATCHBAY_TOKEN)")
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			who, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return fmt.Errorf("login to %s: %w", f.server, err)
			}
			path, err := clientConfigPath(e.getenv)
			if err != nil {
				return err
			}
			if err := writeClientConfig(path, clientConfig{Server: f.server, Token: f.token, CA: f.ca, Fingerprint: f.fingerprint}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "logged in to %s as %s (%s); saved in %s\n", f.server, who.User.Name, who.User.Role, path)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
