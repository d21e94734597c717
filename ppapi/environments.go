package ppapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"time"
)

// Accepted is the answer to a long-running start (install, environment
// delete).
type Accepted struct {
	// Status is 202 (accepted), 200 (done at once) or, for an
	// environment delete, 204 (already gone).
	Status int
	// Location is the status URL from Location or Operation-Location,
	// checked against the allowed hosts; "" if none was sent.
	Location string
	// OperationID is the operation's id (a GUID): the last path segment
	// of Location, or for an install the body's lastOperation.operationId;
	// "" when the service gave none.
	OperationID string
	// RetryAfter is the service's suggested wait before polling.
	RetryAfter time.Duration
}

// deleteEnvironmentBody is the reason the real service requires on a
// delete (REAL-API.md §7.3): code 7 = Application.
type deleteEnvironmentBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ListEnvironments returns every environment of the tenant, following
// nextLinks. expand is the optional $expand value, e.g.
// "properties.capacity,properties.addons".
func (c *Client) ListEnvironments(ctx context.Context, expand string) ([]Environment, error) {
	op := opListEnvironments
	q := url.Values{}
	if expand != "" {
		if !validExpand(expand) {
			return nil, invalidID(op.id, "$expand", expand)
		}
		q.Set("$expand", expand)
	}
	u, err := c.endpointURL(op, pathBAPEnvs, q)
	if err != nil {
		return nil, err
	}
	return listAll[Environment](ctx, c, op, u)
}

// GetEnvironment returns one environment. id is a GUID or Default-<GUID>.
func (c *Client) GetEnvironment(ctx context.Context, id, expand string) (*Environment, error) {
	op := opGetEnvironment
	if !ValidEnvironmentID(id) {
		return nil, invalidID(op.id, "environment id", id)
	}
	q := url.Values{}
	if expand != "" {
		if !validExpand(expand) {
			return nil, invalidID(op.id, "$expand", expand)
		}
		q.Set("$expand", expand)
	}
	u, err := c.endpointURL(op, pathBAPEnvs+"/"+url.PathEscape(id), q)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, op, u, nil)
	if err != nil {
		return nil, err
	}
	var env Environment
	if err := c.decode(op, res, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// DeleteEnvironment starts deleting an environment (it stays recoverable
// for 7 days). It sends the reason body the real service requires. The
// answer is 202 with a status URL, or 204 when the environment was
// already gone; a 409 (another operation is running, often with an empty
// body) matches ErrConflict. It is never retried.
func (c *Client) DeleteEnvironment(ctx context.Context, id string) (*Accepted, error) {
	op := opDeleteEnvironment
	if !ValidEnvironmentID(id) {
		return nil, invalidID(op.id, "environment id", id)
	}
	u, err := c.endpointURL(op, pathBAPEnvs+"/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, op, u, deleteEnvironmentBody{Code: "7", Message: "Deleted via Power Platform admin portal"})
	if err != nil {
		return nil, err
	}
	acc := &Accepted{Status: res.status}
	if res.status == http.StatusNoContent {
		return acc, nil
	}
	acc.RetryAfter = c.parseRetryAfter(res.header.Get("Retry-After"))
	loc, err := c.statusLocation(op, u, res)
	if err != nil {
		return nil, err
	}
	if loc != nil {
		acc.Location = loc.String()
		if seg := path.Base(loc.Path); ValidGUID(seg) {
			acc.OperationID = seg
		}
	}
	return acc, nil
}

// statusLocation returns the checked Location (or Operation-Location) of
// an accepted mutation, nil if there is none. A foreign one is refused:
// the mutation was accepted, but what became of it cannot be followed, so
// the error also wraps ErrOutcomeUnknown.
func (c *Client) statusLocation(op operation, from *url.URL, res *result) (*url.URL, error) {
	raw := res.header.Get("Location")
	what := "Location"
	if raw == "" {
		raw, what = res.header.Get("Operation-Location"), "Operation-Location"
	}
	if raw == "" {
		return nil, nil
	}
	u, err := c.resolveLink(op, from, raw, what)
	if err != nil {
		var ke *kindError
		if errors.As(err, &ke) {
			// Accepted, but what became of it cannot be followed.
			ke.msg = fmt.Sprintf("accepted with status %d, but %s; reconcile by reading", res.status, ke.msg)
			ke.kinds = append(ke.kinds, ErrOutcomeUnknown)
		}
		return nil, err
	}
	return u, nil
}
