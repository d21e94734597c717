package pages

import (
	"strings"
	"time"

	"ppportal/ppapi"
)

// FlowRunsVM is the runs page of one cloud flow: one page of runs from the
// API, filtered by status, with links to the first, previous and next
// pages. The handler computes every URL, so the view only prints them.
type FlowRunsVM struct {
	EnvID, WorkflowID string
	// Status is the status filter, "" for all.
	Status string
	// StatusOptions are the statuses the filter offers.
	StatusOptions []string
	// Page is the page number, 1 for the first.
	Page int
	// Rows are this page's runs that match the filter.
	Rows []FlowRunRow
	// OnPage is how many runs this page holds before filtering.
	OnPage int
	// SelfURL is this view's canonical URL; the table polls it.
	SelfURL string
	// FilterURL is where the status filter form sends its request.
	FilterURL string
	// FirstURL, PrevURL and NextURL are "" when there is no such page.
	FirstURL, PrevURL, NextURL string
	// PrevLimited says the previous page is out of reach because the
	// portal keeps only a few cursors in the URL.
	PrevLimited bool
	// Refresh makes the table poll itself: some run on the page is
	// Running or Waiting.
	Refresh bool
	// NoRuns is the API's 204: the workflow has no runs.
	NoRuns bool
	// NoDataverse is the API's 404: the environment has no Dataverse.
	NoDataverse bool
	// EnvironmentURL links back to the environment page.
	EnvironmentURL string
}

// FlowRunRow is one run in the table.
type FlowRunRow struct {
	Name string
	// Status is the run status as the API sent it; Tone picks its colour
	// (ok, info, warn, bad, neutral), the text always shows.
	Status, Tone string
	// Start and End are display times; StartISO and EndISO machine ones
	// for <time datetime>. End is "" while the run is open.
	Start, StartISO, End, EndISO string
	Duration                     string
	Trigger                      string
	CorrelationID                string
}

// FlowRunRefreshSeconds is how often a page with open runs refreshes.
const FlowRunRefreshSeconds = 5

// NewFlowRunRow maps an API run to a row.
func NewFlowRunRow(r ppapi.FlowRun) FlowRunRow {
	p := r.Properties
	row := FlowRunRow{Name: r.Name, Status: string(p.Status), Tone: FlowRunTone(p.Status)}
	if row.Name == "" {
		row.Name = r.ID
	}
	if row.Status == "" {
		row.Status = "Unknown"
	}
	if p.StartTime != nil {
		row.Start, row.StartISO = flowTime(*p.StartTime), p.StartTime.UTC().Format(time.RFC3339)
	}
	if p.EndTime != nil {
		row.End, row.EndISO = flowTime(*p.EndTime), p.EndTime.UTC().Format(time.RFC3339)
	}
	if p.StartTime != nil && p.EndTime != nil && !p.EndTime.Before(*p.StartTime) {
		row.Duration = flowDuration(p.EndTime.Sub(*p.StartTime))
	}
	if p.Trigger != nil {
		row.Trigger = p.Trigger.Name
	}
	if p.Correlation != nil {
		row.CorrelationID = p.Correlation.ClientTrackingID
	}
	return row
}

// FlowRunOpen reports whether a run is still going (Running or Waiting),
// which keeps the runs table refreshing.
func FlowRunOpen(s ppapi.FlowRunStatus) bool {
	return strings.EqualFold(string(s), string(ppapi.FlowRunRunning)) ||
		strings.EqualFold(string(s), string(ppapi.FlowRunWaiting))
}

// FlowRunTone is the colour family of a run status; unknown statuses are
// neutral and still shown by name.
func FlowRunTone(s ppapi.FlowRunStatus) string {
	switch strings.ToLower(string(s)) {
	case "succeeded":
		return "ok"
	case "running", "waiting":
		return "info"
	case "failed", "faulted", "timedout", "aborted":
		return "bad"
	case "cancelled", "canceled", "suspended":
		return "warn"
	default:
		return "neutral"
	}
}

func flowTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// flowDuration prints a duration the way run histories do: 850 ms, 42 s,
// 3 min 12 s, 2 h 5 min.
func flowDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return itoa(int(d/time.Millisecond)) + " ms"
	case d < time.Minute:
		return itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + " min " + itoa(int(d%time.Minute/time.Second)) + " s"
	default:
		return itoa(int(d/time.Hour)) + " h " + itoa(int(d%time.Hour/time.Minute)) + " min"
	}
}

// Title is the page title, most specific first.
func (vm FlowRunsVM) Title() string {
	t := "Runs of workflow " + vm.WorkflowID
	if vm.Status != "" {
		t = vm.Status + " runs of workflow " + vm.WorkflowID
	}
	if vm.Page > 1 {
		t += ", page " + itoa(vm.Page)
	}
	return t + " · Flow runs"
}

// refreshTrigger is the hx-trigger of a table with open runs.
func (vm FlowRunsVM) refreshTrigger() string {
	return "every " + itoa(FlowRunRefreshSeconds) + "s"
}

// FlowRunsEntryVM is the form that opens a workflow's runs from the
// environment page, with the workflows this user opened there lately.
type FlowRunsEntryVM struct {
	EnvID string
	// Action is the form's GET target.
	Action string
	// Value is the workflow id as typed, kept after an error.
	Value string
	// Error is the message next to the field.
	Error string
	// Recent are the workflows this user opened here lately, newest first.
	Recent []FlowRecentLink
}

// FlowRecentLink is a recently opened workflow.
type FlowRecentLink struct {
	WorkflowID, Href string
}
