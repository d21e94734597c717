package ppapi

import (
	"context"
	"errors"
	"testing"
)

// refusal is what a transport layer returns when it refused to send a
// request, as an open circuit breaker does.
type refusal struct{}

func (refusal) Error() string { return "circuit open" }
func (refusal) NotSent() bool { return true }

// TestTransportRefusalIsNotSent: an error that says the request was not
// sent makes a mutation's failure definite (not ErrOutcomeUnknown), and a
// GET is not retried against it.
func TestTransportRefusalIsNotSent(t *testing.T) {
	ctx := context.Background()
	mutations := map[string]func(c *Client) error{
		"install": func(c *Client) error { _, err := c.InstallApplicationPackage(ctx, envGUID, "Pkg"); return err },
		"create": func(c *Client) error {
			_, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{Name: "n", Location: "europe"})
			return err
		},
		"update": func(c *Client) error {
			_, err := c.UpdateBillingPolicy(ctx, policyGUID, BillingPolicyUpdateRequest{Name: "n"})
			return err
		},
		"deleteEnv": func(c *Client) error { _, err := c.DeleteEnvironment(ctx, envGUID); return err },
	}
	for name, call := range mutations {
		c, f := newFake(t, []reply{{err: refusal{}}})
		err := call(c)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("%s refused by the transport: error = %v, want ErrUnavailable and not ErrOutcomeUnknown", name, err)
		}
		var r refusal
		if !errors.As(err, &r) {
			t.Errorf("%s refused by the transport: error = %v, want it to wrap the refusal", name, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("%s refused by the transport: %d attempts, want 1", name, got)
		}
	}

	c, f := newFake(t, []reply{{err: refusal{}}})
	if _, err := c.ListEnvironments(ctx, ""); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ListEnvironments() refused by the transport: error = %v, want ErrUnavailable", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("ListEnvironments() refused by the transport: %d attempts, want 1 (no retry)", got)
	}
	if got := len(f.sleeps); got != 0 {
		t.Errorf("ListEnvironments() refused by the transport: %d backoff sleeps, want 0", got)
	}
}
