package ppapi

import (
	"context"
	"net/url"
)

// ListBillingPolicies returns every billing policy of the tenant,
// following nextLinks.
func (c *Client) ListBillingPolicies(ctx context.Context) ([]BillingPolicy, error) {
	op := opListBillingPolicies
	u, err := c.endpointURL(op, pathBilling, nil)
	if err != nil {
		return nil, err
	}
	return listAll[BillingPolicy](ctx, c, op, u)
}

// CreateBillingPolicy creates a billing policy. The new policy may read
// Provisioning for a while (REAL-API.md §3c). It is never retried: after
// an error wrapping ErrOutcomeUnknown, list the policies to see whether
// it exists.
func (c *Client) CreateBillingPolicy(ctx context.Context, req BillingPolicyCreateRequest) (*BillingPolicy, error) {
	op := opCreateBillingPolicy
	switch {
	case req.Name == "":
		return nil, invalidRequest(op.id, "name is required")
	case req.Location == "":
		return nil, invalidRequest(op.id, "location is required")
	case !settableBillingStatus(req.Status):
		return nil, invalidRequest(op.id, "status must be Enabled or Disabled")
	case req.BillingInstrument.SubscriptionID != "" && !ValidGUID(req.BillingInstrument.SubscriptionID):
		return nil, invalidRequest(op.id, "subscription id must be a GUID")
	}
	u, err := c.endpointURL(op, pathBilling, nil)
	if err != nil {
		return nil, err
	}
	return c.billingPolicyCall(ctx, op, u, req)
}

// GetBillingPolicy returns one billing policy; id is a GUID.
func (c *Client) GetBillingPolicy(ctx context.Context, id string) (*BillingPolicy, error) {
	op := opGetBillingPolicy
	u, err := c.billingPolicyURL(op, id)
	if err != nil {
		return nil, err
	}
	return c.billingPolicyCall(ctx, op, u, nil)
}

// UpdateBillingPolicy changes a billing policy's set fields (PATCH, as
// the spec says). It is never retried.
func (c *Client) UpdateBillingPolicy(ctx context.Context, id string, req BillingPolicyUpdateRequest) (*BillingPolicy, error) {
	op := opUpdateBillingPolicy
	u, err := c.billingPolicyURL(op, id)
	if err != nil {
		return nil, err
	}
	switch {
	case !settableBillingStatus(req.Status):
		return nil, invalidRequest(op.id, "status must be Enabled or Disabled")
	case req.BillingInstrument != nil && req.BillingInstrument.SubscriptionID != "" && !ValidGUID(req.BillingInstrument.SubscriptionID):
		return nil, invalidRequest(op.id, "subscription id must be a GUID")
	}
	return c.billingPolicyCall(ctx, op, u, req)
}

// DeleteBillingPolicy deletes a billing policy. It is never retried.
func (c *Client) DeleteBillingPolicy(ctx context.Context, id string) error {
	op := opDeleteBillingPolicy
	u, err := c.billingPolicyURL(op, id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, op, u, nil)
	return err
}

func (c *Client) billingPolicyURL(op operation, id string) (*url.URL, error) {
	if !ValidGUID(id) {
		return nil, invalidID(op.id, "billing policy id", id)
	}
	return c.endpointURL(op, pathBilling+"/"+url.PathEscape(id), nil)
}

func (c *Client) billingPolicyCall(ctx context.Context, op operation, u *url.URL, body any) (*BillingPolicy, error) {
	res, err := c.do(ctx, op, u, body)
	if err != nil {
		return nil, err
	}
	var p BillingPolicy
	if err := c.decode(op, res, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// settableBillingStatus reports whether s may be sent: the spec's request
// enums are Enabled and Disabled (empty = not sent).
func settableBillingStatus(s BillingPolicyStatus) bool {
	return s == "" || s == BillingEnabled || s == BillingDisabled
}
