package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// billingPolicyID reads and validates the {id} path parameter: a GUID,
// checked before any upstream call.
func billingPolicyID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !ppapi.ValidGUID(id) {
		return "", badInput("the billing policy id in the address is not a GUID")
	}
	return id, nil
}

// billingCrumbs are the breadcrumbs of a policy's pages.
func billingCrumbs(id, name string, more ...layout.Crumb) []layout.Crumb {
	out := []layout.Crumb{{Label: "Billing policies", Href: paths.BillingPolicies}}
	if id != "" {
		out = append(out, layout.Crumb{Label: name, Href: paths.BillingPolicy(id)})
	}
	return append(out, more...)
}

// showBillingPolicy is one policy's page; an htmx poll gets only its
// status region, which polls on while the policy is provisioning.
func (h *Handlers) showBillingPolicy(c echo.Context) error {
	id, err := billingPolicyID(c)
	if err != nil {
		return err
	}
	p, err := h.api.GetBillingPolicy(c.Request().Context(), id)
	if err != nil {
		return err
	}
	vm := pages.NewBillingPolicyVM(p, paths.BillingPolicy(id), paths.BillingPolicyEdit(id), paths.BillingPolicyDelete(id), geographyLabel)
	return h.pageOrPart(c, http.StatusOK, pages.BillingPolicyStatus(vm), func() templ.Component {
		m := h.meta(c, vm.Title(), "billing", billingCrumbs(id, vm.Name)...)
		return pages.BillingPolicyPage(m, vm)
	})
}
