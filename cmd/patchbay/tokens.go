package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/apiv1"
)

func newTokensCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "tokens", Short: "Manage API tokens"}
	f.add(cmd)

	var all bool
	ls := &cobra.Command{Use: "ls", Short: "List your tokens (--all: everyone's, admins only)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			toks, err := c.Tokens(cmd.Context(), all)
			if err != nil {
				return err
			}
			t := &table{header: []string{"ID", "USER", "NAME", "CREATED", "EXPIRES", "REVOKED", "LAST USED"}, raw: toks}
			for _, tok := range toks {
				t.add(strconv.FormatInt(tok.ID, 10), tok.UserName, tok.Name, when(&tok.CreatedAt), when(tok.ExpiresAt), when(tok.RevokedAt), when(tok.LastUsedAt))
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().BoolVar(&all, "all", false, "every user's tokens")

	var req apiv1.CreateTokenRequest
	create := &cobra.Command{Use: "create --name NAME", Short: "Create a token; its secret is printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Name == "" {
				return usageErrorf("--name is required: say what the token is for")
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			tok, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == outputJSON {
				return (&table{raw: tok}).write(e.stdout, outputJSON)
			}
			fmt.Fprintf(e.stderr, "token %d %q for %s, expires %s; the secret below is shown only now:\n", tok.ID, tok.Name, tok.UserName, when(tok.ExpiresAt))
			fmt.Fprintln(e.stdout, tok.Secret)
			return nil
		}}
	create.Flags().StringVar(&req.Name, "name", "", "what the token is for")
	create.Flags().StringVar(&req.User, "user", "", "the user it acts as (default: you; others need admin)")
	create.Flags().StringVar(&req.ExpiresIn, "expires-in", "", "lifetime, such as 720h")
	create.Flags().StringVar(&req.ExpiresAt, "expires-at", "", "expiry time, RFC 3339")

	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke a token: it stops working at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErrorf("token ID %q: want a positive integer (see tokens ls)", args[0])
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			tok, err := c.RevokeToken(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked token %d %q of %s\n", tok.ID, tok.Name, tok.UserName)
			return nil
		}}
	cmd.AddCommand(ls, create, revoke)
	return cmd
}
