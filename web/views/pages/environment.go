package pages

import "ppportal/ppapi"

// EnvironmentVM is one environment's page.
type EnvironmentVM struct {
	ID, Name, SKU, Region, Location, State string
	Env                                    *ppapi.Environment
}

// NewEnvironmentVM maps an API environment to the page.
func NewEnvironmentVM(e *ppapi.Environment) EnvironmentVM {
	p := e.Properties
	return EnvironmentVM{
		ID: e.Name, Name: p.DisplayName, SKU: string(p.EnvironmentSKU), Region: p.AzureRegion,
		Location: e.Location, State: string(p.ProvisioningState), Env: e,
	}
}

// Title is the page title, most specific first.
func (vm EnvironmentVM) Title() string {
	return vm.Name + " in " + vm.Region + " · Environments"
}
