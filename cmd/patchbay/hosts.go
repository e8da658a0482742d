package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
)

func newHostsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "hosts", Short: "List and manage enrolled hosts"}
	f.add(cmd)

	var q client.HostQuery
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List hosts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			hosts := []patchbay.Host{}
			for len(hosts) < limit {
				q.Limit = min(1000, limit-len(hosts))
				page, err := c.Hosts(cmd.Context(), q)
				if err != nil {
					return err
				}
				hosts = append(hosts, page.Items...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			t := &table{header: []string{"ID", "HOSTNAME", "OS", "LABELS", "GROUPS", "OWNER", "LAST SEEN"}, raw: hosts}
			for _, h := range hosts {
				t.add(strconv.FormatInt(h.ID, 10), h.Hostname, strings.TrimSpace(h.OSName+" "+h.OSRelease),
					strings.Join(h.Labels, ","), strings.Join(h.Groups, ","), h.Owner, when(h.LastSeenAt))
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().StringVar(&q.Label, "label", "", "only hosts with this label")
	ls.Flags().StringVar(&q.Group, "group", "", "only hosts in this group")
	ls.Flags().StringVar(&q.Owner, "owner", "", "only hosts of this owner")
	ls.Flags().IntVar(&limit, "limit", 1000, "at most this many hosts")
	cmd.AddCommand(ls)
	return cmd
}
