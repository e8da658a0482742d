package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newAuditCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the tamper-evident audit trail"}
	f.add(cmd)

	var q client.AuditQuery
	var since, until string
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List audit events, oldest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if q.Since, err = parseWhen("--since", since, time.Now()); err != nil {
				return err
			}
			if q.Until, err = parseWhen("--until", until, time.Now()); err != nil {
				return err
			}
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			events, err := collect(limit, func(cursor string, n int) (apiv1.List[patchbay.AuditEvent], error) {
				q.Cursor, q.Limit = cursor, n
				return c.Audit(cmd.Context(), q)
			})
			if err != nil {
				return err
			}
			t := &table{header: []string{"SEQ", "AT", "ACTOR", "ACTION", "OBJECT", "AFTER"}, raw: events}
			for _, ev := range events {
				t.add(strconv.FormatInt(ev.Seq, 10), when(&ev.At), ev.Actor, ev.Action, ev.ObjectType+":"+ev.ObjectID, string(ev.After))
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().StringVar(&q.Actor, "actor", "", "only events by this actor, such as user:alice")
	ls.Flags().StringVar(&q.Object, "object", "", "only events on TYPE or TYPE:ID, such as user:alice")
	ls.Flags().StringVar(&since, "since", "", "from this time (RFC 3339) or this long ago (such as 24h)")
	ls.Flags().StringVar(&until, "until", "", "before this time (RFC 3339) or this long ago")
	ls.Flags().IntVar(&limit, "limit", 100, "at most this many events")

	var sf storeFlags
	verify := &cobra.Command{Use: "verify", Short: "Verify the audit chain and name the first broken entry",
		Long: `Verify that no audit entry was edited, removed or reordered. Through the
server by default; with --data-dir or --database it opens the store directly.
Exits 1 when the chain is broken.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res apiv1.AuditVerification
			if cmd.Flags().Changed("data-dir") || cmd.Flags().Changed("database") {
				log, _ := newLogger(e.stderr, "warn", "text")
				st, err := sf.open(cmd.Context(), log)
				if err != nil {
					return err
				}
				defer st.Close()
				n, err := st.VerifyAudit(cmd.Context())
				var br *patchbay.ChainBreak
				switch {
				case errors.As(err, &br):
					res = apiv1.AuditVerification{Checked: n, Break: br}
				case err != nil:
					return err
				default:
					res = apiv1.AuditVerification{OK: true, Checked: n}
				}
			} else {
				c, err := f.client(e)
				if err != nil {
					return err
				}
				if res, err = c.VerifyAudit(cmd.Context()); err != nil {
					return err
				}
			}
			if f.output == outputJSON {
				if err := (&table{raw: res}).write(e.stdout, outputJSON); err != nil {
					return err
				}
			} else if res.OK {
				fmt.Fprintf(e.stdout, "audit chain intact: %d entries verified\n", res.Checked)
			}
			if !res.OK {
				return fmt.Errorf("audit chain broken at entry %d (%d entries before it verified): %s", res.Break.Seq, res.Checked, res.Break.Reason)
			}
			return nil
		}}
	sf.add(verify, e)
	cmd.AddCommand(ls, verify)
	return cmd
}

// parseWhen reads a time flag: RFC 3339, or a duration meaning that long
// before now.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageErrorf("%s %q: want an RFC 3339 time (2026-12-04T10:00:00Z) or a duration ago (24h)", flag, s)
}
