package contract

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestValidationRejects proves the checks above can fail: each response
// here breaks the spec in one way and must be rejected, while the control
// case, differing only in that one value, passes.
func TestValidationRejects(t *testing.T) {
	s := loadSpec(t)
	const envPath = bap + "/aaaabbbb-0000-4ccc-8111-dddd2222eeee" + bapV
	const env = `{"name":%NAME%,"properties":{"displayName":"x","provisioningState":%STATE%,"isDefault":%DEFAULT%,"createdTime":%TIME%,"createdBy":{"id":%PRINCIPAL%,"type":"User"}}}`
	good := map[string]string{
		"%NAME%": `"aaaabbbb-0000-4ccc-8111-dddd2222eeee"`, "%STATE%": `"Succeeded"`, "%DEFAULT%": `false`,
		"%TIME%": `"2026-01-15T10:30:00Z"`, "%PRINCIPAL%": `"11112222-3333-4444-8555-666677778888"`,
	}
	build := func(k, v string) string {
		out := env
		for kk, vv := range good {
			if kk == k {
				vv = v
			}
			out = strings.ReplaceAll(out, kk, vv)
		}
		return out
	}
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantOK             bool
	}{
		{"control", "GET", envPath, 200, json, build("", ""), true},
		{"default env id is exempt in name", "GET", envPath, 200, json, build("%NAME%", `"Default-aaaabbbb-0000-4ccc-8111-dddd2222eeee"`), true},
		{"bad enum", "GET", envPath, 200, json, build("%STATE%", `"Bogus"`), false},
		{"wrong type", "GET", envPath, 200, json, build("%DEFAULT%", `"yes"`), false},
		{"bad date-time", "GET", envPath, 200, json, build("%TIME%", `"yesterday"`), false},
		{"name not a uuid", "GET", envPath, 200, json, build("%NAME%", `"Example Title"`), false},
		{"Default- prefix only exempt for environment ids", "GET", envPath, 200, json, build("%PRINCIPAL%", `"Default-11112222-3333-4444-8555-666677778888"`), false},
		{"principal not a uuid", "GET", envPath, 200, json, build("%PRINCIPAL%", `"SYSTEM"`), false},
		{"undeclared status", "GET", envPath, 418, json, `{}`, false},
		{"not JSON", "GET", envPath, 200, json, `{"value":`, false},
		{"wrong content type", "GET", envPath, 200, http.Header{"Content-Type": {"text/html"}}, build("", ""), false},
		{"install 202 control", "POST", "/appmanagement/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/applicationPackages/11112222-3333-4444-8555-666677778888/install" + ppV, 202,
			http.Header{"Location": {"https://api.example/op"}, "Retry-After": {"1"}}, "", true},
		{"install Location not a uri", "POST", "/appmanagement/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/applicationPackages/11112222-3333-4444-8555-666677778888/install" + ppV, 202,
			http.Header{"Location": {"/relative/op"}, "Retry-After": {"1"}}, "", false},
		{"install Retry-After not an integer", "POST", "/appmanagement/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/applicationPackages/11112222-3333-4444-8555-666677778888/install" + ppV, 202,
			http.Header{"Location": {"https://api.example/op"}, "Retry-After": {"soon"}}, "", false},
		{"nextLink not a uri", "GET", "/licensing/billingPolicies" + ppV, 200, json, `{"value":[],"@odata.nextLink":"page 2"}`, false},
		{"operation status enum", "GET", "/appmanagement/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/operations/11112222-3333-4444-8555-666677778888" + ppV, 200, json, `{"status":"Canceled"}`, false},
		{"billing subscription not a uuid", "GET", "/licensing/billingPolicies" + ppV, 200, json, `{"value":[{"billingInstrument":{"subscriptionId":"sub-1"}}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.validateResponse(context.Background(), req, tt.status, tt.header, []byte(tt.body))
			if (err == nil) != tt.wantOK {
				t.Errorf("validateResponse(%s) = %v, want ok %v", tt.name, err, tt.wantOK)
			}
		})
	}
}

// TestRequestValidationRejects proves the request direction can fail too.
func TestRequestValidationRejects(t *testing.T) {
	s := loadSpec(t)
	const ok = "/licensing/billingPolicies" + ppV
	tests := []struct {
		name, method, path, token, body string
		wantOK                          bool
	}{
		{"control", "GET", bap + "/Default-aaaabbbb-0000-4ccc-8111-dddd2222eeee" + bapV, "t", "", true},
		{"no token", "GET", ok, "", "", false},
		{"no api-version", "GET", "/licensing/billingPolicies", "t", "", false},
		{"environment id not a GUID", "GET", bap + "/my-env" + bapV, "t", "", false},
		{"workflowId missing", "GET", "/powerautomate/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/flowRuns" + ppV, "t", "", false},
		{"create body misses billingInstrument", "POST", ok, "t", `{"name":"x","location":"europe"}`, false},
		{"create body control", "POST", ok, "t", `{"name":"x","location":"europe","billingInstrument":{"subscriptionId":"11112222-3333-4444-8555-666677778888","resourceGroup":"rg"}}`, true},
		{"body where the spec has none", "GET", ok, "t", `{"x":1}`, false},
		{"delete reason body (documented departure)", "DELETE", bap + "/aaaabbbb-0000-4ccc-8111-dddd2222eeee" + bapV, "t", `{"code":"7","message":"m"}`, true},
		{"delete with another body", "DELETE", bap + "/aaaabbbb-0000-4ccc-8111-dddd2222eeee" + bapV, "t", `{"x":1}`, false},
		{"package by uniqueName is not a uuid", "POST", "/appmanagement/environments/aaaabbbb-0000-4ccc-8111-dddd2222eeee/applicationPackages/MicrosoftFormsPro/install" + ppV, "t", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			_, err = s.validateRequest(context.Background(), req)
			if (err == nil) != tt.wantOK {
				t.Errorf("validateRequest(%s) = %v, want ok %v", tt.name, err, tt.wantOK)
			}
		})
	}
}
