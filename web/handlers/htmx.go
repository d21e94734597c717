package handlers

import (
	"net/http"
	"net/url"
	"strings"
)

// Every htmx header name the portal reads or writes lives here (STYLE.md §9
// point 8).
const (
	hxRequest        = "HX-Request"
	hxBoosted        = "HX-Boosted"
	hxHistoryRestore = "HX-History-Restore-Request"
	hxCurrentURL     = "HX-Current-URL"
	hxRedirect       = "HX-Redirect"
	hxRetarget       = "HX-Retarget"
	hxReswap         = "HX-Reswap"
	hxPushURL        = "HX-Push-Url"
	hxTrigger        = "HX-Trigger"
)

// isHTMX reports whether the request came from htmx at all.
func isHTMX(r *http.Request) bool { return r.Header.Get(hxRequest) == "true" }

// isPartial is the one predicate that decides between a fragment and the
// whole page: htmx asked, and it is neither a boosted navigation nor a
// history restore (which needs the whole page).
func isPartial(r *http.Request) bool {
	return isHTMX(r) && r.Header.Get(hxBoosted) != "true" && r.Header.Get(hxHistoryRestore) != "true"
}

// currentPage returns the local path and query of the page an htmx request
// was made from, or "" when it is missing or not on this origin.
func currentPage(r *http.Request) string {
	raw := r.Header.Get(hxCurrentURL)
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host != "" && !strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}
