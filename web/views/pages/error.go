// Package pages holds one templ page per URL of DESIGN.md, its view model,
// and the partials htmx swaps into it.
package pages

import "time"

// ErrorVM is what the error page and the error fragment show: never an
// internal error string, always something the admin can act on.
type ErrorVM struct {
	Status int
	// Heading is the short statement ("Power Platform did not answer").
	Heading string
	// Detail says what happened and what to do, in plain words.
	Detail string
	// Upstream is the API's own code and message when it gave one that is
	// useful to show verbatim (a 400's validation message).
	UpstreamCode, UpstreamMessage string
	// RetryAfter is set for throttling.
	RetryAfter time.Duration
	// RequestID is ours; CorrelationID the API's, to quote to Microsoft.
	RequestID, CorrelationID string
	// Action is an optional link onward ("Sign in again").
	ActionLabel, ActionHref string
}

// RetrySeconds is RetryAfter in whole seconds, at least 1.
func (e ErrorVM) RetrySeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}
