package ppapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"path"
	"time"
)

// ListEnvironmentApplicationPackages returns the application packages of
// one environment, following nextLinks.
func (c *Client) ListEnvironmentApplicationPackages(ctx context.Context, envID string) ([]ApplicationPackage, error) {
	op := opGetEnvironmentPackages
	if !ValidEnvironmentID(envID) {
		return nil, invalidID(op.id, "environment id", envID)
	}
	u, err := c.endpointURL(op, pathAppEnvs+url.PathEscape(envID)+"/applicationPackages", nil)
	if err != nil {
		return nil, err
	}
	return listAll[ApplicationPackage](ctx, c, op, u)
}

// ListTenantApplicationPackages returns the tenant's installable packages,
// following nextLinks.
func (c *Client) ListTenantApplicationPackages(ctx context.Context) ([]ApplicationPackage, error) {
	op := opGetTenantPackages
	u, err := c.endpointURL(op, pathAppTenant, nil)
	if err != nil {
		return nil, err
	}
	return listAll[ApplicationPackage](ctx, c, op, u)
}

// InstallApplicationPackage starts installing a package in an
// environment. pkg is the package's uniqueName (what the real service
// takes, REAL-API.md §7.6) or its GUID. The answer is 202, or 200 when the
// service reports the instance package at once; OperationID comes from
// the last segment of Location / Operation-Location, else from the body's
// lastOperation.operationId, and may be "". It is never retried.
func (c *Client) InstallApplicationPackage(ctx context.Context, envID, pkg string) (*Accepted, error) {
	op := opInstallApplicationPackage
	if !ValidEnvironmentID(envID) {
		return nil, invalidID(op.id, "environment id", envID)
	}
	if !ValidPackageID(pkg) {
		return nil, invalidID(op.id, "application package", pkg)
	}
	u, err := c.endpointURL(op, pathAppEnvs+url.PathEscape(envID)+"/applicationPackages/"+url.PathEscape(pkg)+"/install", nil)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, op, u, nil)
	if err != nil {
		return nil, err
	}
	acc := &Accepted{Status: res.status, RetryAfter: c.parseRetryAfter(res.header.Get("Retry-After"))}
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
	if acc.OperationID == "" {
		// The body is optional and loosely specified: read it leniently.
		var body struct {
			OperationID   string `json:"operationId"`
			LastOperation *struct {
				OperationID string `json:"operationId"`
			} `json:"lastOperation"`
		}
		if json.Unmarshal(res.body, &body) == nil {
			switch {
			case body.LastOperation != nil && ValidGUID(body.LastOperation.OperationID):
				acc.OperationID = body.LastOperation.OperationID
			case ValidGUID(body.OperationID):
				acc.OperationID = body.OperationID
			}
		}
	}
	return acc, nil
}

// GetInstallStatus returns the status of an install operation.
func (c *Client) GetInstallStatus(ctx context.Context, envID, operationID string) (*OperationStatus, error) {
	op := opGetInstallStatus
	if !ValidEnvironmentID(envID) {
		return nil, invalidID(op.id, "environment id", envID)
	}
	if !ValidGUID(operationID) {
		return nil, invalidID(op.id, "operation id", operationID)
	}
	u, err := c.endpointURL(op, pathAppEnvs+url.PathEscape(envID)+"/operations/"+url.PathEscape(operationID), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, op, u, nil)
	if err != nil {
		return nil, err
	}
	var st OperationStatus
	if err := c.decode(op, res, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// WaitForInstall polls an install operation every PollInterval(every)
// until it reaches a terminal state (Succeeded, Failed, Cancelled or
// Canceled) and returns that status. A 409 means "not yet reportable" and
// polling goes on. On any other error, or when ctx ends first (the error
// then wraps the context's error), it returns the last status seen, perhaps
// nil, together with the error.
func (c *Client) WaitForInstall(ctx context.Context, envID, operationID string, every time.Duration) (*OperationStatus, error) {
	op := opGetInstallStatus
	if !ValidEnvironmentID(envID) {
		return nil, invalidID(op.id, "environment id", envID)
	}
	if !ValidGUID(operationID) {
		return nil, invalidID(op.id, "operation id", operationID)
	}
	interval := PollInterval(every)
	var last *OperationStatus
	for {
		st, err := c.GetInstallStatus(ctx, envID, operationID)
		switch {
		case err == nil && st.Status.Terminal():
			return st, nil
		case err == nil:
			last = st
		case !errors.Is(err, ErrConflict):
			if ctx.Err() != nil {
				return last, &kindError{op: op.id, msg: "waiting for the install", cause: ctx.Err()}
			}
			return last, err
		}
		if err := c.sleep(ctx, interval); err != nil {
			return last, &kindError{op: op.id, msg: "waiting for the install", cause: err}
		}
	}
}

// Poll interval bounds used by PollInterval.
const (
	// MinPollInterval is the shortest interval PollInterval returns.
	MinPollInterval = time.Second
	// MaxPollInterval is the longest interval PollInterval returns.
	MaxPollInterval = 30 * time.Second
	// DefaultPollInterval is used when the service suggests none.
	DefaultPollInterval = 2 * time.Second
)

// PollInterval turns a service's Retry-After (or a caller's wish) into a
// polling interval: DefaultPollInterval when it is 0 or less, else clamped
// to [MinPollInterval, MaxPollInterval].
func PollInterval(retryAfter time.Duration) time.Duration {
	switch {
	case retryAfter <= 0:
		return DefaultPollInterval
	case retryAfter < MinPollInterval:
		return MinPollInterval
	case retryAfter > MaxPollInterval:
		return MaxPollInterval
	}
	return retryAfter
}
