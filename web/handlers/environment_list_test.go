package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ppportal/internal/portaltest"
	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

func TestEnvironmentsFilters(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	all := env.Demo.Sim.Environments()
	count := func(keep func(e ppapi.Environment) bool) int {
		n := 0
		for _, e := range all {
			if keep(e) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		query string
		want  int
	}{
		{"", len(all)},
		{"?sku=Sandbox", count(func(e ppapi.Environment) bool { return e.Properties.EnvironmentSKU == "Sandbox" })},
		{"?sku=Production", count(func(e ppapi.Environment) bool { return e.Properties.EnvironmentSKU == "Production" })},
		{"?region=europe", count(func(e ppapi.Environment) bool { return e.Location == "europe" })},
		{"?region=westus", count(func(e ppapi.Environment) bool { return e.Properties.AzureRegion == "westus" })},
		{"?state=Failed", count(func(e ppapi.Environment) bool { return e.Properties.ProvisioningState == "Failed" })},
		{"?dataverse=yes", count(func(e ppapi.Environment) bool { return e.Properties.HasDataverse() })},
		{"?dataverse=no", count(func(e ppapi.Environment) bool { return !e.Properties.HasDataverse() })},
		{"?q=contoso+sales", 2},
		{"?q=" + url.QueryEscape(env.Demo.Sim.MainEnvironmentID()), 1},
		{"?q=contosohrdev", 1}, // Dataverse domain
		{"?q=no+such+environment", 0},
		{"?sku=Production&region=unitedstates", count(func(e ppapi.Environment) bool {
			return e.Properties.EnvironmentSKU == "Production" && e.Location == "unitedstates"
		})},
	}
	for _, tt := range tests {
		r := b.Get("/environments" + tt.query)
		envWant200(t, r)
		if got := r.Doc().Find("[data-testid=environment-row]").Length(); got != tt.want {
			t.Errorf("GET /environments%s rows = %d, want %d", tt.query, got, tt.want)
		}
		if tt.want == 0 && r.Doc().Find("#environments-table [data-testid=empty]").Length() != 1 {
			t.Errorf("GET /environments%s: no empty-state message", tt.query)
		}
	}
}

func TestEnvironmentsTotals(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	all := env.Demo.Sim.Environments()
	r := b.Get("/environments?sku=Sandbox")
	envWant200(t, r)
	if got, want := envTexts(r, "[data-testid=totals-all]"), []string{strconv.Itoa(len(all))}; !slices.Equal(got, want) {
		t.Errorf("totals-all = %q, want %q (tenant-wide, not filtered)", got, want)
	}
	with := 0
	for _, e := range all {
		if e.Properties.HasDataverse() {
			with++
		}
	}
	if got, want := envTexts(r, "[data-testid=totals-with-dataverse]"), []string{strconv.Itoa(with)}; !slices.Equal(got, want) {
		t.Errorf("totals-with-dataverse = %q, want %q", got, want)
	}
	if n := r.Doc().Find("[data-testid=capacity-Database]").Length(); n != 1 {
		t.Errorf("capacity-Database cells = %d, want 1", n)
	}
}

func TestEnvironmentsSort(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	names := func(r *portaltest.Response) []string {
		return envTexts(r, "[data-testid=environment-row] [data-testid=env-name] a")
	}

	byName := []string{}
	for _, e := range env.Demo.Sim.Environments() {
		byName = append(byName, e.Properties.DisplayName)
	}
	slices.SortFunc(byName, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })

	r := b.Get("/environments")
	envWant200(t, r)
	if diff := cmp.Diff(byName, names(r)); diff != "" {
		t.Errorf("default order is not by name (-want +got):\n%s", diff)
	}
	r = b.Get("/environments?sort=name&dir=desc")
	envWant200(t, r)
	rev := slices.Clone(byName)
	slices.Reverse(rev)
	if diff := cmp.Diff(rev, names(r)); diff != "" {
		t.Errorf("sort=name&dir=desc (-want +got):\n%s", diff)
	}
	if got := envAttr(r, "[data-testid=sort-name]", "aria-sort"); got != "descending" {
		t.Errorf("aria-sort on the name header = %q, want descending", got)
	}
	for _, col := range []string{"sku", "region", "state", "dataverse", "created", "capacity"} {
		for _, dir := range []string{"", "&dir=desc"} {
			r := b.Get("/environments?sort=" + col + dir)
			envWant200(t, r)
			cells := map[string]string{"sku": "env-sku", "region": "env-region", "state": "env-state", "dataverse": "env-dataverse", "capacity": "env-capacity"}
			if cell, ok := cells[col]; ok && col != "capacity" && col != "dataverse" {
				got := envTexts(r, "[data-testid="+cell+"]")
				sorted := slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
				if dir != "" {
					slices.Reverse(got)
					sorted = slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
				}
				if !sorted {
					t.Errorf("sort=%s%s: column %s not in order: %q", col, dir, cell, got)
				}
			}
			if n := r.Doc().Find("[data-testid=environment-row]").Length(); n != len(byName) {
				t.Errorf("sort=%s%s rows = %d, want %d", col, dir, n, len(byName))
			}
		}
	}
	// The sort link of a column toggles the direction and keeps filters.
	r = b.Get("/environments?sku=Sandbox&sort=region")
	envWant200(t, r)
	if got, want := envAttr(r, "[data-testid=sort-region] a", "href"), "/environments?sku=Sandbox&sort=region&dir=desc"; got != want {
		t.Errorf("region sort link = %q, want %q", got, want)
	}
}

func TestEnvironmentsPaging(t *testing.T) {
	_, b := envSignIn(t, portaltest.Options{Sim: envSimOpts(120)})
	r := b.Get("/environments")
	envWant200(t, r)
	if n := r.Doc().Find("[data-testid=environment-row]").Length(); n != 50 {
		t.Errorf("page 1 rows = %d, want 50", n)
	}
	if got, want := envAttr(r, "[data-testid=page-next]", "href"), "/environments?page=2"; got != want {
		t.Errorf("next link = %q, want %q", got, want)
	}
	r = b.Get("/environments?page=3")
	envWant200(t, r)
	if n := r.Doc().Find("[data-testid=environment-row]").Length(); n != 20 {
		t.Errorf("page 3 rows = %d, want 20", n)
	}
	if got := strings.Join(envTexts(r, "[data-testid=page-of]"), ""); got != "Page 3 of 3" {
		t.Errorf("pager says %q, want Page 3 of 3", got)
	}
	if r.Doc().Find("[data-testid=page-next]").Length() != 0 {
		t.Errorf("last page has a next link")
	}
	// Past the end: the last page under its own URL.
	r = b.Get("/environments?page=9")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/environments?page=3" {
		t.Errorf("page=9 = %d Location %q, want 302 to /environments?page=3", r.StatusCode, r.Header.Get("Location"))
	}
	// Different pages, different rows.
	p1 := envTexts(b.Get("/environments"), "[data-testid=env-name]")
	p2 := envTexts(b.Get("/environments?page=2"), "[data-testid=env-name]")
	for _, n := range p2 {
		if slices.Contains(p1, n) {
			t.Errorf("%q is on page 1 and page 2", n)
		}
	}
}

func TestEnvironmentsPartialAndPage(t *testing.T) {
	_, b := envSignIn(t, portaltest.Options{})
	const u = "/environments?sku=Sandbox"
	full := b.Get(u)
	envWant200(t, full)
	part := b.Get(u, "HX-Request", "true")
	envWant200(t, part)
	for _, r := range []*portaltest.Response{full, part} {
		if v := r.Header.Values("Vary"); !slices.Contains(v, "HX-Request") {
			t.Errorf("Vary = %q, want HX-Request", v)
		}
	}
	if !strings.Contains(full.Body, "<html") || strings.Contains(part.Body, "<html") {
		t.Errorf("full page has <html>: %v, fragment has <html>: %v; want true, false", strings.Contains(full.Body, "<html"), strings.Contains(part.Body, "<html"))
	}
	if n := part.Doc().Find("#environments-table").Length(); n != 1 {
		t.Errorf("fragment #environments-table count = %d, want 1", n)
	}
	if a, b := full.Doc().Find("#environments-table [data-testid=environment-row]").Length(), part.Doc().Find("[data-testid=environment-row]").Length(); a != b {
		t.Errorf("page rows %d, fragment rows %d; want equal", a, b)
	}
	// A boosted or history-restore request wants the whole page.
	if r := b.Get(u, "HX-Request", "true", "HX-History-Restore-Request", "true"); !strings.Contains(r.Body, "<html") {
		t.Errorf("history restore got a fragment, want the page")
	}
	// The filter form's request (empty fields) gets the fragment and the
	// canonical URL to push.
	r := b.Get("/environments?q=&sku=Sandbox&region=&state=&dataverse=&sort=name", "HX-Request", "true")
	envWant200(t, r)
	if got := r.Header.Get("HX-Push-Url"); got != u {
		t.Errorf("HX-Push-Url = %q, want %q", got, u)
	}
}

func TestEnvironmentsCanonicalRedirects(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	env.Demo.Sim.ResetCalls()
	tests := []struct{ in, want string }{
		{"/environments?q=&sku=&region=", "/environments"},
		{"/environments?sku=sandbox", "/environments?sku=Sandbox"},
		{"/environments?page=-1", "/environments"},
		{"/environments?page=0&sort=NAME&dir=ASC", "/environments"},
		{"/environments?dataverse=TRUE", "/environments?dataverse=yes"},
		{"/environments?region=WestUS&utm=x", "/environments?region=westus"},
		{"/environments?dir=desc&sort=region&q=+sales+", "/environments?q=sales&sort=region&dir=desc"},
		{"/environments?state=deleting", "/environments?state=Deleting"},
	}
	for _, tt := range tests {
		r := b.Get(tt.in)
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != tt.want {
			t.Errorf("GET %s = %d Location %q, want 302 to %q", tt.in, r.StatusCode, r.Header.Get("Location"), tt.want)
		}
	}
	if n := env.Demo.Sim.Calls("listEnvironments"); n != 0 {
		t.Errorf("listEnvironments calls for redirects = %d, want 0", n)
	}
}

func TestEnvironmentsInvalidQueries(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	env.Demo.Sim.ResetCalls()
	tests := []struct{ query, says string }{
		{"sku=Premium", "no environment type"},
		{"sku=" + url.QueryEscape("<script>"), "environment type"},
		{"page=abc", "page must be a whole number"},
		{"sort=owner", "cannot be sorted by"},
		{"sort=" + url.QueryEscape("name;drop"), "cannot be sorted by"},
		{"dir=sideways", "asc or desc"},
		{"dataverse=maybe", "dataverse must be yes or no"},
		{"region=" + url.QueryEscape("west us"), "region"},
		{"q=" + strings.Repeat("x", 10*1024), "longer than 200"},
		{"q=" + url.QueryEscape("a\x00b"), "cannot be searched"},
	}
	for _, tt := range tests {
		for _, hx := range []bool{false, true} {
			var r *portaltest.Response
			if hx {
				r = b.Get("/environments?"+tt.query, "HX-Request", "true")
			} else {
				r = b.Get("/environments?" + tt.query)
			}
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("GET ?%.60s (htmx %v) = %d, want 400", tt.query, hx, r.StatusCode)
				continue
			}
			if !strings.Contains(r.Body, tt.says) {
				t.Errorf("GET ?%.60s (htmx %v): page does not say %q", tt.query, hx, tt.says)
			}
		}
		if r := b.Get("/environments.csv?" + tt.query); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /environments.csv?%.60s = %d, want 400", tt.query, r.StatusCode)
		}
	}
	// Only the unknown SKU needs the tenant's list to be refused.
	if n := env.Demo.Sim.Calls("listEnvironments"); n != 3 {
		t.Errorf("listEnvironments calls = %d, want 3 (the unknown-SKU checks only)", n)
	}
}

func TestEnvironmentsCSV(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{Sim: envSimOpts(120)})
	r := b.Get("/environments.csv?sku=Sandbox&sort=name&dir=desc")
	envWant200(t, r)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/csv; charset=utf-8", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="environments-`) {
		t.Errorf("Content-Disposition = %q, want an attachment", cd)
	}
	lines := strings.Split(strings.TrimSpace(r.Body), "\n")
	want := []string{}
	for _, e := range env.Demo.Sim.Environments() {
		if e.Properties.EnvironmentSKU == "Sandbox" {
			want = append(want, e.Name)
		}
	}
	if len(lines)-1 != len(want) {
		t.Fatalf("CSV data lines = %d, want %d (all matching, not one page)", len(lines)-1, len(want))
	}
	if !strings.HasPrefix(lines[0], "id,name,type,region,") {
		t.Errorf("CSV header = %q", lines[0])
	}
	var got, names []string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		got = append(got, f[0])
		names = append(names, strings.ToLower(f[1]))
		if f[2] != "Sandbox" {
			t.Errorf("CSV row %q has type %q, want Sandbox", f[0], f[2])
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CSV ids (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("CSV is not in the view's order (name descending)")
	}
}
