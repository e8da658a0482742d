package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// noisyPM installs, printing output that is within the protocol's bound
// but grows past a small server's body limit once escaped as JSON.
type noisyPM struct{ failCount }

func (p *noisyPM) Install(ctx context.Context, as []protocol.Action) (string, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	if _, err := p.fakePM.Install(ctx, as); err != nil {
		return "", err
	}
	return strings.Repeat("\x1b[1mprogress\x1b[0m\r", protocol.MaxJobOutput/20) + "done\n", nil
}

// TestDeliverTooLargeResult: a server whose body limit is below a
// result's escaped size answers 413. The agent used to drop the result
// and its journal entry, the server kept offering the running job, and
// the agent installed it again. Now it sends the outcome with the
// output's end, once.
func TestDeliverTooLargeResult(t *testing.T) {
	const limit = 64 << 10
	var reported atomic.Bool
	var got protocol.JobResult
	job := install(41, protocol.Action{Name: "hello", Version: "1.1"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathJobsPoll {
			var res protocol.PollResponse
			if !reported.Load() {
				res.Jobs = []protocol.Job{job}
			}
			json.NewEncoder(w).Encode(res)
			return
		}
		var res protocol.JobResult
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(&res); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		got = res
		reported.Store(true)
		json.NewEncoder(w).Encode(map[string]bool{"accepted": true})
	}))
	defer srv.Close()
	api, err := client.New(client.Options{Server: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	pm := &noisyPM{failCount{fakePM: &fakePM{installed: map[string]string{"hello": "1.0"}, kept: map[string]bool{}}}}
	x := newExec(t, pm.fakePM)
	x.PM = pm
	a := &runner{cfg: Config{PollWait: 100 * time.Millisecond}, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	a.runJobs(ctx, api, x)
	if !reported.Load() {
		t.Fatal("the server never accepted the job's result")
	}
	if pm.n != 1 {
		t.Errorf("the job was installed %d times", pm.n)
	}
	if (got.Status != protocol.JobSucceeded && got.Status != protocol.JobHealthy) || !strings.HasSuffix(got.Output, "done\n") || !strings.Contains(got.Output, "HTTP 413") {
		t.Errorf("result %s with output %.80q…, want success with the output's end and why the rest is cut", got.Status, got.Output)
	}
}
