package pages

import (
	"strings"
	"time"

	"ppportal/ppapi"
	"ppportal/web/views/components"
)

// BillingPolicyNewPath is the create form's URL.
const BillingPolicyNewPath = "/billing/policies/new"

// BillingPoliciesVM is the policy list: rows already searched and sorted
// by the handler, and the links that re-sort it.
type BillingPoliciesVM struct {
	// Q and Status are the search and the status filter, echoed in the form.
	Q, Status string
	// StatusOptions are the statuses the filter offers.
	StatusOptions []string
	// Columns are the sortable headers, in display order.
	Columns []BillingSortColumn
	Rows    []BillingPolicyRow
	// Total is how many policies the tenant has, before searching.
	Total int
	// ListURL is the form's target (the list without a query).
	ListURL string
	// Sort and Dir are the current order, kept by the search form.
	Sort, Dir string
}

// BillingSortColumn is one sortable header.
type BillingSortColumn struct {
	Key, Label, Href string
	// AriaSort is "ascending", "descending" or "" when not sorted by it.
	AriaSort string
}

// BillingPolicyRow is one policy in the list.
type BillingPolicyRow struct {
	ID, Name, Href                    string
	Location, LocationLabel           string
	Status, Tone                      string
	SubscriptionID, ResourceGroup     string
	CreatedBy, Created, CreatedISO    string
	ModifiedBy, Modified, ModifiedISO string
}

// BillingPolicyVM is one policy's page.
type BillingPolicyVM struct {
	BillingPolicyRow
	InstrumentID string
	// CreatedByType and ModifiedByType are the principal types (User,
	// Application, ...).
	CreatedByType, ModifiedByType string
	// SelfURL is the page's URL, polled while the policy is provisioning.
	SelfURL, EditURL, DeleteURL string
	// Settled is false while the status may still change by itself.
	Settled bool
}

// BillingPolicyRefreshSeconds is how often a provisioning policy refreshes.
const BillingPolicyRefreshSeconds = 3

// Title is the page title, most specific first.
func (vm BillingPolicyVM) Title() string { return vm.Name + " · Billing policy" }

// NewBillingPolicyRow maps an API policy to a row; label names the
// geography.
func NewBillingPolicyRow(p ppapi.BillingPolicy, href string, label func(string) string) BillingPolicyRow {
	r := BillingPolicyRow{
		ID: p.ID, Name: p.Name, Href: href, Location: p.Location, LocationLabel: label(p.Location),
		Status: string(p.Status), Tone: BillingStatusTone(p.Status),
	}
	if r.Status == "" {
		r.Status = "Unknown"
	}
	if bi := p.BillingInstrument; bi != nil {
		r.SubscriptionID, r.ResourceGroup = bi.SubscriptionID, bi.ResourceGroup
	}
	r.CreatedBy = p.CreatedBy.Name()
	r.ModifiedBy = p.LastModifiedBy.Name()
	if p.CreatedOn != nil {
		r.Created, r.CreatedISO = billingTime(*p.CreatedOn), p.CreatedOn.UTC().Format(time.RFC3339)
	}
	if p.LastModifiedOn != nil {
		r.Modified, r.ModifiedISO = billingTime(*p.LastModifiedOn), p.LastModifiedOn.UTC().Format(time.RFC3339)
	}
	return r
}

// NewBillingPolicyVM maps an API policy to its page.
func NewBillingPolicyVM(p *ppapi.BillingPolicy, self, edit, del string, label func(string) string) BillingPolicyVM {
	vm := BillingPolicyVM{
		BillingPolicyRow: NewBillingPolicyRow(*p, self, label),
		SelfURL:          self, EditURL: edit, DeleteURL: del,
		Settled: p.Status.Settled(),
	}
	if bi := p.BillingInstrument; bi != nil {
		vm.InstrumentID = bi.ID
	}
	if p.CreatedBy != nil {
		vm.CreatedByType = p.CreatedBy.Type
	}
	if p.LastModifiedBy != nil {
		vm.ModifiedByType = p.LastModifiedBy.Type
	}
	return vm
}

// BillingStatusTone is the colour family of a policy status; the text
// always shows too.
func BillingStatusTone(s ppapi.BillingPolicyStatus) string {
	switch strings.ToLower(string(s)) {
	case "enabled":
		return "ok"
	case "disabled":
		return "neutral"
	case "provisioning":
		return "info"
	case "provisioningfailed":
		return "bad"
	default:
		return "warn"
	}
}

func billingTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// BillingPolicyFormVM is the create or the edit form, as first shown or
// after a failed submit (input kept, messages next to the fields).
type BillingPolicyFormVM struct {
	// Edit is true for the edit form.
	Edit bool
	// ID is the policy's id (edit only); Action the form's POST target;
	// CancelURL where Cancel goes.
	ID, Action, CancelURL string
	// CSRF is the session's cross-site token; Once the create form's
	// one-time token.
	CSRF, Once string
	// The fields as typed.
	Name, Location, Status, SubscriptionID, ResourceGroup string
	// OrigName and OrigStatus are the values the edit form started from,
	// so the update sends only what changed.
	OrigName, OrigStatus string
	// Errors are the messages next to each field.
	Errors BillingFormErrors
	// UpstreamCode and UpstreamMessage are a refusal by Power Platform,
	// shown verbatim.
	UpstreamCode, UpstreamMessage string
	// Notice is a form-level message (an already used form).
	Notice string
	// Locations and Statuses are the select options.
	Locations, Statuses []components.FormOption
	// Fixed are the edit form's immutable fields, shown read-only.
	FixedLocation, FixedSubscriptionID, FixedResourceGroup string
}

// BillingFormErrors holds one message per field, "" when fine.
type BillingFormErrors struct {
	Name, Location, Status, SubscriptionID, ResourceGroup string
}

// Any reports whether some field has an error.
func (e BillingFormErrors) Any() bool {
	return e.Name != "" || e.Location != "" || e.Status != "" || e.SubscriptionID != "" || e.ResourceGroup != ""
}

// Title is the page title, most specific first.
func (vm BillingPolicyFormVM) Title() string {
	if vm.Edit {
		return "Edit " + vm.OrigName + " · Billing policy"
	}
	return "New billing policy · Billing policies"
}

// BillingDeleteVM is the delete confirmation.
type BillingDeleteVM struct {
	ID, Name, Action, CancelURL, CSRF string
}
