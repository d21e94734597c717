package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
)

// parseBulk reads a bulk install's URL: pkg, then op=<env>:<opId> and
// failed=<env>:<reason> values, in their order in the query.
func parseBulk(rawQuery string) (pages.BulkVM, error) {
	var vm pages.BulkVM
	seen := map[string]bool{}
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			return vm, badInput("the address is not a valid query string")
		}
		switch k {
		case "pkg":
			if vm.Package != "" || !ppapi.ValidPackageID(v) {
				return vm, badInput("pkg must be one package unique name")
			}
			vm.Package = v
		case "op", "failed":
			env, second, ok := strings.Cut(v, ":")
			if !ok || !ppapi.ValidEnvironmentID(env) {
				return vm, badInput(k + " values must start with an environment id and a colon")
			}
			if seen[strings.ToLower(env)] {
				return vm, badInput("an environment appears twice in the bulk install")
			}
			seen[strings.ToLower(env)] = true
			row := pages.BulkRow{EnvID: env}
			if k == "op" {
				if !ppapi.ValidGUID(second) {
					return vm, badInput("op values must be <environment id>:<operation GUID>")
				}
				row.OpID = second
			} else {
				if _, ok := pages.BulkStartFailures[second]; !ok {
					return vm, badInput("failed values must be <environment id>:<reason>")
				}
				row.StartFailure = second
			}
			vm.Rows = append(vm.Rows, row)
		case "every":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > int(ppapi.MaxPollInterval.Seconds()) {
				return vm, badInput("every must be a number of seconds from 1 to 30")
			}
			vm.Every = n
		default:
			return vm, badInput("unknown parameter " + strconv.Quote(truncate(k, 40)) + " in a bulk install address")
		}
	}
	if vm.Package == "" {
		return vm, badInput("a bulk install address names its package (pkg)")
	}
	if len(vm.Rows) == 0 || len(vm.Rows) > pages.MaxBulk {
		return vm, badInput("a bulk install covers 1 to " + strconv.Itoa(pages.MaxBulk) + " environments")
	}
	return vm, nil
}

// showBulkInstall follows a bulk install. Every row's state is read from
// the API on every request: nothing lives only in the portal's memory, so
// the page can be reopened from its URL at any time. With HX-Request it
// answers the summary region plus each row's status out of band.
func (h *Handlers) showBulkInstall(c echo.Context) error {
	vm, err := parseBulk(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}
	partial := isPartial(c.Request())
	g, ctx := errgroup.WithContext(c.Request().Context())
	g.SetLimit(bulkConcurrency)
	for i := range vm.Rows {
		r := &vm.Rows[i]
		if !partial {
			g.Go(func() error {
				if env, err := h.api.GetEnvironment(ctx, r.EnvID, ""); err == nil {
					r.EnvName = env.Properties.DisplayName
				}
				return nil
			})
		}
		if r.OpID == "" {
			continue
		}
		g.Go(func() error {
			st, err := h.api.GetInstallStatus(ctx, r.EnvID, r.OpID)
			r.Op = pages.NewOperationVM(r.EnvID, r.OpID, vm.Package, st)
			switch {
			case err == nil:
			case errors.Is(err, ppapi.ErrNotFound):
				r.ReadError = "gone"
			case errors.Is(err, ppapi.ErrConflict):
				r.ReadError = "pending"
			case errors.Is(err, ppapi.ErrThrottled):
				r.ReadError = "throttled"
			case errors.Is(err, ppapi.ErrUnauthorized), errors.Is(err, ppapi.ErrForbidden), !errors.As(err, new(*ppapi.Error)):
				// Sign-in and session trouble concern the whole page.
				return err
			default:
				r.ReadError = "unavailable"
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if partial {
		return h.page(c, nil, pages.BulkProgress(vm))
	}
	m := h.meta(c, vm.Title(), "applications",
		layout.Crumb{Label: "Applications", Href: "/applications"}, layout.Crumb{Label: "Bulk install", Href: vm.URL()})
	m.CanonicalURL = vm.URL()
	return h.page(c, pages.BulkPage(m, vm), pages.BulkProgress(vm))
}
