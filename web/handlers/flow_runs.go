package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

const (
	// flowRunsBackPages is how many earlier cursors the runs URL carries,
	// so "Previous page" works that many pages back; beyond that only
	// "First page" does. It bounds the URL's length.
	flowRunsBackPages = 8
	// flowRunsMaxCursor bounds one cursor in the query, and
	// flowRunsMaxQuery the whole query with its earlier cursors, so that
	// every runs URL stays within the 2 KB a return address after sign-in
	// may have (session.SafeReturn). Real cursors are a few hundred bytes.
	flowRunsMaxCursor = 1500
	flowRunsMaxQuery  = 1800
	// flowRunsMaxPage bounds the page number.
	flowRunsMaxPage = 1_000_000
	// flowRecentMax is how many workflows per environment the portal
	// remembers for each user.
	flowRecentMax = 5
)

// flowRunsQuery is the runs page's state, all of it in the URL: the status
// filter, the opaque cursor of the current page (empty on the first), the
// page number, and the cursors of up to flowRunsBackPages pages before
// this one (oldest first; the first page's empty cursor is implied).
type flowRunsQuery struct {
	Status string
	Cursor string
	Page   int
	Back   []string
}

// parseFlowRunsQuery validates the runs page's query.
func parseFlowRunsQuery(q url.Values) (flowRunsQuery, error) {
	out := flowRunsQuery{Status: q.Get("status"), Cursor: q.Get("cursor"), Page: 1, Back: q["back"]}
	if out.Status != "" && !statusToken(out.Status) {
		return out, badInput("the status filter is not a status name")
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > flowRunsMaxPage {
			return out, badInput("the page number is not a positive number")
		}
		out.Page = n
	}
	if !cursorToken(out.Cursor, true) {
		return out, badInput("the page cursor is malformed")
	}
	switch {
	case out.Cursor == "" && out.Page != 1:
		return out, badInput("a page after the first needs its cursor")
	case out.Cursor != "" && out.Page == 1:
		return out, badInput("the first page has no cursor")
	case len(out.Back) > flowRunsBackPages || len(out.Back) > out.Page-2 && len(out.Back) > 0:
		return out, badInput("the address carries more earlier pages than it can have")
	}
	for _, c := range out.Back {
		if !cursorToken(c, false) {
			return out, badInput("an earlier page's cursor is malformed")
		}
	}
	if out.queryLen() > flowRunsMaxQuery {
		return out, badInput("the address carries more earlier pages than it can have")
	}
	return out, nil
}

// queryLen is the length of the canonical query of q.
func (q flowRunsQuery) queryLen() int {
	n := len("status=&page=&cursor=") + len(q.Status) + len(strconv.Itoa(q.Page)) + len(q.Cursor)
	for _, b := range q.Back {
		n += len("&back=") + len(b)
	}
	return n
}

// statusToken reports whether s looks like a status name: 1 to 40 ASCII
// letters. Unknown statuses are allowed, as the API may add some.
func statusToken(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// cursorToken reports whether s is a plausible cursor: base64url, bounded.
func cursorToken(s string, allowEmpty bool) bool {
	if s == "" {
		return allowEmpty
	}
	if len(s) > flowRunsMaxCursor {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// url is the canonical URL of this state.
func (q flowRunsQuery) url(envID, workflowID string) string {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
		v.Set("cursor", q.Cursor)
		if len(q.Back) > 0 {
			v["back"] = q.Back
		}
	}
	u := paths.FlowRuns(envID, workflowID)
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

// first is the first page with the same filter.
func (q flowRunsQuery) first() flowRunsQuery { return flowRunsQuery{Status: q.Status, Page: 1} }

// next is the page after this one, whose cursor the API returned.
func (q flowRunsQuery) next(cursor string) flowRunsQuery {
	back := q.Back
	if q.Cursor != "" {
		back = append(append([]string(nil), q.Back...), q.Cursor)
	}
	if len(back) > flowRunsBackPages {
		back = back[len(back)-flowRunsBackPages:]
	}
	n := flowRunsQuery{Status: q.Status, Cursor: cursor, Page: q.Page + 1, Back: back}
	for len(n.Back) > 0 && n.queryLen() > flowRunsMaxQuery {
		n.Back = n.Back[1:] // forget the oldest: "First page" still works
	}
	return n
}

// previous is the page before this one, if the URL still knows its
// cursor.
func (q flowRunsQuery) previous() (flowRunsQuery, bool) {
	switch {
	case q.Page <= 1:
		return q, false
	case q.Page == 2:
		return q.first(), true
	case len(q.Back) > 0:
		last := len(q.Back) - 1
		return flowRunsQuery{Status: q.Status, Cursor: q.Back[last], Page: q.Page - 1, Back: q.Back[:last:last]}, true
	default:
		return q, false
	}
}

// flowRunsOutcome is what the page shows for one answer of the API.
type flowRunsOutcome struct {
	status      int
	noRuns      bool
	noDataverse bool
}

// decideFlowRuns maps the API's answer to the page: 204 says there are no
// runs; a 404 other than "no such environment" means the environment has
// no Dataverse (REAL-API.md §7.8); any other error goes to the error page.
func decideFlowRuns(page *ppapi.FlowRunPage, err error) (flowRunsOutcome, error) {
	var pe *ppapi.Error
	switch {
	case err == nil && page.NoContent:
		return flowRunsOutcome{status: http.StatusOK, noRuns: true}, nil
	case err == nil:
		return flowRunsOutcome{status: http.StatusOK}, nil
	case errors.Is(err, ppapi.ErrNotFound) && errors.As(err, &pe) && strings.EqualFold(pe.Code, "EnvironmentNotFound"):
		return flowRunsOutcome{}, err
	case errors.Is(err, ppapi.ErrNotFound):
		return flowRunsOutcome{status: http.StatusNotFound, noDataverse: true}, nil
	default:
		return flowRunsOutcome{}, err
	}
}

// listFlowRuns is the runs of one cloud flow: one page from the API,
// filtered by status on this page, with first, previous and next links.
func (h *Handlers) listFlowRuns(c echo.Context) error {
	envID, err := environmentID(c)
	if err != nil {
		return err
	}
	wf := c.Param("workflowId")
	if !ppapi.ValidGUID(wf) {
		return badInput("the workflow id in the address is not a GUID")
	}
	q, err := parseFlowRunsQuery(c.QueryParams())
	if err != nil {
		return err
	}

	page, err := h.api.ListFlowRuns(c.Request().Context(), envID, wf, q.Cursor)
	out, err := decideFlowRuns(page, err)
	if err != nil {
		return err
	}

	vm := pages.FlowRunsVM{
		EnvID: envID, WorkflowID: wf, Status: q.Status, Page: q.Page,
		StatusOptions:  flowStatusOptions(q.Status),
		SelfURL:        q.url(envID, wf),
		FilterURL:      paths.FlowRuns(envID, wf),
		EnvironmentURL: paths.Environment(envID),
		NoRuns:         out.noRuns, NoDataverse: out.noDataverse,
	}
	if page != nil && !out.noRuns {
		vm.OnPage = len(page.Runs)
		for _, r := range page.Runs {
			if pages.FlowRunOpen(r.Properties.Status) {
				vm.Refresh = true
			}
			if q.Status == "" || strings.EqualFold(string(r.Properties.Status), q.Status) {
				vm.Rows = append(vm.Rows, pages.NewFlowRunRow(r))
			}
		}
		if q.Page > 1 {
			vm.FirstURL = q.first().url(envID, wf)
		}
		if p, ok := q.previous(); ok {
			vm.PrevURL = p.url(envID, wf)
		} else if q.Page > 2 {
			vm.PrevLimited = true
		}
		if page.Next != "" {
			vm.NextURL = q.next(page.Next).url(envID, wf)
		}
	}
	if !out.noDataverse {
		h.rememberWorkflow(c, envID, wf)
	}

	return h.pageOrPart(c, out.status, pages.FlowRunsTable(vm), func() templ.Component {
		m := h.meta(c, vm.Title(), "environments",
			layout.Crumb{Label: "Environments", Href: paths.Environments},
			layout.Crumb{Label: envID, Href: paths.Environment(envID)},
			layout.Crumb{Label: "Flow runs of " + wf, Href: paths.FlowRuns(envID, wf)})
		return pages.FlowRunsPage(m, vm)
	})
}

// flowStatusOptions are the filter's statuses: the known ones, plus the
// current filter if the API has a status the portal does not know.
func flowStatusOptions(current string) []string {
	out := make([]string, 0, len(ppapi.FlowRunStatuses)+1)
	known := false
	for _, s := range ppapi.FlowRunStatuses {
		out = append(out, string(s))
		if string(s) == current {
			known = true
		}
	}
	if current != "" && !known {
		out = append(out, current)
	}
	return out
}

// recentWorkflowsKey is the session list of the workflows a user opened in
// an environment.
func recentWorkflowsKey(envID string) string { return "wf:" + strings.ToLower(envID) }

// rememberWorkflow records that the user opened a workflow's runs in an
// environment, unless it is already the most recent (so polls leave the
// session clean) or the request came from another site (so a link on
// another site cannot plant entries in the list).
func (h *Handlers) rememberWorkflow(c echo.Context, envID, wf string) {
	s := sessionOf(c)
	if s == nil {
		return
	}
	switch c.Request().Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return
	}
	key, wf := recentWorkflowsKey(envID), strings.ToLower(wf)
	if r := s.Recent(key); len(r) > 0 && r[0] == wf {
		return
	}
	s.Remember(key, wf, flowRecentMax)
}
