package ppapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListAllPages(t *testing.T) {
	// Three pages, each spelling the link differently; the second link is
	// relative and lacks api-version.
	c, f := newFake(t, []reply{
		ok(`{"value":[{"name":"a"},{"name":"b"}],"@odata.nextLink":"https://bap.example` + pathBAPEnvs + `?api-version=2020-10-01&$skiptoken=p2"}`),
		ok(`{"value":[{"name":"c"}],"@odata.nextlink":"` + pathBAPEnvs + `?$skiptoken=p3"}`),
		ok(`{"value":[{"name":"d"}],"nextLink":null}`),
	})
	envs, err := c.ListEnvironments(context.Background(), "")
	if err != nil {
		t.Fatalf("ListEnvironments() error = %v", err)
	}
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, names); diff != "" {
		t.Errorf("ListEnvironments() names mismatch (-want +got):\n%s", diff)
	}
	var urls []string
	for _, r := range f.requests() {
		urls = append(urls, r.url)
	}
	want := []string{
		testBAP + pathBAPEnvs + "?api-version=2020-10-01",
		testBAP + pathBAPEnvs + "?api-version=2020-10-01&$skiptoken=p2",
		testBAP + pathBAPEnvs + "?$skiptoken=p3&api-version=2020-10-01",
	}
	if diff := cmp.Diff(want, urls); diff != "" {
		t.Errorf("page URLs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Endpoint{EndpointBAP, EndpointBAP, EndpointBAP}, f.tokens); diff != "" {
		t.Errorf("token endpoints mismatch (-want +got):\n%s", diff)
	}
}

func TestListPlainNextLink(t *testing.T) {
	c, f := newFake(t, []reply{
		ok(`{"value":[{"id":"1"}],"nextLink":"https://unified.example/licensing/billingPolicies?api-version=2022-03-01-preview&page=2"}`),
		ok(`{"value":[{"id":"2"}]}`),
	})
	ps, err := c.ListBillingPolicies(context.Background())
	if err != nil || len(ps) != 2 {
		t.Fatalf("ListBillingPolicies() = %d policies, %v; want 2, nil", len(ps), err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestPageCap(t *testing.T) {
	page := func(n int) reply {
		return ok(fmt.Sprintf(`{"value":[{"id":"%d"}],"@odata.nextLink":"https://unified.example/appmanagement/applicationPackages?page=%d"}`, n, n+1))
	}
	c, f := newFake(t, []reply{page(1), page(2), page(3)}, WithMaxPages(2))
	pkgs, err := c.ListTenantApplicationPackages(context.Background())
	if !errors.Is(err, ErrTooManyPages) || pkgs != nil {
		t.Errorf("ListTenantApplicationPackages() = %v, %v; want nil, ErrTooManyPages", pkgs, err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("%d requests, want 2 (the cap)", got)
	}
}

func TestNextLinkLoop(t *testing.T) {
	self := `{"value":[],"@odata.nextLink":"https://unified.example/licensing/billingPolicies?api-version=2022-03-01-preview"}`
	c, f := newFake(t, []reply{ok(self)})
	_, err := c.ListBillingPolicies(context.Background())
	if !errors.Is(err, ErrTooManyPages) {
		t.Errorf("ListBillingPolicies() error = %v, want ErrTooManyPages (loop)", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestListHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, f := newFake(t, []reply{
		ok(`{"value":[{"id":"1"}],"@odata.nextLink":"https://unified.example/licensing/billingPolicies?page=2"}`),
	})
	f.onRequest = func(int, *http.Request) { cancel() }
	_, err := c.ListBillingPolicies(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ListBillingPolicies() error = %v, want context.Canceled", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

// TestForeignNextLink serves a first page whose nextLink points at another
// (loopback) server: it must never be requested.
func TestForeignNextLink(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		fmt.Fprint(w, `{"value":[]}`)
	}))
	defer foreign.Close()
	var hits atomic.Int32
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, `{"value":[{"id":"1"}],"@odata.nextLink":%q}`, foreign.URL+"/licensing/billingPolicies?page=2")
	}))
	defer home.Close()
	c, err := New(WithUnifiedURL(home.URL), WithBAPURL(home.URL), WithHTTPClient(home.Client()),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "secret", nil })))
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	_, err = c.ListBillingPolicies(context.Background())
	if !errors.Is(err, ErrForeignHost) {
		t.Errorf("ListBillingPolicies() error = %v, want ErrForeignHost", err)
	}
	if hits.Load() != 1 || foreignHits.Load() != 0 {
		t.Errorf("requests: home %d, foreign %d; want 1, 0", hits.Load(), foreignHits.Load())
	}
}

func TestNextLinkRefused(t *testing.T) {
	for _, link := range []string{
		"https://evil.example/licensing/billingPolicies",
		"http://unified.example/licensing/billingPolicies", // downgrade
		"https://user@unified.example/licensing/billingPolicies",
		"https://unified.example:8443/licensing/billingPolicies", // other port
		"https://bap.example/licensing/billingPolicies",          // the other endpoint
		"//evil.example/x",
	} {
		c, f := newFake(t, []reply{ok(`{"value":[],"@odata.nextLink":"` + link + `"}`)})
		_, err := c.ListBillingPolicies(context.Background())
		if !errors.Is(err, ErrForeignHost) {
			t.Errorf("nextLink %s: error = %v, want ErrForeignHost", link, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("nextLink %s: %d requests, want 1", link, got)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	c, f := newFake(t, []reply{
		ok(`{"value":[{"name":"a"}],"@odata.nextLink":"https://europe.bap.example/providers/x?api-version=1"}`),
		ok(`{"value":[{"name":"b"}],"@odata.nextLink":"https://other.example:8443/p"}`),
		ok(`{"value":[{"name":"c"}]}`),
	}, WithAllowedHosts("*.bap.example", "other.example:8443"))
	envs, err := c.ListEnvironments(context.Background(), "")
	if err != nil || len(envs) != 3 {
		t.Fatalf("ListEnvironments() = %d, %v; want 3, nil", len(envs), err)
	}
	reqs := f.requests()
	if got := reqs[1].header.Get("Authorization"); got != "Bearer tok-bap" {
		t.Errorf("allow-listed page Authorization = %q, want the BAP token", got)
	}

	// A suffix pattern does not match the bare name or a look-alike.
	for _, link := range []string{"https://bap.example.evil.example/x", "https://xbap.example/x"} {
		c, _ := newFake(t, []reply{ok(`{"value":[],"@odata.nextLink":"` + link + `"}`)}, WithAllowedHosts("*.bap.example"))
		if _, err := c.ListEnvironments(context.Background(), ""); !errors.Is(err, ErrForeignHost) {
			t.Errorf("nextLink %s: error = %v, want ErrForeignHost", link, err)
		}
	}
}
