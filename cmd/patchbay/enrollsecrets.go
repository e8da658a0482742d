package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/apiv1"
)

func newEnrollSecretsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "enroll-secrets", Short: "Manage the secrets agents enroll with"}
	f.add(cmd)

	ls := &cobra.Command{Use: "ls", Short: "List enroll secrets", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			list, err := c.EnrollSecrets(cmd.Context())
			if err != nil {
				return err
			}
			t := &table{header: []string{"ID", "NAME", "USES", "MAX", "EXPIRES", "REVOKED", "LABELS", "GROUPS"}, raw: list}
			for _, s := range list {
				max := "-"
				if s.MaxUses != nil {
					max = strconv.Itoa(*s.MaxUses)
				}
				t.add(strconv.FormatInt(s.ID, 10), s.Name, strconv.Itoa(s.Uses), max, when(s.ExpiresAt), when(s.RevokedAt),
					strings.Join(s.Labels, ","), strings.Join(s.Groups, ","))
			}
			return t.write(e.stdout, f.output)
		}}

	var req apiv1.CreateEnrollSecretRequest
	var maxUses int
	create := &cobra.Command{Use: "create --name NAME", Short: "Create an enroll secret; it is printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Name == "" {
				return usageErrorf("--name is required")
			}
			if cmd.Flags().Changed("max-uses") {
				req.MaxUses = &maxUses
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			es, err := c.CreateEnrollSecret(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == outputJSON {
				return (&table{raw: es}).write(e.stdout, outputJSON)
			}
			fmt.Fprintf(e.stderr, "enroll secret %d %q; the secret below is shown only now:\n", es.ID, es.Name)
			fmt.Fprintln(e.stdout, es.Secret)
			return nil
		}}
	create.Flags().StringVar(&req.Name, "name", "", "what it is for")
	create.Flags().StringVar(&req.ExpiresIn, "expires-in", "", "lifetime, such as 168h")
	create.Flags().StringVar(&req.ExpiresAt, "expires-at", "", "expiry, RFC 3339")
	create.Flags().IntVar(&maxUses, "max-uses", 0, "how many hosts may enroll with it")
	create.Flags().StringSliceVar(&req.Labels, "labels", nil, "labels given to hosts that enroll with it")
	create.Flags().StringSliceVar(&req.Groups, "groups", nil, "groups given to hosts that enroll with it")

	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an enroll secret (enrolled hosts keep working)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErrorf("ID %q: want a positive integer (see enroll-secrets ls)", args[0])
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			es, err := c.RevokeEnrollSecret(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked enroll secret %d %q\n", es.ID, es.Name)
			return nil
		}}
	cmd.AddCommand(ls, create, revoke)
	return cmd
}
