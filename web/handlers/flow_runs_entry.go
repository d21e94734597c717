package handlers

import (
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// flowRunsEntryPath is where the environment page's workflow form sends
// its GET.
func flowRunsEntryPath(envID string) string { return paths.Environment(envID) + "/flows" }

// flowRunsEntryVM is the environment page's "open flow runs" form as first
// shown: empty, with the workflows this user opened in the environment
// lately. The environment page calls it to host pages.FlowRunsEntry.
func (h *Handlers) flowRunsEntryVM(c echo.Context, envID string) pages.FlowRunsEntryVM {
	vm := pages.FlowRunsEntryVM{EnvID: envID, Action: flowRunsEntryPath(envID)}
	if s := sessionOf(c); s != nil {
		for _, wf := range s.Recent(recentWorkflowsKey(envID)) {
			if ppapi.ValidGUID(wf) {
				vm.Recent = append(vm.Recent, pages.FlowRecentLink{WorkflowID: wf, Href: paths.FlowRuns(envID, wf)})
			}
		}
	}
	return vm
}

// normalizeWorkflowID trims what people paste around a GUID: spaces and
// the braces Dataverse shows.
func normalizeWorkflowID(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return strings.ToLower(s)
}

// openFlowRuns answers the workflow form: a valid id goes on to its runs;
// an invalid one comes back with the message next to the field and the
// input kept (422, before any upstream call). Without a workflowId it
// shows the empty form.
func (h *Handlers) openFlowRuns(c echo.Context) error {
	envID, err := environmentID(c)
	if err != nil {
		return err
	}
	vm := h.flowRunsEntryVM(c, envID)
	status := http.StatusOK
	if raw, submitted := c.QueryParams()["workflowId"]; submitted {
		typed := ""
		if len(raw) > 0 {
			typed = raw[0]
		}
		if wf := normalizeWorkflowID(typed); ppapi.ValidGUID(wf) {
			return h.redirect(c, paths.FlowRuns(envID, wf))
		}
		vm.Value = typed
		if len(vm.Value) > 200 {
			vm.Value = strings.ToValidUTF8(vm.Value[:200], "")
		}
		vm.Error = "Enter the workflow id as a GUID, for example 0f8fad5b-d9cb-469f-a165-70867728950e."
		if strings.TrimSpace(typed) == "" {
			vm.Error = "Enter a workflow id."
		}
		status = http.StatusUnprocessableEntity
	}
	return h.pageOrPart(c, status, pages.FlowRunsEntry(vm), func() templ.Component {
		m := h.meta(c, "Open flow runs · "+envID, "environments",
			layout.Crumb{Label: "Environments", Href: paths.Environments},
			layout.Crumb{Label: envID, Href: paths.Environment(envID)},
			layout.Crumb{Label: "Flow runs", Href: flowRunsEntryPath(envID)})
		return pages.FlowRunsEntryPage(m, vm, paths.Environment(envID))
	})
}
