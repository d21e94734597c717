package handlers

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// billingSortColumns are the list's sortable columns: key and label.
var billingSortColumns = []struct{ key, label string }{
	{"name", "Name"}, {"location", "Location"}, {"status", "Status"},
	{"created", "Created"}, {"modified", "Last changed"},
}

// billingStatusOptions are the statuses the list filter offers.
var billingStatusOptions = []string{
	string(ppapi.BillingEnabled), string(ppapi.BillingDisabled),
	string(ppapi.BillingProvisioning), string(ppapi.BillingProvisioningFailed),
}

// billingListQuery is the list's state, all of it in the URL.
type billingListQuery struct {
	Q, Status, Sort, Dir string
}

const maxSearchLen = 200

// parseBillingListQuery validates the list's query; the defaults are
// sort=name, dir=asc.
func parseBillingListQuery(v url.Values) (billingListQuery, error) {
	q := billingListQuery{Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Sort: v.Get("sort"), Dir: v.Get("dir")}
	if !utf8.ValidString(q.Q) || utf8.RuneCountInString(q.Q) > maxSearchLen {
		return q, badInput("the search is longer than 200 characters or not text")
	}
	if q.Status != "" && !statusToken(q.Status) {
		return q, badInput("the status filter is not a status name")
	}
	if q.Sort == "" {
		q.Sort = "name"
	}
	if !slices.ContainsFunc(billingSortColumns, func(c struct{ key, label string }) bool { return c.key == q.Sort }) {
		return q, badInput("sort must be one of name, location, status, created or modified")
	}
	switch q.Dir {
	case "":
		q.Dir = "asc"
	case "asc", "desc":
	default:
		return q, badInput("dir must be asc or desc")
	}
	return q, nil
}

// url is the canonical URL of this state; defaults are left out.
func (q billingListQuery) url() string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Sort != "name" || q.Dir != "asc" {
		v.Set("sort", q.Sort)
		v.Set("dir", q.Dir)
	}
	if len(v) == 0 {
		return paths.BillingPolicies
	}
	return paths.BillingPolicies + "?" + v.Encode()
}

// sortBy is the state sorted by column key: the other direction when it
// is already sorted by it, ascending otherwise.
func (q billingListQuery) sortBy(key string) billingListQuery {
	dir := "asc"
	if q.Sort == key && q.Dir == "asc" {
		dir = "desc"
	}
	q.Sort, q.Dir = key, dir
	return q
}

// matches reports whether a policy matches the search and status filter.
// The search is case-insensitive over name, id, location (id and name),
// subscription and resource group.
func (q billingListQuery) matches(p ppapi.BillingPolicy) bool {
	if q.Status != "" && !strings.EqualFold(string(p.Status), q.Status) {
		return false
	}
	if q.Q == "" {
		return true
	}
	needle := strings.ToLower(q.Q)
	hay := []string{p.Name, p.ID, p.Location, geographyLabel(p.Location)}
	if bi := p.BillingInstrument; bi != nil {
		hay = append(hay, bi.SubscriptionID, bi.ResourceGroup)
	}
	for _, s := range hay {
		if strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	return false
}

// searchBillingPolicies filters and sorts policies as q says; ties break
// on name, then id, so the order is stable.
func searchBillingPolicies(ps []ppapi.BillingPolicy, q billingListQuery) []ppapi.BillingPolicy {
	out := make([]ppapi.BillingPolicy, 0, len(ps))
	for _, p := range ps {
		if q.matches(p) {
			out = append(out, p)
		}
	}
	timeOf := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	slices.SortStableFunc(out, func(a, b ppapi.BillingPolicy) int {
		var c int
		switch q.Sort {
		case "location":
			c = cmp.Compare(geographyLabel(a.Location), geographyLabel(b.Location))
		case "status":
			c = cmp.Compare(string(a.Status), string(b.Status))
		case "created":
			c = timeOf(a.CreatedOn).Compare(timeOf(b.CreatedOn))
		case "modified":
			c = timeOf(a.LastModifiedOn).Compare(timeOf(b.LastModifiedOn))
		}
		if c == 0 {
			c = cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
		}
		if q.Dir == "desc" {
			c = -c
		}
		return c
	})
	return out
}

// listBillingPolicies is the tenant's billing policies, searched and
// sorted through the URL.
func (h *Handlers) listBillingPolicies(c echo.Context) error {
	q, err := parseBillingListQuery(c.QueryParams())
	if err != nil {
		return err
	}
	all, err := h.api.ListBillingPolicies(c.Request().Context())
	if err != nil {
		return err
	}
	vm := pages.BillingPoliciesVM{
		Q: q.Q, Status: q.Status, Sort: q.Sort, Dir: q.Dir, Total: len(all),
		StatusOptions: billingStatusOptions, ListURL: paths.BillingPolicies,
	}
	for _, col := range billingSortColumns {
		sc := pages.BillingSortColumn{Key: col.key, Label: col.label, Href: q.sortBy(col.key).url()}
		if q.Sort == col.key {
			sc.AriaSort = map[string]string{"asc": "ascending", "desc": "descending"}[q.Dir]
		}
		vm.Columns = append(vm.Columns, sc)
	}
	for _, p := range searchBillingPolicies(all, q) {
		vm.Rows = append(vm.Rows, pages.NewBillingPolicyRow(p, paths.BillingPolicy(p.ID), geographyLabel))
	}
	return h.pageOrPart(c, http.StatusOK, pages.BillingPoliciesTable(vm), func() templ.Component {
		m := h.meta(c, billingListTitle(q), "billing", layout.Crumb{Label: "Billing policies", Href: paths.BillingPolicies})
		return pages.BillingPoliciesPage(m, vm)
	})
}

// billingListTitle names the list and its search, most specific first.
func billingListTitle(q billingListQuery) string {
	if q.Q != "" {
		return "“" + q.Q + "” · Billing policies"
	}
	return "Billing policies"
}
