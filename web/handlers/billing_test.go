package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
	"ppportal/web/views/paths"
)

// policyNames are the names in the list, in order.
func policyNames(r *portaltest.Response) []string {
	var out []string
	r.Doc().Find("[data-testid=billing-policy-link]").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

// policyID finds a policy's id in the list by name.
func policyID(t *testing.T, b *portaltest.Browser, name string) string {
	t.Helper()
	id := ""
	b.Get(paths.BillingPolicies).Doc().Find("[data-testid=billing-policy-row]").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Find("[data-testid=billing-policy-link]").Text()) == name {
			id = attr(s, "data-id")
		}
	})
	if id == "" {
		t.Fatalf("no policy named %q in the list", name)
	}
	return id
}

// newForm reads the create form's hidden fields.
func newForm(t *testing.T, b *portaltest.Browser) url.Values {
	t.Helper()
	r := b.Get(paths.BillingPolicies + "/new")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET new form = %d", r.StatusCode)
	}
	v := url.Values{}
	r.Doc().Find("form[data-testid=billing-policy-form] input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		v.Set(attr(s, "name"), attr(s, "value"))
	})
	if v.Get("csrf") == "" || v.Get("once") == "" {
		t.Fatalf("new form hidden fields = %v, want csrf and once", v)
	}
	v.Set("name", "Fabrikam PAYG")
	v.Set("location", "europe")
	v.Set("status", "Enabled")
	v.Set("subscriptionId", "9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c")
	v.Set("resourceGroup", "rg-fabrikam")
	return v
}

func TestBillingPoliciesSortAndSearch(t *testing.T) {
	env, b := signedIn(t)

	r := b.Get(paths.BillingPolicies)
	names := policyNames(r)
	want := []string{"APAC Pay-as-you-go", "Contoso Europe PAYG", "Contoso PAYG", "R&D Sandbox billing"}
	if !slices.Equal(names, want) {
		t.Errorf("default order = %v, want %v", names, want)
	}
	if got := attr(r.Doc().Find("th[aria-sort]"), "aria-sort"); got != "ascending" {
		t.Errorf("aria-sort = %q, want ascending on Name", got)
	}
	// The Name header toggles to descending.
	desc := link(t, r, "billing-sort-name")
	if desc != "/billing/policies?dir=desc&sort=name" {
		t.Errorf("Name header link = %q", desc)
	}
	if got := policyNames(b.Get(desc)); !slices.Equal(got, []string{want[3], want[2], want[1], want[0]}) {
		t.Errorf("name desc = %v", got)
	}
	// Sorting by creation follows createdOn.
	r = b.Get(paths.BillingPolicies + "?sort=created")
	var times []string
	r.Doc().Find("[data-testid=billing-policy-row] td:nth-child(4) time").Each(func(_ int, s *goquery.Selection) {
		times = append(times, attr(s, "datetime"))
	})
	if len(times) != 4 || !slices.IsSorted(times) {
		t.Errorf("created times in sort=created = %v, want 4 ascending", times)
	}

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?q=europe", []string{"Contoso Europe PAYG"}},
		{"?q=RG-RND", []string{"R&D Sandbox billing"}},
		{"?q=contoso&sort=name&dir=desc", []string{"Contoso PAYG", "Contoso Europe PAYG"}},
		{"?status=Disabled", []string{"R&D Sandbox billing"}},
		{"?q=united+states", []string{"Contoso PAYG", "R&D Sandbox billing"}},
		{"?q=nothing-like-this", nil},
	} {
		r := b.Get(paths.BillingPolicies + c.query)
		if got := policyNames(r); !slices.Equal(got, c.want) {
			t.Errorf("list%s = %v, want %v", c.query, got, c.want)
		}
	}
	if n := b.Get(paths.BillingPolicies + "?q=nothing-like-this").Doc().Find("[data-testid=billing-no-match]").Length(); n != 1 {
		t.Errorf("a search without matches does not say so")
	}
	// The search form's htmx request gets the table alone.
	part := b.Get(paths.BillingPolicies+"?q=europe", "HX-Request", "true")
	if strings.Contains(part.Body, "<html") || part.Doc().Find("#billing-policies-table").Length() != 1 {
		t.Errorf("htmx list is not the #billing-policies-table fragment")
	}

	env.Demo.Sim.ResetCalls()
	for _, q := range []string{"?sort=owner", "?dir=up", "?q=" + strings.Repeat("x", 201), "?status=En%20abled"} {
		if r := b.Get(paths.BillingPolicies + q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("list%.30s = %d, want 400", q, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls("listBillingPolicies"); n != 0 {
		t.Errorf("listBillingPolicies calls after malformed queries = %d, want 0", n)
	}
}

func TestBillingPolicyPage(t *testing.T) {
	env, b := signedIn(t)
	id := policyID(t, b, "Contoso PAYG")

	r := b.Get(paths.BillingPolicy(id))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET policy = %d", r.StatusCode)
	}
	doc := r.Doc()
	for sel, want := range map[string]string{
		"[data-testid=billing-policy-name]":   "Contoso PAYG",
		"[data-testid=prop-id]":               id,
		"[data-testid=billing-policy-status]": "Enabled",
		"[data-testid=prop-location]":         "United States",
		"[data-testid=prop-resource-group]":   "rg-powerplatform-billing",
		"[data-testid=prop-instrument]":       "/resourceGroups/rg-powerplatform-billing/",
	} {
		if got := doc.Find(sel).Text(); !strings.Contains(got, want) {
			t.Errorf("policy page %s = %q, want it to contain %q", sel, got, want)
		}
	}
	for _, sel := range []string{"[data-testid=prop-created] time", "[data-testid=prop-modified] time"} {
		if attr(doc.Find(sel), "datetime") == "" {
			t.Errorf("policy page %s has no time", sel)
		}
	}
	for _, sel := range []string{"[data-testid=prop-created-by]", "[data-testid=prop-modified-by]", "[data-testid=prop-subscription]"} {
		if strings.TrimSpace(doc.Find(sel).Text()) == "" {
			t.Errorf("policy page %s is empty", sel)
		}
	}
	if got := attr(doc.Find("[data-copy-link]"), "data-copy-link"); got != paths.BillingPolicy(id) {
		t.Errorf("copy link = %q, want %q", got, paths.BillingPolicy(id))
	}
	if link(t, r, "billing-policy-edit") != paths.BillingPolicyEdit(id) || link(t, r, "billing-policy-delete") != paths.BillingPolicyDelete(id) {
		t.Errorf("edit/delete links are wrong")
	}
	if got := attr(doc.Find("#billing-policy-status"), "hx-trigger"); got != "" {
		t.Errorf("an Enabled policy polls (%q), want no trigger", got)
	}
	if title := doc.Find("title").Text(); !strings.HasPrefix(title, "Contoso PAYG · Billing policy") {
		t.Errorf("title = %q", title)
	}

	// Not found, and malformed.
	if r := b.Get(paths.BillingPolicy("0b9a6f4e-1111-4222-8333-944445555666")); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET unknown policy = %d, want 404", r.StatusCode)
	}
	env.Demo.Sim.ResetCalls()
	for _, p := range []string{"/billing/policies/not-a-guid", "/billing/policies/not-a-guid/edit", "/billing/policies/x/delete"} {
		if r := b.Get(p); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", p, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls(""); n != 0 {
		t.Errorf("upstream calls for malformed ids = %d, want 0", n)
	}
}

func TestBillingPolicyProvisioningRefreshesUntilSettled(t *testing.T) {
	env, b := signedIn(t)
	id := policyID(t, b, "Contoso PAYG")
	body := `{"id":"` + id + `","name":"Contoso PAYG","location":"unitedstates","status":"Provisioning",` +
		`"billingInstrument":{"subscriptionId":"9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c","resourceGroup":"rg"}}`
	env.Demo.Sim.SetFault("getBillingPolicy", simulator.Fault{Kind: simulator.FaultStatus, Status: 200, Body: &body, Count: 1})

	r := b.Get(paths.BillingPolicy(id))
	region := r.Doc().Find("#billing-policy-status")
	if got := strings.TrimSpace(region.Find("[data-testid=billing-policy-status]").Text()); got != "Provisioning" {
		t.Fatalf("status = %q, want Provisioning", got)
	}
	if !strings.HasPrefix(attr(region, "hx-trigger"), "every ") || attr(region, "hx-get") != paths.BillingPolicy(id) {
		t.Errorf("Provisioning region hx-trigger %q hx-get %q, want a poll of the policy", attr(region, "hx-trigger"), attr(region, "hx-get"))
	}
	// The next poll sees it settled: the fragment comes back without trigger.
	part := b.Get(paths.BillingPolicy(id), "HX-Request", "true")
	region = part.Doc().Find("#billing-policy-status")
	if strings.Contains(part.Body, "<html") || region.Length() != 1 {
		t.Fatalf("poll did not answer the status fragment alone")
	}
	if _, ok := region.Attr("hx-trigger"); ok {
		t.Errorf("settled policy still polls")
	}
	if got := strings.TrimSpace(region.Find("[data-testid=billing-policy-status]").Text()); got != "Enabled" {
		t.Errorf("settled status = %q, want Enabled", got)
	}
}

func TestCreateBillingPolicyValidation(t *testing.T) {
	env, b := signedIn(t)
	for _, c := range []struct {
		field, value string
	}{
		{"name", ""},
		{"name", "   "},
		{"name", strings.Repeat("n", 101)},
		{"name", "tab\there"},
		{"location", ""},
		{"location", "mars"},
		{"status", ""},
		{"status", "Provisioning"},
		{"subscriptionId", ""},
		{"subscriptionId", "not-a-guid"},
		{"resourceGroup", ""},
		{"resourceGroup", "rg with spaces"},
		{"resourceGroup", "ends-with-dot."},
		{"resourceGroup", strings.Repeat("r", 91)},
	} {
		form := newForm(t, b)
		form.Set(c.field, c.value)
		r := b.Post(paths.BillingPolicies, form)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("create with %s=%q = %d, want 422", c.field, c.value, r.StatusCode)
			continue
		}
		doc := r.Doc()
		if n := doc.Find("[data-testid=field-error-" + c.field + "]").Length(); n != 1 {
			t.Errorf("create with %s=%q: %d messages next to the field, want 1", c.field, c.value, n)
		}
		if n := doc.Find("p.error").Length(); n != 1 {
			t.Errorf("create with %s=%q: %d field errors, want only that field's", c.field, c.value, n)
		}
		// Input kept, the bad value too.
		for _, f := range []string{"name", "subscriptionId", "resourceGroup"} {
			if got := attr(doc.Find("[data-testid=input-"+f+"]"), "value"); got != form.Get(f) {
				t.Errorf("create with %s=%q: %s kept as %q, want %q", c.field, c.value, f, got, form.Get(f))
			}
		}
		for _, f := range []string{"location", "status"} {
			got := attr(doc.Find("[data-testid=input-"+f+"] option[selected]"), "value")
			if want := form.Get(f); got != want && !(want == "mars" || want == "Provisioning") {
				t.Errorf("create with %s=%q: %s kept as %q, want %q", c.field, c.value, f, got, want)
			}
		}
	}
	if n := env.Demo.Sim.Calls("createBillingPolicy"); n != 0 {
		t.Errorf("createBillingPolicy calls = %d, want 0", n)
	}
}

func TestCreateBillingPolicyUpstreamRefusal(t *testing.T) {
	env, b := signedIn(t)

	// The simulator refuses a duplicate name with 400.
	form := newForm(t, b)
	form.Set("name", "Contoso PAYG")
	r := b.Post(paths.BillingPolicies, form)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("create duplicate = %d, want 422", r.StatusCode)
	}
	doc := r.Doc()
	if got := doc.Find("[data-testid=upstream-code]").Text(); got != "DuplicateBillingPolicyName" {
		t.Errorf("upstream code = %q, want DuplicateBillingPolicyName", got)
	}
	if got := doc.Find("[data-testid=upstream-message]").Text(); got != "A billing policy named 'Contoso PAYG' already exists." {
		t.Errorf("upstream message = %q, want it verbatim", got)
	}
	if got := attr(doc.Find("[data-testid=input-name]"), "value"); got != "Contoso PAYG" {
		t.Errorf("name kept as %q", got)
	}
	// The refused form can be fixed and sent again: it has a fresh token.
	again := url.Values{}
	doc.Find("form[data-testid=billing-policy-form] input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		again.Set(attr(s, "name"), attr(s, "value"))
	})
	if again.Get("once") == form.Get("once") || again.Get("once") == "" {
		t.Errorf("refused form's one-time token = %q, want a fresh one", again.Get("once"))
	}

	// An injected 400 shows its code and message too.
	env.Demo.Sim.SetFault("createBillingPolicy", simulator.Fault{Kind: simulator.FaultStatus, Status: 400, Count: 1})
	form = newForm(t, b)
	r = b.Post(paths.BillingPolicies, form)
	if r.StatusCode != http.StatusUnprocessableEntity || r.Doc().Find("[data-testid=upstream-code]").Text() != "BadRequest" ||
		r.Doc().Find("[data-testid=upstream-message]").Text() != "Bad Request." {
		t.Errorf("create with injected 400 = %d, code %q message %q", r.StatusCode,
			r.Doc().Find("[data-testid=upstream-code]").Text(), r.Doc().Find("[data-testid=upstream-message]").Text())
	}
}

func TestCreateBillingPolicyDoubleSubmitCreatesOne(t *testing.T) {
	env, b := signedIn(t)
	form := newForm(t, b)

	first := b.Post(paths.BillingPolicies, form)
	if first.StatusCode != http.StatusSeeOther || !strings.HasPrefix(first.Header.Get("Location"), paths.BillingPolicies+"/") {
		t.Fatalf("create = %d Location %q, want 303 to the policy", first.StatusCode, first.Header.Get("Location"))
	}
	page := b.Follow(first)
	if got := page.Doc().Find("[data-testid=flash]").Text(); !strings.Contains(got, "Fabrikam PAYG") || !strings.Contains(got, "created") {
		t.Errorf("notice after create = %q", got)
	}
	if got := page.Doc().Find("[data-testid=billing-policy-name]").Text(); got != "Fabrikam PAYG" {
		t.Errorf("policy page name = %q", got)
	}

	second := b.Post(paths.BillingPolicies, form)
	if second.StatusCode != http.StatusSeeOther || second.Header.Get("Location") != first.Header.Get("Location") {
		t.Errorf("second submit = %d Location %q, want 303 to %q", second.StatusCode, second.Header.Get("Location"), first.Header.Get("Location"))
	}
	if got := b.Follow(second).Doc().Find("[data-testid=flash]").Text(); !strings.Contains(got, "already submitted") {
		t.Errorf("notice after second submit = %q", got)
	}
	if n := env.Demo.Sim.Calls("createBillingPolicy"); n != 1 {
		t.Errorf("createBillingPolicy calls = %d, want 1", n)
	}
	n := 0
	for _, name := range policyNames(b.Get(paths.BillingPolicies)) {
		if name == "Fabrikam PAYG" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("policies named Fabrikam PAYG = %d, want 1", n)
	}

	// A token the session never issued creates nothing.
	form = newForm(t, b)
	form.Set("name", "Unissued token")
	form.Set("once", "AAAAAAAAAAAAAAAAAAAAAA")
	if r := b.Post(paths.BillingPolicies, form); r.StatusCode != http.StatusConflict || r.Doc().Find("[data-testid=form-notice]").Length() != 1 {
		t.Errorf("create with an unissued token = %d, want 409 with a notice", r.StatusCode)
	}
	if n := env.Demo.Sim.Calls("createBillingPolicy"); n != 1 {
		t.Errorf("createBillingPolicy calls = %d, want still 1", n)
	}
}

// editForm reads the edit form's fields.
func editForm(t *testing.T, b *portaltest.Browser, id string) url.Values {
	t.Helper()
	r := b.Get(paths.BillingPolicyEdit(id))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET edit = %d", r.StatusCode)
	}
	doc := r.Doc()
	v := url.Values{}
	doc.Find("form[data-testid=billing-policy-form] input").Each(func(_ int, s *goquery.Selection) {
		v.Set(attr(s, "name"), attr(s, "value"))
	})
	v.Set("status", attr(doc.Find("[data-testid=input-status] option[selected]"), "value"))
	return v
}

func TestUpdateBillingPolicy(t *testing.T) {
	env, b := signedIn(t)
	id := policyID(t, b, "Contoso PAYG")

	form := editForm(t, b, id)
	if form.Get("name") != "Contoso PAYG" || form.Get("orig_name") != "Contoso PAYG" || form.Get("status") != "Enabled" || form.Get("orig_status") != "Enabled" {
		t.Fatalf("edit form = %v", form)
	}
	// Nothing changed: nothing sent.
	r := b.Post(paths.BillingPolicyEdit(id), form)
	if r.StatusCode != http.StatusSeeOther || env.Demo.Sim.Calls("updateBillingPolicy") != 0 {
		t.Errorf("unchanged edit = %d with %d updates, want 303 and none", r.StatusCode, env.Demo.Sim.Calls("updateBillingPolicy"))
	}
	b.Follow(r)

	// Invalid: the message next to the field, nothing sent.
	bad := editForm(t, b, id)
	bad.Set("name", "")
	r = b.Post(paths.BillingPolicyEdit(id), bad)
	if r.StatusCode != http.StatusUnprocessableEntity || r.Doc().Find("[data-testid=field-error-name]").Length() != 1 {
		t.Errorf("edit with empty name = %d, want 422 with the error next to the name", r.StatusCode)
	}
	bad.Set("name", "Contoso PAYG")
	bad.Set("status", "Deleted")
	r = b.Post(paths.BillingPolicyEdit(id), bad)
	if r.StatusCode != http.StatusUnprocessableEntity || r.Doc().Find("[data-testid=field-error-status]").Length() != 1 {
		t.Errorf("edit with status Deleted = %d, want 422 with the error next to the status", r.StatusCode)
	}
	if n := env.Demo.Sim.Calls("updateBillingPolicy"); n != 0 {
		t.Errorf("updateBillingPolicy calls after invalid edits = %d, want 0", n)
	}

	// Name and status.
	form.Set("name", "Contoso PAYG (US)")
	form.Set("status", "Disabled")
	r = b.Post(paths.BillingPolicyEdit(id), form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != paths.BillingPolicy(id) {
		t.Fatalf("edit = %d Location %q, want 303 to the policy", r.StatusCode, r.Header.Get("Location"))
	}
	doc := b.Follow(r).Doc()
	if got := doc.Find("[data-testid=flash]").Text(); !strings.Contains(got, "updated") {
		t.Errorf("notice after update = %q", got)
	}
	if got := doc.Find("[data-testid=billing-policy-name]").Text(); got != "Contoso PAYG (US)" {
		t.Errorf("name after update = %q", got)
	}
	if got := doc.Find("[data-testid=billing-policy-status]").Text(); got != "Disabled" {
		t.Errorf("status after update = %q", got)
	}
	if n := env.Demo.Sim.Calls("updateBillingPolicy"); n != 1 {
		t.Errorf("updateBillingPolicy calls = %d, want 1", n)
	}

	// A rename onto another policy's name: the upstream message verbatim.
	form = editForm(t, b, id)
	form.Set("name", "APAC Pay-as-you-go")
	r = b.Post(paths.BillingPolicyEdit(id), form)
	if r.StatusCode != http.StatusUnprocessableEntity || r.Doc().Find("[data-testid=upstream-code]").Text() != "DuplicateBillingPolicyName" {
		t.Errorf("rename to a duplicate = %d code %q, want 422 DuplicateBillingPolicyName", r.StatusCode, r.Doc().Find("[data-testid=upstream-code]").Text())
	}
}

func TestDeleteBillingPolicy(t *testing.T) {
	env, b := signedIn(t)
	id := policyID(t, b, "R&D Sandbox billing")

	confirm := b.Get(paths.BillingPolicyDelete(id))
	if confirm.StatusCode != http.StatusOK || confirm.Doc().Find("[data-testid=billing-delete-name]").Text() != "R&D Sandbox billing" {
		t.Fatalf("GET delete confirmation = %d", confirm.StatusCode)
	}
	if n := env.Demo.Sim.Calls("deleteBillingPolicy"); n != 0 {
		t.Errorf("the confirmation page deleted (%d calls)", n)
	}
	form := url.Values{"csrf": {b.CSRF()}, "name": {"R&D Sandbox billing"}}
	r := b.Post(paths.BillingPolicyDelete(id), form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != paths.BillingPolicies {
		t.Fatalf("delete = %d Location %q, want 303 to the list", r.StatusCode, r.Header.Get("Location"))
	}
	list := b.Follow(r)
	if got := list.Doc().Find("[data-testid=flash]").Text(); !strings.Contains(got, "“R&D Sandbox billing” deleted") {
		t.Errorf("notice after delete = %q", got)
	}
	if slices.Contains(policyNames(list), "R&D Sandbox billing") {
		t.Errorf("deleted policy still listed")
	}

	r = b.Post(paths.BillingPolicyDelete(id), form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second delete = %d, want 303", r.StatusCode)
	}
	if got := b.Follow(r).Doc().Find("[data-testid=flash]").Text(); !strings.Contains(got, "already gone") {
		t.Errorf("notice after deleting again = %q, want already gone", got)
	}
	if n := env.Demo.Sim.Calls("deleteBillingPolicy"); n != 2 {
		t.Errorf("deleteBillingPolicy calls = %d, want 2", n)
	}
	// htmx gets HX-Redirect instead of a 3xx.
	id2 := policyID(t, b, "APAC Pay-as-you-go")
	r = b.Post(paths.BillingPolicyDelete(id2), url.Values{}, "X-CSRF-Token", b.CSRF(), "HX-Request", "true")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("HX-Redirect") != paths.BillingPolicies {
		t.Errorf("htmx delete = %d HX-Redirect %q, want 204 to the list", r.StatusCode, r.Header.Get("HX-Redirect"))
	}
}

func TestBillingFormsRefuseCrossSiteRequests(t *testing.T) {
	env, b := signedIn(t)
	id := policyID(t, b, "Contoso PAYG")
	create := newForm(t, b)
	edit := editForm(t, b, id)
	edit.Set("name", "Renamed")
	del := url.Values{"csrf": {b.CSRF()}}
	env.Demo.Sim.ResetCalls()

	for _, c := range []struct {
		path string
		form url.Values
		op   string
	}{
		{paths.BillingPolicies, create, "createBillingPolicy"},
		{paths.BillingPolicyEdit(id), edit, "updateBillingPolicy"},
		{paths.BillingPolicyDelete(id), del, "deleteBillingPolicy"},
	} {
		noToken := url.Values{}
		for k, v := range c.form {
			if k != "csrf" {
				noToken[k] = v
			}
		}
		wrong := url.Values{}
		for k, v := range noToken {
			wrong[k] = v
		}
		wrong.Set("csrf", "forged")
		for name, r := range map[string]*portaltest.Response{
			"without token":     b.Post(c.path, noToken),
			"with wrong token":  b.Post(c.path, wrong),
			"from another site": b.Post(c.path, c.form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"),
		} {
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s %s = %d, want 403", c.path, name, r.StatusCode)
			}
		}
		if n := env.Demo.Sim.Calls(c.op); n != 0 {
			t.Errorf("%s calls after refused posts = %d, want 0", c.op, n)
		}
	}
	if n := env.Demo.Sim.Calls(""); n != 0 {
		t.Errorf("upstream calls after refused posts = %d, want 0", n)
	}
	// The policy is untouched.
	if got := b.Get(paths.BillingPolicy(id)).Doc().Find("[data-testid=billing-policy-name]").Text(); got != "Contoso PAYG" {
		t.Errorf("policy name after refused posts = %q", got)
	}
}
