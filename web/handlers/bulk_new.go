package handlers

import (
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
)

// maxBulkChoices bounds the candidate list of the bulk form.
const maxBulkChoices = 200

// bulkEnvIDs reads and validates repeated env= values, without duplicates.
func bulkEnvIDs(vals []string) ([]string, error) {
	if len(vals) > pages.MaxBulk {
		return nil, badInput("a bulk install covers at most " + strconv.Itoa(pages.MaxBulk) + " environments")
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !ppapi.ValidEnvironmentID(v) {
			return nil, badInput("an environment id in the request is not a GUID or Default-<GUID>")
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// newBulkInstall is the bulk install form: a package and the environments
// to install it in, preselected from env= values or the overview's
// filters.
func (h *Handlers) newBulkInstall(c echo.Context) error {
	q := c.QueryParams()
	f, err := parseEnvironmentFilter(q)
	if err != nil {
		return err
	}
	f.Sort, f.Desc, f.Page = "", false, 0
	pkg := q.Get("pkg")
	if pkg != "" && !ppapi.ValidPackageID(pkg) {
		return badInput("pkg must be a package unique name")
	}
	chosen, err := bulkEnvIDs(q["env"])
	if err != nil {
		return err
	}
	var (
		envs []ppapi.Environment
		pkgs []ppapi.ApplicationPackage
	)
	g, ctx := errgroup.WithContext(c.Request().Context())
	g.Go(func() (err error) { envs, err = h.api.ListEnvironments(ctx, ""); return err })
	g.Go(func() (err error) { pkgs, err = h.api.ListTenantApplicationPackages(ctx); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	vm := pages.BulkNewVM{Package: pkg, Filter: f}
	vm.Packages = pages.NewApplicationsVM(pkgs, "").Rows
	vm.Envs, vm.More = bulkChoices(envs, f, chosen)
	if s := sessionOf(c); s != nil {
		vm.CSRF, vm.Once = s.CSRFToken(), s.OnceToken()
	}
	m := h.meta(c, "Bulk install", "applications",
		layout.Crumb{Label: "Applications", Href: "/applications"}, layout.Crumb{Label: "Bulk install", Href: "/bulk/installs/new"})
	return h.render(c, 200, pages.BulkNewPage(m, vm))
}

// bulkChoices lists the Dataverse environments matching f (the first
// maxBulkChoices by name) plus any chosen ones outside it. Chosen ones are
// checked; with none chosen, all are checked when they fit in one bulk.
func bulkChoices(envs []ppapi.Environment, f pages.EnvironmentFilter, chosen []string) ([]pages.BulkChoice, int) {
	f.Dataverse = "yes"
	rows := pages.MatchEnvironments(envs, f)
	more := 0
	if len(rows) > maxBulkChoices {
		more = len(rows) - maxBulkChoices
		rows = rows[:maxBulkChoices]
	}
	listed := map[string]bool{}
	var out []pages.BulkChoice
	for _, r := range rows {
		listed[r.ID] = true
		out = append(out, pages.BulkChoice{ID: r.ID, Name: r.Name, SKU: r.SKU, Region: r.Region,
			Checked: slices.Contains(chosen, r.ID) || len(chosen) == 0 && len(rows) <= pages.MaxBulk && more == 0})
	}
	for _, id := range chosen {
		if listed[id] {
			continue
		}
		for i := range envs {
			if envs[i].Name == id && envs[i].Properties.HasDataverse() {
				r := pages.NewEnvironmentRow(&envs[i])
				out = append(out, pages.BulkChoice{ID: r.ID, Name: r.Name, SKU: r.SKU, Region: r.Region, Checked: true})
			}
		}
	}
	return out, more
}
