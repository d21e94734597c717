package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

// TestHostileInput throws odd methods, paths, queries and bodies at the
// handler. None may panic; each must get a well-formed answer: an
// expected status, a correlation id, and for errors an ErrorResponse.
func TestHostileInput(t *testing.T) {
	sim := simulator.New(simulator.Options{Seed: 9})
	env := sim.MainEnvironmentID()
	def := sim.DefaultEnvironmentID()
	long := strings.Repeat("a", 100000)
	nested := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		method, path, rawPath, query, body string
		want                               []int
	}{
		{"GET", "", "", "", "", []int{404}},
		{"GET", "/", "", "", "", []int{404}},
		{"GET", "//", "", "", "", []int{404}},
		{"GET", bap + "/", "", "api-version=1", "", []int{404}},
		{"GET", bap + "//", "", "api-version=1", "", []int{404}},
		{"GET", bap + "/" + long, "", "api-version=1", "", []int{400}},
		{"GET", bap + "/Default-", "", "api-version=1", "", []int{400}},
		{"GET", bap + "/Default-" + long, "", "api-version=1", "", []int{400}},
		{"GET", bap + "/" + def + "x", "", "api-version=1", "", []int{400}},
		{"GET", bap + "/a/b", "", "api-version=1", "", []int{404}},
		{"GET", bap + "/%zz", bap + "/%zz", "api-version=1", "", []int{400}},
		{"GET", bap + "/a\x00b", bap + "/a%00b", "api-version=1", "", []int{400}},
		{"GET", bap + "/../../etc/passwd", "", "api-version=1", "", []int{404}},
		{"GET", strings.ToUpper(bap), "", "api-version=2020-10-01", "", []int{200}},
		{"GET", bap, "", "api-version=%zz", "", []int{400}},
		{"GET", bap, "", "api-version=" + long, "", []int{400}},
		{"GET", bap, "", "api-version=2020-10-01&api-version=x", "", []int{200}},
		{"GET", bap, "", "api-version=2020-10-01;x=1", "", []int{400}},
		{"GET", bap, "", "api-version=2020-10-01&$expand=" + long, "", []int{200}},
		{"GET", bap, "", "api-version=2020-10-01&$skiptoken=" + long, "", []int{400}},
		{"GET", bap, "", "api-version=2020-10-01&$skiptoken=bzotNQ", "", []int{400}}, // "o:-5"
		{"GET", bap, "", "api-version=2020-10-01&$skiptoken=bzo5OTk5OTk5OTk5OTk5OTk5OTk5", "", []int{400}},
		{"GET", bap, "", "api-version=2020-10-01&$skiptoken=bzo5OTk5OTk", "", []int{200}}, // past the end: empty page
		{"PUT", bap, "", "api-version=1", "", []int{405}},
		{"HEAD", bap, "", "api-version=1", "", []int{405}},
		{"BREW", "/licensing/billingPolicies", "", "api-version=1", "", []int{405}},
		{"GET", "/licensing/billingPolicies", "", "api-version=1&$top=-1", "", []int{400}},
		{"GET", "/licensing/billingPolicies", "", "api-version=1&$top=99999999999999999999", "", []int{400}},
		{"GET", "/licensing/billingPolicies", "", "api-version=1&$top=2", "", []int{200}},
		{"GET", "/licensing/billingPolicies/..%2f..", "/licensing/billingPolicies/..%2f..", "api-version=1", "", []int{400}},
		{"POST", "/licensing/billingPolicies", "", "api-version=1", "", []int{400}},
		{"POST", "/licensing/billingPolicies", "", "api-version=1", nested, []int{400}},
		{"POST", "/licensing/billingPolicies", "", "api-version=1", big, []int{400}},
		{"POST", "/licensing/billingPolicies", "", "api-version=1", "{\"name\":\"\xff\xfe\",\"location\":\"europe\"}", []int{400}},
		{"POST", "/licensing/billingPolicies", "", "api-version=1", `{"name":"a"}{"name":"b"}`, []int{400}},
		{"PATCH", "/licensing/billingPolicies/" + zeroG, "", "api-version=1", "null", []int{404}},
		{"POST", "/appmanagement/environments/" + env + "/applicationPackages/" + long + "/install", "", "api-version=1", "", []int{400}},
		{"POST", "/appmanagement/environments/" + env + "/applicationPackages/a%2Fb/install", "/appmanagement/environments/" + env + "/applicationPackages/a%2Fb/install", "api-version=1", "", []int{400}},
		{"POST", "/appmanagement/environments/" + env + "/applicationPackages/MicrosoftFormsPro/install", "", "api-version=1", "not json", []int{400}},
		{"POST", "/appmanagement/environments/" + env + "/applicationPackages/MicrosoftFormsPro/install", "", "api-version=1", big, []int{400}},
		{"GET", "/appmanagement/environments/" + env + "/operations/" + long, "", "api-version=1", "", []int{400}},
		{"GET", "/powerautomate/environments/" + env + "/flowRuns", "", "api-version=1&workflowId=%E2%9C%93", "", []int{400}},
		{"GET", "/powerautomate/environments/" + env + "/flowRuns", "", "api-version=1&workflowId=" + zeroG + "&$skiptoken=x", "", []int{204}},
		{"DELETE", bap + "/" + strings.ToLower(def), "", "api-version=1", "{", []int{400}},
	}
	for _, tt := range tests {
		name := tt.method + " " + shorten(tt.path) + "?" + shorten(tt.query)
		req := &http.Request{
			Method: tt.method,
			URL:    &url.URL{Path: tt.path, RawPath: tt.rawPath, RawQuery: tt.query},
			Header: http.Header{"Authorization": {"Bearer t"}},
			Body:   io.NopCloser(strings.NewReader(tt.body)),
			Host:   "sim.test",
		}
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		ok := false
		for _, s := range tt.want {
			ok = ok || w.Code == s
		}
		if !ok {
			t.Errorf("%s: status = %d, want one of %v (body %.200s)", name, w.Code, tt.want, w.Body.String())
		}
		if w.Header().Get("x-ms-correlation-id") == "" {
			t.Errorf("%s: no x-ms-correlation-id", name)
		}
		if w.Code >= 400 && w.Body.Len() > 0 {
			var e ppapi.ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Code == "" {
				t.Errorf("%s: error body %.200s is not an ErrorResponse", name, w.Body.String())
			}
			if strings.ContainsAny(e.Error.Message, "\x00\xff") || len(e.Error.Message) > 1000 {
				t.Errorf("%s: error message reflects raw input: %.200q", name, e.Error.Message)
			}
		}
	}
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestConcurrentUse runs every kind of request at once; with -race it
// proves the locking.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 9, PageSize: 3})
	envs := f.sim.Environments()
	pkg := f.sim.FailingPackage()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envs[1+i%(len(envs)-1)].Name
			for j := 0; j < 10; j++ {
				for _, target := range []struct{ method, path, body string }{
					{"GET", bap + bapV, ""},
					{"GET", bap + "/" + e + bapV + "&$expand=properties.capacity", ""},
					{"POST", "/appmanagement/environments/" + e + "/applicationPackages/" + pkg + "/install" + ppV, ""},
					{"GET", "/appmanagement/environments/" + e + "/applicationPackages" + ppV, ""},
					{"POST", "/licensing/billingPolicies" + ppV, `{"name":"p` + string(rune('a'+i)) + string(rune('a'+j)) + `","location":"europe","billingInstrument":{"subscriptionId":"` + zeroG + `","resourceGroup":"rg"}}`},
					{"GET", "/licensing/billingPolicies" + ppV, ""},
				} {
					req, _ := http.NewRequest(target.method, f.srv.URL+target.path, strings.NewReader(target.body))
					req.Header.Set("Authorization", "Bearer t")
					resp, err := f.srv.Client().Do(req)
					if err != nil {
						t.Errorf("%s %s: %v", target.method, target.path, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						t.Errorf("%s %s: %d", target.method, target.path, resp.StatusCode)
					}
				}
				if j == 5 {
					f.sim.SetFault("getBillingPolicy", simulator.Fault{Kind: simulator.FaultStatus, Status: 503, Count: 1})
					f.sim.ClearFaults()
					f.clock.advance(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := f.sim.Calls("createBillingPolicy"); got != 80 {
		t.Errorf("Calls(createBillingPolicy) = %d, want 80", got)
	}
}
