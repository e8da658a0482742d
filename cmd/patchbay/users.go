package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

func newUsersCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "users", Short: "Manage users and their roles"}
	f.add(cmd)

	printUsers := func(users []patchbay.User) error {
		t := &table{header: []string{"NAME", "ROLE", "DISABLED", "CREATED"}, raw: users}
		for _, u := range users {
			t.add(u.Name, string(u.Role), strconv.FormatBool(u.Disabled), when(&u.CreatedAt))
		}
		return t.write(e.stdout, f.output)
	}

	ls := &cobra.Command{Use: "ls", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			users, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			return printUsers(users)
		}}

	show := &cobra.Command{Use: "show NAME", Short: "Show a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			u, err := c.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printUsers([]patchbay.User{u})
		}}

	var role string
	create := &cobra.Command{Use: "create NAME --role ROLE", Short: "Create a user (then give them a token with tokens create --user)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := patchbay.ParseRole("--role", role)
			if err != nil {
				return usageErrorf("%v", err)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), apiv1.CreateUserRequest{Name: args[0], Role: r})
			if err != nil {
				return err
			}
			return printUsers([]patchbay.User{u})
		}}
	create.Flags().StringVar(&role, "role", "", "admin, operator, approver or viewer")

	update := func(use, short string, req func(args []string) (apiv1.UpdateUserRequest, error), nargs int) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(nargs),
			RunE: func(cmd *cobra.Command, args []string) error {
				r, err := req(args)
				if err != nil {
					return err
				}
				c, err := f.client(e)
				if err != nil {
					return err
				}
				u, err := c.UpdateUser(cmd.Context(), args[0], r)
				if err != nil {
					return err
				}
				return printUsers([]patchbay.User{u})
			}}
	}
	setRole := update("set-role NAME ROLE", "Change a user's role", func(args []string) (apiv1.UpdateUserRequest, error) {
		r, err := patchbay.ParseRole("ROLE", args[1])
		if err != nil {
			return apiv1.UpdateUserRequest{}, usageErrorf("%v", err)
		}
		return apiv1.UpdateUserRequest{Role: &r}, nil
	}, 2)
	disable := update("disable NAME", "Disable a user: their tokens stop working at once", func([]string) (apiv1.UpdateUserRequest, error) {
		yes := true
		return apiv1.UpdateUserRequest{Disabled: &yes}, nil
	}, 1)
	enable := update("enable NAME", "Enable a disabled user", func([]string) (apiv1.UpdateUserRequest, error) {
		no := false
		return apiv1.UpdateUserRequest{Disabled: &no}, nil
	}, 1)

	cmd.AddCommand(ls, show, create, setRole, disable, enable, newBootstrapCommand(e))
	return cmd
}

// newBootstrapCommand is the offline way in: it opens the store directly
// (no server needed) and prints a new admin token, creating the admin user
// on an empty store.
func newBootstrapCommand(e *env) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "bootstrap --data-dir DIR",
		Short: "Offline: create the admin user if missing and print a new admin token",
		Long: `Open the store directly (the server may be running) and print a new API
token for an admin, creating the user "admin" on an empty store. Use it on
first setup or when every admin token is lost. The change is audited as
system:bootstrap.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, _ := newLogger(e.stderr, "warn", "text")
			st, err := sf.open(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.Bootstrap(cmd.Context(), true)
			if err != nil {
				return err
			}
			if res.CreatedAdmin {
				fmt.Fprintln(e.stderr, "created user admin")
			}
			fmt.Fprintln(e.stdout, res.Secret)
			return nil
		},
	}
	sf.add(cmd, e)
	return cmd
}
