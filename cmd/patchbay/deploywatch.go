package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
)

func newDeploymentWatchCommand(f *clientFlags, e *env) *cobra.Command {
	var every time.Duration
	cmd := deploymentCommand(f, e, "watch ID", "Follow a deployment ring by ring until it ends, halts or pauses", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if f.output == outputCSV {
			return usageErrorf("watch prints lines, or with -o json a JSON object per change; not csv")
		}
		if every <= 0 {
			return usageErrorf("--every %s: want a positive duration", every)
		}
		w := &watcher{w: e.stdout, json: f.output == outputJSON, bars: f.output == outputTable && isTerminal(e.stdout)}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			d, jobs, err := deploymentWithJobs(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			w.update(d, ringProgressOf(d, jobs))
			if end, line, err := watchEnd(d); end {
				w.endBar()
				if line != "" && !w.json {
					fmt.Fprintln(e.stdout, line)
				}
				return err
			}
			select {
			case <-cmd.Context().Done():
				return cmd.Context().Err()
			case <-tick.C:
			}
		}
	})
	cmd.Long = `Follow a deployment: a line whenever its state changes, and per ring the
hosts done out of its hosts, with failures. On a terminal each ring has a
progress bar; elsewhere (and with -o json, an object per change) plain lines.
It ends when the deployment is completed or paused (exit 0), or halted for
a person to act, rolled back or cancelled (exit 1, saying why); a halted
deployment rolling its failed hosts back is followed until it has.`
	cmd.Flags().DurationVar(&every, "every", time.Second, "how often to look")
	return cmd
}

// watchEnd says whether watching d ends, with a line saying so or an
// error saying why it did not succeed.
func watchEnd(d patchbay.Deployment) (bool, string, error) {
	why := fmt.Sprintf("(%s): %s", d.Reason, dash(d.Detail))
	switch {
	case d.State == patchbay.DeploymentCompleted:
		return true, fmt.Sprintf("deployment %d completed: %s", d.ID, dash(d.Detail)), nil
	case d.State == patchbay.DeploymentPaused:
		return true, fmt.Sprintf("deployment %d is paused %s; continue it with patchbay deployments resume %d", d.ID, why, d.ID), nil
	case d.State == patchbay.DeploymentHalted && d.Reason != patchbay.ReasonRollingBack:
		return true, "", fmt.Errorf("deployment %d halted %s; see patchbay deployments jobs %d, then resume, retry, rollback or cancel it", d.ID, why, d.ID)
	case d.State == patchbay.DeploymentRolledBack, d.State == patchbay.DeploymentCancelled:
		return true, "", fmt.Errorf("deployment %d is %s %s", d.ID, d.State, why)
	}
	return false, "", nil
}

// watcher prints a deployment's changes: its state as lines, each ring's
// progress as a line or, on a terminal, as a bar (one ring after the
// other: a finished ring's bar stays drawn above the current one's).
type watcher struct {
	w          io.Writer
	json, bars bool
	last       string   // the last state line or JSON object printed
	rings      []string // per ring, the last line printed
	bar        *progressbar.ProgressBar
	barRing    int // how many rings have had a bar: the ring of bar is barRing-1
}

func (w *watcher) update(d patchbay.Deployment, progress []ringProgress) {
	if w.json {
		b, _ := json.Marshal(struct {
			ID          int64                    `json:"id"`
			State       patchbay.DeploymentState `json:"state"`
			Reason      patchbay.StateReason     `json:"reason"`
			Detail      string                   `json:"detail"`
			CurrentRing int                      `json:"current_ring"`
			Progress    []ringProgress           `json:"progress"`
		}{d.ID, d.State, d.Reason, d.Detail, d.CurrentRing, progress})
		if string(b) != w.last {
			w.last = string(b)
			fmt.Fprintln(w.w, w.last)
		}
		return
	}
	if line := fmt.Sprintf("deployment %d is %s (%s): %s", d.ID, d.State, d.Reason, dash(d.Detail)); line != w.last {
		w.last = line
		w.println(line)
	}
	switch d.State {
	case patchbay.DeploymentDraft, patchbay.DeploymentAwaitingApproval, patchbay.DeploymentApproved, patchbay.DeploymentScheduled:
		return // no ring has begun
	}
	w.rings = append(w.rings, make([]string, max(len(progress)-len(w.rings), 0))...)
	name := func(i int) string { return fmt.Sprintf("ring %d/%d %s", i+1, len(progress), progress[i].Ring) }
	for i := 0; i <= d.CurrentRing && i < len(progress); i++ {
		p := progress[i]
		if !w.bars {
			if line := "  " + name(i) + ": " + p.String(); line != w.rings[i] {
				w.rings[i] = line
				fmt.Fprintln(w.w, line)
			}
			continue
		}
		for w.barRing <= i { // the next ring's bar, below the last one's
			w.endBar()
			if n := progress[w.barRing].Hosts; n > 0 {
				w.bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(w.w), progressbar.OptionSetDescription(name(w.barRing)),
					progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionSetPredictTime(false),
					progressbar.OptionSetRenderBlankState(true), progressbar.OptionOnCompletion(func() { fmt.Fprintln(w.w) }))
			} else {
				fmt.Fprintln(w.w, name(w.barRing)+": no hosts")
			}
			w.barRing++
		}
		if i == w.barRing-1 && w.bar != nil && !w.bar.IsFinished() {
			w.bar.Describe(fmt.Sprintf("%s, %d failed", name(i), p.Failed))
			w.bar.Set(p.done())
		}
	}
}

// println prints a line above the bar being drawn.
func (w *watcher) println(line string) {
	live := w.bar != nil && !w.bar.IsFinished()
	if live {
		w.bar.Clear()
	}
	fmt.Fprintln(w.w, line)
	if live {
		w.bar.RenderBlank()
	}
}

// endBar leaves the bar being drawn as it is and moves below it (Exit
// calls the bar's OnCompletion, which ends its line).
func (w *watcher) endBar() {
	if w.bar != nil && !w.bar.IsFinished() {
		w.bar.Exit()
	}
	w.bar = nil
}

// isTerminal reports whether w is a terminal, where bars are drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
