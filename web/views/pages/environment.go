package pages

import (
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"ppportal/ppapi"
)

// EnvironmentVM is one environment's page.
type EnvironmentVM struct {
	ID, Name, Description, SKU, Region, Location string
	Provisioning, Runtime, Management            string
	// Ongoing names a lifecycle operation running now ("Delete"), if any.
	Ongoing                          string
	CreatedBy, CreationType          string
	Created, Modified                time.Time
	Cadence, KeyManagedBy, Retention string
	AdminURL, MakerURL               string
	IsDefault                        bool
	Dataverse                        *DataverseVM
	Capacity                         []CapacityBar
	Addons                           []ppapi.AddonInfo
	// Delete is whether the page offers deletion, and why not.
	Delete DeleteGate
	// FlowRunsEntry is the flow-runs entry of issue 5 (the workflow-id
	// form); nil renders an empty #flow-runs-entry section.
	FlowRunsEntry templ.Component
}

// DataverseVM is the linked Dataverse instance.
type DataverseVM struct {
	FriendlyName, UniqueName, Domain, Version string
	InstanceURL, APIURL, State                string
	BackgroundOperations, PlatformSKU         string
	BaseLanguage                              int
	Created                                   time.Time
}

// CapacityBar is one capacity type, drawn as a meter against the
// environment's total storage use.
type CapacityBar struct {
	Type    string
	MB      float64
	TotalMB float64
	Updated time.Time
}

// Percent is the bar's share of the environment's total, rounded.
func (b CapacityBar) Percent() int {
	if b.TotalMB <= 0 {
		return 0
	}
	return int(b.MB/b.TotalMB*100 + 0.5)
}

// DeleteGate says whether an environment may be deleted from the portal,
// and if not, why (REAL-API.md §9).
type DeleteGate struct {
	Allowed bool
	// Deleting is true while a delete runs; the page links to its status.
	Deleting bool
	// Reason explains a refusal in plain words.
	Reason string
}

// DeleteGateOf decides whether e may be deleted: never the default
// environment, nor one the service marks undeletable
// (lifecycleOperationsEnforcement), nor while an operation runs on it.
func DeleteGateOf(e *ppapi.Environment) DeleteGate {
	p := &e.Properties
	if IsDefaultEnvironment(e) {
		return DeleteGate{Reason: "This is the tenant's default environment. Power Platform does not allow deleting it."}
	}
	if p.ProvisioningState == ppapi.ProvisioningDeleting {
		return DeleteGate{Deleting: true, Reason: "This environment is being deleted."}
	}
	if le := p.LifecycleOperationsEnforcement; le != nil {
		for _, d := range le.DisallowedOperations {
			if strings.EqualFold(d.Type.ID, "Delete") {
				why := "Power Platform does not allow deleting this environment now."
				if d.Reason != nil && d.Reason.Message != "" {
					why = "Power Platform does not allow deleting this environment: " + d.Reason.Message
				} else if d.Reason != nil && d.Reason.Type != "" {
					why = "Power Platform does not allow deleting this environment (" + d.Reason.Type + ")."
				}
				return DeleteGate{Reason: why}
			}
		}
	}
	if p.OngoingOperation != nil || p.States != nil && p.States.Management != nil && strings.EqualFold(p.States.Management.ID, "Running") {
		what := "Another operation"
		if p.OngoingOperation != nil && p.OngoingOperation.Type != nil && p.OngoingOperation.Type.ID != "" {
			what = "A " + p.OngoingOperation.Type.ID + " operation"
		}
		return DeleteGate{Reason: what + " is running on this environment. Wait for it to finish, then reload this page."}
	}
	return DeleteGate{Allowed: true}
}

// NewEnvironmentVM maps an API environment to the page.
func NewEnvironmentVM(e *ppapi.Environment) EnvironmentVM {
	p := &e.Properties
	vm := EnvironmentVM{
		ID: e.Name, Name: p.DisplayName, SKU: string(p.EnvironmentSKU), Region: p.AzureRegion,
		Location: e.Location, Provisioning: string(p.ProvisioningState), CreatedBy: p.CreatedBy.Name(),
		CreationType: p.CreationType, Retention: p.RetentionPeriod, IsDefault: IsDefaultEnvironment(e),
		Addons: p.Addons, Delete: DeleteGateOf(e),
	}
	if vm.Name == "" {
		vm.Name = e.Name
	}
	if p.Description != nil {
		vm.Description = *p.Description
	}
	if p.CreatedTime != nil {
		vm.Created = *p.CreatedTime
	}
	if p.LastModifiedTime != nil {
		vm.Modified = *p.LastModifiedTime
	}
	if p.States != nil {
		if p.States.Runtime != nil {
			vm.Runtime = p.States.Runtime.ID
		}
		if p.States.Management != nil {
			vm.Management = p.States.Management.ID
		}
	}
	if o := p.OngoingOperation; o != nil {
		vm.Ongoing = "operation " + o.ID
		if o.Type != nil && o.Type.ID != "" {
			vm.Ongoing = o.Type.ID
		}
	}
	if p.UpdateCadence != nil {
		vm.Cadence = p.UpdateCadence.ID
	}
	if p.ProtectionStatus != nil {
		vm.KeyManagedBy = p.ProtectionStatus.KeyManagedBy
	}
	if p.ClientURIs != nil {
		vm.AdminURL, vm.MakerURL = httpsOnly(p.ClientURIs.Admin), httpsOnly(p.ClientURIs.Maker)
	}
	if m := p.LinkedEnvironmentMetadata; m != nil || p.HasDataverse() {
		dv := &DataverseVM{}
		if m != nil {
			dv = &DataverseVM{
				FriendlyName: m.FriendlyName, UniqueName: m.UniqueName, Domain: m.DomainName, Version: m.Version,
				InstanceURL: httpsOnly(m.InstanceURL), APIURL: m.InstanceAPIURL, State: m.InstanceState,
				BackgroundOperations: m.BackgroundOperationsState, PlatformSKU: m.PlatformSKU, BaseLanguage: m.BaseLanguage,
			}
			if m.CreatedTime != nil {
				dv.Created = *m.CreatedTime
			}
		}
		vm.Dataverse = dv
	}
	var total float64
	for _, c := range p.Capacity {
		total += c.ActualConsumption
	}
	for _, c := range p.Capacity {
		b := CapacityBar{Type: c.CapacityType, MB: c.ActualConsumption, TotalMB: total}
		if c.UpdatedOn != nil {
			b.Updated = *c.UpdatedOn
		}
		vm.Capacity = append(vm.Capacity, b)
	}
	return vm
}

// httpsOnly keeps a link the service sent only when it is https, so a
// hostile value can never become a javascript: link.
func httpsOnly(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "https://") {
		return s
	}
	return ""
}

// Title is the page title, most specific first.
func (vm EnvironmentVM) Title() string {
	if vm.Region == "" {
		return vm.Name + " · Environments"
	}
	return vm.Name + " in " + vm.Region + " · Environments"
}

// Language shows a Dataverse base language LCID.
func (dv DataverseVM) Language() string {
	if dv.BaseLanguage == 0 {
		return ""
	}
	return strconv.Itoa(dv.BaseLanguage)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
