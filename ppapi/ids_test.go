package ppapi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestValidIDs(t *testing.T) {
	tests := []struct {
		in          string
		guid, env   bool
		packageName bool
	}{
		{envGUID, true, true, true},
		{strings.ToUpper(envGUID), true, true, true},
		{defaultEnv, false, true, true},
		{"default-" + envGUID, false, true, true},
		{"DEFAULT-" + envGUID, false, true, true},
		{"Default-", false, false, true},
		{"Default-" + envGUID + "x", false, false, true},
		{"{" + envGUID + "}", false, false, false},
		{envGUID[:35], false, false, true},
		{strings.ReplaceAll(envGUID, "-", ""), false, false, true},
		{"0f0e0d0c-0b0a-4909-8807-06050403020g", false, false, true},
		{"0f0e0d0c00b0a-4909-8807-060504030201", false, false, true},
		{"", false, false, false},
		{"MicrosoftFormsPro", false, false, true},
		{"msdyn_Pkg.v2-x", false, false, true},
		{".hidden", false, false, false},
		{"..", false, false, false},
		{"a/b", false, false, false},
		{"a%2Fb", false, false, false},
		{"a b", false, false, false},
		{"é", false, false, false},
		{strings.Repeat("a", 128), false, false, true},
		{strings.Repeat("a", 129), false, false, false},
	}
	for _, tt := range tests {
		if got := ValidGUID(tt.in); got != tt.guid {
			t.Errorf("ValidGUID(%q) = %v, want %v", tt.in, got, tt.guid)
		}
		if got := ValidEnvironmentID(tt.in); got != tt.env {
			t.Errorf("ValidEnvironmentID(%q) = %v, want %v", tt.in, got, tt.env)
		}
		if got := ValidPackageID(tt.in); got != tt.packageName {
			t.Errorf("ValidPackageID(%q) = %v, want %v", tt.in, got, tt.packageName)
		}
	}
}

// TestMalformedIDsSendNothing: every path id is checked before any request.
func TestMalformedIDsSendNothing(t *testing.T) {
	ctx := context.Background()
	bad := []string{"", "../" + envGUID, envGUID + "/..", "x", envGUID + " ", "Default-zzz", envGUID + "?a=b", "%2e%2e"}
	for _, id := range bad {
		calls := map[string]func(c *Client) error{
			"GetEnvironment":    func(c *Client) error { _, err := c.GetEnvironment(ctx, id, ""); return err },
			"DeleteEnvironment": func(c *Client) error { _, err := c.DeleteEnvironment(ctx, id); return err },
			"ListEnvironmentApplicationPackages": func(c *Client) error {
				_, err := c.ListEnvironmentApplicationPackages(ctx, id)
				return err
			},
			"Install env":           func(c *Client) error { _, err := c.InstallApplicationPackage(ctx, id, "Pkg"); return err },
			"GetInstallStatus env":  func(c *Client) error { _, err := c.GetInstallStatus(ctx, id, opGUID); return err },
			"GetInstallStatus op":   func(c *Client) error { _, err := c.GetInstallStatus(ctx, envGUID, id); return err },
			"WaitForInstall op":     func(c *Client) error { _, err := c.WaitForInstall(ctx, envGUID, id, 0); return err },
			"ListFlowRuns env":      func(c *Client) error { _, err := c.ListFlowRuns(ctx, id, flowGUID, ""); return err },
			"ListFlowRuns workflow": func(c *Client) error { _, err := c.ListFlowRuns(ctx, envGUID, id, ""); return err },
			"GetBillingPolicy":      func(c *Client) error { _, err := c.GetBillingPolicy(ctx, id); return err },
			"UpdateBillingPolicy": func(c *Client) error {
				_, err := c.UpdateBillingPolicy(ctx, id, BillingPolicyUpdateRequest{})
				return err
			},
			"DeleteBillingPolicy": func(c *Client) error { return c.DeleteBillingPolicy(ctx, id) },
		}
		for name, call := range calls {
			c, f := newFake(t, nil)
			if err := call(c); !errors.Is(err, ErrInvalidID) {
				t.Errorf("%s(%q) error = %v, want ErrInvalidID", name, id, err)
			}
			if n := len(f.requests()); n != 0 || len(f.tokens) != 0 {
				t.Errorf("%s(%q) sent %d requests and took %d tokens, want 0", name, id, n, len(f.tokens))
			}
		}
	}
	// Default-<GUID> is an environment id but not a billing policy, operation or workflow id.
	for name, call := range map[string]func(c *Client) error{
		"GetBillingPolicy": func(c *Client) error { _, err := c.GetBillingPolicy(ctx, defaultEnv); return err },
		"ListFlowRuns":     func(c *Client) error { _, err := c.ListFlowRuns(ctx, envGUID, defaultEnv, ""); return err },
		"Install package":  func(c *Client) error { _, err := c.InstallApplicationPackage(ctx, envGUID, "../x"); return err },
		"ListEnvironments $expand": func(c *Client) error {
			_, err := c.ListEnvironments(ctx, "properties.capacity&api-version=1")
			return err
		},
		"GetEnvironment $expand": func(c *Client) error { _, err := c.GetEnvironment(ctx, envGUID, "a b"); return err },
		"Create without name": func(c *Client) error {
			_, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{Location: "l"})
			return err
		},
		"Create bad status": func(c *Client) error {
			_, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{Name: "n", Location: "l", Status: BillingProvisioning})
			return err
		},
		"Create bad subscription": func(c *Client) error {
			_, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{Name: "n", Location: "l", BillingInstrument: BillingInstrument{SubscriptionID: "500123"}})
			return err
		},
		"Update bad status": func(c *Client) error {
			_, err := c.UpdateBillingPolicy(ctx, policyGUID, BillingPolicyUpdateRequest{Status: "Deleted"})
			return err
		},
	} {
		c, f := newFake(t, nil)
		if err := call(c); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s error = %v, want ErrInvalidID", name, err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%s sent %d requests, want 0", name, n)
		}
	}
}

func TestInvalidIDMessage(t *testing.T) {
	c, _ := newFake(t, nil)
	_, err := c.GetEnvironment(context.Background(), "evil\n"+strings.Repeat("x", 500), "")
	msg := err.Error()
	if !strings.HasPrefix(msg, "ppapi: getEnvironment: invalid environment id") || strings.Contains(msg, "\n") || len(msg) > 200 {
		t.Errorf("GetEnvironment() error = %q, want a short single line naming the bad id", msg)
	}
}
