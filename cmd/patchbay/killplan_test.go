package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
)

// TestKillDuringScheduling SIGKILLs the server just before the scheduler
// commits the deployment a policy's open window asks for, restarts it, and
// checks that the window yields exactly one deployment, proposed once in
// the audit trail, holding every host with an update: the interrupted pass
// was redone, and redoing it again changes nothing.
func TestKillDuringScheduling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	bin, dataDir, token := stoppedFleet(t, 7)

	// A policy whose window opened five minutes ago: the pass its creation
	// nudges proposes, and the server dies just before that commits.
	cmd, url, _ := startProcessEnv(t, bin, dataDir, "PATCHBAY_FAILPOINT=schedule-commit@1")
	opened := time.Now().UTC().Add(-5 * time.Minute)
	pol := patchbay.Policy{Name: "everything now", Enabled: true,
		Windows: []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "2h", Zone: "UTC"}}}
	body, _ := json.Marshal(pol)
	if code, out := apiCall(t, "POST", url+"/api/v1/policies", token, string(body)); code != http.StatusCreated {
		t.Fatalf("create policy: %d %s", code, out)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("the server ended with %v, want killed at the fail point", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not reach the schedule fail point within 30 s")
	}

	_, url, _ = startProcessEnv(t, bin, dataDir)
	var ds apiv1.List[patchbay.Deployment]
	deadline := time.Now().Add(30 * time.Second)
	for len(ds.Items) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		_, out := apiCall(t, "GET", url+"/api/v1/deployments", token, "")
		json.Unmarshal([]byte(out), &ds)
	}
	if len(ds.Items) != 1 {
		t.Fatalf("after the restart: %d deployments, want 1", len(ds.Items))
	}
	d := ds.Items[0]
	if d.State != patchbay.DeploymentAwaitingApproval || d.PolicyVersion != 1 || d.HostCount == 0 {
		t.Fatalf("deployment = %+v; want one awaiting approval, with hosts", d)
	}
	// Every host the queue offers an update is in it.
	hosts := map[int64]bool{}
	for cursor := "first"; cursor != ""; {
		u := url + "/api/v1/updates?sort=host&limit=1000"
		if cursor != "first" {
			u += "&cursor=" + cursor
		}
		var q apiv1.List[patchbay.HostUpdate]
		_, out := apiCall(t, "GET", u, token, "")
		if err := json.Unmarshal([]byte(out), &q); err != nil || len(q.Items) == 0 {
			t.Fatalf("updates: %v %s", err, out)
		}
		for _, u := range q.Items {
			hosts[u.HostID] = true
		}
		cursor = q.NextCursor
	}
	if d.HostCount != len(hosts) {
		t.Errorf("the deployment holds %d hosts; %d hosts have updates", d.HostCount, len(hosts))
	}
	// Another pass (nudged by a host change) proposes nothing more, and
	// the audit trail holds one proposal.
	if code, out := apiCall(t, "PATCH", url+"/api/v1/hosts/1", token, `{"owner":"team-z"}`); code != http.StatusOK {
		t.Fatalf("patch host: %d %s", code, out)
	}
	time.Sleep(time.Second)
	_, out := apiCall(t, "GET", url+"/api/v1/deployments", token, "")
	json.Unmarshal([]byte(out), &ds)
	var audit apiv1.List[patchbay.AuditEvent]
	_, out = apiCall(t, "GET", url+"/api/v1/audit?object=deployment&limit=100", token, "")
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 1 || len(audit.Items) != 1 || audit.Items[0].Action != "deployment.propose" {
		t.Fatalf("after another pass: %d deployments, %d audit events; want 1 and 1", len(ds.Items), len(audit.Items))
	}
	t.Logf("one deployment of %d hosts after the kill", d.HostCount)
}

// apiCall sends one request with a user token and returns the status and
// body.
func apiCall(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
