package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/bench/internal/benchfleet"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/web"
)

// polled is what a long poll returned, and when.
type polled struct {
	jobs []protocol.Job
	at   time.Time
	err  error
}

// longPoll starts a long poll of c and returns where its answer arrives.
func longPoll(ctx context.Context, c *client.Client) <-chan polled {
	ch := make(chan polled, 1)
	go func() {
		res, err := c.PollJobs(ctx, 25*time.Second)
		ch <- polled{res.Jobs, time.Now(), err}
	}()
	return ch
}

// only waits for p and checks it brought one job of kind.
func only(p <-chan polled, kind protocol.JobKind) (polled, error) {
	r := <-p
	if r.err == nil && (len(r.jobs) != 1 || r.jobs[0].Kind != kind) {
		r.err = fmt.Errorf("poll brought %+v, want one %s job", r.jobs, kind)
	}
	return r, r.err
}

// pickup measures figure (c) through the real handler (web.New over the
// same store, its rollout controller wired as the server wires it): a
// deployment of a pilot host and an agent host, one ring each, is approved
// over HTTP while both long-poll; the agent's fetch job reaches it when the
// approval is stored and the controller has scheduled the deployment. Then
// the pilot reports its install, the controller promotes the agent's ring,
// and the agent's long poll brings its install. Each latency runs from the
// request that made the job due to the poll's answer.
func (b *bench) pickup(trials int) error {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	st := b.st
	var handler *web.Server
	ctl := rollout.NewController(st, rollout.Options{Holder: "bench-pickup", OnChange: func(id int64) { handler.JobsChanged(id) }})
	handler = web.New(web.Config{Store: st, Rollout: ctl})
	go ctl.Run(ctx)
	srv := httptest.NewServer(handler)
	defer srv.Close()

	op, err := st.CreateUser(ctx, "user:bench", "olga", patchbay.RoleOperator)
	if err != nil {
		return err
	}
	if _, err := st.CreateUser(ctx, "user:bench", "ann", patchbay.RoleApprover); err != nil {
		return err
	}
	_, secret, err := st.CreateToken(ctx, "user:bench", "ann", "bench", nil)
	if err != nil {
		return err
	}
	approver, _ := client.New(client.Options{Server: srv.URL, Token: secret, Timeout: time.Minute})
	_, es, err := st.CreateEnrollSecret(ctx, "user:bench", store.NewEnrollSecret{Name: "pickup"})
	if err != nil {
		return err
	}
	var hosts [2]int64
	var agents [2]*client.Client // the pilot, then the agent
	for i, name := range []string{"pickup-pilot", "pickup-agent"} {
		e, err := st.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: es, Facts: protocol.Facts{Hostname: name, MachineID: fmt.Sprintf("%032x", i+1),
			OSRelease: map[string]string{"ID": "debian", "VERSION_ID": "12"}, TimeZone: "UTC", ProtocolVersion: protocol.Version}})
		if err != nil {
			return err
		}
		hosts[i] = e.HostID
		agents[i], _ = client.New(client.Options{Server: srv.URL, Token: e.HostToken, Timeout: time.Minute})
	}
	pilot, agent := agents[0], agents[1]
	report := func(c *client.Client, j protocol.Job, status protocol.JobStatus) error {
		now := time.Now()
		before := []protocol.PackageVersion{{Name: "hello", Arch: "amd64", Version: "1.0"}}
		after := before
		if j.Kind == protocol.JobInstall {
			after = []protocol.PackageVersion{{Name: "hello", Arch: "amd64", Version: "1.1"}}
		}
		_, err := c.ReportJob(ctx, j.ID, protocol.JobResult{Attempt: j.Attempt, Status: status, Before: before, After: after, Started: now, Finished: now})
		return err
	}

	var approval, promotion, pilotInstall []time.Duration
	for trial := range trials {
		d := &patchbay.Deployment{Name: fmt.Sprintf("pickup %d", trial), State: patchbay.DeploymentAwaitingApproval, Reason: patchbay.ReasonNeedsApprove,
			RequestedBy: op.ID, Windows: openWindow(), AutoRollback: true, Reboot: patchbay.RebootRule{Mode: patchbay.RebootNever},
			Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "pilot", Count: 1}, Hosts: 1}, {RingSpec: patchbay.RingSpec{Name: "rest"}, Hosts: 1}}}
		for ring, h := range hosts {
			d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: h, Ring: ring, Updates: []patchbay.PlannedUpdate{
				{Ecosystem: "deb", Name: "hello", Arch: "amd64", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}})
		}
		if err := st.CreateDeployment(ctx, "user:olga", d); err != nil {
			return err
		}
		pp, ap := longPoll(ctx, pilot), longPoll(ctx, agent)
		time.Sleep(100 * time.Millisecond) // both polls are waiting
		t0 := time.Now()
		if _, err := approver.DecideDeployment(ctx, d.ID, apiv1.DecisionRequest{Decision: patchbay.Approve, Comment: "bench"}); err != nil {
			return err
		}
		a, err := only(ap, protocol.JobFetch)
		if err != nil {
			return fmt.Errorf("trial %d, the agent after the approval: %w", trial, err)
		}
		approval = append(approval, a.at.Sub(t0))
		p, err := only(pp, protocol.JobFetch)
		if err != nil {
			return fmt.Errorf("trial %d, the pilot after the approval: %w", trial, err)
		}
		// The fetches reported (an agent reports before it polls again: a
		// job it has not reported is offered again), the deployment runs:
		// the pilot's install.
		if err := report(agent, a.jobs[0], protocol.JobSucceeded); err != nil {
			return err
		}
		if err := report(pilot, p.jobs[0], protocol.JobSucceeded); err != nil {
			return err
		}
		pp, ap = longPoll(ctx, pilot), longPoll(ctx, agent)
		if p, err = only(pp, protocol.JobInstall); err != nil {
			return fmt.Errorf("trial %d, the pilot's install: %w", trial, err)
		}
		pilotInstall = append(pilotInstall, p.at.Sub(t0))
		time.Sleep(100 * time.Millisecond) // the agent's poll is waiting again
		t1 := time.Now()
		if err := report(pilot, p.jobs[0], protocol.JobHealthy); err != nil {
			return err
		}
		if a, err = only(ap, protocol.JobInstall); err != nil {
			return fmt.Errorf("trial %d, the agent after the promotion: %w", trial, err)
		}
		promotion = append(promotion, a.at.Sub(t1))
		if err := report(agent, a.jobs[0], protocol.JobHealthy); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got, err := st.Deployment(ctx, d.ID)
			if err != nil {
				return err
			}
			if got.State == patchbay.DeploymentCompleted {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("trial %d: deployment %s (%s), want completed", trial, got.State, got.Detail)
			}
		}
	}
	fmt.Printf("pickup by long poll, approval → fetch job: median %.0f ms of %d (target ≤ 2 s)\n", benchfleet.MS(benchfleet.Median(approval)), trials)
	fmt.Printf("pickup by long poll, promotion (the pilot's result) → next ring's install job: median %.0f ms of %d (target ≤ 2 s)\n",
		benchfleet.MS(benchfleet.Median(promotion)), trials)
	fmt.Printf("pickup by long poll, approval → first ring's install job (the fetches reported in between): median %.0f ms of %d\n",
		benchfleet.MS(benchfleet.Median(pilotInstall)), trials)
	return nil
}
