package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/components"
	"ppportal/web/views/pages"
)

// maxPolicyName is the longest policy name the form accepts, as the API.
const maxPolicyName = 100

// billingForm is the create or edit form as posted.
type billingForm struct {
	Name, Location, Status, SubscriptionID, ResourceGroup string
	// Once is the create form's one-time token.
	Once string
	// OrigName and OrigStatus are what the edit form started from.
	OrigName, OrigStatus string
}

// readBillingForm reads the posted form; every value is bounded so a
// hostile post cannot blow up the page it comes back on.
func readBillingForm(c echo.Context) (billingForm, error) {
	v, err := c.FormParams()
	if err != nil {
		return billingForm{}, badInput("the form could not be read")
	}
	get := func(k string, max int) string {
		s := v.Get(k)
		if len(s) > max {
			s = strings.ToValidUTF8(s[:max], "")
		}
		return s
	}
	return billingForm{
		Name:           get("name", 1024),
		Location:       strings.TrimSpace(get("location", 64)),
		Status:         strings.TrimSpace(get("status", 64)),
		SubscriptionID: strings.TrimSpace(get("subscriptionId", 128)),
		ResourceGroup:  strings.TrimSpace(get("resourceGroup", 256)),
		Once:           get("once", 128),
		OrigName:       get("orig_name", 1024),
		OrigStatus:     get("orig_status", 64),
	}, nil
}

// validatePolicyName says what is wrong with a policy name, or "".
func validatePolicyName(name string) string {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "Enter a name."
	case !utf8.ValidString(n):
		return "The name is not valid text."
	case utf8.RuneCountInString(n) > maxPolicyName:
		return "The name can be at most 100 characters long."
	case strings.ContainsFunc(n, unicode.IsControl):
		return "The name cannot contain control characters such as tabs or line breaks."
	}
	return ""
}

// validResourceGroup reports whether s is an Azure resource group name:
// 1 to 90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'.
func validResourceGroup(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 90 || strings.HasSuffix(s, ".") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.()", r) {
			return false
		}
	}
	return true
}

// validateBillingCreate checks every field of the create form.
func validateBillingCreate(f billingForm) pages.BillingFormErrors {
	var e pages.BillingFormErrors
	e.Name = validatePolicyName(f.Name)
	switch {
	case f.Location == "":
		e.Location = "Choose the geography of the environments this policy will bill."
	case !knownGeography(f.Location):
		e.Location = "Choose one of the listed Power Platform geographies."
	}
	if f.Status != string(ppapi.BillingEnabled) && f.Status != string(ppapi.BillingDisabled) {
		e.Status = "Choose Enabled or Disabled."
	}
	switch {
	case f.SubscriptionID == "":
		e.SubscriptionID = "Enter the Azure subscription id."
	case !ppapi.ValidGUID(f.SubscriptionID):
		e.SubscriptionID = "The subscription id is a GUID, for example 9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c."
	}
	switch {
	case f.ResourceGroup == "":
		e.ResourceGroup = "Enter the resource group."
	case !validResourceGroup(f.ResourceGroup):
		e.ResourceGroup = "A resource group name has 1 to 90 letters, digits, _ - . ( ) and does not end in a dot."
	}
	return e
}

// validateBillingUpdate checks the edit form: name, and a status that is
// Enabled, Disabled, or empty (keep a status that cannot be set).
func validateBillingUpdate(f billingForm) pages.BillingFormErrors {
	var e pages.BillingFormErrors
	e.Name = validatePolicyName(f.Name)
	switch f.Status {
	case string(ppapi.BillingEnabled), string(ppapi.BillingDisabled):
	case "":
		if settableStatus(f.OrigStatus) {
			e.Status = "Choose Enabled or Disabled."
		}
	default:
		e.Status = "Choose Enabled or Disabled."
	}
	return e
}

// billingCreateRequest is the create body of a valid form.
func billingCreateRequest(f billingForm) ppapi.BillingPolicyCreateRequest {
	return ppapi.BillingPolicyCreateRequest{
		Name:     strings.TrimSpace(f.Name),
		Location: f.Location,
		Status:   ppapi.BillingPolicyStatus(f.Status),
		BillingInstrument: ppapi.BillingInstrument{
			SubscriptionID: strings.ToLower(f.SubscriptionID),
			ResourceGroup:  f.ResourceGroup,
		},
	}
}

// billingUpdateRequest is the PATCH body of a valid edit form: only the
// fields that differ from what the form started with, so a concurrent
// change to another field is not undone. changed is false when there is
// nothing to send.
func billingUpdateRequest(f billingForm) (req ppapi.BillingPolicyUpdateRequest, changed bool) {
	if n := strings.TrimSpace(f.Name); n != strings.TrimSpace(f.OrigName) {
		req.Name, changed = n, true
	}
	if f.Status != "" && f.Status != f.OrigStatus {
		req.Status, changed = ppapi.BillingPolicyStatus(f.Status), true
	}
	return req, changed
}

// settableStatus reports whether a status can be chosen in the forms.
func settableStatus(s string) bool {
	return s == string(ppapi.BillingEnabled) || s == string(ppapi.BillingDisabled)
}

// billingStatusOptionsFor are the status select's options; a policy whose
// status cannot be set (Provisioning) gets a "keep" choice first.
func billingStatusOptionsFor(orig string, edit bool) []components.FormOption {
	var out []components.FormOption
	if edit && !settableStatus(orig) {
		label := "Keep the current status"
		if orig != "" {
			label = "Keep " + orig
		}
		out = append(out, components.FormOption{Value: "", Label: label})
	}
	return append(out,
		components.FormOption{Value: string(ppapi.BillingEnabled), Label: "Enabled"},
		components.FormOption{Value: string(ppapi.BillingDisabled), Label: "Disabled"})
}

// onceTokenShape reports whether s could be a one-time token (so a
// re-rendered form may carry it again).
func onceTokenShape(s string) bool { return s != "" && len(s) <= 64 && cursorToken(s, false) }
