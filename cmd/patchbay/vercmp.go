package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/version"
)

func newVercmpCommand(e *env) *cobra.Command {
	var eco string
	cmd := &cobra.Command{
		Use:   "vercmp --ecosystem ECO [V1 V2]",
		Short: "Compare two versions as an ecosystem orders them: prints -1, 0 or 1",
		Long: `Compare V1 with V2 in an ecosystem's order and print -1 (V1 is older), 0 or 1.
With no versions, read tab-separated pairs from standard input and print one
result per line. Ecosystems: deb, rpm, apk2, apk3, semver, go, pypi.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usageErrorf("vercmp takes two versions, or none to read pairs from standard input")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ecosystem, err := version.ParseEcosystem(eco)
			if err != nil {
				return usageErrorf("--ecosystem: %v", err)
			}
			if len(args) == 2 {
				c, err := version.Compare(ecosystem, args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, c)
				return nil
			}
			return vercmpLines(e, ecosystem)
		},
	}
	cmd.Flags().StringVar(&eco, "ecosystem", "", "deb, rpm, apk2, apk3, semver, go or pypi")
	return cmd
}

// vercmpLines compares the tab-separated pairs of standard input. A bad
// line stops with an error naming its number; results before it stand.
func vercmpLines(e *env, eco version.Ecosystem) error {
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	n := 0
	for sc.Scan() {
		n++
		a, b, ok := strings.Cut(sc.Text(), "\t")
		if !ok || strings.Contains(b, "\t") {
			return usageErrorf("line %d: want two versions separated by one tab", n)
		}
		c, err := version.Compare(eco, a, b)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		fmt.Fprintln(w, c)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	return nil
}
