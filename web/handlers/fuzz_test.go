package handlers

// Fuzz targets for what the browser sends the handlers: the environment
// overview's query, the flow-runs query and the billing policy form. Seeds
// are the f.Add calls and testdata/fuzz/<Target>/.

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/session"
	"ppportal/web/views/pages"
)

// queryOf returns the query of a canonical URL, as the handler would read
// it.
func queryOf(t *testing.T, canonical string) url.Values {
	t.Helper()
	u, err := url.Parse(canonical)
	if err != nil {
		t.Fatalf("canonical URL %q does not parse: %v", canonical, err)
	}
	return u.Query()
}

// checkBadInput fails unless err is a 400 with a message.
func checkBadInput(t *testing.T, what string, err error) {
	t.Helper()
	var ie *inputError
	if !errors.As(err, &ie) || ie.msg == "" {
		t.Fatalf("%s: error %v, want a bad-input error with a message", what, err)
	}
}

// FuzzEnvironmentFilter parses arbitrary overview queries: a refusal is a
// 400 saying what was wrong; an accepted query has one canonical URL that
// parses back to the same filter (so the canonical redirect cannot loop),
// is a safe sign-in return target, and so are its sort, page and CSV links.
func FuzzEnvironmentFilter(f *testing.F) {
	for _, s := range []string{
		"", "q=sales&sku=Sandbox&region=europe&state=Ready&dataverse=yes&sort=created&dir=desc&page=3",
		"sku=sandbox&sku=Production", "region=WestEurope", "dataverse=TRUE", "dataverse=maybe",
		"sort=name&dir=desc", "sort=NAME", "sort=password", "dir=up", "page=0", "page=-3", "page=+7",
		"page=99999999999999999999", "page=1e3", "q=%20%20padded%20%20", "q=a%00b", "q=%E2%80%AEevil",
		"q=" + strings.Repeat("x", 201), "q=%ff", "q=a+b&q=c", "state=Succeeded&state=x",
		"sku=Prod-uction", "region=eu%20rope", "q=%2F%2Fevil.example", "foo=bar", "%zz=1&q=ok", ";q=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // as echo's QueryParams: bad pairs dropped
		fl, err := parseEnvironmentFilter(q)
		if err != nil {
			checkBadInput(t, "parseEnvironmentFilter("+raw+")", err)
			return
		}
		canonical := fl.URL()
		again, err := parseEnvironmentFilter(queryOf(t, canonical))
		if err != nil || again != fl {
			t.Fatalf("parseEnvironmentFilter(%q) = %+v, but its URL %q parses to %+v, %v", raw, fl, canonical, again, err)
		}
		if again.URL() != canonical {
			t.Fatalf("canonical URL of %q is %q, then %q: not a fixed point", raw, canonical, again.URL())
		}
		if _, ok := session.SafeReturn(canonical); !ok {
			t.Fatalf("canonical URL %q of %q is not a safe return target", canonical, raw)
		}
		links := []struct {
			name string
			want pages.EnvironmentFilter
			url  string
		}{
			{"next page", fl.WithPage(fl.PageNum() + 1), fl.WithPage(fl.PageNum() + 1).URL()},
			{"first page", fl.WithPage(1), fl.WithPage(1).URL()},
		}
		for _, col := range pages.EnvironmentSortColumns {
			g := fl.WithSort(col)
			links = append(links, struct {
				name string
				want pages.EnvironmentFilter
				url  string
			}{"sort by " + col, g, g.URL()})
		}
		for _, l := range links {
			if l.want.Page > maxPage {
				continue
			}
			got, err := parseEnvironmentFilter(queryOf(t, l.url))
			if err != nil {
				t.Fatalf("%s link %q of %q is refused: %v", l.name, l.url, raw, err)
			}
			if got.URL() != l.url {
				t.Fatalf("%s link %q of %q is not canonical: it parses to %q", l.name, l.url, raw, got.URL())
			}
		}
		csv, err := url.Parse(fl.CSVURL())
		if err != nil || csv.Path != "/environments.csv" {
			t.Fatalf("CSVURL of %q = %q, want /environments.csv", raw, fl.CSVURL())
		}
		if got, err := parseEnvironmentFilter(csv.Query()); err != nil || got != fl.WithPage(0) {
			t.Fatalf("CSVURL %q of %q parses to %+v, %v; want the filter without a page", fl.CSVURL(), raw, got, err)
		}
	})
}

// FuzzFlowRunsQuery parses arbitrary flow-runs queries: a refusal is a
// 400; an accepted query's canonical URL parses back to the same state,
// is a safe return target, and so are its previous, first and next links.
func FuzzFlowRunsQuery(f *testing.F) {
	for _, s := range []string{
		"", "status=Failed", "status=Failed&page=2&cursor=abc", "page=4&cursor=c3&back=c1&back=c2",
		"page=3&cursor=c3&back=c1&back=c2", "page=2", "cursor=abc", "page=0&cursor=x", "page=1000001&cursor=x",
		"status=F4iled", "status=" + strings.Repeat("a", 41), "page=2&cursor=a%2Fb", "page=2&cursor=" + strings.Repeat("A", 4097),
		"page=12&cursor=z&back=1&back=2&back=3&back=4&back=5&back=6&back=7&back=8&back=9",
		"page=5&cursor=z&back=&back=x", "page=%2B3&cursor=a&back=b", "page=3&cursor=a&back=b&status=&status=Running",
	} {
		f.Add(s)
	}
	const envID, wfID = "Default-11111111-2222-4333-8444-555555555555", "99999999-8888-4777-8666-555555555555"
	equal := cmpopts.EquateEmpty()
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		fq, err := parseFlowRunsQuery(q)
		if err != nil {
			checkBadInput(t, "parseFlowRunsQuery("+raw+")", err)
			return
		}
		check := func(what string, want flowRunsQuery) {
			t.Helper()
			u := want.url(envID, wfID)
			got, err := parseFlowRunsQuery(queryOf(t, u))
			if err != nil || !cmp.Equal(got, want, equal) {
				t.Fatalf("%s of %q: URL %q parses to %+v, %v; want %+v", what, raw, u, got, err, want)
			}
			if again := got.url(envID, wfID); again != u {
				t.Fatalf("%s of %q: URL %q, then %q: not a fixed point", what, raw, u, again)
			}
			if _, ok := session.SafeReturn(u); !ok {
				t.Fatalf("%s of %q: URL %q is not a safe return target", what, raw, u)
			}
		}
		check("this page", fq)
		check("first page", fq.first())
		if prev, ok := fq.previous(); ok {
			check("previous page", prev)
		}
		if fq.Page < flowRunsMaxPage {
			check("next page", fq.next("NextCursor_-9"))
		}
	})
}

// FuzzBillingForm posts arbitrary form bodies to the billing form reader:
// every value comes back bounded; a form that validates becomes a request
// the API can take (a trimmed printable name of at most 100 characters, a
// listed geography, Enabled or Disabled, a lower-case GUID, a resource
// group name), and an edit sends only valid changes.
func FuzzBillingForm(f *testing.F) {
	valid := url.Values{
		"name": {"  Contoso PAYG  "}, "location": {"europe"}, "status": {"Enabled"},
		"subscriptionId": {"9B2C1E4F-3A6D-4F0E-8C7B-2D5E6F7A8B9C"}, "resourceGroup": {"rg-portal_(1)"},
		"once": {"abc_DEF-123"}, "orig_name": {"Old"}, "orig_status": {"Provisioning"},
	}
	f.Add(valid.Encode())
	for _, s := range []string{
		"", "name=", "name=%09tab", "name=" + strings.Repeat("n", 101), "name=" + strings.Repeat("%C3%A9", 600),
		"name=a%ff", "location=mars&status=Paused", "subscriptionId={9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c}",
		"resourceGroup=rg.", "resourceGroup=" + strings.Repeat("r", 91), "status=Enabled&orig_status=Enabled&name=x&orig_name=x",
		"name=%E2%80%AEevil&status=Disabled", "%zz", "name=a&name=b", "once=" + strings.Repeat("o", 200),
		"location=" + strings.Repeat("%E2%82%AC", 30),
	} {
		f.Add(s)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/billing/policies", strings.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		c := e.NewContext(req, httptest.NewRecorder())
		form, err := readBillingForm(c)
		if err != nil {
			checkBadInput(t, "readBillingForm("+body+")", err)
			return
		}
		for _, b := range []struct {
			name, v string
			max     int
		}{
			{"name", form.Name, 1024}, {"location", form.Location, 64}, {"status", form.Status, 64},
			{"subscriptionId", form.SubscriptionID, 128}, {"resourceGroup", form.ResourceGroup, 256},
			{"once", form.Once, 128}, {"orig_name", form.OrigName, 1024}, {"orig_status", form.OrigStatus, 64},
		} {
			if len(b.v) > b.max {
				t.Fatalf("readBillingForm(%q): %s has %d bytes, want at most %d", body, b.name, len(b.v), b.max)
			}
		}
		if !validateBillingCreate(form).Any() {
			cr := billingCreateRequest(form)
			checkPolicyName(t, body, cr.Name)
			if !knownGeography(cr.Location) {
				t.Fatalf("create from %q: location %q is not a listed geography", body, cr.Location)
			}
			if cr.Status != ppapi.BillingEnabled && cr.Status != ppapi.BillingDisabled {
				t.Fatalf("create from %q: status %q, want Enabled or Disabled", body, cr.Status)
			}
			if s := cr.BillingInstrument.SubscriptionID; !ppapi.ValidGUID(s) || s != strings.ToLower(s) {
				t.Fatalf("create from %q: subscription %q, want a lower-case GUID", body, s)
			}
			if !validResourceGroup(cr.BillingInstrument.ResourceGroup) {
				t.Fatalf("create from %q: resource group %q is not valid", body, cr.BillingInstrument.ResourceGroup)
			}
			if _, err := json.Marshal(cr); err != nil {
				t.Fatalf("create from %q does not encode: %v", body, err)
			}
		}
		if !validateBillingUpdate(form).Any() {
			ur, changed := billingUpdateRequest(form)
			if !changed && (ur != ppapi.BillingPolicyUpdateRequest{}) {
				t.Fatalf("update from %q: nothing changed but the body is %+v", body, ur)
			}
			if ur.Name != "" {
				checkPolicyName(t, body, ur.Name)
			}
			if ur.Status != "" && ur.Status != ppapi.BillingEnabled && ur.Status != ppapi.BillingDisabled {
				t.Fatalf("update from %q: status %q, want Enabled, Disabled or unchanged", body, ur.Status)
			}
		}
	})
}

// checkPolicyName fails unless name is what the API takes.
func checkPolicyName(t *testing.T, body, name string) {
	t.Helper()
	if name == "" || name != strings.TrimSpace(name) || !utf8.ValidString(name) ||
		utf8.RuneCountInString(name) > maxPolicyName || strings.ContainsFunc(name, unicode.IsControl) {
		t.Fatalf("form %q gave policy name %q, want 1 to %d printable characters, trimmed", body, name, maxPolicyName)
	}
}
