package main

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newFeedsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "feeds", Short: "Import, export and inspect advisory feeds on the server"}
	f.add(cmd)

	var importTimeout time.Duration
	var showProblems int
	imp := &cobra.Command{
		Use:   "import PATH|URL…",
		Short: "Import feeds: OSV records (a file, a directory, a zip), Debian tracker lists, KEV, EPSS, or a bundle",
		Long: `Send each feed to the server, which imports it in one transaction. A
directory of OSV .json files is zipped first. An http(s) URL is fetched by
the server itself. Importing is idempotent: a record replaces the stored
one only when its "modified" time is newer. Records that cannot be used are
listed with their file and reason; the rest of the feed is imported.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			c = c.WithTimeout(importTimeout)
			var results []apiv1.FeedImportResult
			for _, arg := range args {
				var res apiv1.FeedImportResult
				if strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
					fmt.Fprintf(e.stderr, "asking the server to fetch %s…\n", arg)
					res, err = c.FetchFeed(cmd.Context(), arg)
				} else {
					res, err = importPath(cmd.Context(), e, c, arg)
				}
				if err != nil {
					return fmt.Errorf("import %s: %w", arg, err)
				}
				results = append(results, res)
				if f.output == outputTable {
					printImport(e, res, showProblems)
				}
			}
			if f.output == outputTable {
				return nil
			}
			t := &table{header: []string{"FEED", "KIND", "RECORDS", "ADDED", "REPLACED", "UNCHANGED", "OLDER", "KEV", "EPSS", "PROBLEMS"}, raw: results}
			for _, r := range results {
				t.add(r.Name, r.Kind, strconv.Itoa(r.Records), strconv.Itoa(r.Added), strconv.Itoa(r.Replaced), strconv.Itoa(r.Unchanged),
					strconv.Itoa(r.Older), strconv.Itoa(r.KEV), strconv.Itoa(r.EPSS), strconv.Itoa(r.ProblemsTotal))
			}
			return t.write(e.stdout, f.output)
		}}
	imp.Flags().DurationVar(&importTimeout, "import-timeout", 30*time.Minute, "time limit of each feed's upload and import")
	imp.Flags().IntVar(&showProblems, "show-problems", 20, "list at most this many unusable records per feed")

	exp := &cobra.Command{
		Use:   "export FILE",
		Short: "Write a bundle of every advisory, KEV entry and EPSS score (\"-\": standard output), for feeds import on an air-gapped server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			c = c.WithTimeout(importTimeout)
			if args[0] == "-" {
				_, err := c.ExportFeeds(cmd.Context(), e.stdout)
				return err
			}
			// Written beside the target and renamed, so a failed export
			// never leaves a cut bundle under the name asked for.
			tmp, err := os.CreateTemp(filepath.Dir(args[0]), ".patchbay-export-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			bar := newBar(e, -1, "exporting")
			n, err := c.ExportFeeds(cmd.Context(), io.MultiWriter(tmp, bar))
			bar.Finish()
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.Rename(tmp.Name(), args[0]); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", args[0], n)
			return nil
		}}
	exp.Flags().DurationVar(&importTimeout, "export-timeout", 30*time.Minute, "time limit of the export")

	ls := &cobra.Command{Use: "ls", Short: "Synced feed URLs with their last sync, and recent imports", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			fd, err := c.Feeds(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == outputJSON {
				return (&table{raw: fd}).write(e.stdout, outputJSON)
			}
			if f.output == outputTable {
				fmt.Fprintf(e.stdout, "%d advisories, %d KEV entries, %d EPSS scores\n\n", fd.Advisories, fd.KEV, fd.EPSS)
				if len(fd.Sources) > 0 {
					st := &table{header: []string{"URL", "EVERY", "LAST SUCCESS", "LAST ATTEMPT", "RESULT"}}
					for _, s := range fd.Sources {
						res := s.LastSummary
						if s.LastError != "" {
							res = "error: " + s.LastError
						}
						st.add(s.URL, s.Interval, when(s.LastSuccess), when(s.LastAttempt), dash(res))
					}
					st.write(e.stdout, outputTable)
					fmt.Fprintln(e.stdout)
				}
			}
			t := &table{header: []string{"ID", "AT", "ACTOR", "KIND", "SOURCE", "ADDED", "REPLACED", "UNCHANGED", "OLDER", "PROBLEMS", "KEV", "EPSS"}, raw: fd}
			for _, im := range fd.Imports {
				t.add(strconv.FormatInt(im.ID, 10), when(&im.At), im.Actor, im.Kind, im.Source, strconv.Itoa(im.Added), strconv.Itoa(im.Replaced),
					strconv.Itoa(im.Unchanged), strconv.Itoa(im.Older), strconv.Itoa(im.Problems), strconv.Itoa(im.KEV), strconv.Itoa(im.EPSS))
			}
			return t.write(e.stdout, f.output)
		}}
	cmd.AddCommand(imp, exp, ls)
	return cmd
}

// importPath uploads one feed file, or a directory zipped on the fly into
// a temporary file, with a progress bar.
func importPath(ctx context.Context, e *env, c *client.Client, path string) (apiv1.FeedImportResult, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return apiv1.FeedImportResult{}, err
	}
	name := filepath.Base(path)
	if fi.IsDir() {
		zipped, n, err := zipDir(e, path)
		if err != nil {
			return apiv1.FeedImportResult{}, err
		}
		defer os.Remove(zipped)
		fmt.Fprintf(e.stderr, "zipped %d records of %s\n", n, path)
		path, name = zipped, name+".zip"
		if fi, err = os.Stat(path); err != nil {
			return apiv1.FeedImportResult{}, err
		}
	} else if !fi.Mode().IsRegular() {
		return apiv1.FeedImportResult{}, usageErrorf("%s is neither a file nor a directory", path)
	}
	file, err := os.Open(path)
	if err != nil {
		return apiv1.FeedImportResult{}, err
	}
	defer file.Close()
	bar := newBar(e, fi.Size(), "uploading "+name)
	body := io.TeeReader(file, bar)
	done := make(chan struct{})
	go func() { // once uploaded, say that the server is at work
		for bar.State().CurrentPercent < 1 {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		bar.Finish()
		fmt.Fprintf(e.stderr, "\nthe server is importing %s…\n", name)
	}()
	res, err := c.ImportFeed(ctx, name, body, fi.Size())
	close(done)
	return res, err
}

// zipDir writes the *.json files under dir into a temporary zip.
func zipDir(e *env, dir string) (string, int, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	if len(files) == 0 {
		return "", 0, usageErrorf("%s holds no .json files", dir)
	}
	tmp, err := os.CreateTemp("", "patchbay-feed-*.zip")
	if err != nil {
		return "", 0, err
	}
	bar := newBar(e, int64(len(files)), "zipping "+filepath.Base(dir))
	zw := zip.NewWriter(tmp)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err == nil {
			err = copyFile(w, p)
		}
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return "", 0, fmt.Errorf("zip %s: %w", p, err)
		}
		bar.Add(1)
	}
	bar.Finish()
	err = zw.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, err
	}
	return tmp.Name(), len(files), nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// newBar returns a progress bar on standard error; on anything but a
// terminal it draws nothing, so logs and tests stay clean.
func newBar(e *env, total int64, what string) *progressbar.ProgressBar {
	visible := false
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		visible = true
	}
	return progressbar.NewOptions64(total, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionSetVisibility(visible), progressbar.OptionShowBytes(total > 0 && !strings.HasPrefix(what, "zipping")),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}

// printImport prints one feed's summary and its first problems.
func printImport(e *env, r apiv1.FeedImportResult, show int) {
	if r.NotModified {
		fmt.Fprintf(e.stdout, "%s: not modified since the last fetch\n", r.Name)
		return
	}
	fmt.Fprintf(e.stdout, "%s (%s): %d records: %d added, %d replaced, %d unchanged, %d older kept; %d KEV entries, %d EPSS scores; %d unusable\n",
		r.Name, r.Kind, r.Records, r.Added, r.Replaced, r.Unchanged, r.Older, r.KEV, r.EPSS, r.ProblemsTotal)
	for i, p := range r.Problems {
		if i == show {
			fmt.Fprintf(e.stderr, "  … and %d more\n", r.ProblemsTotal-show)
			break
		}
		fmt.Fprintf(e.stderr, "  unusable: %s: %s\n", p.File, p.Reason)
	}
	if len(r.Problems) < r.ProblemsTotal && len(r.Problems) < show {
		fmt.Fprintf(e.stderr, "  … and %d more\n", r.ProblemsTotal-len(r.Problems))
	}
}
