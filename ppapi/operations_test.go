package ppapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestOperations checks every operation's method, URL, token endpoint,
// headers and body.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	policyBody := `{"id":"` + policyGUID + `","name":"P","status":"Enabled"}`
	tests := []struct {
		name     string
		reply    reply
		call     func(c *Client) error
		method   string
		url      string
		endpoint Endpoint
		body     string // JSON, "" for none
	}{
		{
			name:  "listEnvironments",
			reply: ok(`{"value":[{"name":"` + envGUID + `"}]}`),
			call: func(c *Client) error {
				envs, err := c.ListEnvironments(ctx, "properties.capacity,properties.addons")
				if err == nil && (len(envs) != 1 || envs[0].Name != envGUID) {
					t.Errorf("ListEnvironments() = %+v, want one environment %s", envs, envGUID)
				}
				return err
			},
			method:   "GET",
			url:      testBAP + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?$expand=properties.capacity%2Cproperties.addons&api-version=2020-10-01",
			endpoint: EndpointBAP,
		},
		{
			name:  "listEnvironments without expand",
			reply: ok(`{"value":[]}`),
			call: func(c *Client) error {
				envs, err := c.ListEnvironments(ctx, "")
				if err == nil && (envs == nil || len(envs) != 0) {
					t.Errorf("ListEnvironments() = %#v, want empty non-nil", envs)
				}
				return err
			},
			method:   "GET",
			url:      testBAP + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2020-10-01",
			endpoint: EndpointBAP,
		},
		{
			name:  "getEnvironment",
			reply: ok(`{"name":"` + defaultEnv + `","properties":{"displayName":"Contoso","provisioningState":"SomethingNew"}}`),
			call: func(c *Client) error {
				env, err := c.GetEnvironment(ctx, defaultEnv, "")
				if err == nil && (env.Properties.DisplayName != "Contoso" || env.Properties.ProvisioningState != "SomethingNew") {
					t.Errorf("GetEnvironment() = %+v, want Contoso, SomethingNew", env.Properties)
				}
				return err
			},
			method:   "GET",
			url:      testBAP + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/" + defaultEnv + "?api-version=2020-10-01",
			endpoint: EndpointBAP,
		},
		{
			name:  "deleteEnvironment",
			reply: reply{status: 202, header: map[string]string{"Location": "https://bap.example/providers/Microsoft.BusinessAppPlatform/lifecycleOperations/" + opGUID + "?api-version=2023-06-01", "Retry-After": "30"}},
			call: func(c *Client) error {
				acc, err := c.DeleteEnvironment(ctx, envGUID)
				want := &Accepted{Status: 202, Location: "https://bap.example/providers/Microsoft.BusinessAppPlatform/lifecycleOperations/" + opGUID + "?api-version=2023-06-01", OperationID: opGUID, RetryAfter: 30e9}
				if err == nil {
					if diff := cmp.Diff(want, acc); diff != "" {
						t.Errorf("DeleteEnvironment() mismatch (-want +got):\n%s", diff)
					}
				}
				return err
			},
			method:   "DELETE",
			url:      testBAP + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/" + envGUID + "?api-version=2020-10-01",
			endpoint: EndpointBAP,
			body:     `{"code":"7","message":"Deleted via Power Platform admin portal"}`,
		},
		{
			name:  "getEnvironmentApplicationPackages",
			reply: ok(`{"value":[{"uniqueName":"MicrosoftFormsPro","state":"InstallScheduled"}]}`),
			call: func(c *Client) error {
				pkgs, err := c.ListEnvironmentApplicationPackages(ctx, envGUID)
				if err == nil && (len(pkgs) != 1 || pkgs[0].State != "InstallScheduled") {
					t.Errorf("ListEnvironmentApplicationPackages() = %+v, want one InstallScheduled", pkgs)
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/appmanagement/environments/" + envGUID + "/applicationPackages?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "installApplicationPackage",
			reply: reply{status: 202, header: map[string]string{"Operation-Location": testUnified + "/appmanagement/environments/" + envGUID + "/operations/" + opGUID + "?api-version=1"}},
			call: func(c *Client) error {
				acc, err := c.InstallApplicationPackage(ctx, envGUID, "MicrosoftFormsPro")
				if err == nil && (acc.Status != 202 || acc.OperationID != opGUID) {
					t.Errorf("InstallApplicationPackage() = %+v, want 202 with operation %s", acc, opGUID)
				}
				return err
			},
			method:   "POST",
			url:      testUnified + "/appmanagement/environments/" + envGUID + "/applicationPackages/MicrosoftFormsPro/install?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "getApplicationPackageInstallStatus",
			reply: ok(`{"operationId":"` + opGUID + `","status":"Canceled"}`),
			call: func(c *Client) error {
				st, err := c.GetInstallStatus(ctx, envGUID, opGUID)
				if err == nil && (st.Status != OperationCanceled || !st.Status.Terminal()) {
					t.Errorf("GetInstallStatus() = %+v, want terminal Canceled", st)
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/appmanagement/environments/" + envGUID + "/operations/" + opGUID + "?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "getTenantApplicationPackages",
			reply: ok(`{"value":[{"uniqueName":"A"},{"uniqueName":"B"}]}`),
			call: func(c *Client) error {
				pkgs, err := c.ListTenantApplicationPackages(ctx)
				if err == nil && len(pkgs) != 2 {
					t.Errorf("ListTenantApplicationPackages() = %d packages, want 2", len(pkgs))
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/appmanagement/applicationPackages?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "listFlowRuns",
			reply: ok(`{"value":[{"name":"run1","properties":{"status":"Failed"}}]}`),
			call: func(c *Client) error {
				p, err := c.ListFlowRuns(ctx, envGUID, flowGUID, "")
				if err == nil && (len(p.Runs) != 1 || p.Runs[0].Properties.Status != FlowRunFailed || p.Next != "" || p.NoContent) {
					t.Errorf("ListFlowRuns() = %+v, want one failed run, last page", p)
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/powerautomate/environments/" + envGUID + "/flowRuns?api-version=2022-03-01-preview&workflowId=" + flowGUID,
			endpoint: EndpointUnified,
		},
		{
			name:  "listBillingPolicies",
			reply: ok(`{"value":[` + policyBody + `]}`),
			call: func(c *Client) error {
				ps, err := c.ListBillingPolicies(ctx)
				if err == nil && (len(ps) != 1 || ps[0].ID != policyGUID) {
					t.Errorf("ListBillingPolicies() = %+v, want one policy", ps)
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/licensing/billingPolicies?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "createBillingPolicy",
			reply: reply{status: 201, body: `{"id":"` + policyGUID + `","name":"P","status":"Provisioning"}`},
			call: func(c *Client) error {
				p, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{
					Name: "P", Location: "europe", Status: BillingEnabled,
					BillingInstrument: BillingInstrument{ResourceGroup: "rg", SubscriptionID: opGUID},
				})
				if err == nil && (p.Status != BillingProvisioning || p.Status.Settled()) {
					t.Errorf("CreateBillingPolicy() = %+v, want unsettled Provisioning", p)
				}
				return err
			},
			method:   "POST",
			url:      testUnified + "/licensing/billingPolicies?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
			body:     `{"name":"P","location":"europe","status":"Enabled","billingInstrument":{"resourceGroup":"rg","subscriptionId":"` + opGUID + `"}}`,
		},
		{
			name:  "getBillingPolicy",
			reply: ok(policyBody),
			call: func(c *Client) error {
				p, err := c.GetBillingPolicy(ctx, policyGUID)
				if err == nil && p.Name != "P" {
					t.Errorf("GetBillingPolicy() = %+v, want name P", p)
				}
				return err
			},
			method:   "GET",
			url:      testUnified + "/licensing/billingPolicies/" + policyGUID + "?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
		{
			name:  "updateBillingPolicy",
			reply: ok(policyBody),
			call: func(c *Client) error {
				_, err := c.UpdateBillingPolicy(ctx, policyGUID, BillingPolicyUpdateRequest{Name: "Q", Status: BillingDisabled})
				return err
			},
			method:   "PATCH",
			url:      testUnified + "/licensing/billingPolicies/" + policyGUID + "?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
			body:     `{"name":"Q","status":"Disabled"}`,
		},
		{
			name:  "deleteBillingPolicy",
			reply: reply{status: 204},
			call: func(c *Client) error {
				return c.DeleteBillingPolicy(ctx, policyGUID)
			},
			method:   "DELETE",
			url:      testUnified + "/licensing/billingPolicies/" + policyGUID + "?api-version=2022-03-01-preview",
			endpoint: EndpointUnified,
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, []reply{tt.reply}, WithUserAgent("portal-test/1"))
			if err := tt.call(c); err != nil {
				t.Fatalf("%s: error = %v, want nil", tt.name, err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%s: %d requests, want 1", tt.name, len(reqs))
			}
			r := reqs[0]
			if r.method != tt.method || r.url != tt.url {
				t.Errorf("%s: request = %s %s, want %s %s", tt.name, r.method, r.url, tt.method, tt.url)
			}
			if diff := cmp.Diff([]Endpoint{tt.endpoint}, f.tokens); diff != "" {
				t.Errorf("%s: token endpoints mismatch (-want +got):\n%s", tt.name, diff)
			}
			wantHeaders := map[string]string{
				"Authorization": "Bearer tok-" + string(tt.endpoint),
				"Accept":        "application/json",
				"User-Agent":    "portal-test/1",
			}
			if tt.body != "" {
				wantHeaders["Content-Type"] = "application/json"
			}
			for k, v := range wantHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: header %s = %q, want %q", tt.name, k, got, v)
				}
			}
			if tt.body == "" {
				if r.body != "" || r.header.Get("Content-Type") != "" {
					t.Errorf("%s: body = %q, Content-Type %q; want none", tt.name, r.body, r.header.Get("Content-Type"))
				}
			} else if !jsonEqual(r.body, tt.body) {
				t.Errorf("%s: body = %s, want %s", tt.name, r.body, tt.body)
			}
			if id := r.header.Get("x-ms-client-request-id"); !uuidV4.MatchString(id) {
				t.Errorf("%s: x-ms-client-request-id = %q, want a UUID v4", tt.name, id)
			}
			for _, k := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
				if r.header.Get(k) != "" {
					t.Errorf("%s: header %s set; it would let net/http replay the request", tt.name, k)
				}
			}
		})
		seen[tt.name] = true
	}
	for _, op := range operations {
		if !seen[op.id] {
			t.Errorf("operation %s has no test case", op.id)
		}
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}

func TestWithAPIVersion(t *testing.T) {
	c, f := newFake(t, []reply{ok(`{"value":[]}`), ok(`{"name":"x"}`)},
		WithAPIVersion(OpListEnvironments, "2023-06-01"))
	if _, err := c.ListEnvironments(context.Background(), ""); err != nil {
		t.Fatalf("ListEnvironments() error = %v", err)
	}
	if _, err := c.GetEnvironment(context.Background(), envGUID, ""); err != nil {
		t.Fatalf("GetEnvironment() error = %v", err)
	}
	reqs := f.requests()
	if got, want := reqs[0].url, testBAP+pathBAPEnvs+"?api-version=2023-06-01"; got != want {
		t.Errorf("ListEnvironments URL = %s, want %s", got, want)
	}
	if got, want := reqs[1].url, testBAP+pathBAPEnvs+"/"+envGUID+"?api-version=2020-10-01"; got != want {
		t.Errorf("GetEnvironment URL = %s, want %s (override is per operation)", got, want)
	}
}

func TestClientRequestIDPerRequest(t *testing.T) {
	c, f := newFake(t, []reply{{status: 503}, ok(`{"value":[]}`)})
	c.newID = newUUID
	if _, err := c.ListTenantApplicationPackages(context.Background()); err != nil {
		t.Fatalf("ListTenantApplicationPackages() error = %v", err)
	}
	reqs := f.requests()
	a, b := reqs[0].header.Get(headerClientID), reqs[1].header.Get(headerClientID)
	if a == b || !uuidV4.MatchString(a) || !uuidV4.MatchString(b) {
		t.Errorf("client request ids = %q, %q; want two distinct UUID v4", a, b)
	}
	if got := len(f.tokens); got != 2 {
		t.Errorf("token source called %d times, want 2 (once per attempt)", got)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	c, f := newFake(t, []reply{{status: http.StatusFound, header: map[string]string{"Location": "https://evil.example/steal"}}})
	_, err := c.GetBillingPolicy(context.Background(), policyGUID)
	var e *Error
	if !asError(err, &e) || e.Status != http.StatusFound {
		t.Fatalf("GetBillingPolicy() error = %v, want *Error with status 302", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (redirect not followed)", n)
	}
}
