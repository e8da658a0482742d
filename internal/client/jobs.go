package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/protocol"
)

// PollJobs waits up to wait for jobs due for this host (a host token); the
// request's own timeout is stretched to cover the wait.
func (c *Client) PollJobs(ctx context.Context, wait time.Duration) (protocol.PollResponse, error) {
	return c.PollJobsHolding(ctx, wait, nil)
}

// PollJobsHolding is PollJobs from an agent that keeps the package files
// of the deployments holding: the answer says which it may delete.
func (c *Client) PollJobsHolding(ctx context.Context, wait time.Duration, holding []int64) (protocol.PollResponse, error) {
	var res protocol.PollResponse
	cc := c
	if c.http.Timeout > 0 && c.http.Timeout < wait+30*time.Second {
		cc = c.WithTimeout(wait + 30*time.Second)
	}
	return res, cc.do(ctx, "POST", protocol.PathJobsPoll, nil, protocol.PollRequest{WaitSeconds: int(wait / time.Second), Holding: holding}, &res)
}

// ReportJob sends a job's result; accepted is false when the server
// already had it, or it was for an older attempt (both harmless).
func (c *Client) ReportJob(ctx context.Context, id int64, r protocol.JobResult) (accepted bool, err error) {
	var res struct {
		Accepted bool `json:"accepted"`
	}
	err = c.do(ctx, "POST", protocol.JobResultPath(id), nil, r, &res)
	return res.Accepted, err
}

// CreateDeployment asks for a deployment made by a person.
func (c *Client) CreateDeployment(ctx context.Context, req apiv1.CreateDeploymentRequest) (patchbay.Deployment, error) {
	var d patchbay.Deployment
	return d, c.do(ctx, "POST", "/api/v1/deployments", nil, req, &d)
}

// DeploymentAction takes an action on a deployment.
func (c *Client) DeploymentAction(ctx context.Context, id int64, action string) (apiv1.DeploymentActionResult, error) {
	var res apiv1.DeploymentActionResult
	return res, c.do(ctx, "POST", fmt.Sprintf("/api/v1/deployments/%d/action", id), nil, apiv1.DeploymentActionRequest{Action: action}, &res)
}

// DeploymentJobs lists all of a deployment's jobs, of one kind or ("")
// all, without their output, page by page.
func (c *Client) DeploymentJobs(ctx context.Context, id int64, kind patchbay.JobKind) ([]patchbay.Job, error) {
	var all []patchbay.Job
	f := patchbay.JobFilter{Kind: kind, Limit: 1000}
	for {
		page, next, err := c.DeploymentJobPage(ctx, id, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == 0 {
			return all, nil
		}
		f.Cursor = next
	}
}

// DeploymentJobPage lists one page of a deployment's jobs that f selects,
// and the cursor of the next (0: none).
func (c *Client) DeploymentJobPage(ctx context.Context, id int64, f patchbay.JobFilter) ([]patchbay.Job, int64, error) {
	q := url.Values{}
	for k, v := range map[string]string{"kind": string(f.Kind), "state": string(f.State)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.HostID != 0 {
		q.Set("host", strconv.FormatInt(f.HostID, 10))
	}
	if f.Output {
		q.Set("output", "true")
	}
	if f.Cursor != 0 {
		q.Set("cursor", strconv.FormatInt(f.Cursor, 10))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var res apiv1.List[patchbay.Job]
	if err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/deployments/%d/jobs", id), q, nil, &res); err != nil {
		return nil, 0, err
	}
	var next int64
	if res.NextCursor != "" {
		n, err := strconv.ParseInt(res.NextCursor, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("jobs of deployment %d: the server's next cursor %q is not a job id", id, res.NextCursor)
		}
		next = n
	}
	return res.Items, next, nil
}
