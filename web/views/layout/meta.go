// Package layout holds the page frame every view renders into: head,
// navigation, signed-in user, breadcrumbs, toast region and footer.
package layout

import "encoding/json"

// Meta is what every full page needs besides its own view model.
type Meta struct {
	// Title is the page's own title, most specific first; the layout adds
	// " · Power Platform admin".
	Title string
	// Section selects the highlighted navigation entry: "environments",
	// "applications" or "billing".
	Section string
	// Crumbs are the breadcrumbs above the heading, outermost first.
	Crumbs []Crumb
	// CanonicalURL is the path and query of the current view, for the
	// copy-link button.
	CanonicalURL string
	// User is the signed-in user, or nil on public pages.
	User *User
	// CSRFToken is the session-bound token sent by htmx in a header and by
	// forms in a hidden field.
	CSRFToken string
	// Nonce is this response's CSP nonce.
	Nonce string
	// Demo marks every page with the demo-tenant banner.
	Demo bool
	// Flash returns the one-time notice carried across a redirect, and
	// clears it. The layout calls it only while rendering a full page, so an
	// htmx fragment (a poll) built with the same Meta never eats a notice
	// meant for the page. Nil means none.
	Flash func() string
	// Assets are the content-hashed asset URLs.
	Assets Assets
	// RequestID is shown in the footer so admins can quote it.
	RequestID string
}

// Crumb is one breadcrumb.
type Crumb struct {
	Label string
	Href  string
}

// User is the signed-in user as shown in the header.
type User struct {
	Name     string
	UPN      string
	TenantID string
}

// Assets are the URLs of the stylesheet, scripts and icon.
type Assets struct {
	CSS, HTMX, JS, Icon string
}

// flash returns the one-time notice, or "".
func (m Meta) flash() string {
	if m.Flash == nil {
		return ""
	}
	return m.Flash()
}

// FullTitle is the document title.
func (m Meta) FullTitle() string {
	if m.Title == "" {
		return "Power Platform admin"
	}
	return m.Title + " · Power Platform admin"
}

// htmxConfig is the htmx configuration for a strict CSP: no eval, no inline
// indicator styles, same-origin requests only, no page snapshots in
// localStorage (SECURITY.md §3.1 item 23), and error responses swapped so
// the error fragment reaches the toast region.
const htmxConfig = `{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,` +
	`"selfRequestsOnly":true,"historyCacheSize":0,"refreshOnHistoryMiss":true,"defaultSwapStyle":"outerHTML",` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"[45]..","swap":true,"error":true},{"code":"...","swap":false}]}`

func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}
