package main

import (
	"strconv"

	"github.com/spf13/cobra"
)

func newPackagesCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "packages", Short: "Ask about packages across the fleet"}
	f.add(cmd)
	var limit int
	var below string
	where := &cobra.Command{Use: "where NAME", Short: "Which hosts have package NAME (binary or source name) installed", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			rows, err := c.PackageHosts(cmd.Context(), args[0], below, limit)
			if err != nil {
				return err
			}
			t := &table{header: []string{"HOST ID", "HOSTNAME", "PACKAGE", "VERSION", "ARCH", "SOURCE", "SOURCE VERSION"}, raw: rows}
			for _, r := range rows {
				src, srcVer := r.Package.Source()
				t.add(strconv.FormatInt(r.HostID, 10), r.Hostname, r.Package.Name, r.Package.Version, r.Package.Arch, src, srcVer)
			}
			return t.write(e.stdout, f.output)
		}}
	where.Flags().IntVar(&limit, "limit", 1000, "at most this many rows")
	where.Flags().StringVar(&below, "version-lt", "", "only versions lower than this, by the package ecosystem's ordering (the source version when NAME is a source name)")
	cmd.AddCommand(where)
	return cmd
}
