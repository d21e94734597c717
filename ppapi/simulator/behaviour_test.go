package simulator_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

func TestDeleteEnvironment(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5, StepDuration: 10 * time.Second})
	env := f.sim.MainEnvironmentID()
	before := len(f.sim.Environments())

	r := f.do("DELETE", f.srv.URL+bap+"/"+strings.ToUpper(env)+bapV, "")
	f.want(r, 202, "delete")
	if loc, want := r.header.Get("Location"), f.srv.URL+bap+"/"+env+bapV; loc != want {
		t.Errorf("Location = %q, want %q", loc, want)
	}
	if ra := r.header.Get("Retry-After"); ra != "10" {
		t.Errorf("Retry-After = %q, want 10", ra)
	}
	r = f.do("DELETE", bap+"/"+env+bapV, "")
	f.want(r, 409, "delete while deleting")
	if len(r.body) != 0 {
		t.Errorf("409 body = %q, want empty (as BAP)", r.body)
	}
	f.want(f.do("POST", "/appmanagement/environments/"+env+"/applicationPackages/"+f.sim.FailingPackage()+"/install"+ppV, ""), 409, "install while deleting")
	for i := 0; i < 2; i++ {
		e := decode[ppapi.Environment](t, f.do("GET", bap+"/"+env+bapV, "").body)
		if e.Properties.ProvisioningState != ppapi.ProvisioningDeleting || e.Properties.OngoingOperation == nil {
			t.Errorf("step %d: provisioningState %q, ongoingOperation %v; want Deleting and one", i, e.Properties.ProvisioningState, e.Properties.OngoingOperation)
		}
		f.clock.advance(10 * time.Second)
	}
	f.want(f.do("GET", bap+"/"+env+bapV, ""), 404, "get after delete")
	f.want(f.do("DELETE", bap+"/"+env+bapV, ""), 404, "delete after delete")
	if n := len(f.sim.Environments()); n != before-1 {
		t.Errorf("environments after delete = %d, want %d", n, before-1)
	}
	r = f.do("DELETE", bap+"/"+f.sim.DefaultEnvironmentID()+bapV, "")
	f.want(r, 400, "delete default")
	if !strings.Contains(string(r.body), "default environment") {
		t.Errorf("delete default body = %s, want a message about the default environment", r.body)
	}
	// The lower-case default- form is the same environment.
	f.want(f.do("GET", bap+"/default-"+f.sim.TenantID()+bapV, ""), 200, "get default- lower-case")
}

func TestBillingPolicies(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	const list = "/licensing/billingPolicies"
	const sub = "5c1c1f33-db7a-4f28-b93b-0c604456cf4b"
	body := func(name, loc, sub, rg string) string {
		return `{"name":` + quote(name) + `,"location":` + quote(loc) + `,"billingInstrument":{"subscriptionId":` + quote(sub) + `,"resourceGroup":` + quote(rg) + `}}`
	}
	r := f.do("POST", list+ppV, body("Contoso Test PAYG", "europe", sub, "rg-test"))
	f.want(r, 201, "create")
	p := decode[ppapi.BillingPolicy](t, r.body)
	if p.Status != ppapi.BillingEnabled || p.ID == "" || p.CreatedOn == nil || p.BillingInstrument.SubscriptionID != sub {
		t.Errorf("created = %+v, want Enabled with id, createdOn and the subscription", p)
	}

	tests := []struct {
		name, body, code string
	}{
		{"missing name", `{"location":"europe","billingInstrument":{"subscriptionId":"` + sub + `","resourceGroup":"rg"}}`, "InvalidBillingPolicyName"},
		{"blank name", body("  ", "europe", sub, "rg"), "InvalidBillingPolicyName"},
		{"name too long", body(strings.Repeat("n", 101), "europe", sub, "rg"), "InvalidBillingPolicyName"},
		{"duplicate name", body("contoso test payg", "europe", sub, "rg"), "DuplicateBillingPolicyName"},
		{"unknown location", body("x", "westus", sub, "rg"), "InvalidLocation"},
		{"subscription not a GUID", body("x", "europe", "my-sub", "rg"), "InvalidSubscriptionId"},
		{"empty resource group", body("x", "europe", sub, ""), "InvalidResourceGroup"},
		{"resource group ends in a dot", body("x", "europe", sub, "rg."), "InvalidResourceGroup"},
		{"resource group with a slash", body("x", "europe", sub, "rg/x"), "InvalidResourceGroup"},
		{"bad status", `{"name":"x","location":"europe","status":"Paused","billingInstrument":{"subscriptionId":"` + sub + `","resourceGroup":"rg"}}`, "InvalidBillingPolicyStatus"},
		{"no instrument", `{"name":"x","location":"europe"}`, "InvalidBillingInstrument"},
		{"not JSON", `{"name":`, "InvalidRequestBody"},
		{"JSON array", `[]`, "InvalidRequestBody"},
		{"wrong type", `{"name":5}`, "InvalidRequestBody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", list+ppV, tt.body)
			f.want(r, 400, tt.name)
			if code := errorCode(t, r.body); code != tt.code {
				t.Errorf("create(%s) code = %q, want %q", tt.name, code, tt.code)
			}
		})
	}
	if n := len(strings.Repeat("n", 100)); n == 100 {
		f.want(f.do("POST", list+ppV, body(strings.Repeat("n", 100), "europe", sub, "rg")), 201, "name of 100")
	}

	f.clock.advance(time.Minute)
	r = f.do("PATCH", list+"/"+p.ID+ppV, `{"name":"Renamed"}`)
	f.want(r, 200, "rename")
	u := decode[ppapi.BillingPolicy](t, r.body)
	if u.Name != "Renamed" || u.Status != p.Status || u.Location != p.Location || *u.BillingInstrument != *p.BillingInstrument ||
		!u.LastModifiedOn.Equal(f.clock.Now()) || !u.CreatedOn.Equal(*p.CreatedOn) {
		t.Errorf("after rename = %+v, want only name and lastModifiedOn changed", u)
	}
	for _, tt := range []struct{ name, body, code string }{
		{"change subscription", `{"billingInstrument":{"subscriptionId":"` + zeroG + `"}}`, "ImmutableProperty"},
		{"change location", `{"location":"asia"}`, "ImmutableProperty"},
		{"duplicate name", `{"name":"Contoso PAYG"}`, "DuplicateBillingPolicyName"},
		{"empty name", `{"name":""}`, "InvalidBillingPolicyName"},
	} {
		r := f.do("PATCH", list+"/"+p.ID+ppV, tt.body)
		f.want(r, 400, "update "+tt.name)
		if code := errorCode(t, r.body); code != tt.code {
			t.Errorf("update(%s) code = %q, want %q", tt.name, code, tt.code)
		}
	}
	f.want(f.do("PATCH", list+"/"+p.ID+ppV, `{"billingInstrument":{"subscriptionId":"`+strings.ToUpper(sub)+`"}}`), 200, "repeat subscription")
	got := decode[ppapi.BillingPolicy](t, f.do("GET", list+"/"+p.ID+ppV, "").body)
	if got.Name != "Renamed" {
		t.Errorf("get after update name = %q, want Renamed", got.Name)
	}
	f.want(f.do("DELETE", list+"/"+p.ID+ppV, ""), 204, "delete")
	f.want(f.do("GET", list+"/"+p.ID+ppV, ""), 404, "get deleted")
	f.want(f.do("PATCH", list+"/"+p.ID+ppV, `{}`), 404, "update deleted")
	f.want(f.do("DELETE", list+"/"+p.ID+ppV, ""), 404, "delete deleted")
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

func TestPaging(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5, PageSize: 5})
	next := bap + bapV + "&$expand=properties.addons"
	var pages, items int
	for next != "" && pages < 10 {
		page := decode[ppapi.EnvironmentListResponse](t, f.do("GET", next, "").body)
		pages++
		items += len(page.Value)
		next = page.NextLink
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Scheme+"://"+u.Host != f.srv.URL || u.Query().Get("$expand") != "properties.addons" || u.Query().Get("$skiptoken") == "" || u.Query().Get("api-version") != "2020-10-01" {
				t.Fatalf("nextLink = %q, want an absolute link on %s keeping $expand and api-version, with $skiptoken", next, f.srv.URL)
			}
		}
	}
	if pages != 3 || items != 14 {
		t.Errorf("pages = %d, items = %d; want 3, 14", pages, items)
	}
	for _, tok := range []string{"x", "bzotMQ", "%00", strings.Repeat("A", 5000)} {
		r := f.do("GET", bap+bapV+"&$skiptoken="+url.QueryEscape(tok), "")
		f.want(r, 400, "skiptoken "+tok)
	}

	// Flow runs page at the default size: >= 250 runs in >= 3 pages.
	g := newFixture(t, simulator.Options{Seed: 5})
	env, wf := g.sim.BusyWorkflow()
	next = "/powerautomate/environments/" + env + "/flowRuns" + ppV + "&workflowId=" + wf
	pages, items = 0, 0
	for next != "" && pages < 10 {
		page := decode[ppapi.FlowRunListResponse](t, g.do("GET", next, "").body)
		pages++
		items += len(page.Value)
		next = page.NextLink
	}
	if pages != 3 || items < 250 {
		t.Errorf("flow run pages = %d, runs = %d; want 3, >= 250", pages, items)
	}
	emptyEnv, empty := g.sim.EmptyWorkflow()
	g.want(g.do("GET", "/powerautomate/environments/"+emptyEnv+"/flowRuns"+ppV+"&workflowId="+empty, ""), 204, "empty workflow")
	g.want(g.do("GET", "/powerautomate/environments/"+g.sim.NoDataverseEnvironmentID()+"/flowRuns"+ppV+"&workflowId="+wf, ""), 404, "no Dataverse")
	g.want(g.do("GET", "/powerautomate/environments/"+env+"/flowRuns"+ppV, ""), 400, "no workflowId")
}

type recordingAuth struct {
	eps []ppapi.Endpoint
}

func (a *recordingAuth) Authenticate(token string, ep ppapi.Endpoint) error {
	a.eps = append(a.eps, ep)
	switch token {
	case "reader":
		return errors.Join(errors.New("lacks role"), simulator.ErrForbidden)
	case "expired":
		return errors.New("expired")
	}
	return nil
}

func TestAuth(t *testing.T) {
	open := newFixture(t, simulator.Options{Seed: 5})
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic dTpw", "bearer"} {
		r := open.doToken("GET", bap+bapV, "", h)
		open.want(r, 401, "Authorization "+h)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 for %q has no WWW-Authenticate", h)
		}
	}
	open.want(open.doToken("GET", bap+bapV, "", "bearer anything"), 200, "lower-case scheme")

	auth := &recordingAuth{}
	f := newFixture(t, simulator.Options{Seed: 5, Auth: auth})
	f.want(f.doToken("GET", bap+bapV, "", "Bearer reader"), 403, "forbidden")
	f.want(f.doToken("GET", "/licensing/billingPolicies"+ppV, "", "Bearer expired"), 401, "expired")
	f.want(f.doToken("GET", "/appmanagement/applicationPackages"+ppV, "", "Bearer ok"), 200, "ok")
	want := []ppapi.Endpoint{ppapi.EndpointBAP, ppapi.EndpointUnified, ppapi.EndpointUnified}
	if len(auth.eps) != len(want) || auth.eps[0] != want[0] || auth.eps[1] != want[1] || auth.eps[2] != want[2] {
		t.Errorf("Authenticate endpoints = %v, want %v", auth.eps, want)
	}
	// api-version is checked after the token.
	r := f.doToken("GET", "/licensing/billingPolicies", "", "Bearer ok")
	f.want(r, 400, "no api-version")
	if code := errorCode(t, r.body); code != "MissingApiVersionParameter" {
		t.Errorf("no api-version code = %q, want MissingApiVersionParameter", code)
	}
	f.want(f.doToken("GET", "/licensing/billingPolicies?api-version=latest", "", "Bearer ok"), 400, "bad api-version")
}

func TestCalls(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	f.do("GET", bap+bapV, "")
	f.do("GET", bap+bapV, "")
	f.doToken("GET", bap+bapV, "", "") // 401s count too
	f.do("GET", "/licensing/billingPolicies"+ppV, "")
	f.do("GET", "/no/such/path", "")
	if got := f.sim.Calls("listEnvironments"); got != 3 {
		t.Errorf("Calls(listEnvironments) = %d, want 3", got)
	}
	if got := f.sim.Calls(""); got != 4 {
		t.Errorf("Calls(\"\") = %d, want 4", got)
	}
	f.sim.ResetCalls()
	if got := f.sim.Calls("listEnvironments"); got != 0 {
		t.Errorf("Calls after ResetCalls = %d, want 0", got)
	}
}

func TestLatency(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5, Latency: time.Millisecond})
	f.want(f.do("GET", bap+bapV, ""), 200, "with latency")
}
