package pkgmgr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
)

// storyAt10 is the story's root with 1.0 installed, and its AptJobs.
func storyAt10(t *testing.T) (*storyFixture, *AptJobs) {
	t.Helper()
	f := newStoryFixture(t, lib10, lib11, app10, app11, app12)
	if res, err := f.apt.Install(context.Background(), []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{}); err != nil {
		t.Fatalf("install 1.0: %v\n%s", err, res.Output)
	}
	return f, &AptJobs{Apt: f.apt, Dir: t.TempDir()}
}

// TestAptJobsStory runs the deployment story through AptJobs, the agent's
// package manager, on real apt and dpkg: the fetch job downloads 1.1 and
// keeps 1.0; the archive then drops 1.1, and the install still succeeds
// from the fetched files; the broken 1.2 leaves the package
// half-configured, which Broken reports; the rollback restores 1.1 from
// the kept file although the archive holds neither.
func TestAptJobsStory(t *testing.T) {
	t.Parallel()
	f, j := storyAt10(t)
	ctx := context.Background()
	to11 := []protocol.Action{{Name: "story-pb", Version: "1.1"}}
	before, err := j.Versions(ctx, to11)
	if err != nil || before[0].Version != "1.0" {
		t.Fatalf("Versions = %+v, %v; want 1.0", before, err)
	}
	out, err := j.Fetch(ctx, to11, before)
	if err != nil {
		t.Fatalf("Fetch: %v\n%s", err, out)
	}
	if !strings.Contains(out, "kept story-pb:all=1.0") {
		t.Errorf("Fetch output does not say what it kept:\n%s", out)
	}
	f.publish(t, lib10, app10) // the archive moved on: 1.1 is gone
	if out, err := j.Install(ctx, to11); err != nil {
		t.Fatalf("Install 1.1 after the archive dropped it: %v\n%s", err, out)
	}
	if after, _ := j.Versions(ctx, to11); after[0].Version != "1.1" {
		t.Fatalf("after the install: %+v; want 1.1", after)
	}
	// Keep 1.1 for the next deployment, which brings the broken 1.2.
	to12 := []protocol.Action{{Name: "story-pb", Version: "1.2"}}
	f.publish(t, lib10, lib11, app10, app11, app12)
	before, _ = j.Versions(ctx, to12)
	if out, err := j.Fetch(ctx, to12, before); err != nil {
		t.Fatalf("Fetch 1.2: %v\n%s", err, out)
	}
	if out, err := j.Install(ctx, to12); err == nil {
		t.Fatalf("Install of the broken 1.2 succeeded:\n%s", out)
	}
	broken, err := j.Broken(ctx)
	if err != nil || len(broken) != 1 || !strings.Contains(broken[0], "story-pb") {
		t.Fatalf("Broken = %v, %v; want story-pb half-configured", broken, err)
	}
	f.publish(t, lib10, app10) // neither 1.1 nor 1.2 in the archive now
	if out, err := j.Restore(ctx, []protocol.Action{{Name: "story-pb", Version: "1.1"}}); err != nil {
		t.Fatalf("Restore 1.1: %v\n%s", err, out)
	}
	if after, _ := j.Versions(ctx, to11); after[0].Version != "1.1" {
		t.Fatalf("after the rollback: %+v; want exactly 1.1", after)
	}
	if broken, _ := j.Broken(ctx); len(broken) != 0 {
		t.Fatalf("after the rollback the database is not consistent: %v", broken)
	}
	if _, err := j.Restore(ctx, []protocol.Action{{Name: "story-pb", Version: "0.9"}}); err == nil || !strings.Contains(err.Error(), "no kept file") {
		t.Fatalf("Restore of a version never kept: %v", err)
	}
}

// TestAptJobsKeepsChangedVersion: between a host's fetch (which kept 1.0)
// and its install window, someone upgrades it to 1.1 by hand. The install
// of the broken 1.2 then fails, and the rollback goes to 1.1, the version
// before the install: kept by the install itself, since the fetch never
// saw it, although the archive no longer holds it.
func TestAptJobsKeepsChangedVersion(t *testing.T) {
	t.Parallel()
	f, j := storyAt10(t)
	ctx := context.Background()
	to12 := []protocol.Action{{Name: "story-pb", Version: "1.2"}}
	before, _ := j.Versions(ctx, to12)
	if out, err := j.Fetch(ctx, to12, before); err != nil {
		t.Fatalf("Fetch 1.2: %v\n%s", err, out)
	}
	if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.1")}, InstallOptions{}); err != nil { // by hand
		t.Fatalf("install 1.1 by hand: %v\n%s", err, res.Output)
	}
	f.CleanCache(t)
	f.publish(t, lib10, lib11, app10, app12) // 1.1 leaves the archive
	out, err := j.Install(ctx, to12)
	if err == nil {
		t.Fatalf("Install of the broken 1.2 succeeded:\n%s", out)
	}
	if !strings.Contains(out, "kept story-pb:all=1.1") {
		t.Errorf("the install did not keep the version it found first:\n%s", out)
	}
	if out, err := j.Restore(ctx, []protocol.Action{{Name: "story-pb", Version: "1.1"}}); err != nil {
		t.Fatalf("Restore 1.1: %v\n%s", err, out)
	}
	if after, _ := j.Versions(ctx, to12); after[0].Version != "1.1" {
		t.Fatalf("after the rollback: %+v; want 1.1", after)
	}
	// The same install again, the host already at its target: nothing
	// more is kept.
	if err := os.RemoveAll(filepath.Join(j.Dir, "kept")); err != nil {
		t.Fatal(err)
	}
	if out := keepChangedOutput(t, j, []protocol.Action{{Name: "story-pb", Version: "1.1"}}); out != "" {
		t.Errorf("keeping before an install the host already has: %q, want nothing", out)
	}
}

func keepChangedOutput(t *testing.T, j *AptJobs, actions []protocol.Action) string {
	t.Helper()
	var out strings.Builder
	if err := j.keepChanged(context.Background(), actions, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
